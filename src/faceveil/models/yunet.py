"""YuNet face detector through `cv2.FaceDetectorYN` (OpenCV 4.x)."""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import cv2
import numpy as np

from faceveil.models.weights import weight_path


class YuNet:
    """Callable wrapper: a BGR uint8 image in, an ``(N, 15)`` float32 array out.

    Columns are ``x, y, w, h``, five landmarks ``(x, y)`` (right eye, left eye, nose tip, right
    and left mouth corner, as YuNet orders them) and the score. No faces gives shape ``(0, 15)``.
    """

    def __init__(self, model_path: str | Path, *, nms_threshold: float = 0.3, top_k: int = 5000):
        self.model_path = str(model_path)
        self._net = cv2.FaceDetectorYN.create(
            self.model_path, "", (320, 320), 0.5, nms_threshold, top_k
        )
        self._size: tuple[int, int] | None = None
        self._lock = threading.Lock()  # the OpenCV object keeps per-call state

    def __call__(self, bgr: np.ndarray, threshold: float) -> np.ndarray:
        h, w = bgr.shape[:2]
        with self._lock:
            if self._size != (w, h):
                self._net.setInputSize((w, h))
                self._size = (w, h)
            self._net.setScoreThreshold(float(threshold))
            _, faces = self._net.detect(np.ascontiguousarray(bgr))
        if faces is None:
            return np.zeros((0, 15), np.float32)
        return faces.astype(np.float32, copy=False)


@functools.lru_cache(maxsize=1)
def get_yunet() -> YuNet:
    """The process-wide detector, loaded on first use."""
    return YuNet(weight_path("yunet"))
