"""A critic for generated faces: which samples look broken before any of them is used.

The shipped 64 px DCGAN draws many faces a person calls broken: hair or a dark blotch across
the face, mottled skin, glasses, a lopsided or melted shape. ``synth`` draws new identities
only from samples this critic passes (:func:`faceveil.gen.labelled.curate`), so the quality
gate at paste time rarely has to blur. Each measure is read off the sample enlarged 2x,
through YuNet and the 468-point mesh:

- **found**: YuNet's score, and how far its five landmarks are from the generator's template;
- **mesh**: how far the mesh's five points are from YuNet's (a melted face confuses the mesh);
- **lopsided**: mirror-pair asymmetry of the mesh about its midline;
- **dark**: share of the skin (features left out) much darker than its local shading;
- **mottled**: strength of the skin's mid-frequency band, in L*;
- **glasses**: how much darker the nose bridge is than the cheeks below the eyes, and how
  sharp an edge (a rim) crosses the skin just below the eyes.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import cv2
import numpy as np

from faceveil.models.mesh_topology import (
    EYES,
    FACE_OVAL,
    MIDLINE,
    MIRROR_PAIRS,
    NOSE_BRIDGE,
    features_mask,
    five_points,
    inter_ocular,
)

SHADING = 0.5  # sigma of the broad shading compositing replaces, in eye distances
DARKER = 10.0  # L* (0-100) below the local shading that counts as a dark patch
SCALE = 2  # samples are measured enlarged: YuNet and the mesh miss faces of 64 px at the edge

# Limits of a clean sample, set by looking at sorted contact sheets of dcgan64 samples
# (bench/sample_critic.py); each is in the unit its field names.
LIMITS = {
    "score": (0.8, None),
    "landmark_error": (None, 0.25),
    "mesh_error": (None, 0.15),
    "lopsided": (None, 0.12),
    "dark": (None, 0.1),
    "mottled": (None, 7.5),
    "glasses": (None, 0.3),
    "rims": (None, 130.0),
}


@dataclass
class Critique:
    """Per-sample measures (N,) of a batch; NaN where the face was not found."""

    score: np.ndarray  # YuNet's score, 0 where not found
    landmark_error: np.ndarray  # mean distance from the template, inter-ocular distances
    mesh_error: np.ndarray  # the mesh's five points from YuNet's, inter-ocular distances
    lopsided: np.ndarray  # mirror-pair asymmetry, inter-ocular distances
    dark: np.ndarray  # share of skin DARKER below its local shading
    mottled: np.ndarray  # robust spread of the skin's band-pass, L*
    glasses: np.ndarray  # 1 - lightness at the bridge / under the eyes
    rims: np.ndarray  # strongest lightness step below the eyes, L* per eye distance

    def clean(self) -> np.ndarray:
        """(N,) bool: within every limit of LIMITS (NaN fails)."""
        return ~np.any(
            [_misses(getattr(self, name), *limits) for name, limits in LIMITS.items()], 0
        )

    def failures(self, i: int) -> list[str]:
        """Names of the limits sample `i` misses."""
        return [
            n for n, limits in LIMITS.items() if _misses(getattr(self, n)[i : i + 1], *limits)[0]
        ]


def _misses(value: np.ndarray, low: float | None, high: float | None) -> np.ndarray:
    """Where `value` is NaN or outside [low, high] (a None bound is open)."""
    with np.errstate(invalid="ignore"):
        ok = ~np.isnan(value)
        if low is not None:
            ok &= value >= low
        if high is not None:
            ok &= value <= high
    return ~ok


def _lightness(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)[..., 0]


def _skin(mesh: np.ndarray, size: int) -> np.ndarray:
    """The face oval shrunk to 0.85 about its centre, less the features grown a little."""
    oval = mesh[list(FACE_OVAL)]
    centre = oval.mean(axis=0)
    inside = np.zeros((size, size), np.uint8)
    cv2.fillPoly(inside, [np.round(centre + 0.85 * (oval - centre)).astype(np.int32)], 1)
    return (inside > 0) & ~features_mask(mesh, (size, size), 0.1, cv2.MORPH_RECT)


def _lopsided(mesh: np.ndarray) -> float:
    """Mean distance of each mirror pair's midpoint from the midline, in eye distances (a
    frontal or turned face keeps its pairs' midpoints near the nose line; a melted one not)."""
    line = mesh[list(MIDLINE)]
    centre = line.mean(axis=0)
    _, _, vt = np.linalg.svd(line - centre)
    normal = vt[1]  # across the midline's direction
    mids = (mesh[MIRROR_PAIRS[:, 0]] + mesh[MIRROR_PAIRS[:, 1]]) / 2
    return float(np.abs((mids - centre) @ normal).mean() / inter_ocular(mesh))


