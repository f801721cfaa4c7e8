"""Expression by the mesh: the audit's second opinion beside the emotion model."""

from __future__ import annotations

import numpy as np
from skimage import data

from faceveil.analysis.attributes import analyze_faces
from faceveil.analysis.expression import expression_difference, expression_vector
from faceveil.audit import audit_pair
from faceveil.detect import detect


def _astronaut_mesh():
    image = data.astronaut()
    faces = detect(image, small_faces=False)
    return image, faces, analyze_faces(image, faces, mesh=True)[0].landmarks


def test_a_broad_smile_reads_as_one_and_an_opened_mouth_differs():
    _, _, mesh = _astronaut_mesh()
    measures = expression_vector(mesh)
    assert measures[-1] > 0.02  # mouth corners above the lips' centre: she smiles
    opened = mesh.copy()
    iod = float(np.linalg.norm(mesh[263] - mesh[33]))
    opened[14, 1] += 0.3 * iod  # the lower inner lip drops
    assert expression_difference(mesh, mesh) == 0.0
    assert expression_vector(opened)[0] - measures[0] > 0.25
    assert expression_difference(mesh, opened) > 0.04


def test_the_audit_reports_the_mesh_expression_difference():
    image, faces, _ = _astronaut_mesh()
    same = audit_pair(image, image.copy(), faces=faces).faces[0]
    assert same.expression_difference == 0.0
    frown = image.copy()
    frown[::-1] = image  # upside down: nothing of her expression is where it was
    moved = audit_pair(image, frown, faces=faces).faces[0]
    assert moved.to_dict()["expression_difference"] > 0.0
