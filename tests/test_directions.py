"""Latent directions, presets and `edit`: the sliders move what they say they move."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

from faceveil.cli.gen_edit import parse_changes
from faceveil.errors import InputError
from faceveil.gen import get_generator
from faceveil.gen.directions import ATTRIBUTES, Directions, edit, label_samples, load_directions
from faceveil.io.images import write_image

CLI = [sys.executable, "-m", "faceveil.cli"]


@pytest.fixture(scope="module")
def generator():
    return get_generator()


@pytest.fixture(scope="module")
def directions(generator):
    return load_directions(generator)


@pytest.mark.parametrize("name", ATTRIBUTES)
def test_attribute_direction_moves_its_score_the_right_way(generator, directions, name):
    z = generator.sample_latents(16, seed=4242)  # not among the fitted or measured samples
    d = directions.vector(name)
    before = label_samples(generator, z - 2 * d)
    after = label_samples(generator, z + 2 * d)
    column = ATTRIBUTES.index(name)
    ok = ~(np.isnan(before[:, column]) | np.isnan(after[:, column]))
    assert ok.sum() >= 12
    right_way = (after[ok, column] > before[ok, column]).mean()
    assert right_way >= 0.75, f"{name}: {right_way:.0%} moved the right way"


def test_stored_directions_are_unit_vectors_with_decreasing_pca_variance(directions):
    pcs = directions.names("pca")
    assert len(pcs) >= 10
    for name in directions.names():
        assert np.linalg.norm(directions.vector(name, orthogonal=False)) == pytest.approx(
            1, abs=1e-4
        )
    shares = [directions.explained_variance[p] for p in pcs]
    assert shares == sorted(shares, reverse=True) and 0 < sum(shares) < 1
    # The orthogonal variants really are orthogonal to the other attributes.
    age = directions.vector("age", orthogonal=True)
    for other in ("gender", "smile"):
        assert abs(age @ directions.vector(other, orthogonal=False)) < 1e-4


def test_presets(directions, generator):
    assert np.array_equal(directions.preset("random", seed=3), directions.preset("random", seed=3))
    assert not np.array_equal(directions.preset("random", seed=3), directions.preset("random", 4))
    assert not directions.preset("mean").any()
    for name in ("female", "male", "young", "old", "smiling"):
        assert directions.preset(name).shape == (generator.latent_dim,)
    # The class averages differ along the attribute they were picked by.
    gender = directions.vector("gender", orthogonal=False)
    assert directions.preset("female") @ gender > directions.preset("male") @ gender
    with pytest.raises(InputError, match="unknown preset"):
        directions.preset("sad")


def test_edit(generator):
    z = generator.sample_latents(2, seed=0)
    assert np.array_equal(edit(z, {}, generator), z)
    moved = edit(z, {"dim_3": 1.5}, generator)
    assert np.allclose(moved - z, np.eye(generator.latent_dim)[3] * 1.5)
    with pytest.raises(InputError, match="unknown direction 'beard'"):
        edit(z, {"beard": 1}, generator)


def test_save_load_round_trip_and_corrupt_file(tmp_path, directions):
    path = directions.save(tmp_path / "d.npz")
    back = Directions.load(path)
    assert back.names() == directions.names()
    assert np.array_equal(back.vector("smile"), directions.vector("smile"))
    (tmp_path / "bad.npz").write_bytes(b"not an npz")
    with pytest.raises(InputError, match="not a directions file"):
        Directions.load(tmp_path / "bad.npz")


def test_parse_changes():
    assert parse_changes("age=+2, smile=-1") == {"age": 2.0, "smile": -1.0}
    for bad in ("age", "age=old", "=2", ""):
        with pytest.raises(ValueError):
            parse_changes(bad)


@pytest.mark.slow
def test_cli_edit(tmp_path, generator):
    face = cv2.resize(generator.sample(1, seed=5)[0], (192, 192), interpolation=cv2.INTER_CUBIC)
    photo = cv2.copyMakeBorder(face, 64, 64, 64, 64, cv2.BORDER_CONSTANT, value=(128, 128, 128))
    write_image(tmp_path / "in.png", photo)
    out = tmp_path / "out.png"
    args = [*CLI, "edit", tmp_path / "in.png", "-o", out, "--steps", "10", "--size", "96"]
    ok = subprocess.run([*args, "--set", "smile=+2", "--compare"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert cv2.imread(str(out)).shape == (96, 96 * 2 + 2, 3)
    bad = subprocess.run([*args, "--set", "smile=lots"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--set" in bad.stderr
    unknown = subprocess.run([*args, "--set", "beard=1"], capture_output=True, text=True)
    assert unknown.returncode == 1 and unknown.stderr.count("\n") == 1
