"""``synth``: a face of nobody, still a face, background untouched, fallback safe."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

import faceveil
from faceveil.analysis.identity import SFACE_THRESHOLD, cosine, embed_faces
from faceveil.anonymize import AnonymizeOptions, anonymize_paths
from faceveil.anonymize.regions import face_region
from faceveil.detect import detect
from faceveil.faces import Face, box_iou
from faceveil.io.orl import load_orl
from faceveil.io.video import read_frames
from faceveil.testing import make_clip


@pytest.fixture(scope="module")
def orl_cases():
    """Four ORL people (images upscaled 2x), each with their largest face."""
    cases = []
    for person, image in load_orl()[::100]:
        faces = detect(image, small_faces=False)
        cases.append((person, image, faces[:1]))
    return cases


@pytest.mark.slow
def test_orl_faces_are_not_reidentified_but_stay_faces(orl_cases):
    kept = 0
    for _, image, faces in orl_cases:
        out, report = faceveil.anonymize(image, "synth", faces=faces, seed=1)
        assert report.warnings == []  # replaced, not fallen back to blur
        similarity = cosine(embed_faces(image, faces)[0], embed_faces(out, faces)[0])
        assert similarity < SFACE_THRESHOLD - 0.05
        found = detect(out, small_faces=False)
        kept += any(box_iou(f.box, faces[0].box) > 0.3 for f in found)
        # Nothing outside the enlarged face region changes.
        region = face_region(faces[0], image.shape, shape="ellipse", mask_scale=1.3, feather=0.1)
        outside = np.ones(image.shape[:2], bool)
        ys, xs = region.slices
        outside[ys, xs] = region.alpha == 0
        assert np.array_equal(out[outside], image[outside])
    assert kept >= len(orl_cases) - 1


def test_same_seed_same_output_other_seed_other_face(orl_cases):
    _, image, faces = orl_cases[0]
    a = faceveil.anonymize(image, "synth", faces=faces, seed=3).image
    b = faceveil.anonymize(image, "synth", faces=faces, seed=3).image
    c = faceveil.anonymize(image, "synth", faces=faces, seed=4).image
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_a_face_too_small_falls_back_to_blur_and_says_so(orl_cases):
    _, image, faces = orl_cases[0]
    small = cv2.resize(image, None, fx=0.15, fy=0.15, interpolation=cv2.INTER_AREA)
    canvas = np.full((200, 200, 3), 90, np.uint8)
    canvas[50 : 50 + small.shape[0], 50 : 50 + small.shape[1]] = small
    f = faces[0]
    tiny = Face(
        tuple(v * 0.15 + o for v, o in zip(f.box, (50, 50, 0, 0), strict=True)),
        f.score,
        f.landmarks * 0.15 + 50,
    )
    out, report = faceveil.anonymize(canvas, "synth", faces=[tiny])
    assert len(report.warnings) == 1 and "blur instead of synth" in report.warnings[0]
    blurred, _ = faceveil.anonymize(canvas, "blur", faces=[tiny])
    assert np.array_equal(out, blurred)  # covered exactly as blur covers it


@pytest.mark.slow
def test_video_identity_is_stable_along_a_track(tmp_path):
    src = make_clip(
        tmp_path / "c.mp4",
        seed=2,
        size=(480, 320),
        frames=12,
        n_faces=1,
        face_sizes=(110, 120),
        max_rotation_deg=0,
        audio=False,
    )
    del src
    batch = anonymize_paths(
        [tmp_path / "c.mp4"],
        tmp_path / "o.mp4",
        options=AnonymizeOptions(method="synth"),
        progress=False,
    )
    report = batch.files[0]
    assert report.status == "ok", report.error
    frames = [f for f in read_frames(tmp_path / "o.mp4")[1]]
    boxes = {fr["index"]: fr["faces"] for fr in report.to_dict()["frames"]}
    embeddings = []
    for index, frame in enumerate(frames):
        found = detect(frame, small_faces=False)
        if index in boxes and found:
            embeddings.append(embed_faces(frame, found[:1])[0])
    assert len(embeddings) >= 8
    consecutive = [cosine(a, b) for a, b in zip(embeddings, embeddings[1:], strict=False)]
    assert np.median(consecutive) > 0.7, json.dumps([round(c, 2) for c in consecutive])


@pytest.mark.slow
def test_synth_keeps_gender_and_roughly_age():
    from faceveil.analysis.attributes import analyze_faces

    same_gender, age_gaps = 0, []
    cases = load_orl()[5::50]  # 8 people, seeded by position
    for _, image in cases:
        faces = detect(image, small_faces=False)[:1]
        out = faceveil.anonymize(image, "synth", faces=faces, seed=0).image
        before = analyze_faces(image, faces, mesh=False, align="landmarks")[0]
        after = analyze_faces(out, faces, mesh=False, align="landmarks")[0]
        same_gender += before.gender == after.gender
        age_gaps.append(abs(before.age - after.age))
    assert same_gender >= len(cases) - 2
    assert np.median(age_gaps) < 10