def _surface(rgb: np.ndarray, mesh: np.ndarray) -> tuple[float, float, float, float]:
    """(dark, mottled, glasses, rims) of one enlarged sample and its mesh."""
    size = rgb.shape[0]
    iod = inter_ocular(mesh)
    skin = _skin(mesh, size)
    if skin.sum() < 32:
        return np.nan, np.nan, np.nan, np.nan
    light = cv2.GaussianBlur(_lightness(rgb), (0, 0), max(0.5, 0.05 * iod))
    # Broad shading is the photo's after compositing: only what stands out of it counts.
    shading = cv2.GaussianBlur(light, (0, 0), SHADING * iod)
    dark = float((light - shading)[skin].__lt__(-DARKER).mean())
    band = light - cv2.GaussianBlur(light, (0, 0), 0.3 * iod)
    values = band[skin]
    mottled = float(1.4826 * np.median(np.abs(values - np.median(values))))
    bridge = mesh[NOSE_BRIDGE]
    under = [mesh[list(eye)].mean(axis=0) + np.array([0, 0.35 * iod]) for eye in EYES]

    def at(p: np.ndarray) -> float:
        x, y = np.clip(np.round(p).astype(int), 0, size - 1)
        return float(light[y, x])

    glasses = 1.0 - at(bridge) / max(1.0, float(np.mean([at(p) for p in under])))
    return dark, mottled, glasses, _rims(light, mesh)


def _rims(light: np.ndarray, mesh: np.ndarray) -> float:
    """Strongest lightness step (L* per eye distance) crossing the skin just below the eyes,
    where a glasses rim runs and skin is smooth."""
    iod = inter_ocular(mesh)
    step = np.abs(cv2.Sobel(light, cv2.CV_32F, 0, 1, ksize=3)) / 8.0 * iod
    size = light.shape[0]
    peaks = []
    for eye in EYES:
        ring = mesh[list(eye)]
        x0, x1 = ring[:, 0].min(), ring[:, 0].max()
        y0 = ring[:, 1].max() + 0.1 * iod
        ys = np.clip(np.arange(round(y0), round(y0 + 0.3 * iod) + 1), 0, size - 1)
        xs = np.clip(np.arange(round(x0), round(x1) + 1), 0, size - 1)
        peaks.append(float(np.median(step[np.ix_(ys, xs)].max(axis=0))))
    return float(np.mean(peaks))


def critique(faces: np.ndarray, template: np.ndarray) -> Critique:
    """Measures of `faces` (N, res, res, 3) uint8, against the generator's landmark
    `template` (5, 2) in sample px."""
    from faceveil.models.facemesh import predict_mesh
    from faceveil.models.yunet import get_yunet

    n, res = len(faces), faces.shape[1]
    out = {f.name: np.full(n, np.nan, np.float32) for f in fields(Critique)}
    out["score"][:] = 0.0
    yunet = get_yunet()
    pad = res * SCALE // 2
    template_iod = float(np.linalg.norm(template[1] - template[0])) * SCALE
    for i, face in enumerate(faces):
        big = cv2.resize(face, (res * SCALE,) * 2, interpolation=cv2.INTER_CUBIC)
        canvas = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(128,) * 3)
        rows = yunet(cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR), 0.3)
        rows = rows[(rows[:, 2] > 0) & (rows[:, 3] > 0)]
        if not len(rows):
            continue
        row = rows[np.argmax(rows[:, 14])]
        landmarks = row[4:14].reshape(5, 2)
        mesh = predict_mesh(canvas, [tuple(row[:4])], [landmarks])[0][0] - pad
        landmarks = landmarks - pad
        out["score"][i] = row[14]
        out["landmark_error"][i] = (
            np.linalg.norm(landmarks - template * SCALE, axis=1).mean() / template_iod
        )
        out["mesh_error"][i] = (
            np.linalg.norm(five_points(mesh) - landmarks, axis=1).mean() / template_iod
        )
        out["lopsided"][i] = _lopsided(mesh)
        (out["dark"][i], out["mottled"][i], out["glasses"][i], out["rims"][i]) = _surface(big, mesh)
    return Critique(**out)
