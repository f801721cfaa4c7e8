"""Shared machinery of the methods that put a generated face in place of a real one (``synth``,
``attributes``, ``ksame``): alignment to the generator's landmark template, compositing on the
face mesh (:mod:`faceveil.anonymize.composite`) and back into the photo, a track's composite
reused between frames, the quality gate's hook and the identity check.
"""

from __future__ import annotations

import dataclasses
import functools
import zlib
from dataclasses import dataclass

import cv2
import numpy as np

from faceveil.analysis.identity import SFACE_THRESHOLD, cosine, embed_faces
from faceveil.anonymize.composite import Geometry, composite, region_mask
from faceveil.anonymize.meshes import generated_points, original_mesh, template_points
from faceveil.anonymize.registry import Fallback
from faceveil.anonymize.state import Tracked
from faceveil.faces import Face
from faceveil.io.images import to_rgb8

MIN_FACE = 24  # px: smaller faces are blurred instead (too few pixels to fit a face to)
MAX_TURN = 0.45  # nose offset from the eye midline / inter-ocular distance
IDENTITY_MARGIN = 0.05  # below the threshold: the same photo, so stricter than any other photo
IDENTITY_LIMIT = SFACE_THRESHOLD - IDENTITY_MARGIN
SCOUT_SIDE = 96  # px: face size at which candidates are compared with the original
RECOMPOSITE_EVERY = 3  # video frames between full composites of a track's face


@functools.lru_cache(maxsize=1)
def model():
    import torch

    from faceveil.gen.encoder import load_encoder
    from faceveil.gen.registry import get_generator

    # One intra-op thread: with two, these small nets crawl whenever the other core is busy.
    torch.set_num_threads(1)
    generator = get_generator()
    encoder = load_encoder(generator)
    if encoder is None or generator.landmark_template is None:
        raise RuntimeError(f"{generator.name} lacks an encoder or a landmark template")
    return generator, encoder


WIDEST = 1.25  # the widest oval any method asks for (synth's and ksame's last try)


@functools.lru_cache(maxsize=16)
def face_mask(size: int, widen: float = 1.0) -> np.ndarray:
    """Feathered oval over the template's face, brows to chin, in a (size, size) crop;
    `widen` scales its axes (to reach glasses and cheeks the default leaves)."""
    from faceveil.align import face_oval

    generator, _ = model()
    return face_oval(generator.landmark_template, generator.resolution, size, widen)


def inside_image(shape: tuple[int, ...], matrix: np.ndarray, size: int) -> np.ndarray:
    """1 where the aligned crop lies inside the image (the method's ROI), fading to 0 at its
    edge: a face oval that reaches past the ROI must not end in a hard line there."""
    h, w = shape[:2]
    edge = max(2, size // 16)
    from faceveil.align import oval_reach

    generator, _ = model()
    centre, axes, sigma = oval_reach(
        generator.landmark_template, generator.resolution, size, WIDEST
    )
    reach = axes + 3 * sigma + 2 * edge
    corners = centre + reach * np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]])
    inverse = cv2.invertAffineTransform(matrix)
    mapped = corners @ inverse[:, :2].T + inverse[:, 2]
    if (mapped >= 0).all() and (mapped[:, 0] < w).all() and (mapped[:, 1] < h).all():
        return np.ones((size, size), np.float32)  # the widest oval is well inside: no fade
    valid = cv2.warpAffine(np.ones((h, w), np.float32), matrix, (size, size), borderValue=0)
    valid = cv2.erode(valid, np.ones((edge, edge), np.uint8))
    return cv2.GaussianBlur(valid, (0, 0), edge / 2)


def turned_too_far(face: Face) -> bool:
    lm = face.landmarks
    across = lm[1] - lm[0]
    iod = float(np.hypot(*across))
    if iod < 1e-3:
        return True
    mid = (lm[0] + lm[1]) / 2
    offset = abs(float(np.dot(lm[2] - mid, across / iod)))
    return offset / iod > MAX_TURN


