"""Index sets of MediaPipe's 468-point face mesh (its published topology), shared by every
module that reads a part of the face off a mesh."""

from __future__ import annotations

import cv2
import numpy as np

# The face-oval ring, forehead centre clockwise.
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
# Rings of the features; the subject's right side first, mirrored index by index.
EYES = (
    (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246),
    (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466),
)
BROWS = (
    (70, 63, 105, 66, 107, 55, 65, 52, 53, 46),
    (300, 293, 334, 296, 336, 285, 295, 282, 283, 276),
)
LIPS = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
NOSTRILS = (48, 64, 98, 97, 2, 326, 327, 294, 278, 4)
FEATURES = (*EYES, *BROWS, LIPS, NOSTRILS)
NOSE_TIP = 1
NOSE_BRIDGE = 168  # between the eyes, where a glasses frame crosses
# The detector's five landmarks (eye centres, nose tip, mouth corners) as mesh points.
FIVE = ((33, 133), (362, 263), (1,), (61,), (291,))
# Left-right pairs: the oval read from both ends, eyes, brows, lips and nose wings.
MIRROR_PAIRS = np.array(
    [(FACE_OVAL[k], FACE_OVAL[36 - k]) for k in range(1, 18)]
    + list(zip(*EYES, strict=True))
    + list(zip(*BROWS, strict=True))
    + [
        (61, 291),
        (146, 375),
        (91, 321),
        (181, 405),
        (84, 314),
        (185, 409),
        (40, 270),
        (39, 269),
        (37, 267),
        (64, 294),
        (98, 327),
        (48, 278),
    ]  # fmt: skip
)
MIDLINE = (10, 151, 9, 8, 168, 6, 197, 195, 5, 4, 1, 19, 94, 2, 164, 0, 17, 18, 200, 199, 175, 152)


def five_points(points: np.ndarray) -> np.ndarray:
    """The detector's five landmarks read off a mesh (468, 2+)."""
    return np.array([points[list(i), :2].mean(axis=0) for i in FIVE], np.float32)


def inter_ocular(points: np.ndarray) -> float:
    """Outer-eye-corner distance of a mesh, the unit its tolerances are given in."""
    return float(np.linalg.norm(points[263, :2] - points[33, :2]))


def features_mask(
    mesh: np.ndarray, shape: tuple[int, int], grow: float, kernel: int = cv2.MORPH_ELLIPSE
) -> np.ndarray:
    """(H, W) bool: the eyes, brows, lips and nostrils of a mesh (their convex hulls), grown
    by `grow` eye distances (at least 1 px) with a `kernel`-shaped structuring element."""
    features = np.zeros(shape, np.uint8)
    for ring in FEATURES:
        cv2.fillPoly(features, [cv2.convexHull(np.round(mesh[list(ring)]).astype(np.int32))], 1)
    side = 2 * max(1, int(round(grow * inter_ocular(mesh)))) + 1
    return cv2.dilate(features, cv2.getStructuringElement(kernel, (side, side))) > 0
