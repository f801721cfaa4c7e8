"""Face meshes of the two faces a replacement joins: the original in the photo and the
generated face, both in the aligned crop of :class:`~faceveil.anonymize.replace.Aligned`."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import cv2
import numpy as np

from faceveil.anonymize.composite import MESH_MISFIT, checked_mesh, mesh_error
from faceveil.anonymize.registry import Fallback
from faceveil.faces import Face

if TYPE_CHECKING:
    from faceveil.gen.base import Generator

POINTS_SIDE = 256  # px: a generated face is measured once at this size, then scaled


def _template(generator: Generator) -> np.ndarray:
    """The generator's five landmarks (5, 2) in its output px (replace.model checks it has them)."""
    assert generator.landmark_template is not None
    return generator.landmark_template


def _raw_mesh(generator: Generator, face: np.ndarray) -> np.ndarray:
    from faceveil.models.facemesh import predict_mesh

    template = _template(generator) * (face.shape[0] / generator.resolution)
    return predict_mesh(face, [template_box(template)], [template])[0][0]


@functools.lru_cache(maxsize=2)
def mean_mesh(generator: Generator) -> np.ndarray:
    """The generator's mean face mesh in its output px, over samples whose mesh agrees with
    the template: the stand-in wherever the mesh fails."""
    from faceveil.gen.upsample import upsample

    res, template = generator.resolution, _template(generator)
    kept = []
    for face in generator.sample(48, seed=0):
        points = _raw_mesh(generator, upsample(face, 4 * res)) / 4
        if mesh_error(points, template) < 0.1:
            kept.append(points)
    return np.mean(kept, axis=0).astype(np.float32)


def generated_points(
    generator: Generator, face_rgb: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """The mesh (468, 2) and detector landmarks (5, 2) of a generated (res, res) face enlarged
    to (size, size); the template's landmarks where the detector misses it. Measured once per
    face (a video track or a ranking pastes the same face many times)."""
    raw = np.ascontiguousarray(face_rgb)
    points, five = _points(generator, raw.tobytes(), raw.shape)
    scale = size / POINTS_SIDE
    return points * scale, five * scale


def template_points(generator: Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The generator's mean mesh and landmark template, scaled to a (size, size) crop."""
    scale = size / generator.resolution
    return mean_mesh(generator) * scale, _template(generator) * scale


@functools.lru_cache(maxsize=64)
def _points(generator: Generator, raw: bytes, shape: tuple[int, ...]):
    from faceveil.detect import detect
    from faceveil.gen.upsample import upsample

    face = upsample(np.frombuffer(raw, np.uint8).reshape(shape), POINTS_SIDE)
    scale = POINTS_SIDE / generator.resolution
    template = _template(generator) * scale
    pad = POINTS_SIDE // 2  # faces that fill the frame need a border to be found
    canvas = cv2.copyMakeBorder(face, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(128,) * 3)
    found = detect(canvas, small_faces=False, max_side=None, recall="fast")
    five = template if not found else max(found, key=lambda f: f.score).landmarks - pad
    five = np.asarray(five, np.float32)
    if np.linalg.norm(five - template, axis=1).mean() > 0.3 * np.linalg.norm(
        template[1] - template[0]
    ):
        five = template  # another face, or a broken one: keep the template
    points = checked_mesh(_raw_mesh(generator, face), five, mean_mesh(generator) * scale)
    return points, five.astype(np.float32)


def template_box(landmarks: np.ndarray) -> tuple[float, float, float, float]:
    """A detector-like face box around five landmarks (YuNet's proportions)."""
    iod = float(np.linalg.norm(landmarks[1] - landmarks[0]))
    cx = float(landmarks[:, 0].mean())
    top = float(landmarks[:2, 1].mean()) - 1.0 * iod
    bottom = float(landmarks[3:, 1].mean()) + 0.75 * iod
    side = bottom - top
    return (cx - side / 2, top, side, side)


def original_mesh(
    generator: Generator, rgb: np.ndarray, face: Face, matrix: np.ndarray, size: int
) -> np.ndarray:
    """The face mesh of `face` in `rgb`, mapped into the (size, size) crop `matrix` makes;
    Fallback where the mesh disagrees with the detector (a replacement would land askew)."""
    from faceveil.models.facemesh import predict_mesh

    points, _ = predict_mesh(rgb, [face.box], [face.landmarks])

    def to_crop(p: np.ndarray) -> np.ndarray:
        return (p @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)

    if mesh_error(points[0], face.landmarks) > MESH_MISFIT:
        raise Fallback("the face mesh does not fit it (a false detection or an odd pose)")
    fallback = mean_mesh(generator) * (size / generator.resolution)
    return checked_mesh(to_crop(points[0]), to_crop(face.landmarks), fallback)
