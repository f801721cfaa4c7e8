"""``attributes``: the face's own latent edited until the recognizer no longer matches it."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

import faceveil
from faceveil.analysis.identity import SFACE_THRESHOLD, cosine, embed_faces
from faceveil.anonymize import attributes as attributes_module
from faceveil.anonymize.attributes import parse_edit
from faceveil.anonymize.regions import face_region
from faceveil.anonymize.replace import IdentityCheck
from faceveil.cli import app
from faceveil.detect import detect
from faceveil.errors import InputError
from faceveil.io.orl import load_orl


@pytest.fixture(scope="module")
def orl_face():
    _, image = load_orl()[30]
    return image, detect(image, small_faces=False)[:1]


def test_parse_edit():
    assert parse_edit("age=+2, gender=flip") == {"age": 2.0, "gender": "flip"}
    assert parse_edit(None) == parse_edit(attributes_module.DEFAULT_EDIT)
    for bad in ("age=flip", "age", "age=old", ""):
        with pytest.raises(InputError):
            parse_edit(bad)


def test_edit_hides_identity_reports_changes_and_keeps_background(orl_face):
    image, faces = orl_face
    out, report = faceveil.anonymize(image, "attributes", faces=faces, edit="age=+2,smile=flip")
    assert report.warnings == []
    (detail,) = report.details
    assert detail["strength"] in attributes_module.STRENGTHS
    similarity = cosine(embed_faces(image, faces)[0], embed_faces(out, faces)[0])
    assert similarity < SFACE_THRESHOLD - 0.05
    # measured on the method's ROI, before the region's feathered edge: close, not equal
    assert abs(detail["identity_similarity"] - similarity) < 0.05
    assert set(detail["before"]) == {"age", "gender", "emotion"}
    assert set(detail["changed"]) <= {"age", "gender", "expression"}
    region = face_region(faces[0], image.shape)
    outside = np.ones(image.shape[:2], bool)
    ys, xs = region.slices
    outside[ys, xs] = region.alpha == 0
    assert np.array_equal(out[outside], image[outside])
    again = faceveil.anonymize(image, "attributes", faces=faces, edit="age=+2,smile=flip").image
    assert np.array_equal(out, again)  # deterministic


def test_edit_is_strengthened_until_the_identity_check_holds(orl_face, monkeypatch):
    image, faces = orl_face
    calls = []
    real = IdentityCheck.similarity

    def strict(self, out):
        calls.append(1)
        return 1.0 if len(calls) < 3 else real(self, out)  # the first two tries "fail"

    monkeypatch.setattr(IdentityCheck, "similarity", strict)
    _, report = faceveil.anonymize(image, "attributes", faces=faces, edit="smile=flip")
    assert report.details[0]["strength"] == attributes_module.STRENGTHS[2]


def test_a_face_that_stays_recognisable_is_blurred_and_reported(orl_face, monkeypatch):
    image, faces = orl_face
    monkeypatch.setattr(IdentityCheck, "similarity", lambda self, out: 1.0)
    out, report = faceveil.anonymize(image, "attributes", faces=faces)
    assert report.details == []
    assert len(report.warnings) == 1 and "blur instead of attributes" in report.warnings[0]
    assert np.array_equal(out, faceveil.anonymize(image, "blur", faces=faces).image)


def test_cli_reports_the_changes_and_rejects_a_bad_edit(orl_face, tmp_path):
    image, _ = orl_face
    src = tmp_path / "face.png"
    faceveil.write_image(src, image)
    runner = CliRunner()
    ok = runner.invoke(
        app,
        [
            "anonymize",
            str(src),
            "-m",
            "attributes",
            "--edit",
            "smile=flip,age=+2",
            "-o",
            str(tmp_path / "o.png"),
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert "changed:" in ok.output and "SFace" in ok.output
    bad = runner.invoke(
        app,
        [
            "anonymize",
            str(src),
            "-m",
            "attributes",
            "--edit",
            "age=flip",
            "-o",
            str(tmp_path / "b.png"),
        ],
    )
    assert bad.exit_code == 2
    assert "only gender and smile can flip" in bad.output
    assert not (tmp_path / "b.png").exists()
