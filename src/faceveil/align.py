"""Aligning real faces to a generator's landmark template, and measuring that template."""

from __future__ import annotations

import cv2
import numpy as np

from faceveil.detect import detect
from faceveil.faces import Face


def measure_landmark_template(
    generator, n: int = 512, seed: int = 0, batch: int = 64
) -> tuple[np.ndarray, float]:
    """Mean YuNet landmarks over `n` samples of `generator`, in its output pixels.

    Each sample is detected on a 2x upscale with a 50 % grey border, so that faces filling the
    whole frame are still found. Returns ``(template (5, 2) float32, detection rate)``.
    """
    res = generator.resolution
    points: list[np.ndarray] = []
    for start in range(0, n, batch):
        for img in generator.sample(min(batch, n - start), seed=seed + start):
            big = cv2.resize(img, (2 * res, 2 * res), interpolation=cv2.INTER_CUBIC)
            pad = res  # px of border on each side of the 2x image
            canvas = cv2.copyMakeBorder(
                big, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(128,) * 3
            )
            faces = detect(canvas, small_faces=False, max_side=None, recall="fast")
            if faces:
                points.append((faces[0].landmarks - pad) / 2.0)
    if not points:
        raise ValueError("no face detected in any sample: cannot measure a template")
    return np.mean(points, axis=0).astype(np.float32), len(points) / n


def align_matrix(landmarks: np.ndarray, template: np.ndarray) -> np.ndarray:
    """2x3 similarity transform (rotation, uniform scale, shift) taking `landmarks` onto
    `template`, least squares over the five points."""
    m, _ = cv2.estimateAffinePartial2D(
        np.asarray(landmarks, np.float32), np.asarray(template, np.float32), method=cv2.LMEDS
    )
    if m is None:
        raise ValueError("landmarks are degenerate: no similarity transform")
    return m


def align_face(
    image: np.ndarray, face: Face | np.ndarray, template: np.ndarray, resolution: int
) -> tuple[np.ndarray, np.ndarray]:
    """Warp the face in `image` onto `template` in a (resolution, resolution) RGB crop.

    `face` is a :class:`Face` or its (5, 2) landmarks. Pixels from outside the image are black.
    Returns ``(crop uint8, 2x3 matrix from image to crop pixels)``; invert the matrix with
    ``cv2.invertAffineTransform`` to paste the crop back.
    """
    landmarks = face.landmarks if isinstance(face, Face) else np.asarray(face, np.float32)
    m = align_matrix(landmarks, template)
    crop = cv2.warpAffine(
        image, m, (resolution, resolution), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_CONSTANT
    )
    return crop, m


def largest_face(image: np.ndarray) -> Face | None:
    """The largest face YuNet finds in `image` (small faces included), or None."""
    faces = detect(image, recall="fast")
    return max(faces, key=lambda f: f.box[2] * f.box[3], default=None)


def store_landmark_template(generator, n: int = 1024, seed: int = 0) -> float:
    """Measure `generator`'s template and write it into its model.json; returns the detection
    rate of its samples."""
    template, rate = measure_landmark_template(generator, n=n, seed=seed)
    generator.info.landmark_template = [[round(float(v), 2) for v in p] for p in template]
    generator.info.tags = {**generator.info.tags, "sample_detection_rate": f"{rate:.3f}"}
    generator.info.save(generator.info.path)
    return rate


def face_oval(
    template: np.ndarray, res: int, size: int | None = None, widen: float = 1.0
) -> np.ndarray:
    """The feathered face oval, brows to chin, that the replacing methods blend in: float32
    (size, size) in [0, 1]; `template` is in `res` px, `widen` scales the axes. The chin
    reaches past the crop, so the oval fades out before the crop's edge instead of ending in a
    straight line there."""
    size = size or res
    centre, axes, sigma = oval_reach(template, res, size, widen)
    mask: np.ndarray = np.zeros((size, size), np.float32)
    c, ax = (centre * 4).round().astype(int), (axes * 4).round().astype(int)
    cv2.ellipse(mask, c, ax, 0, 0, 360, 1.0, -1, cv2.LINE_AA, 2)
    mask = cv2.GaussianBlur(mask, (0, 0), sigma)
    edge = np.minimum.outer(*(2 * [np.minimum(np.arange(size), np.arange(size)[::-1])]))
    return mask * np.clip(edge.astype(np.float32) / (2 * sigma), 0, 1)


def oval_reach(template: np.ndarray, res: int, size: int, widen: float) -> tuple:
    """Centre, half-axes and feather sigma of :func:`face_oval` in a (size, size) crop."""
    t = np.asarray(template, np.float32) * (size / res)
    eyes, mouth = (t[0] + t[1]) / 2, (t[3] + t[4]) / 2
    iod = float(np.linalg.norm(t[1] - t[0]))
    centre = (eyes + mouth) / 2 + (0, 0.15 * iod)
    return centre, np.array((1.1 * widen * iod, 1.55 * widen * iod)), 0.18 * iod
