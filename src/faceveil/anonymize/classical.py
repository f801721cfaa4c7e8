"""The classical methods: blur, pixelate, solid fill, pasted image, and ``none`` (boxes only).

Each takes the region of interest around one face (any dtype, gray/RGB/RGBA) and the face in
ROI coordinates, and returns a replacement of the same shape and dtype. The runner blends it in
through the feathered mask.
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np

from faceveil.anonymize.options import AnonymizeOptions
from faceveil.anonymize.registry import register
from faceveil.faces import Face
from faceveil.io.images import read_image, to_rgb8


def _dtype_max(dtype: np.dtype) -> float:
    return 1.0 if np.dtype(dtype).kind == "f" else float(np.iinfo(dtype).max)


@register("blur", "Gaussian blur whose sigma grows with the face (max(w, h) / 8)")
def blur(roi: np.ndarray, face: Face, opts: AnonymizeOptions) -> np.ndarray:
    sigma = opts.blur_strength * max(2.0, max(face.box[2], face.box[3]) / 8.0)
    # Blur a downscaled copy: the same low-pass result at a fraction of the cost.
    factor = max(1.0, sigma / 3.0)
    h, w = roi.shape[:2]
    work = roi if roi.dtype != np.uint8 else roi.astype(np.float32)
    if factor > 1.0:
        small = cv2.resize(
            work,
            (max(1, round(w / factor)), max(1, round(h / factor))),
            interpolation=cv2.INTER_AREA,
        )
        small = cv2.GaussianBlur(small, (0, 0), sigma / factor, borderType=cv2.BORDER_REFLECT)
        out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    else:
        out = cv2.GaussianBlur(work, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    return out.reshape(roi.shape)


@register("pixelate", "mosaic with `pixel_blocks` blocks across the face width")
def pixelate(roi: np.ndarray, face: Face, opts: AnonymizeOptions) -> np.ndarray:
    block = max(1.0, face.box[2] / opts.pixel_blocks)
    h, w = roi.shape[:2]
    small = cv2.resize(
        roi,
        (max(1, math.ceil(w / block)), max(1, math.ceil(h / block))),
        interpolation=cv2.INTER_AREA,
    )
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST).reshape(roi.shape)


def _fill_value(color: tuple[int, int, int], roi: np.ndarray) -> np.ndarray:
    rgb = np.asarray(color, np.float64) / 255.0 * _dtype_max(roi.dtype)
    channels = 1 if roi.ndim == 2 else roi.shape[2]
    if channels == 1:
        return np.asarray([rgb @ np.array([0.299, 0.587, 0.114])])
    return rgb if channels == 3 else np.append(rgb, _dtype_max(roi.dtype))


@register("solid", "fill with `color`")
def solid(roi: np.ndarray, face: Face, opts: AnonymizeOptions) -> np.ndarray:
    out = np.empty_like(roi)
    value = _fill_value(opts.color, roi)
    out[...] = value[0] if roi.ndim == 2 else value
    return out


@functools.lru_cache(maxsize=1)
def default_sticker() -> np.ndarray:
    """A drawn smiley (RGBA uint8), so ``image`` works without a file."""
    s = 256
    img = np.zeros((s, s, 4), np.uint8)
    cv2.circle(img, (128, 128), 124, (255, 204, 0, 255), -1, cv2.LINE_AA)
    cv2.circle(img, (128, 128), 124, (200, 140, 0, 255), 6, cv2.LINE_AA)
    for x in (88, 168):
        cv2.ellipse(img, (x, 100), (14, 22), 0, 0, 360, (60, 40, 0, 255), -1, cv2.LINE_AA)
    cv2.ellipse(img, (128, 140), (70, 60), 0, 20, 160, (60, 40, 0, 255), 10, cv2.LINE_AA)
    return img


@functools.lru_cache(maxsize=4)
def _load_sticker(path: str) -> np.ndarray:
    return read_image(path)


def _sticker_rgba(source) -> np.ndarray:
    if source is None:
        img = default_sticker()
    elif isinstance(source, np.ndarray):
        img = source
    else:
        img = _load_sticker(str(source))
    alpha = None
    if img.ndim == 3 and img.shape[2] == 4:
        alpha = img[:, :, 3]
        alpha = (alpha >> 8).astype(np.uint8) if alpha.dtype == np.uint16 else alpha
    rgb = to_rgb8(img)
    if alpha is None:
        alpha = np.full(rgb.shape[:2], 255, np.uint8)
    return np.dstack([rgb, alpha.astype(np.uint8)])


@register("image", "paste `replace_image` (an emoji by default) over a blurred face")
def paste_image(roi: np.ndarray, face: Face, opts: AnonymizeOptions) -> np.ndarray:
    h, w = roi.shape[:2]
    sticker = cv2.resize(_sticker_rgba(opts.replace_image), (w, h), interpolation=cv2.INTER_AREA)
    alpha = sticker[:, :, 3:4].astype(np.float32) / 255.0
    rgb = sticker[:, :, :3].astype(np.float32) / 255.0 * _dtype_max(roi.dtype)
    # Where the sticker is transparent the face is blurred, never shown.
    under = blur(roi, face, opts).astype(np.float32)
    if roi.ndim == 2:
        rgb = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
        return (rgb * alpha[:, :, 0] + under * (1 - alpha[:, :, 0])).astype(roi.dtype)
    out = under.copy()
    out[:, :, :3] = rgb * alpha + under[:, :, :3] * (1 - alpha)
    return (
        out.astype(roi.dtype)
        if roi.dtype.kind == "f"
        else np.clip(np.rint(out), 0, _dtype_max(roi.dtype)).astype(roi.dtype)
    )


@register("none", "draw boxes, landmarks and scores, for tuning", composited=False)
def draw_boxes(image: np.ndarray, face: Face, opts: AnonymizeOptions) -> np.ndarray:
    color = _fill_value((0, 255, 0), image)
    color_t = tuple(float(c) for c in color)
    thickness = max(1, round(max(image.shape[:2]) / 500))
    x, y, w, h = (round(v) for v in face.box)
    cv2.rectangle(image, (x, y), (x + w, y + h), color_t, thickness)
    for px, py in face.landmarks:
        cv2.circle(image, (round(px), round(py)), thickness + 1, color_t, -1)
    label = f"{face.score:.2f}" + (" (tracked)" if face.predicted else "")
    if face.found_by not in ("yunet", "yunet-2x"):  # a second look found it: say which
        label += f" {face.found_by}"
    cv2.putText(
        image,
        label,
        (x, max(10, y - 4)),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.4 * thickness,
        color_t,
        thickness,
        cv2.LINE_AA,
    )
    return image
