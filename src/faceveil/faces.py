"""Detected faces and pure box geometry: a leaf module that imports nothing from faceveil."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Face:
    """A detected face, in pixels of the input image.

    Attributes
    ----------
    box : (x, y, w, h) floats, top-left corner and size.
    score : detector confidence in [0, 1].
    landmarks : (5, 2) float32 array: right eye, left eye, nose tip, right and left mouth corner
        (the subject's right and left, as YuNet orders them).
    track_id : video track the face belongs to, or None for still images.
    predicted : True when a video tracker carried the face through a frame where the detector
        missed it.
    found_by : the detector pass that found it: ``yunet``, ``yunet-2x`` (the tiled pass for
        small faces), ``centerface``, ``yunet+centerface`` (a low YuNet score that CenterFace
        confirmed), ``given`` (boxes a person or another tool supplied).
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray = field(default_factory=lambda: np.zeros((5, 2), np.float32))
    track_id: int | None = None
    predicted: bool = False
    found_by: str = "yunet"

    @property
    def xyxy(self) -> tuple[float, float, float, float]:
        x, y, w, h = self.box
        return x, y, x + w, y + h

    def to_dict(self) -> dict:
        d = {
            "box": [round(float(v), 1) for v in self.box],
            "score": round(float(self.score), 4),
            "landmarks": [[round(float(x), 1), round(float(y), 1)] for x, y in self.landmarks],
            "found_by": self.found_by,
        }
        if self.track_id is not None:
            d["track_id"] = int(self.track_id)
            d["predicted"] = bool(self.predicted)
        return d


def box_iou(a, b) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    iw = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    ih = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / max(a[2] * a[3] + b[2] * b[3] - inter, 1e-9)


def best_overlap(face: Face, found: list[Face], min_iou: float) -> Face | None:
    """The face of `found` whose box overlaps `face`'s most, if that IoU reaches `min_iou`."""
    best = max(found, key=lambda f: box_iou(face.box, f.box), default=None)
    return best if best is not None and box_iou(face.box, best.box) >= min_iou else None
