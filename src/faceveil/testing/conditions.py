"""Hard conditions for detection: the same generated scenes made harder in the ways real
footage is (far thumbnails, tiny faces, rolled heads, dark and noisy, heavy JPEG, motion blur,
low resolution, masks, old grey photos). ``bench/recall.py`` and the tests measure recall on
them.
"""

from __future__ import annotations

import cv2
import numpy as np

from faceveil.testing.scenes import make_scene

SIZE = (1280, 720)
FACES = 6


def _gamma_dark(rgb: np.ndarray, rng) -> np.ndarray:
    linear = (rgb / 255.0) ** 2.2 * 0.25
    noisy = linear ** (1 / 2.2) * 255 + rng.normal(0, 6, rgb.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def _jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1].copy()


def _motion(rgb: np.ndarray) -> np.ndarray:
    kernel = np.full((1, 15), 1 / 15, np.float32)
    return cv2.filter2D(rgb, -1, kernel)


def _lowres(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    small = cv2.resize(rgb, (w // 4, h // 4), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _masked(rgb: np.ndarray, boxes, rng) -> np.ndarray:
    out = rgb.copy()
    for x, y, w, h in boxes:
        colour = [int(c) for c in rng.choice([(230, 235, 240), (120, 170, 220), (40, 40, 45)])]
        top = int(y + 0.55 * h)
        pts = np.array(
            [
                (x + 0.05 * w, top),
                (x + 0.95 * w, top),
                (x + 0.85 * w, y + 1.02 * h),
                (x + 0.15 * w, y + 1.02 * h),
            ],
            np.int32,
        )
        cv2.fillPoly(out, [pts], colour, cv2.LINE_AA)
    return out


def _old_photo(rgb: np.ndarray, rng) -> np.ndarray:
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    faded = 70 + grey * 0.55 + rng.normal(0, 5, grey.shape)
    return cv2.cvtColor(np.clip(faded, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2RGB)


def hard_scene(condition: str, seed: int) -> tuple[np.ndarray, list]:
    """One image of `condition` and its ground-truth boxes."""
    rng = np.random.default_rng(seed)
    if condition == "tiny":
        return make_scene(seed, SIZE, FACES, (20, 28))
    if condition == "rotated":
        return make_scene(seed, SIZE, FACES, (60, 160), 35.0, min_rotation_deg=35.0)
    rgb, boxes = make_scene(seed, SIZE, FACES, (40, 160))
    if condition == "thumbnail":
        f = 480 / SIZE[0]
        small = cv2.resize(rgb, (480, 270), interpolation=cv2.INTER_AREA)
        return small, [[v * f for v in b] for b in boxes]
    change = {
        "clean": lambda: rgb,
        "dark": lambda: _gamma_dark(rgb, rng),
        "jpeg15": lambda: _jpeg(rgb, 15),
        "motion": lambda: _motion(rgb),
        "lowres": lambda: _lowres(rgb),
        "masked": lambda: _masked(rgb, boxes, rng),
        "grey": lambda: _old_photo(rgb, rng),
    }[condition]
    return change(), boxes


CONDITIONS = (
    "clean", "tiny", "thumbnail", "rotated", "dark", "jpeg15", "motion", "lowres", "masked", "grey",
)  # fmt: skip
