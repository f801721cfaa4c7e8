"""Upsampling generator output (64 px) to the size a user asked for.

The trade-offs the seed weighed: nearest and linear are fast but blocky or soft; cubic and
Lanczos keep edges better and may ring a little; learned super-resolution would be sharper but
no such weights ship. faceveil resamples with bicubic and a mild unsharp mask (amount 0.5), the
best PSNR and SSIM of ``bench/upsample.py`` (real faces shrunk 4x and enlarged back; figures in
docs/benchmarks.md).
"""

from __future__ import annotations

import cv2
import numpy as np

RESAMPLERS = {
    "nearest": cv2.INTER_NEAREST,
    "linear": cv2.INTER_LINEAR,
    "cubic": cv2.INTER_CUBIC,
    "lanczos": cv2.INTER_LANCZOS4,
}


def unsharp(image: np.ndarray, amount: float, sigma: float) -> np.ndarray:
    """Unsharp mask: image + amount * (image - blurred image), in uint8."""
    if amount <= 0:
        return image
    soft = cv2.GaussianBlur(image, (0, 0), sigma)
    return cv2.addWeighted(image, 1.0 + amount, soft, -amount, 0)


def upsample(
    images: np.ndarray, size: int, *, method: str = "cubic", sharpen: float = 0.5
) -> np.ndarray:
    """Resize a face (H, W, 3) or a batch (N, H, W, 3) of uint8 faces to `size` x `size`.

    Parameters
    ----------
    images : uint8 RGB image or batch.
    size : output side in pixels.
    method : one of :data:`RESAMPLERS`.
    sharpen : unsharp-mask amount (0 = none); its radius scales with the zoom factor.

    Returns
    -------
    uint8 array of the same rank, with sides `size`.
    """
    if method not in RESAMPLERS:
        raise ValueError(f"method must be one of {', '.join(RESAMPLERS)}, got {method!r}")
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    if sharpen < 0:
        raise ValueError(f"sharpen must be non-negative, got {sharpen}")
    images = np.asarray(images)
    if images.ndim == 3:
        return upsample(images[None], size, method=method, sharpen=sharpen)[0]
    if images.ndim != 4 or images.dtype != np.uint8:
        raise ValueError(
            f"expected uint8 (N, H, W, C) or (H, W, C), got {images.dtype} {images.shape}"
        )
    zoom = size / max(images.shape[1:3])
    interp = RESAMPLERS[method] if zoom >= 1 else cv2.INTER_AREA
    out = [cv2.resize(img, (size, size), interpolation=interp) for img in images]
    if zoom > 1:
        out = [unsharp(img, sharpen, sigma=0.5 * zoom) for img in out]
    return np.stack(out) if out else np.zeros((0, size, size, images.shape[3]), np.uint8)


def grid(images: np.ndarray, columns: int | None = None, gap: int = 2) -> np.ndarray:
    """Tile (N, H, W, 3) images row by row into one image, `gap` px of white between them."""
    n, h, w, c = images.shape
    columns = columns or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / columns))
    canvas = np.full(
        (rows * h + (rows - 1) * gap, columns * w + (columns - 1) * gap, c), 255, np.uint8
    )
    for i, img in enumerate(images):
        r, k = divmod(i, columns)
        canvas[r * (h + gap) : r * (h + gap) + h, k * (w + gap) : k * (w + gap) + w] = img
    return canvas
