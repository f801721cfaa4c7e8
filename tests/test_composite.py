"""Compositing a generated face into a photo: dense warp, region and the quality gate."""

from __future__ import annotations

import importlib

import cv2
import numpy as np
import pytest
from skimage import data

import faceveil
from faceveil.anonymize.replace import align, model
from faceveil.detect import detect
from faceveil.faces import best_overlap

synth = importlib.import_module("faceveil.anonymize.synth")
quality = importlib.import_module("faceveil.anonymize.quality")
replace = importlib.import_module("faceveil.anonymize.replace")
composite = importlib.import_module("faceveil.anonymize.composite")


def _drift(a, b) -> float:
    iod = float(np.linalg.norm(a.landmarks[0] - a.landmarks[1]))
    return float(np.linalg.norm(a.landmarks - b.landmarks, axis=1).mean() / iod)


@pytest.fixture(scope="module")
def photos():
    """The astronaut (public domain) at three face sizes and mirrored, each with its face."""
    cases = []
    for scale in (0.6, 1.0, 1.8):
        for image in (data.astronaut(), data.astronaut()[:, ::-1]):
            image = cv2.resize(np.ascontiguousarray(image), None, fx=scale, fy=scale)
            cases.append((image, detect(image, small_faces=False)[0]))
    return cases


@pytest.fixture(scope="module")
def new_faces():
    """Twelve of the curated samples ``synth`` draws new identities from."""
    from faceveil.gen.labelled import load_labelled

    generator = model()[0]
    z, _ = load_labelled(generator)
    pick = np.random.default_rng(12).choice(len(z), 12, replace=False)
    return generator.decode(np.asarray(z[pick], np.float32))


def _median_drift(photos, new_faces) -> float:
    drifts = []
    for (image, face), new in zip(photos * 2, new_faces, strict=True):
        out = align(image, face).paste(image, new)
        again = best_overlap(face, detect(out, small_faces=False), 0.5)
        assert again is not None
        drifts.append(_drift(face, again))
    return float(np.median(drifts))


def test_dense_warp_lowers_landmark_drift(photos, new_faces, monkeypatch):
    dense = _median_drift(photos, new_faces)
    monkeypatch.setattr(composite, "dense_warp", lambda face, geometry: face)
    similarity_only = _median_drift(photos, new_faces)  # placed by the 5-point fit alone
    assert dense < 0.07  # issue 16 asks for 0.04: not reached yet (docs/methods.md)
    assert dense < 0.9 * similarity_only  # the dense warp takes off at least a tenth


def test_region_keeps_the_background_and_covers_the_inner_face(photos, new_faces):
    image, face = photos[2]
    out = align(image, face).paste(image, new_faces[0])
    changed = (out != image).any(axis=2)
    x, y, w, h = face.box
    assert not changed[: int(y)].any()  # above the face box (hair, background): untouched
    assert not changed[int(y + 1.3 * h) :].any()  # below the chin
    nose = face.landmarks[2].round().astype(int)
    assert changed[nose[1] - 3 : nose[1] + 3, nose[0] - 3 : nose[0] + 3].all()


def _dark_bar(face: np.ndarray) -> np.ndarray:
    broken = face.copy()
    broken[34:46, 12:52] = (25, 20, 20)  # a dark strand across nose and cheeks
    return broken


def test_quality_gate_flags_a_dark_patch_but_not_a_clean_face(photos, new_faces):
    canvas, face = photos[2]
    aligned = align(canvas, face)
    new = new_faces[0]
    clean = aligned.paste(canvas, new)
    assert aligned.flaw(canvas, clean) is None
    broken = aligned.paste(canvas, _dark_bar(new))
    assert "dark patch" in aligned.flaw(canvas, broken)


def test_synth_blurs_a_known_broken_sample_and_says_so(monkeypatch):
    image = data.astronaut()
    generator, _ = model()
    real_decode = generator.decode
    monkeypatch.setattr(
        generator, "decode", lambda z: np.stack([_dark_bar(f) for f in real_decode(z)])
    )
    monkeypatch.setattr(synth.IdentityCheck, "similarity", lambda self, out: 0.0)
    # Random latents, as for a generator without a curated pool: the run-time critic reads them.
    monkeypatch.setattr("faceveil.gen.labelled.load_labelled", lambda generator: None)
    out, report = faceveil.anonymize(image, "synth")
    assert len(report.warnings) == len(report.faces) >= 1
    assert all("looked broken (the generated sample fails" in w for w in report.warnings)
    blurred = faceveil.anonymize(image, "blur", faces=report.faces).image
    assert np.array_equal(out, blurred)  # the safe method, not the broken face


def test_dark_share_on_synthetic_skin():
    rng = np.random.default_rng(0)
    skin = np.clip(rng.normal(170, 4, (64, 64, 3)), 0, 255).astype(np.uint8)
    mask = np.ones((64, 64), bool)
    assert quality.dark_share(skin, skin, mask, iod=20.0) == 0.0
    patched = skin.copy()
    cv2.circle(patched, (32, 32), 10, (40, 30, 30), -1)
    assert quality.dark_share(patched, skin, mask, iod=20.0) > 0.05
    assert quality.dark_share(patched, patched, mask, iod=20.0) == 0.0  # the photo's own


def test_a_box_the_mesh_cannot_fit_is_blurred_not_given_a_face():
    from faceveil.faces import Face

    image = data.astronaut()
    # A "face" on the shuttle (top right): what a recall-biased detector may also report.
    landmarks = np.array([[400, 60], [430, 60], [415, 75], [403, 90], [427, 90]], np.float32)
    fake = Face(box=(385.0, 35.0, 60.0, 70.0), score=0.7, landmarks=landmarks)
    out, report = faceveil.anonymize(image, "synth", faces=[fake])
    assert len(report.warnings) == 1 and "face mesh does not fit" in report.warnings[0]
    assert np.array_equal(out, faceveil.anonymize(image, "blur", faces=[fake]).image)


def test_a_track_reuses_its_composite_between_frames_and_still_covers_the_face(monkeypatch):
    import dataclasses

    from faceveil.anonymize import AnonymizeOptions
    from faceveil.anonymize.state import RunState

    image = data.astronaut()
    first = dataclasses.replace(detect(image, small_faces=False)[0], track_id=3)
    run, opts = RunState(), AnonymizeOptions(method="synth")
    synth.replace_face(image, first, opts, run)
    made = []
    real = replace.composite
    monkeypatch.setattr(replace, "composite", lambda *a: made.append(1) or real(*a))
    for shift in range(1, 7):  # frames 2..7: the face moves 3 px a frame, the search is not rerun
        frame = np.roll(image, 3 * shift, axis=1)
        face = dataclasses.replace(
            first,
            box=(first.box[0] + 3 * shift, *first.box[1:]),
            landmarks=first.landmarks + np.float32([3 * shift, 0]),
        )
        before = len(made)
        out = synth.replace_face(frame, face, opts, run)
        # composited on the track's first reuse and every third frame; moved in between
        expected = shift == 1 or (shift + 1) % replace.RECOMPOSITE_EVERY == 0
        assert (len(made) > before) == expected
        nose = face.landmarks[2].round().astype(int)
        patch = (slice(nose[1] - 4, nose[1] + 4), slice(nose[0] - 4, nose[0] + 4))
        assert np.abs(out[patch].astype(int) - frame[patch]).mean() > 5  # covered on every frame