def to_gray(face_rgb: np.ndarray, gray: bool) -> np.ndarray:
    if not gray:
        return face_rgb
    return cv2.cvtColor(cv2.cvtColor(face_rgb, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)


def coarse_error(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Difference of heavily blurred luminance inside the mask: pose and light, not detail."""
    sigma = a.shape[0] / 24
    ga = cv2.GaussianBlur(cv2.cvtColor(a, cv2.COLOR_RGB2GRAY).astype(np.float32), (0, 0), sigma)
    gb = cv2.GaussianBlur(cv2.cvtColor(b, cv2.COLOR_RGB2GRAY).astype(np.float32), (0, 0), sigma)
    return float(((ga - gb) ** 2 * mask).sum() / max(mask.sum(), 1e-6))


def attributes(rgb: np.ndarray, face: Face):
    from faceveil.analysis.attributes import analyze_faces  # onnxruntime: load on use

    return analyze_faces(rgb, [face], mesh=False, align="landmarks")[0]


@dataclass
class Composited:
    """A new face made for an aligned crop: relit (`lit`, (size, size, 3)), to be blended
    through `mask`; `warped` is the face before relighting (what the quality gate reads)."""

    lit: np.ndarray
    mask: np.ndarray
    warped: np.ndarray | None  # None once kept for a track (only the gate reads it)
    gray: bool


def put_back(rgb: np.ndarray, matrix: np.ndarray, size: int, done: Composited) -> np.ndarray:
    """`rgb` with a composited face blended in through the inverse of `matrix` (to a (size,
    size) crop), which may be a later frame's: a track's face is made every few frames and
    moved with the face in between."""
    h, w = rgb.shape[:2]
    inverse = cv2.invertAffineTransform(matrix * (done.lit.shape[0] / size))
    back = cv2.warpAffine(
        done.lit, inverse, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    a = cv2.warpAffine(done.mask, inverse, (w, h))[..., None]
    out = np.rint(rgb * (1 - a) + back * a).astype(np.uint8)
    if done.gray:  # Lab colour matching leaves +-1 of colour: grey the changed pixels again
        changed = (out != rgb).any(axis=2, keepdims=True)
        out = np.where(changed, to_gray(out, True), out)
    return out


@dataclass
class Aligned:
    """A face aligned to the generator's template: `matrix` maps the photo to a (size, size)
    crop, which is `res` px (the generator's side) scaled up to the face's size."""

    face: Face
    matrix: np.ndarray
    size: int
    mask: np.ndarray  # (size, size) feathered inner-face region, faded at the photo's edge
    crop: np.ndarray  # (res, res, 3) the photo's face at the generator's resolution
    gray: bool  # a grayscale face stays grayscale
    inside: np.ndarray  # (size, size) 1 inside the photo, fading to 0 at its edge
    mesh: np.ndarray  # (468, 2) the original's face mesh in crop px
    five: np.ndarray  # (5, 2) the original's detector landmarks in crop px
    widen: float = 1.0
    last: Composited | None = None  # what the latest paste put in the crop

    def widened(self, widen: float) -> Aligned:
        """The same alignment with a region that reaches `widen` times further out."""
        if widen == self.widen:
            return self
        mask = region_mask(self.mesh, self.size, widen) * self.inside
        return dataclasses.replace(self, mask=mask, widen=widen)

    def geometry(self, face_rgb: np.ndarray, rough: bool = False) -> Geometry:
        """Where the points of the generated (res, res) `face_rgb`, enlarged to the crop, and
        of the original are; `rough`: the generator's mean face stands in for the new one's
        own points (for ranking candidates, where fitting each costs more than it changes)."""
        generator = model()[0]
        if rough:
            points, five = template_points(generator, self.size)
        else:
            points, five = generated_points(generator, face_rgb, self.size)
        return Geometry(self.mesh, points, self.five, five)

    def paste(self, rgb: np.ndarray, face_rgb: np.ndarray) -> np.ndarray:
        """`rgb` with the generated (res, res) `face_rgb` blended in."""
        return self.paste_scored(rgb, face_rgb)[0]

    def paste_scored(
        self, rgb: np.ndarray, face_rgb: np.ndarray, rough: bool = False
    ) -> tuple[np.ndarray, float]:
        """:meth:`paste`, and how far the new face's coarse shading is from the old one's
        (`rough`: see :meth:`geometry`)."""
        from faceveil.gen.upsample import upsample

        face_rgb = to_gray(face_rgb, self.gray)
        big = upsample(face_rgb, self.size)
        geometry = self.geometry(face_rgb, rough)
        h, w = rgb.shape[:2]
        crop = cv2.warpAffine(
            rgb, self.matrix, (self.size, self.size), flags=cv2.INTER_AREA,
            borderMode=cv2.BORDER_REPLICATE,
        )  # fmt: skip
        seed = zlib.crc32(np.ascontiguousarray(face_rgb).tobytes())
        warped, lit = composite(crop, big, geometry, self.mask, seed)
        self.last = Composited(lit, self.mask, warped, self.gray)
        return put_back(rgb, self.matrix, self.size, self.last), coarse_error(crop, big, self.mask)

    def flaw(self, rgb: np.ndarray, out: np.ndarray) -> str | None:
        """Why `out`, the result of this alignment's latest :meth:`paste` on `rgb`, looks
        broken, or None (the quality gate, :mod:`faceveil.anonymize.quality`)."""
        from faceveil.anonymize.quality import flaw

        return flaw(*self._judged(rgb, out), self.mesh, self.mask)

    def dark_patch(self, rgb: np.ndarray, out: np.ndarray) -> float:
        """The gate's dark-patch share of the latest paste (cheap: no detector)."""
        from faceveil.anonymize.quality import dark_patch

        return dark_patch(*self._judged(rgb, out), self.mesh, self.mask)

    def _judged(
        self, rgb: np.ndarray, out: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        assert self.last is not None and self.last.warped is not None, "judges the latest paste"

        def crop(x: np.ndarray) -> np.ndarray:
            return cv2.warpAffine(
                x, self.matrix, (self.size, self.size), flags=cv2.INTER_AREA,
                borderMode=cv2.BORDER_REPLICATE,
            )  # fmt: skip

        return crop(out), crop(rgb), self.last.warped


def placement(face: Face) -> tuple[np.ndarray, int]:
    """The matrix mapping the photo to `face`'s aligned (size, size) crop, and the size;
    Fallback when the face cannot be replaced."""
    from faceveil.align import align_matrix

    if min(face.box[2], face.box[3]) < MIN_FACE:
        raise Fallback(f"face of {min(face.box[2:]):.0f} px is under {MIN_FACE} px")
    if turned_too_far(face):
        raise Fallback("face turned too far from the camera")
    generator, _ = model()
    res = generator.resolution
    m64 = align_matrix(face.landmarks, generator.landmark_template)
    zoom = 1.0 / np.sqrt(abs(np.linalg.det(m64[:, :2])))  # image px per crop px
    size = int(min(512, max(res, 2 ** np.ceil(np.log2(res * zoom)))))
    return m64 * (size / res), size


def align(rgb: np.ndarray, face: Face) -> Aligned:
    """Align `face` in `rgb` to the generator's template; Fallback when it cannot be replaced."""
    matrix, size = placement(face)
    generator, _ = model()
    res = generator.resolution
    m64 = matrix * (res / size)
    inside = inside_image(rgb.shape, matrix, size)
    crop = cv2.warpAffine(rgb, m64, (res, res), flags=cv2.INTER_AREA)
    inner = face_mask(res) > 0.5
    spread = np.abs(crop.astype(np.int16) - crop.mean(axis=2, keepdims=True))[inner]
    gray = bool(spread.mean() < 2.0)
    mesh = original_mesh(generator, rgb, face, matrix, size)
    mask = region_mask(mesh, size) * inside
    five = (face.landmarks @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)
    return Aligned(face, matrix, size, mask, crop, gray, inside, mesh, five)


def tracked_paste(rgb: np.ndarray, face: Face, known: Tracked, widen: float) -> np.ndarray:
    """A known track's face on this frame: composited anew (warped onto this frame's mesh,
    relit) every RECOMPOSITE_EVERY frames, and in between the last one moved with the face's
    landmarks. Fallback as :func:`align`."""
    if known.composited is not None and known.frames % RECOMPOSITE_EVERY:
        matrix, size = placement(face)
        return put_back(rgb, matrix, size, known.composited)
    aligned = align(rgb, face).widened(widen)
    out = aligned.paste(rgb, known.face_rgb)
    assert aligned.last is not None
    known.composited = dataclasses.replace(aligned.last, warped=None)  # up to 1,024 tracks
    return out


def scouting_copy(rgb: np.ndarray, face: Face, side: int = SCOUT_SIDE) -> tuple[np.ndarray, Face]:
    """`rgb` shrunk so that `face` is about `side` px, and the face in it: candidates are ranked
    there (a 300 px face costs 10x more to paste than a 96 px one, and ranks the same)."""
    scale = side / max(face.box[2], face.box[3])
    if scale >= 0.8:
        return rgb, face
    small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    x, y, w, h = face.box
    moved = dataclasses.replace(
        face,
        box=(x * scale, y * scale, w * scale, h * scale),
        landmarks=((face.landmarks + 0.5) * scale - 0.5).astype(np.float32),
    )
    return small, moved


def _composited(rgb: np.ndarray, out: np.ndarray, face: Face, opts) -> np.ndarray:
    """`out` as the runner leaves it: blended into `rgb` through the feathered face region,
    which gives back some of the original at the region's edge."""
    from faceveil.anonymize.regions import face_region

    region = face_region(
        face, rgb.shape, shape=opts.shape, mask_scale=opts.mask_scale, feather=opts.feather
    )
    if region is None:
        return out
    alpha = np.zeros(rgb.shape[:2], np.float32)
    alpha[region.slices] = region.alpha
    a = alpha[..., None]
    return np.rint(rgb * (1 - a) + out * a).astype(np.uint8)


def _in_context(rgb: np.ndarray, face: Face) -> tuple[np.ndarray, Face]:
    """The ROI mirrored outwards: SFace's crop reaches past it, and in the photo the
    original's hair and ears there raise the similarity; mirrored, they count here too."""
    pad = max(rgb.shape[:2]) // 2
    x, y, w, h = face.box
    moved = dataclasses.replace(
        face, box=(x + pad, y + pad, w, h), landmarks=face.landmarks + np.float32(pad)
    )
    return cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REFLECT), moved


class IdentityCheck:
    """The attacker's view of one face: SFace, aligned on the *original* landmarks, comparing
    a result, as the runner will leave it in the photo, with the original."""

    def __init__(self, rgb: np.ndarray, face: Face, opts):
        self.rgb, self.face, self.opts = rgb, face, opts
        context, self.probe = _in_context(rgb, face)
        self.reference = embed_faces(context, [self.probe])[0]

    def similarity(self, out: np.ndarray) -> float:
        seen = _in_context(_composited(self.rgb, out, self.face, self.opts), self.face)[0]
        return float(cosine(self.reference, embed_faces(seen, [self.probe])[0]))

    def similarity_redetected(self, out: np.ndarray) -> float | None:
        """The same, aligned on the landmarks the detector finds on the result (what an
        attacker who detects the face anew sees); None when it finds no face there."""
        from faceveil.detect import detect
        from faceveil.faces import best_overlap

        seen = _in_context(_composited(self.rgb, out, self.face, self.opts), self.face)[0]
        again = best_overlap(self.probe, detect(seen, small_faces=False, recall="fast"), 0.5)
        if again is None:
            return None
        return float(cosine(self.reference, embed_faces(seen, [again])[0]))

    def hidden(self, out: np.ndarray) -> bool:
        """At least IDENTITY_MARGIN under the threshold."""
        return self.similarity(out) < IDENTITY_LIMIT


def as_roi(out: np.ndarray, roi: np.ndarray) -> np.ndarray:
    """An RGB uint8 result back in the ROI's channels and dtype (alpha kept)."""
    if roi.ndim == 2:
        out = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)
    elif roi.shape[2] == 4:
        out = np.dstack([out, roi[:, :, 3:].astype(np.uint8)])
    if roi.dtype != np.uint8:  # 16-bit or float input: scale back to its range
        scale = 1.0 if roi.dtype.kind == "f" else float(np.iinfo(roi.dtype).max)
        return (out.astype(np.float64) / 255.0 * scale).astype(roi.dtype).reshape(roi.shape)
    return out.reshape(roi.shape)


def replacing(fn):
    """Wrap ``fn(rgb, face, opts) -> rgb`` as a method on any ROI dtype and channel count."""

    @functools.wraps(fn)
    def method(roi: np.ndarray, face: Face, opts, **context) -> np.ndarray:
        return as_roi(fn(to_rgb8(roi), face, opts, **context), roi)

    return method
