"""Putting a synthetic face into a photo without a seam: colour transfer and pyramid blending."""

from __future__ import annotations

import cv2
import numpy as np

STATS_SIDE = 48  # px: colour statistics are measured on copies this small (10x less work)


def match_colour(source: np.ndarray, reference: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """`source` (H, W, 3) uint8 with the mean and spread of `reference` in Lab, both measured
    where `weight` (H, W) in [0, 1] is high: the new face takes the old face's skin tone and
    light."""
    h, w = weight.shape
    shrink = min(1.0, STATS_SIDE / max(h, w))

    def small(x: np.ndarray) -> np.ndarray:
        if shrink == 1.0:
            return x
        return cv2.resize(x, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)

    wt = small(weight.astype(np.float32))[..., None]
    total = float(wt.sum())
    if total < 1.0 * shrink * shrink:
        return source

    def stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lab = cv2.cvtColor(small(x), cv2.COLOR_RGB2LAB).astype(np.float32)
        mean = (lab * wt).sum(axis=(0, 1)) / total
        std = np.sqrt(((lab - mean) ** 2 * wt).sum(axis=(0, 1)) / total)
        return mean, np.maximum(std, 1.0)

    s_mean, s_std = stats(source)
    r_mean, r_std = stats(reference)
    gain = np.clip(r_std / s_std, 0.5, 2.0)  # bounded: a dark, flat face must not blow up noise
    src = cv2.cvtColor(source, cv2.COLOR_RGB2LAB).astype(np.float32)
    out = (src - s_mean) * gain + r_mean
    return cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def pyramid_blend(
    background: np.ndarray, foreground: np.ndarray, alpha: np.ndarray, levels: int = 4
) -> np.ndarray:
    """Laplacian-pyramid blend of two (H, W, 3) uint8 images by `alpha` (H, W) in [0, 1].

    Low frequencies mix over a wide band and fine detail over a narrow one, which hides the
    seam without the ghost a wide alpha blend leaves. Where alpha is exactly 0 the background is
    returned unchanged.
    """
    h, w = alpha.shape
    levels = max(1, min(levels, int(np.log2(max(2, min(h, w)))) - 2))
    a = background.astype(np.float32)
    b = foreground.astype(np.float32)
    m = alpha.astype(np.float32)
    gauss_a: list[np.ndarray] = [a]
    gauss_b: list[np.ndarray] = [b]
    gauss_m: list[np.ndarray] = [m]
    for _ in range(levels):
        gauss_a.append(cv2.pyrDown(gauss_a[-1]))
        gauss_b.append(cv2.pyrDown(gauss_b[-1]))
        gauss_m.append(cv2.pyrDown(gauss_m[-1]))
    out = gauss_a[-1] * (1 - gauss_m[-1][..., None]) + gauss_b[-1] * gauss_m[-1][..., None]
    for i in range(levels - 1, -1, -1):
        size = (gauss_a[i].shape[1], gauss_a[i].shape[0])
        lap_a = gauss_a[i] - cv2.pyrUp(gauss_a[i + 1], dstsize=size)
        lap_b = gauss_b[i] - cv2.pyrUp(gauss_b[i + 1], dstsize=size)
        mi = gauss_m[i][..., None]
        out = cv2.pyrUp(out, dstsize=size) + lap_a * (1 - mi) + lap_b * mi
    result = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return np.where((alpha > 0)[..., None], result, background)
