"""Putting a generated face into a photo so that it reads as part of the photo.

Every step works in the aligned crop of :class:`~faceveil.anonymize.replace.Aligned`:

1. **geometry**: the 468-point mesh is fitted on the original and on the new face, and the new
   face is warped densely (piecewise linear over the mesh) onto the original's points, so pose,
   expression and the outline of eyes and mouth land where the photo had them;
2. **region**: only the inner face is replaced: the mesh's face oval, pulled in at the sides and
   cut below the hairline, so hair, ears, jaw line and background stay the photo's own and the
   generator's hair never lands on the face;
3. **light**: the new face keeps its own detail but takes the original's low-frequency shading
   and colour (Lab), measured inside the region only;
4. **grain**: noise is added until the new face's finest band is as strong as the photo's, so a
   64 px face enlarged to 400 px is soft, not waxen.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from faceveil.models.mesh_topology import BROWS, FACE_OVAL, NOSE_TIP, five_points, inter_ocular

MESH_TOLERANCE = 0.2  # mean distance of the mesh's five points from YuNet's, in eye distances
# On a photo, a mesh this far off means no face the mesh knows (a false detection, mostly):
# real faces measured 0.18 at most, false detections 0.46 and more.
MESH_MISFIT = 0.3
# The points the warp moves: eyelids, brows, the mouth's corners and opening, chin and
# outline. Pose and expression follow them; the finer shapes of eyes, nose and lips stay the
# new face's own (a warp on all 468 points copies them, and with them identity).
WARP_POINTS = (
    159, 145, 386, 374, 70, 105, 107, 336, 334, 300, 0, 17, 61, 291, 13, 14, 78, 308,
    152, 10, 234, 454, 172, 397, 58, 288, 132, 361,
)  # fmt: skip
# with the detector's five landmarks of each face (eyes, nose tip, mouth corners) beside them:
# the detector, which an attacker and the audit use, then finds them where they were.
INSET = 0.95  # the oval pulled towards the nose: the photo keeps its jaw line and cheek outline
FOREHEAD = 0.7  # how far above the brows the region reaches, in brow-to-nose-tip heights
SHADING = 0.5  # low-pass sigma of the kept shading, in inter-ocular distances
CLOSING = 0.25  # features narrower than this (eye distances) are not shading
FEATHER = 0.08  # feather sigma of the region, in inter-ocular distances (wider leaves glasses)
WARP_SMOOTHING = 0.15  # sigma of the displacement field, in inter-ocular distances
GRID = 33  # nodes a side of the warp's displacement grid (it is smooth)


@dataclass(frozen=True)
class Geometry:
    """Mesh points of the original (`target`) and of the new face (`source`) in crop px."""

    target: np.ndarray  # (468, 2)
    source: np.ndarray  # (468, 2)
    target_five: np.ndarray  # (5, 2) the detector's landmarks of the original
    source_five: np.ndarray  # (5, 2) and of the new face

    @property
    def iod(self) -> float:
        return inter_ocular(self.target)


def region_mask(points: np.ndarray, size: int, widen: float = 1.0) -> np.ndarray:
    """Feathered inner-face mask (size, size) in [0, 1] from mesh points in crop px.

    The feather lies inside the mesh's outline, so the jaw line is the photo's own. `widen`
    > 1 reaches further up the forehead and out to the outline (glasses, cheeks) for faces a
    recognizer still knows."""
    oval = points[list(FACE_OVAL)].astype(np.float64)
    centre = points[NOSE_TIP].astype(np.float64)
    oval = centre + (oval - centre) * (INSET * widen)
    brow = float(points[[i for ring in BROWS for i in ring], 1].mean())
    top = brow - FOREHEAD * widen * (float(centre[1]) - brow)
    oval[:, 1] = np.maximum(oval[:, 1], top)
    iod = inter_ocular(points)
    sigma = max(0.8, FEATHER * iod)
    solid = np.zeros((size, size), np.uint8)
    cv2.fillPoly(solid, [np.round(oval * 4).astype(np.int32)], 255, cv2.LINE_AA, 2)
    depth = cv2.distanceTransform((solid > 127).astype(np.uint8), cv2.DIST_L2, 5)
    # A ramp from the outline to 2.5 sigma inside it, smoothed: nothing past the outline.
    mask = np.clip(depth / (2.5 * sigma), 0, 1).astype(np.float32)
    return cv2.GaussianBlur(mask, (0, 0), sigma / 2) * (solid > 127)


def mesh_error(points: np.ndarray, landmarks: np.ndarray) -> float:
    """Mean distance of a mesh's five points from the detector's `landmarks`, in eye distances."""
    iod = max(1.0, float(np.linalg.norm(landmarks[1] - landmarks[0])))
    return float(np.linalg.norm(five_points(points) - landmarks, axis=1).mean()) / iod


def checked_mesh(points: np.ndarray, landmarks: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """`points` when they agree with the detector's `landmarks`; else the `fallback` mesh
    (the generator's mean face) placed on the landmarks. The mesh drifts off faces it does
    not know, such as some generated ones, and a wrong mesh would warp the face apart."""
    if mesh_error(points, landmarks) <= MESH_TOLERANCE:
        return points
    m, _ = cv2.estimateAffinePartial2D(five_points(fallback), landmarks.astype(np.float32))
    return (fallback @ m[:, :2].T + m[:, 2]).astype(np.float32)


@functools.lru_cache(maxsize=4)
def _grid(size: int) -> np.ndarray:
    n = min(GRID, size)
    axis = np.linspace(0, size - 1, n, dtype=np.float32)
    return np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)


def dense_warp(face: np.ndarray, geometry: Geometry) -> np.ndarray:
    """`face` (size, size, 3) warped so that its mesh points move onto the target's."""
    from scipy.interpolate import LinearNDInterpolator, NearestNDInterpolator

    size = face.shape[0]
    g = geometry
    nodes = np.vstack([g.target[list(WARP_POINTS)], g.target_five]).astype(np.float64)
    shift = np.vstack(
        [(g.source - g.target)[list(WARP_POINTS)], g.source_five - g.target_five]
    ).astype(np.float64)
    grid = _grid(size)
    inside = LinearNDInterpolator(nodes, shift)(grid)
    outside = np.isnan(inside[:, 0])
    if outside.any():  # beyond the mesh: the nearest node's shift, smoothed below
        inside[outside] = NearestNDInterpolator(nodes, shift)(grid[outside])
    n = int(np.sqrt(len(grid)))
    field = inside.reshape(n, n, 2).astype(np.float32)
    field = cv2.GaussianBlur(
        field, (0, 0), max(0.5, WARP_SMOOTHING * geometry.iod * (n - 1) / size)
    )
    field = cv2.resize(field, (size, size), interpolation=cv2.INTER_LINEAR)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    return cv2.remap(
        face, xs + field[..., 0], ys + field[..., 1], cv2.INTER_LINEAR, cv2.BORDER_REPLICATE
    )


def _masked_blur(x: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of `x` (H, W, C) that only averages where `weight` is high; run on a
    copy shrunk to a few px per sigma, since only low frequencies survive it."""
    h, w = weight.shape
    shrink = max(1.0, sigma / 2.0)
    small = (max(2, round(w / shrink)), max(2, round(h / shrink)))

    def low(v: np.ndarray) -> np.ndarray:
        v = cv2.resize(v, small, interpolation=cv2.INTER_AREA)
        return cv2.GaussianBlur(v, (0, 0), sigma / shrink)

    num = low(x * weight[..., None])
    den = np.maximum(low(weight), 1e-4)
    out = num / (den[..., None] if num.ndim == 3 else den)
    return cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)


def fine_band(lightness: np.ndarray) -> np.ndarray:
    return lightness - cv2.GaussianBlur(lightness, (0, 0), 1.0)


def grain_level(lightness: np.ndarray, weight: np.ndarray) -> float:
    """Robust spread of the finest band of `lightness` where `weight` > 0.5."""
    band = fine_band(lightness)[weight > 0.5]
    if band.size < 16:
        return 0.0
    return float(1.4826 * np.median(np.abs(band - np.median(band))))


def _shading(lab: np.ndarray, support: np.ndarray, iod: float) -> np.ndarray:
    """The broad shading of a Lab face: lightness closed first, so that eyes, brows, mouth and
    glasses frames (dark and narrow) do not darken it; else the original's features would
    show through the new face as a ghost."""
    side = max(3, int(round(CLOSING * iod)) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side))
    closed = lab.copy()
    closed[..., 0] = cv2.morphologyEx(lab[..., 0], cv2.MORPH_CLOSE, kernel)
    return _masked_blur(closed, support, max(1.0, SHADING * iod))


def relight(
    new: np.ndarray, photo: np.ndarray, mask: np.ndarray, iod: float, seed: int
) -> np.ndarray:
    """`new` (uint8 RGB) with the shading, colour and grain of `photo` inside `mask`."""
    lab_new = cv2.cvtColor(new, cv2.COLOR_RGB2LAB).astype(np.float32)
    lab_photo = cv2.cvtColor(photo, cv2.COLOR_RGB2LAB).astype(np.float32)
    support = (mask > 0.05).astype(np.float32)
    base_new, base_photo = (_shading(lab, support, iod) for lab in (lab_new, lab_photo))
    # Detail spread matched in lightness (bounded: a flat face must not blow up noise).
    detail = lab_new - base_new
    inner = mask > 0.5
    if inner.sum() > 16:
        spread = (lab_photo - base_photo)[inner].std(axis=0) / np.maximum(
            detail[inner].std(axis=0), 1.0
        )
        detail *= np.clip(spread, 0.6, 1.5)
    out = base_photo + detail
    missing = grain_level(lab_photo[..., 0], mask) ** 2 - grain_level(out[..., 0], mask) ** 2
    if missing > 0.25:
        rng = np.random.default_rng(seed)
        noise = rng.standard_normal(mask.shape).astype(np.float32)
        noise = fine_band(noise)  # the band the level is measured in
        out[..., 0] += noise * (np.sqrt(missing) / max(1e-3, float(noise.std())))
    return cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def composite(
    photo: np.ndarray, new: np.ndarray, geometry: Geometry, mask: np.ndarray, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """`new` warped onto the photo's crop's face, then relit to match the photo inside `mask`
    (see :func:`region_mask`), ready to be blended in through `mask`."""
    warped = dense_warp(new, geometry)
    return warped, relight(warped, photo, mask, geometry.iod, seed)
