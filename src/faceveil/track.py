"""Carry faces through frames where the detector misses them (norfair IoU + Kalman tracker)."""

from __future__ import annotations

import dataclasses
import sys
import types

import numpy as np

from faceveil.faces import Face


def _import_norfair():
    """norfair imports FilterPy's Kalman filter, and with it scipy.stats (a second of start-up),
    for a filter factory faceveil never uses: the default one needs neither. A stand-in is
    imported instead, and taken away again, so a later ``import filterpy.kalman`` is real; a
    norfair that wants more of FilterPy gets the real one."""
    if "filterpy.kalman" not in sys.modules:
        stand_in = types.ModuleType("filterpy.kalman")
        stand_in.KalmanFilter = None
        sys.modules["filterpy.kalman"] = stand_in
        try:
            import norfair
        except ImportError:
            for name in [m for m in sys.modules if m == "norfair" or m.startswith("norfair.")]:
                del sys.modules[name]
        finally:
            del sys.modules["filterpy.kalman"]
    import norfair

    return norfair.Detection, norfair.Tracker


Detection, Tracker = _import_norfair()


class FaceTracker:
    """Match detections across frames and predict the boxes of faces the detector missed.

    Parameters
    ----------
    max_gap : frames a face is still covered after its last detection.
    min_iou : overlap a detection needs with a track's predicted box to continue it.

    `update` returns every face to cover in this frame: the detections (with their
    ``track_id``) plus a predicted face (``predicted=True``) for each track the detector missed.
    """

    def __init__(self, *, max_gap: int = 12, min_iou: float = 0.1):
        if max_gap < 1:
            raise ValueError(f"max_gap must be at least 1, got {max_gap}")
        self._tracker = Tracker(
            distance_function="iou",
            distance_threshold=1.0 - min_iou,
            hit_counter_max=max_gap,
            initialization_delay=0,  # cover a face from its first detection
        )

    def update(self, faces: list[Face]) -> list[Face]:
        detections = [
            Detection(
                points=np.array(f.xyxy, np.float64).reshape(2, 2),
                scores=np.array([f.score, f.score]),
                data=f,
            )
            for f in faces
        ]
        current = {id(d) for d in detections}
        out: list[Face] = []
        for obj in self._tracker.update(detections):
            last: Face = obj.last_detection.data
            if obj.id is None:  # norfair returns initialised tracks only; never happens
                continue
            track_id = obj.id
            if id(obj.last_detection) in current:
                # norfair starts a track's counter at 1: keep every seen face for max_gap frames.
                obj.hit_counter = self._tracker.hit_counter_max
                out.append(dataclasses.replace(last, track_id=track_id, predicted=False))
            else:
                out.append(_predicted(last, obj.estimate, track_id))
        return out


def _predicted(last: Face, estimate: np.ndarray, track_id: int) -> Face:
    (x1, y1), (x2, y2) = np.asarray(estimate, np.float64)
    w, h = max(1.0, x2 - x1), max(1.0, y2 - y1)
    lx, ly, lw, lh = last.box
    # Move and scale the last landmarks with the box, so the ellipse keeps its roll.
    rel = (last.landmarks - np.array([lx, ly], np.float32)) / np.array([lw, lh], np.float32)
    landmarks = rel * np.array([w, h], np.float32) + np.array([x1, y1], np.float32)
    return Face(
        (float(x1), float(y1), float(w), float(h)),
        last.score,
        landmarks.astype(np.float32),
        track_id=track_id,
        predicted=True,
        found_by=last.found_by,
    )
