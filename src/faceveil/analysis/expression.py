"""Expression read off the 468-point face mesh: a measure independent of the emotion model.

``synth`` and ``attributes`` rank their candidates with the emotion model, so agreement by that
model flatters them; the mesh's geometry is a second opinion the methods never consult.
"""

from __future__ import annotations

import numpy as np

from faceveil.models.mesh_topology import inter_ocular

# (name, point pairs whose distance, in inter-ocular distances, measures it)
MEASURES = (
    ("mouth_open", ((13, 14),)),  # inner lips, top and bottom
    ("mouth_width", ((61, 291),)),  # mouth corners
    ("eyes_open", ((159, 145), (386, 374))),  # upper and lower lids
    ("brows_raised", ((105, 159), (334, 386))),  # brow to upper lid
)


def expression_vector(points: np.ndarray) -> np.ndarray:
    """(len(MEASURES) + 1,) expression measures of a mesh (468, 2), in inter-ocular distances:
    the distances of MEASURES, then the smile (how far the mouth corners sit above the lips'
    centre, along the face's vertical)."""
    iod = max(inter_ocular(points), 1e-6)
    out = [
        np.mean([np.linalg.norm(points[a, :2] - points[b, :2]) for a, b in pairs]) / iod
        for _, pairs in MEASURES
    ]
    across = (points[263, :2] - points[33, :2]) / iod
    down = np.array([-across[1], across[0]])  # the face's vertical, roll removed
    centre = (points[0, :2] + points[17, :2]) / 2
    corners = (points[61, :2] + points[291, :2]) / 2
    out.append(float((centre - corners) @ down) / iod)
    return np.asarray(out, np.float32)


def expression_difference(before: np.ndarray, after: np.ndarray) -> float:
    """Mean absolute difference of the expression measures of two meshes (468, 2)."""
    return float(np.abs(expression_vector(before) - expression_vector(after)).mean())
