"""Face verification (1:1): are the faces in two images the same person?

Faces are found with YuNet, aligned on its five landmarks and embedded with SFace
(:mod:`faceveil.analysis.identity`); two faces are the same person when the cosine similarity
of their embeddings is at least a threshold (``SFACE_THRESHOLD`` by default, calibrated on the
AT&T/ORL faces by ``bench/calibrate_verify.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from faceveil.analysis.identity import SFACE_THRESHOLD, embed_faces
from faceveil.detect import detect
from faceveil.errors import InputError
from faceveil.faces import Face
from faceveil.io.images import read_image, to_rgb8

Box = tuple[float, float, float, float]  # x, y, w, h in input pixels
ImageSource = str | Path | bytes | np.ndarray

# Shorter sides below this are upscaled (bicubic) first: tiny faces verify better enlarged.
MIN_SIDE = 200


@dataclass(frozen=True)
class FaceEmbeddings:
    """The faces of one image, largest first, with their unit SFace embeddings."""

    faces: list[Face]  # boxes and landmarks in the input's pixels
    embeddings: np.ndarray  # (N, 128) float32, row i belongs to faces[i]
    detected: int  # faces the detector found (more than N when only the largest is kept)

    def __len__(self) -> int:
        return len(self.faces)


def describe(source: ImageSource, label: str | None = None) -> str:
    """How an error message names an input: ``image A (photo.jpg)``, ``image bytes``..."""
    if isinstance(source, str | Path):
        return f"{label} ({source})" if label else str(source)
    kind = "array" if isinstance(source, np.ndarray) else "bytes"
    return f"{label} ({kind})" if label else f"image {kind}"


def read_pixels(source: ImageSource, label: str | None = None) -> np.ndarray:
    """Upright pixels of an input; read errors of bytes and arrays say which input failed."""
    try:
        return read_image(source)
    except InputError as exc:
        if label is None or isinstance(source, str | Path):  # the message names the file
            raise
        raise InputError(f"{label}: {str(exc).removeprefix('image bytes: ')}") from exc


def find_faces(
    image: ImageSource,
    *,
    detect_threshold: float = 0.6,
    largest_only: bool = False,
    label: str | None = None,
) -> FaceEmbeddings:
    """Detect the faces of an image and embed them, largest face first.

    Parameters
    ----------
    image : path, encoded bytes, or (H, W[, C]) array (RGB/RGBA/gray, uint8, uint16 or float).
    detect_threshold : minimum YuNet score.
    largest_only : embed only the largest face (ties go to the higher score).
    label : how error messages name the input, e.g. ``"image A"``.

    Returns
    -------
    FaceEmbeddings, possibly empty; ``detected`` counts every face found. Small images (shorter
    side under ``MIN_SIDE``) are upscaled for detection and embedding; boxes and landmarks are
    mapped back to input pixels.
    """
    rgb = to_rgb8(read_pixels(image, label))
    h, w = rgb.shape[:2]
    scale = max(1.0, MIN_SIDE / min(h, w))
    work = rgb
    if scale > 1.0:
        size = (round(w * scale), round(h * scale))
        work = cv2.resize(rgb, size, interpolation=cv2.INTER_CUBIC)
    faces = detect(work, threshold=detect_threshold, small_faces=False, recall="fast")
    faces.sort(key=lambda f: (-f.box[2] * f.box[3], -f.score))
    detected = len(faces)
    if largest_only:
        faces = faces[:1]
    embeddings = embed_faces(work, faces)
    if scale > 1.0:
        faces = [
            Face(
                (
                    float(f.box[0]) / scale,
                    float(f.box[1]) / scale,
                    float(f.box[2]) / scale,
                    float(f.box[3]) / scale,
                ),
                f.score,
                (f.landmarks / scale).astype(np.float32),
            )
            for f in faces
        ]
    return FaceEmbeddings(faces, embeddings, detected)


@dataclass(frozen=True)
class FacePair:
    """One compared pair: face `a` of input A against face `b` of input B."""

    a: int  # index among input A's faces, largest first
    b: int
    box_a: Box
    box_b: Box
    similarity: float
    same_person: bool

    def to_dict(self) -> dict:
        return {
            "a": self.a,
            "b": self.b,
            "box_a": _round_box(self.box_a),
            "box_b": _round_box(self.box_b),
            "similarity": round(self.similarity, 4),
            "same_person": self.same_person,
        }


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of :func:`verify`.

    Attributes
    ----------
    similarity : cosine similarity of the compared faces (the best pair with ``all_pairs``).
    threshold : similarity at or above which the faces count as the same person.
    same_person : ``similarity >= threshold``.
    box_a, box_b : (x, y, w, h) of the faces behind `similarity`, in each input's pixels.
    faces_a, faces_b : number of faces found in each input.
    pairs : every compared pair, most similar first: one pair (the largest faces) by default,
        all ``faces_a * faces_b`` pairs with ``all_pairs``.
    """

    similarity: float
    threshold: float
    same_person: bool
    box_a: Box
    box_b: Box
    faces_a: int
    faces_b: int
    pairs: list[FacePair] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "similarity": round(self.similarity, 4),
            "threshold": self.threshold,
            "same_person": self.same_person,
            "box_a": _round_box(self.box_a),
            "box_b": _round_box(self.box_b),
            "faces_a": self.faces_a,
            "faces_b": self.faces_b,
            "pairs": [p.to_dict() for p in self.pairs],
        }


