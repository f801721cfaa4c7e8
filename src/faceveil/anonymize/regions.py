"""Where a method applies: an enlarged ellipse or box around a face, with a feathered edge.

Only pixels inside the enlarged region can change; the feather lies inside it, so everything
outside stays byte-identical to the input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from faceveil.faces import Face

SHAPES = ("ellipse", "box")


@dataclass(frozen=True)
class Region:
    """A face region within an image: the ROI slice and its alpha mask in [0, 1]."""

    x0: int
    y0: int
    alpha: np.ndarray  # (h, w) float32

    @property
    def slices(self) -> tuple[slice, slice]:
        h, w = self.alpha.shape
        return slice(self.y0, self.y0 + h), slice(self.x0, self.x0 + w)


def _roll_degrees(face: Face) -> float:
    """In-plane rotation from the eye line; 0 when the landmarks are missing."""
    (rx, ry), (lx, ly) = face.landmarks[0], face.landmarks[1]
    if not np.isfinite([rx, ry, lx, ly]).all() or (rx == lx and ry == ly):
        return 0.0
    return math.degrees(math.atan2(ly - ry, lx - rx))


def face_region(
    face: Face,
    image_shape: tuple[int, ...],
    *,
    shape: str = "ellipse",
    mask_scale: float = 1.3,
    feather: float = 0.1,
) -> Region | None:
    """The alpha mask of one face's enlarged region, clipped to the image.

    `mask_scale` enlarges the detector box about its centre. `feather` is the width of the soft
    edge as a fraction of the enlarged size; the mask is fully opaque inside it. Returns None
    when the region lies outside the image.
    """
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}")
    if mask_scale <= 0:
        raise ValueError(f"mask_scale must be positive, got {mask_scale}")
    H, W = image_shape[:2]
    x, y, w, h = face.box
    cx, cy = x + w / 2, y + h / 2
    half_w, half_h = w * mask_scale / 2, h * mask_scale / 2
    angle = _roll_degrees(face) if shape == "ellipse" else 0.0
    a = math.radians(angle)
    ext_x = math.hypot(half_w * math.cos(a), half_h * math.sin(a))
    ext_y = math.hypot(half_w * math.sin(a), half_h * math.cos(a))
    x0, y0 = max(0, math.floor(cx - ext_x)), max(0, math.floor(cy - ext_y))
    x1, y1 = min(W, math.ceil(cx + ext_x) + 1), min(H, math.ceil(cy + ext_y) + 1)
    if x1 <= x0 or y1 <= y0:
        return None
    edge = max(1.0, feather * min(half_w, half_h) * 2)
    # Draw at 4x sub-pixel precision, shrunk by the feather so the soft edge stays inside.
    core = np.zeros((y1 - y0, x1 - x0), np.uint8)
    shift = 2
    c = (round((cx - x0) * 4), round((cy - y0) * 4))
    if shape == "ellipse":
        axes = (max(1, round((half_w - edge) * 4)), max(1, round((half_h - edge) * 4)))
        cv2.ellipse(core, c, axes, angle, 0, 360, 255, -1, cv2.LINE_AA, shift)
    else:
        p0 = (round((cx - half_w + edge - x0) * 4), round((cy - half_h + edge - y0) * 4))
        p1 = (round((cx + half_w - edge - x0) * 4), round((cy + half_h - edge - y0) * 4))
        cv2.rectangle(core, p0, p1, 255, -1, cv2.LINE_AA, shift)
    alpha: np.ndarray = core.astype(np.float32) / 255.0
    sigma = edge / 2.5
    alpha = cv2.GaussianBlur(alpha, (0, 0), sigma, borderType=cv2.BORDER_CONSTANT)
    alpha = np.maximum(alpha, (core == 255).astype(np.float32))  # the core stays fully covered
    # Nothing outside the enlarged shape, so the background is untouched.
    outer = np.zeros_like(core)
    if shape == "ellipse":
        axes = (round(half_w * 4), round(half_h * 4))
        cv2.ellipse(outer, c, axes, angle, 0, 360, 255, -1, cv2.LINE_8, shift)
    else:
        outer[
            max(0, math.floor(cy - half_h) - y0) : math.ceil(cy + half_h) - y0,
            max(0, math.floor(cx - half_w) - x0) : math.ceil(cx + half_w) - x0,
        ] = 255
    alpha[outer == 0] = 0.0
    return Region(x0, y0, alpha)
