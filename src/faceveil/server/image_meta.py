"""Metadata of a dataset image, computed on import with faceveil's own models: the faces
(faceveil.detect), their age, gender and expression (faceveil.analysis.analyze_faces) and a
skin-tone estimate (the individual typology angle, ITA, of the face's central skin in CIELAB)."""

from __future__ import annotations

import math

import cv2
import numpy as np

# ITA bounds in degrees (Chardon et al. 1991, Del Bino et al. 2006), lightest first.
SKIN_TONES = (
    ("very_light", 55.0),
    ("light", 41.0),
    ("intermediate", 28.0),
    ("tan", 10.0),
    ("brown", -30.0),
    ("dark", -math.inf),
)
SKIN_TONE_NAMES = tuple(name for name, _ in SKIN_TONES)


def skin_tone(ita: float) -> str:
    return next(name for name, low in SKIN_TONES if ita > low)


def face_ita(rgb: np.ndarray, face) -> float | None:
    """ITA = atan((L* - 50) / b*) of the median colour between the eyes and the mouth (cheeks
    and nose: skin in nearly every face, away from hair and background). None when too small
    or grey.

    It depends on the light as much as on the skin; treat it as a coarse grouping."""
    lm = np.asarray(face.landmarks, np.float64).reshape(5, 2)
    eye_y, mouth_y = lm[:2, 1].mean(), lm[3:5, 1].mean()
    left, right = lm[:, 0].min(), lm[:, 0].max()
    y0, y1 = int(round(eye_y + 0.15 * (mouth_y - eye_y))), int(round(mouth_y))
    x0, x1 = int(round(left)), int(round(right))
    h, w = rgb.shape[:2]
    y0, y1, x0, x1 = max(y0, 0), min(y1, h), max(x0, 0), min(x1, w)
    if y1 - y0 < 2 or x1 - x0 < 2:
        return None
    lab = cv2.cvtColor(np.ascontiguousarray(rgb[y0:y1, x0:x1]), cv2.COLOR_RGB2LAB)
    lab = lab.reshape(-1, 3).astype(np.float64)
    if np.abs(np.median(lab[:, 1:], axis=0) - 128.0).max() < 1.0:
        return None  # a grey picture has no hue to measure
    lightness = float(np.median(lab[:, 0])) * 100.0 / 255.0
    b = float(np.median(lab[:, 2])) - 128.0
    return round(math.degrees(math.atan2(lightness - 50.0, b)), 2)


def describe(pixels: np.ndarray) -> dict:
    """{"width", "height", "faces": [{box, score, age, gender, gender_prob, emotion, ita,
    skin_tone}]} of an image (any faceveil pixel type)."""
    from faceveil.analysis import analyze_faces
    from faceveil.detect import detect
    from faceveil.io.images import to_rgb8

    rgb = to_rgb8(pixels)
    faces = detect(rgb)
    attrs = analyze_faces(rgb, faces, mesh=False) if faces else []
    rows = []
    for face, attr in zip(faces, attrs, strict=True):
        row = attr.to_dict()
        row.pop("landmarks", None)
        row.pop("emotions", None)
        ita = face_ita(rgb, face)
        row["ita"] = ita
        row["skin_tone"] = skin_tone(ita) if ita is not None else None
        rows.append(row)
    return {"width": int(rgb.shape[1]), "height": int(rgb.shape[0]), "faces": rows}
