"""``synth``: replace a face with a synthetic one that keeps its pose, light and skin tone.

For each face:

1. align it to the generator's landmark template (64 px for the shipped DCGAN);
2. the amortised inversion encoder reads pose, expression, light and tone from that crop as a
   latent; it is mixed with a random latent (seeded per face, or per track in video), which
   brings in a new identity: ``z = a * z_face + sqrt(1 - a^2) * z_new``;
3. several candidates are decoded, colour-matched to the face (Lab mean and spread), enlarged to
   the face's size and blended in with a Laplacian pyramid on a feathered mask that follows the
   template's face oval;
4. identity constraint: SFace, aligned on the *original* landmarks as an attacker would, must
   score each candidate at least ``IDENTITY_MARGIN`` below the calibrated threshold. Of the
   candidates that pass, the one closest to the original in coarse shading (pose, light) wins;
   if none pass, the mix weight ``a`` is lowered and new candidates are drawn;
5. a face that is too small or turned too far to replace, or that fails every try, raises
   :class:`~faceveil.anonymize.registry.Fallback`: the runner blurs it and reports why.

In video, faces on one track keep one new identity and a smoothed pose latent; the identity
search runs on a track's first frame only, and the synthetic face is decoded again every
``REDRAW_EVERY`` frames and in between only re-warped onto the moving landmarks, so it stays
fast and does not flicker.
"""

from __future__ import annotations

import functools
import zlib
from collections import OrderedDict

import cv2
import numpy as np

from faceveil.analysis.identity import SFACE_THRESHOLD, cosine, embed_faces
from faceveil.anonymize.blend import match_colour, pyramid_blend
from faceveil.anonymize.options import AnonymizeOptions
from faceveil.anonymize.registry import Fallback, register
from faceveil.detect import Face
from faceveil.io.images import to_rgb8

MIN_FACE = 24  # px: smaller faces are blurred instead (too few pixels to fit a face to)
MAX_TURN = 0.45  # nose offset from the eye midline / inter-ocular distance
IDENTITY_MARGIN = 0.05  # below the threshold: the same photo, so stricter than any other photo
CANDIDATES = 6
MIX_WEIGHTS = (0.5, 0.3, 0.0, 0.0)  # share of the original's latent, tried in turn
TRACK_SMOOTHING = 0.5  # weight of the previous pose latent on a track
REDRAW_EVERY = 3  # frames a track's face is re-warped before it is decoded again
_tracks: OrderedDict = OrderedDict()  # (run, track) -> (z_new, z_face, a, face, frames since)


@functools.lru_cache(maxsize=1)
def _model():
    import torch

    from faceveil.gen.encoder import load_encoder
    from faceveil.gen.registry import get_generator

    # These small networks run 10-50x slower with two intra-op threads when the video pipeline's
    # decode/encode threads (or anything else) keep the other core busy: one thread it is.
    torch.set_num_threads(1)
    generator = get_generator()
    encoder = load_encoder(generator)
    if encoder is None or generator.landmark_template is None:
        raise RuntimeError(f"{generator.name} lacks an encoder or a landmark template")
    return generator, encoder


@functools.lru_cache(maxsize=8)
def face_mask(size: int) -> np.ndarray:
    """Feathered oval over the template's face, brows to chin, in a (size, size) crop."""
    generator, _ = _model()
    t = generator.landmark_template * (size / generator.resolution)
    eyes, mouth = (t[0] + t[1]) / 2, (t[3] + t[4]) / 2
    iod = float(np.linalg.norm(t[1] - t[0]))
    centre = (eyes + mouth) / 2 + (0, 0.15 * iod)
    axes = (1.1 * iod, 1.55 * iod)
    mask = np.zeros((size, size), np.float32)
    cv2.ellipse(
        mask,
        (centre * 4).round().astype(int),
        (np.array(axes) * 4).round().astype(int),
        0,
        0,
        360,
        1.0,
        -1,
        cv2.LINE_AA,
        2,
    )
    return cv2.GaussianBlur(mask, (0, 0), 0.18 * iod)


def _turned_too_far(face: Face) -> bool:
    lm = face.landmarks
    across = lm[1] - lm[0]
    iod = float(np.hypot(*across))
    if iod < 1e-3:
        return True
    mid = (lm[0] + lm[1]) / 2
    offset = abs(float(np.dot(lm[2] - mid, across / iod)))
    return offset / iod > MAX_TURN


