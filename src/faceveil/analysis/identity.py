"""Identity embeddings (SFace) of detected faces, and their similarity."""

from __future__ import annotations

import cv2
import numpy as np

from faceveil.faces import Face
from faceveil.io.images import to_rgb8
from faceveil.models.sface import get_sface

# Cosine similarity at or above which two SFace embeddings are taken as the same person.
# Calibrated on the ORL faces (bench/calibrate_verify.py); README gives accuracy, TAR and FAR.
SFACE_THRESHOLD = 0.363


def face_row(face: Face) -> np.ndarray:
    """The YuNet row (box, 5 landmarks, score) that `cv2.FaceRecognizerSF.alignCrop` takes."""
    return np.concatenate(
        [
            np.asarray(face.box, np.float32),
            np.asarray(face.landmarks, np.float32).reshape(10),
            np.asarray([face.score], np.float32),
        ]
    )


def embed_faces(image: np.ndarray, faces: list[Face]) -> np.ndarray:
    """(N, 128) unit SFace embeddings of `faces` in an image array (any supported layout).

    Each face is aligned on its own landmarks, so passing another image's faces measures how
    an attacker who knows where the face was would see it.
    """
    if not faces:
        return np.zeros((0, 128), np.float32)
    bgr = cv2.cvtColor(to_rgb8(image), cv2.COLOR_RGB2BGR)
    model = get_sface()
    return np.stack([model(bgr, face_row(f)) for f in faces])


def embed_face(image: np.ndarray, face: Face) -> np.ndarray:
    """(128,) unit SFace embedding of one face."""
    return embed_faces(image, [face])[0]


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two embeddings."""
    a, b = np.asarray(a, np.float32).ravel(), np.asarray(b, np.float32).ravel()
    return float(a @ b / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-12))
