"""Filling covered faces: only the mask changes, the fill beats Telea on SSIM in the hole, the
steps are written, generator choice by metadata, the classical baselines."""

from __future__ import annotations

import functools
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from skimage.metrics import structural_similarity

from faceveil.restore.baselines import BASELINES, telea
from faceveil.restore.select import FaceProfile, distance, select, skin_tone

STEPS = 40  # latent steps in tests: the bench's default is 80; fewer only coarsen the fit


@functools.lru_cache(maxsize=1)
def covered_set():
    from faceveil.restore.occlusions import occluded_set

    # The bench's protocol, small: one ORL and one DCGAN face, each under every kind of covering.
    return occluded_set({"orl": 1, "dcgan": 1}, seed=0)


def hole_ssim(a, b, mask):
    _, full = structural_similarity(a, b, channel_axis=2, full=True, data_range=255)
    return float(full.mean(axis=2)[mask].mean())


# --- baselines ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_baselines_change_only_the_hole(name):
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8), (0, 0), 3)
    mask = np.zeros((60, 80), bool)
    mask[20:35, 30:50] = True
    holed = img.copy()
    holed[mask] = (0, 0, 255)
    out = BASELINES[name](holed, mask)
    assert (out[~mask] == holed[~mask]).all()
    assert np.abs(out[mask].astype(int) - img[mask]).mean() < 20  # filled from its surroundings
    assert (BASELINES[name](holed, np.zeros_like(mask)) == holed).all()


# --- the generator fill ------------------------------------------------------------------------


@pytest.mark.slow
def test_fill_changes_only_the_mask_and_beats_telea_on_ssim():
    from faceveil.restore.fill import HONESTY, fill_covering

    ours, theirs = [], []
    for item in covered_set():
        covered, truth, clean = item["image"], item["truth"], item["clean"]
        done = fill_covering(covered, item["face"], truth, seed=0, steps=STEPS)
        assert (done.image[~truth] == covered[~truth]).all()
        assert (done.image[truth] != covered[truth]).any()
        assert done.report["note"] == HONESTY and done.report["model"] == "dcgan64"
        ours.append(hole_ssim(done.image, clean, truth))
        theirs.append(hole_ssim(telea(covered, truth), clean, truth))
    assert np.mean(ours) > np.mean(theirs), (ours, theirs)


def test_empty_mask_leaves_the_face_alone():
    from faceveil.restore.fill import fill_covering

    item = covered_set()[0]
    done = fill_covering(item["image"], item["face"], np.zeros(item["truth"].shape, bool))
    assert (done.image == item["image"]).all()
    assert done.report["model"] is None and done.steps["generated"] is None


@pytest.mark.slow
def test_restore_writes_the_four_steps_and_is_seeded(tmp_path):
    from faceveil.io.images import read_image
    from faceveil.restore.pipeline import restore, write_steps

    item = covered_set()[0]
    done = restore(item["image"], mask=item["truth"], smooth_k=6, seed=3)
    again = restore(item["image"], mask=item["truth"], smooth_k=6, seed=3)
    assert (done.image == again.image).all()
    assert (done.image[~item["truth"]] == item["image"][~item["truth"]]).all()
    assert done.report["filled"] == 1 and "not the person's real face" in done.report["note"]
    assert len(np.unique(done.steps["smoothed"].reshape(-1, 3), axis=0)) <= 6
    paths = write_steps(done.steps, tmp_path / "steps")
    assert [p.name for p in paths] == [
        "1_generated.png",
        "2_smoothed.png",
        "3_mask.png",
        "4_result.png",
    ]
    assert (read_image(paths[3]) == done.image).all()
    assert (read_image(paths[2])[..., 0] > 127).sum() == item["truth"].sum()


def test_restore_shares_a_mask_among_faces_and_skips_uncovered_ones():
    from faceveil.restore.pipeline import _split_mask

    a = SimpleNamespace(box=(0, 0, 20, 20))
    b = SimpleNamespace(box=(60, 0, 20, 20))
    mask = np.zeros((20, 80), bool)
    mask[5:15, 2:18] = True  # over face a only
    parts = _split_mask(mask, [a, b])
    assert (parts[0] == mask).all() and not parts[1].any()


# --- choosing a generator ----------------------------------------------------------------------


def info(name, **tags):
    return SimpleNamespace(name=name, tags=tags)


def test_select_by_metadata():
    infos = [
        info("dcgan64"),
        info("dark-adult-f", skin_tone="dark", age="20-45", gender="female"),
        info("light-old-m", skin_tone="very light", age="60-90", gender="male"),
    ]
    young_dark_woman = FaceProfile(skin_tone="brown", ita=-20.0, age=30.0, gender="female")
    picked = select(young_dark_woman, infos)
    assert picked.name == "dark-adult-f"
    assert "skin_tone=dark" in picked.reason and picked.distances["dark-adult-f"] < 0.3
    old_light_man = FaceProfile(skin_tone="light", ita=50.0, age=70.0, gender="male")
    assert select(old_light_man, infos).name == "light-old-m"
    # Nothing measurable: every tagged model costs the same as an untagged one; default wins.
    unknown = select(FaceProfile(), infos)
    assert unknown.name == "dcgan64" and "tied" in unknown.reason


def test_select_with_one_generator_says_so():
    picked = select(FaceProfile(skin_tone="dark"), [info("dcgan64", skin_tone="light")])
    assert picked.name == "dcgan64" and "only one" in picked.reason


def test_distance_grows_with_the_mismatch():
    face = FaceProfile(skin_tone="very light", age=25.0, gender="male")
    near = distance(face, {"skin_tone": "very light", "age": "20-30", "gender": "male"})
    far = distance(face, {"skin_tone": "dark", "age": "70", "gender": "female"})
    assert near == 0.0 and far == 3.0
    assert distance(face, {"skin_tone": "intermediate"}) < distance(face, {"skin_tone": "brown"})


def test_skin_tone_of_visible_skin():
    skin = np.ones((10, 10), bool)
    pale = np.full((10, 10, 3), (235, 205, 190), np.uint8)
    deep = np.full((10, 10, 3), (95, 60, 45), np.uint8)
    grey = np.full((10, 10, 3), 128, np.uint8)
    pale_tone, pale_ita = skin_tone(pale, skin)
    deep_tone, deep_ita = skin_tone(deep, skin)
    assert pale_ita > 41 and deep_ita < 10 and pale_tone in ("very light", "light")
    assert deep_tone in ("brown", "dark")
    assert skin_tone(grey, skin) == (None, None)
    assert skin_tone(pale, np.zeros_like(skin)) == (None, None)