def _gray(face_rgb: np.ndarray, gray: bool) -> np.ndarray:
    if not gray:
        return face_rgb
    return cv2.cvtColor(cv2.cvtColor(face_rgb, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)


def _latents(seed: int, key: int, n: int, dim: int) -> np.ndarray:
    rng = np.random.default_rng([seed, key])
    return rng.standard_normal((n, dim)).astype(np.float32)


def _paste(rgb, face_rgb, matrix, size, mask):
    """Blend an aligned (size, size) face into `rgb` through the inverse of `matrix`."""
    h, w = rgb.shape[:2]
    crop = cv2.warpAffine(
        rgb, matrix, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE
    )
    new = match_colour(face_rgb, crop, mask)
    blended = pyramid_blend(crop, new, mask)
    inverse = cv2.invertAffineTransform(matrix)
    back = cv2.warpAffine(
        blended, inverse, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    support = cv2.warpAffine((mask > 0.01).astype(np.float32), inverse, (w, h))
    a = np.clip(support, 0, 1)[..., None]
    return np.rint(rgb * (1 - a) + back * a).astype(np.uint8), crop


def _coarse_error(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Difference of heavily blurred luminance inside the mask: pose and light, not detail."""
    sigma = a.shape[0] / 24
    ga = cv2.GaussianBlur(cv2.cvtColor(a, cv2.COLOR_RGB2GRAY).astype(np.float32), (0, 0), sigma)
    gb = cv2.GaussianBlur(cv2.cvtColor(b, cv2.COLOR_RGB2GRAY).astype(np.float32), (0, 0), sigma)
    return float(((ga - gb) ** 2 * mask).sum() / max(mask.sum(), 1e-6))


def replace_face(rgb: np.ndarray, face: Face, opts: AnonymizeOptions) -> np.ndarray:
    """`rgb` (H, W, 3) uint8 with `face` replaced by a synthetic face; raises Fallback."""
    from faceveil.gen.align import align_matrix
    from faceveil.gen.encoder import encode
    from faceveil.gen.upsample import upsample

    if min(face.box[2], face.box[3]) < MIN_FACE:
        raise Fallback(f"face of {min(face.box[2:]):.0f} px is under {MIN_FACE} px")
    if _turned_too_far(face):
        raise Fallback("face turned too far from the camera")
    generator, encoder = _model()
    res = generator.resolution
    m64 = align_matrix(face.landmarks, generator.landmark_template)
    zoom = 1.0 / np.sqrt(abs(np.linalg.det(m64[:, :2])))  # image px per crop px
    size = int(min(512, max(res, 2 ** np.ceil(np.log2(res * zoom)))))
    matrix = m64 * (size / res)
    mask = face_mask(size)
    crop64 = cv2.warpAffine(rgb, m64, (res, res), flags=cv2.INTER_AREA)
    inner = face_mask(res) > 0.5
    spread = np.abs(crop64.astype(np.int16) - crop64.mean(axis=2, keepdims=True))[inner]
    gray = bool(spread.mean() < 2.0)  # a grayscale face (on any background) stays grayscale
    z_face = encode(encoder, crop64)
    key = (
        face.track_id
        if face.track_id is not None
        else zlib.crc32(np.round(np.asarray(face.box) / 4).astype(np.int32).tobytes())
    )
    run = (id(opts), face.track_id)
    if face.track_id is not None and run in _tracks:  # a known track: no search
        z_new, z_prev, a, face_rgb, age = _tracks[run]
        if age >= REDRAW_EVERY:  # re-read pose and expression, smoothed against flicker
            z_face = TRACK_SMOOTHING * z_prev + (1 - TRACK_SMOOTHING) * z_face
            face_rgb = _gray(generator.decode(a * z_face + np.sqrt(1 - a * a) * z_new), gray)
            age = 0
        else:
            z_face = z_prev
        _tracks[run] = (z_new, z_face, a, face_rgb, age + 1)
        _tracks.move_to_end(run)
        return _paste(rgb, upsample(face_rgb, size), matrix, size, mask)[0]
    reference = embed_faces(rgb, [face])[0]
    limit = SFACE_THRESHOLD - IDENTITY_MARGIN
    for attempt, a in enumerate(MIX_WEIGHTS):
        z_new = _latents(opts.seed, key * 8 + attempt, CANDIDATES, generator.latent_dim)
        faces = generator.decode(a * z_face[None] + np.sqrt(1 - a * a) * z_new)
        best = None
        for z, candidate in zip(z_new, faces, strict=True):
            if gray:
                candidate = cv2.cvtColor(
                    cv2.cvtColor(candidate, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB
                )
            big = upsample(candidate, size)
            out, crop = _paste(rgb, big, matrix, size, mask)
            if cosine(reference, embed_faces(out, [face])[0]) >= limit:
                continue
            error = _coarse_error(crop, big, mask)
            if best is None or error < best[0]:
                best = (error, out, z, candidate)
        if best is not None:
            if face.track_id is not None:
                _tracks[run] = (best[2], z_face, a, best[3], 1)
                while len(_tracks) > 1024:
                    _tracks.popitem(last=False)
            return best[1]
    raise Fallback("no synthetic face passed the identity check")


@register("synth", "a synthetic face that keeps pose, light and skin tone; identity checked")
def synth(roi: np.ndarray, face: Face, opts: AnonymizeOptions) -> np.ndarray:
    rgb = to_rgb8(roi)
    out = replace_face(rgb, face, opts)
    if roi.ndim == 2:
        out = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)
    elif roi.shape[2] == 4:
        out = np.dstack([out, roi[:, :, 3:].astype(np.uint8)])
    if roi.dtype != np.uint8:  # 16-bit or float input: scale back to its range
        scale = 1.0 if roi.dtype.kind == "f" else float(np.iinfo(roi.dtype).max)
        return (out.astype(np.float64) / 255.0 * scale).astype(roi.dtype).reshape(roi.shape)
    return out.reshape(roi.shape)