def _round_box(box: Box) -> list[float]:
    return [round(float(v), 1) for v in box]


def verify(
    a: ImageSource,
    b: ImageSource,
    *,
    all_pairs: bool = False,
    threshold: float = SFACE_THRESHOLD,
    detect_threshold: float = 0.6,
) -> VerifyResult:
    """Decide whether two images show the same person.

    Parameters
    ----------
    a, b : path, encoded bytes, or (H, W[, C]) array (RGB/RGBA/gray, uint8, uint16 or float).
        Small images (shorter side under 200 px, e.g. 92x112 passport-style crops) are
        upscaled internally; boxes are reported in the input's pixels.
    all_pairs : compare every face of `a` with every face of `b` and report the most similar
        pair. By default only the largest face of each input is compared.
    threshold : cosine similarity at or above which two faces are the same person.
    detect_threshold : minimum YuNet detector score.

    Returns
    -------
    VerifyResult

    Raises
    ------
    InputError
        An input cannot be read, or no face is found in it (the message names the input).

    Examples
    --------
    >>> result = verify("id_photo.jpg", "selfie.jpg")           # doctest: +SKIP
    >>> result.same_person, round(result.similarity, 2)         # doctest: +SKIP
    (True, 0.71)
    """
    if not -1.0 <= threshold <= 1.0:
        raise ValueError(f"threshold is a cosine similarity in [-1, 1], got {threshold}")
    if not 0.0 < detect_threshold <= 1.0:
        raise ValueError(f"detect_threshold must be in (0, 1], got {detect_threshold}")
    found = []
    for source, label in ((a, "image A"), (b, "image B")):
        emb = find_faces(
            source, detect_threshold=detect_threshold, largest_only=not all_pairs, label=label
        )
        if not emb.faces:
            raise InputError(f"no face found in {describe(source, label)}")
        found.append(emb)
    fa, fb = found
    sims = fa.embeddings @ fb.embeddings.T  # unit vectors: cosine
    order = np.argsort(-sims, axis=None, kind="stable")
    pairs = []
    for flat in order:
        i, j = divmod(int(flat), sims.shape[1])
        s = float(sims[i, j])
        pairs.append(FacePair(i, j, fa.faces[i].box, fb.faces[j].box, s, s >= threshold))
    best = pairs[0]
    return VerifyResult(
        similarity=best.similarity,
        threshold=float(threshold),
        same_person=best.same_person,
        box_a=best.box_a,
        box_b=best.box_b,
        faces_a=fa.detected,
        faces_b=fb.detected,
        pairs=pairs,
    )
