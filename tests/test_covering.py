"""find_covering and the synthetic coverings it is measured on (faceveil.restore)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceveil.errors import InputError
from faceveil.restore import OCCLUDER_KINDS, find_covering, occlude
from faceveil.restore.occlusions import occluded_set, source_faces

# Measured: mean IoU 0.87 on this set (2 ORL + 2 DCGAN faces x 6 kinds, seed 0; ORL alone
# 0.83), beige 0.97; uncovered faces: 15 of 16 empty. Full figures in bench/covering.py.
MIN_MEAN_IOU = 0.7
MIN_BEIGE_IOU = 0.75
MIN_EMPTY = 13  # of 16 uncovered faces


@pytest.fixture(scope="module")
def dcgan_set():
    return occluded_set({"dcgan": 2}, seed=0)


@pytest.fixture(scope="module")
def eval_set(dcgan_set):
    return occluded_set({"orl": 2}, seed=0) + dcgan_set


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def test_occluders_have_exact_truth_and_are_seeded(dcgan_set):
    kinds = [it["kind"] for it in dcgan_set]
    assert sorted(set(kinds)) == sorted(OCCLUDER_KINDS)
    for it in dcgan_set:
        truth = it["truth"]
        assert truth.dtype == bool and truth.shape == it["image"].shape[:2] and truth.any()
        # only the covering's pixels (and its half-pixel soft edge) change
        near = cv2.dilate(truth.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        assert np.array_equal(it["image"][~near], it["clean"][~near])
        assert np.abs(it["image"][truth].astype(int) - it["clean"][truth]).mean() > 3
    it = dcgan_set[0]
    again, truth = occlude(it["clean"], it["face"], "hand", seed=5)
    same, truth2 = occlude(it["clean"], it["face"], "hand", seed=5)
    other, truth3 = occlude(it["clean"], it["face"], "hand", seed=6)
    assert np.array_equal(again, same) and np.array_equal(truth, truth2)
    assert not np.array_equal(truth, truth3)


def test_grey_image_gets_grey_covering():
    _, img, face = source_faces("orl", 1, seed=0)[0]
    out, truth = occlude(img, face, "surgical", seed=0, colour="light blue")
    assert truth.any()
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 1], out[..., 2])


def test_iou_on_seeded_synthetic_set(eval_set):
    ious = []
    for it in eval_set:
        mask = find_covering(it["image"], it["face"])
        assert mask.dtype == bool and mask.shape == it["image"].shape[:2]
        ious.append(_iou(mask, it["truth"]))
    assert np.mean(ious) >= MIN_MEAN_IOU, np.round(ious, 2)
    orl = [i for i, it in zip(ious, eval_set, strict=True) if it["source"] == "orl"]
    assert np.mean(orl) >= MIN_MEAN_IOU, np.round(orl, 2)  # grey faces too


def test_beige_coverings_are_found(eval_set):
    ious = []
    for it, kind in zip(eval_set[::6], ("surgical", "cloth", "n95", "scarf"), strict=True):
        covered, truth = occlude(it["clean"], it["face"], kind, seed=11, colour="beige")
        ious.append(_iou(find_covering(covered, it["face"]), truth))
    assert np.mean(ious) >= MIN_BEIGE_IOU, np.round(ious, 2)


def test_uncovered_face_gives_empty_mask():
    _, img, face = source_faces("dcgan", 1, seed=0)[0]
    mask = find_covering(img, face)
    assert mask.shape == img.shape[:2] and mask.dtype == bool and not mask.any()


def test_uncovered_faces_mostly_give_empty_mask():
    faces = source_faces("orl", 8, seed=0) + source_faces("dcgan", 8, seed=0)
    masks = [find_covering(img, face) for _, img, face in faces]
    assert sum(not m.any() for m in masks) >= MIN_EMPTY
    false_area = [
        m.sum() / (f.box[2] * f.box[3]) for m, (_, _, f) in zip(masks, faces, strict=True)
    ]
    assert np.mean(false_area) < 0.03


@pytest.mark.xfail(
    strict=True, reason="false coverings on 2 of these 3 uncovered ORL faces (s11/3, s17/9)"
)
def test_three_orl_faces_give_empty_mask():
    faces = source_faces("orl", 3, seed=0)
    assert all(not find_covering(img, face).any() for _, img, face in faces)


def test_inputs_and_errors(tmp_path, dcgan_set):
    it = dcgan_set[0]
    grey = cv2.cvtColor(it["image"], cv2.COLOR_RGB2GRAY)
    assert find_covering(grey, it["face"]).shape == grey.shape  # 2-D input, face given
    path = tmp_path / "covered.png"
    cv2.imwrite(str(path), cv2.cvtColor(it["image"], cv2.COLOR_RGB2BGR))
    assert find_covering(str(path)).shape == it["image"].shape[:2]  # path, face detected
    with pytest.raises(InputError):
        find_covering(b"not an image")
    with pytest.raises(TypeError, match="faceveil.Face"):
        find_covering(it["image"], face=(0, 0, 10, 10))
    with pytest.raises(ValueError, match="no face"):
        find_covering(np.full((64, 64, 3), 127, np.uint8))
    with pytest.raises(ValueError, match="unknown occluder kind"):
        occlude(it["clean"], it["face"], "helmet")
