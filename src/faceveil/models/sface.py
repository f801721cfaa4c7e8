"""SFace identity embeddings through `cv2.FaceRecognizerSF`, aligned on YuNet's 5 landmarks."""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import cv2
import numpy as np

from faceveil.models.weights import weight_path


class SFace:
    """Callable wrapper: a BGR uint8 image and a YuNet row (15 floats) in, a unit (128,) out."""

    def __init__(self, model_path: str | Path):
        self.model_path = str(model_path)
        self._net = cv2.FaceRecognizerSF.create(self.model_path, "")
        self._lock = threading.Lock()

    def align(self, bgr: np.ndarray, row: np.ndarray) -> np.ndarray:
        """The 112x112 aligned crop SFace expects."""
        return self._net.alignCrop(bgr, np.asarray(row, np.float32).reshape(1, 15))

    def embed_aligned(self, crop: np.ndarray) -> np.ndarray:
        with self._lock:
            feature = self._net.feature(crop)
        vec = feature.reshape(-1).astype(np.float32)
        return vec / max(float(np.linalg.norm(vec)), 1e-12)

    def __call__(self, bgr: np.ndarray, row: np.ndarray) -> np.ndarray:
        return self.embed_aligned(self.align(bgr, row))


@functools.lru_cache(maxsize=1)
def get_sface() -> SFace:
    """The process-wide recognizer, loaded on first use."""
    return SFace(weight_path("sface"))
