"""The privacy audit: identity, detectability, drift, background fidelity, reports, bad input."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from skimage import data

import faceveil
from faceveil.audit import audit, audit_pair, background_fidelity
from faceveil.audit.html import render_html
from faceveil.audit.orl import method_anonymizer, orl_protocol

CLI = [sys.executable, "-m", "faceveil.cli"]


@pytest.fixture(scope="module")
def astronaut():
    return data.astronaut()


@pytest.fixture(scope="module")
def face(astronaut):
    return faceveil.detect(astronaut)[0]


def test_image_against_itself_is_re_identified(astronaut, face):
    item = audit_pair(astronaut, astronaut, faces=[face], attributes=False)
    f = item.faces[0]
    assert f.identity_similarity == pytest.approx(1.0, abs=1e-4)
    assert f.re_identified and f.still_detectable
    assert f.landmark_drift == pytest.approx(0.0, abs=0.02)
    assert item.ssim_outside == 1.0 and math.isinf(item.psnr_outside)


def test_solid_fill_is_neither_re_identified_nor_detectable(astronaut, face):
    anon = faceveil.anonymize(astronaut, "solid", faces=[face]).image
    f = audit_pair(astronaut, anon, faces=[face], attributes=False).faces[0]
    assert not f.re_identified
    assert f.identity_similarity < faceveil.analysis.SFACE_THRESHOLD
    assert not f.still_detectable
    assert f.landmark_drift is None and f.identity_similarity_detected is None


def test_untouched_background_scores_one_and_a_changed_one_does_not(astronaut, face):
    anon = faceveil.anonymize(astronaut, "blur", faces=[face]).image
    ssim, psnr, fraction = background_fidelity(astronaut, anon, [face])
    assert ssim == 1.0 and math.isinf(psnr) and 0.5 < fraction < 1.0
    noisy = anon.copy()
    noisy[400:, :100] = 255 - noisy[400:, :100]  # far from the face
    ssim, psnr, _ = background_fidelity(astronaut, noisy, [face])
    assert ssim < 0.99 and psnr < 40


def test_file_pair_report_and_html(tmp_path, astronaut):
    orig, anon = tmp_path / "a.png", tmp_path / "b.png"
    faceveil.write_image(orig, astronaut)
    faceveil.write_image(anon, faceveil.anonymize(astronaut, "pixelate").image)
    report = audit(orig, anon, attributes=False, previews=True)
    summary = report.summary()
    assert summary["faces"] == 1 and summary["re_identified_rate"] == 0.0
    assert summary["backgrounds_identical"] == 1
    page = render_html(report)
    assert page.count("data:image/jpeg;base64,") == 2
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "re-identified" in page


def test_folder_pair_lists_missing_counterparts_and_goes_on(tmp_path, astronaut):
    (tmp_path / "o" / "sub").mkdir(parents=True)
    (tmp_path / "a" / "sub").mkdir(parents=True)
    faceveil.write_image(tmp_path / "o" / "sub" / "x.png", astronaut)
    faceveil.write_image(tmp_path / "o" / "y.png", astronaut)
    faceveil.write_image(tmp_path / "a" / "sub" / "x.png", astronaut)
    report = audit(tmp_path / "o", tmp_path / "a", attributes=False)
    assert len(report.items) == 1 and report.items[0].faces[0].re_identified
    assert len(report.failures) == 1 and "y.png" in report.failures[0]


def test_different_sizes_are_reported_not_raised(tmp_path, astronaut):
    faceveil.write_image(tmp_path / "a.png", astronaut)
    faceveil.write_image(tmp_path / "b.png", astronaut[:300])
    report = audit(tmp_path / "a.png", tmp_path / "b.png", attributes=False)
    assert not report.items and "differs" in report.failures[0]


def test_image_against_folder_is_refused(tmp_path, astronaut):
    faceveil.write_image(tmp_path / "a.png", astronaut)
    with pytest.raises(faceveil.InputError, match="two images, two folders or two videos"):
        audit(tmp_path / "a.png", tmp_path, attributes=False)


def test_cli_writes_json_and_html_and_exits_nonzero_on_failures(tmp_path, astronaut):
    faceveil.write_image(tmp_path / "a.png", astronaut)
    faceveil.write_image(tmp_path / "b.png", faceveil.anonymize(astronaut, "solid").image)
    faceveil.write_image(tmp_path / "c.png", astronaut[:200])
    ok = subprocess.run(
        [
            *CLI,
            "audit",
            tmp_path / "a.png",
            tmp_path / "b.png",
            "--no-attributes",
            "-q",
            "--json",
            tmp_path / "r.json",
            "--html",
            tmp_path / "r.html",
        ],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    face = report["items"][0]["faces"][0]
    assert face["re_identified"] is False and face["still_detectable"] is False
    assert (tmp_path / "r.html").read_text().startswith("<!doctype html>")
    bad = subprocess.run(
        [*CLI, "audit", tmp_path / "a.png", tmp_path / "c.png", "--no-attributes", "-q"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1
    assert "differs" in bad.stderr and "Traceback" not in bad.stderr
    blank = tmp_path / "blank.png"
    faceveil.write_image(blank, np.full((120, 160, 3), 90, np.uint8))
    none = subprocess.run([*CLI, "audit", blank, blank, "-q"], capture_output=True, text=True)
    assert none.returncode == 0 and "no face found" in none.stderr


@pytest.mark.slow
def test_orl_protocol_separates_untouched_from_blurred():
    untouched = orl_protocol(lambda image, faces: image, people=3, attributes=False)
    blurred = orl_protocol(method_anonymizer("blur"), people=3, attributes=False)
    assert untouched["re_identification_rate"] > 0.95
    assert untouched["detection_kept_rate"] == 1.0
    assert blurred["re_identification_rate"] < 0.05
    assert blurred["images"] == 30


def test_video_pair_samples_frames(tmp_path):
    from conftest import make_clip

    clip = make_clip(tmp_path / "clip.mp4", n=30, size=(320, 240), audio=False)
    anon = tmp_path / "anon.mp4"
    faceveil.anonymize_paths([clip], anon, progress=False)
    same = audit(clip, clip, frames=4, attributes=False)
    hidden = audit(clip, anon, frames=4, attributes=False)
    assert len(same.items) == 4 and len(hidden.items) == 4
    assert all("#frame=" in i.original for i in hidden.items)
    assert same.summary()["re_identified_rate"] == 1.0
    assert hidden.summary()["re_identified_rate"] == 0.0
    # the headline similarity is the one re_identified compares with the threshold
    for report in (same, hidden):
        s = report.summary()
        assert s["max_reid_similarity"] >= s["max_identity_similarity"]
        assert (s["max_reid_similarity"] >= s["threshold"]) == (s["re_identified_rate"] > 0)
    # Re-encoding changes the background a little; it still looks like the original.
    assert hidden.summary()["mean_ssim_outside"] > 0.95
