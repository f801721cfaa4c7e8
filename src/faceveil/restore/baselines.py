"""Classical inpainting baselines for the covering fill: OpenCV's Telea and Navier-Stokes, and
scikit-image's biharmonic. Every one is ``(image, mask) -> image``: an (H, W, 3) uint8 RGB
image and an (H, W) bool mask of the pixels to fill; pixels outside the mask are returned
unchanged (byte-identical).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

RADIUS = 5  # px: the neighbourhood OpenCV's methods fill each pixel from
MARGIN = 8  # px of visible context around the hole's bounding box that biharmonic solves over


def _checked(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    image = np.ascontiguousarray(image, dtype=np.uint8)
    mask = np.asarray(mask, bool)
    if image.ndim != 3 or image.shape[2] != 3 or mask.shape != image.shape[:2]:
        raise ValueError(f"need (H, W, 3) uint8 and (H, W) mask, got {image.shape}, {mask.shape}")
    return image, mask


def _opencv(image: np.ndarray, mask: np.ndarray, flag: int) -> np.ndarray:
    image, mask = _checked(image, mask)
    if not mask.any():
        return image.copy()
    out = cv2.inpaint(image, mask.astype(np.uint8), RADIUS, flag)
    return np.where(mask[..., None], out, image)


def telea(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Telea's fast marching inpainting (``cv2.INPAINT_TELEA``)."""
    return _opencv(image, mask, cv2.INPAINT_TELEA)


def navier_stokes(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Bertalmio's Navier-Stokes inpainting (``cv2.INPAINT_NS``)."""
    return _opencv(image, mask, cv2.INPAINT_NS)


def biharmonic(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """scikit-image's biharmonic inpainting, solved over the hole's bounding box plus a margin
    (the whole image would cost a much larger sparse solve for the same answer)."""
    from skimage.restoration import inpaint_biharmonic

    image, mask = _checked(image, mask)
    if not mask.any():
        return image.copy()
    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    y0, y1 = max(0, ys.min() - MARGIN), min(h, ys.max() + MARGIN + 1)
    x0, x1 = max(0, xs.min() - MARGIN), min(w, xs.max() + MARGIN + 1)
    box = (slice(y0, y1), slice(x0, x1))
    filled = inpaint_biharmonic(image[box].astype(np.float64) / 255.0, mask[box], channel_axis=-1)
    out = image.copy()
    out[box] = np.clip(np.rint(filled * 255.0), 0, 255).astype(np.uint8)
    return np.where(mask[..., None], out, image)


BASELINES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "telea": telea,
    "navier-stokes": navier_stokes,
    "biharmonic": biharmonic,
}
