"""dlib's ResNet descriptor as the audit's independent recognizer."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import faceveil
from faceveil.audit import audit, audit_pair
from faceveil.audit.html import render_html
from faceveil.errors import InputError
from faceveil.io.orl import load_orl
from faceveil.models.dlib_face import DLIB_THRESHOLD, available, distance

_missing = available()
pytestmark = pytest.mark.skipif(_missing is not None, reason=f"dlib recognizer: {_missing}")
CLI = [sys.executable, "-m", "faceveil.cli"]


def _largest(img):
    faces = faceveil.detect(img, small_faces=False)
    return max(faces, key=lambda f: f.box[2] * f.box[3])


@pytest.fixture(scope="module")
def orl():
    """(person, image, face) for images 1, 2 of persons 1..6."""
    picked = [(p, img) for i, (p, img) in enumerate(load_orl(2.0)) if p <= 6 and i % 10 < 2]
    return [(p, img, _largest(img)) for p, img in picked]


@pytest.fixture(scope="module")
def embeddings(orl):
    from faceveil.models.dlib_face import embed_faces_dlib

    return np.stack([embed_faces_dlib(img, [face])[0] for _, img, face in orl])


def test_embeddings_are_128d_and_deterministic(orl):
    from faceveil.models.dlib_face import embed_faces_dlib

    _, img, face = orl[0]
    a = embed_faces_dlib(img, [face, face])
    b = embed_faces_dlib(img.copy(), [face])
    assert a.shape == (2, 128) and a.dtype == np.float32
    np.testing.assert_array_equal(a[0], b[0])
    assert embed_faces_dlib(img, []).shape == (0, 128)


def test_same_person_within_threshold_different_people_mostly_beyond(orl, embeddings):
    people = [p for p, _, _ in orl]
    same, diff = [], []
    for i in range(len(orl)):
        for j in range(i + 1, len(orl)):
            d = distance(embeddings[i], embeddings[j])
            (same if people[i] == people[j] else diff).append(d)
    assert len(same) == 6 and len(diff) == 60
    assert max(same) < DLIB_THRESHOLD
    assert np.mean(np.asarray(diff) >= DLIB_THRESHOLD) >= 0.9


def test_audit_reports_dlib_beside_sface(orl):
    _, img, face = orl[0]
    own = audit_pair(img, img, faces=[face], attributes=False, recognizers=("sface", "dlib"))
    fill = np.full_like(img, 128)
    solid = audit_pair(img, fill, faces=[face], attributes=False, recognizers=("sface", "dlib"))
    f, g = own.faces[0], solid.faces[0]
    assert f.dlib_distance == pytest.approx(0.0, abs=1e-5) and f.dlib_re_identified is True
    assert g.dlib_distance >= DLIB_THRESHOLD and g.dlib_re_identified is False
    assert g.dlib_distance_detected is None  # nothing detected in a solid fill
    d = own.to_dict()["faces"][0]
    assert d["dlib_re_identified"] is True and d["dlib_distance"] == 0.0
    # SFace only (the default): no dlib keys, the output is what it always was.
    plain = audit_pair(img, img, faces=[face], attributes=False).to_dict()["faces"][0]
    assert "dlib_distance" not in plain and plain["re_identified"] is True


def test_unknown_recognizer_is_refused(orl):
    _, img, face = orl[0]
    with pytest.raises(InputError, match="unknown recognizer 'arcface'"):
        audit_pair(img, img, faces=[face], attributes=False, recognizers=("sface", "arcface"))


def test_cli_recognizers_and_html(tmp_path, orl):
    _, img, _ = orl[0]
    faceveil.write_image(tmp_path / "a.png", img)
    faceveil.write_image(tmp_path / "b.png", faceveil.anonymize(img, "solid").image)
    base = [*CLI, "audit", tmp_path / "a.png", tmp_path / "b.png", "--no-attributes", "-q"]
    ok = subprocess.run(
        [*base, "--recognizers", "sface,dlib", "--json", tmp_path / "r.json"],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["summary"]["dlib_re_identified_rate"] == 0.0
    assert report["summary"]["dlib_threshold"] == DLIB_THRESHOLD
    assert report["items"][0]["faces"][0]["dlib_re_identified"] is False
    bad = subprocess.run([*base, "--recognizers", "sface,nope"], capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "unknown recognizer 'nope'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_html_shows_dlib_columns_only_when_asked(tmp_path, orl):
    _, img, _ = orl[0]
    faceveil.write_image(tmp_path / "a.png", img)
    with_dlib = audit(
        tmp_path / "a.png", tmp_path / "a.png", attributes=False, recognizers=("sface", "dlib")
    )
    plain = audit(tmp_path / "a.png", tmp_path / "a.png", attributes=False)
    assert with_dlib.summary()["dlib_re_identified_rate"] == 1.0
    assert "re-identified (dlib)" in render_html(with_dlib)
    page = render_html(plain)  # (tmp_path itself contains "dlib": check the labels)
    assert "re-identified (dlib)" not in page and "dlib distance" not in page
    assert "dlib_threshold" not in plain.summary()


@pytest.mark.slow
def test_orl_protocol_reports_dlib_rate():
    from faceveil.audit.orl import orl_protocol

    untouched = orl_protocol(
        lambda image, faces: image, people=2, attributes=False, recognizers=("sface", "dlib")
    )
    assert untouched["re_identification_rate_dlib"] > 0.95
    assert untouched["same_image_re_identified_rate_dlib"] == 1.0
    assert untouched["threshold_dlib"] == DLIB_THRESHOLD
    blank = orl_protocol(
        lambda image, faces: np.full_like(image, 128),
        people=2,
        attributes=False,
        recognizers=("sface", "dlib"),
    )
    # Not 0: dlib puts a featureless grey face within 0.6 of some people (its chance floor,
    # measured in docs/dlib_readme.md), but far below the untouched rate.
    assert blank["re_identification_rate_dlib"] < 0.3
    assert blank["same_image_re_identified_rate_dlib"] < 0.5
    assert "re_identification_rate_dlib" not in orl_protocol(
        lambda image, faces: image, people=1, attributes=False
    )
