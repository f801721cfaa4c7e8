"""Latent directions, presets and `edit`: the sliders move what they say they move."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

from faceveil.errors import InputError
from faceveil.gen import get_generator
from faceveil.gen.base import GeneratorInfo
from faceveil.gen.changes import parse_changes
from faceveil.gen.directions import (
    ATTRIBUTES,
    Directions,
    edit,
    fit_directions,
    label_samples,
    load_directions,
)
from faceveil.gen.invert import invert
from faceveil.io.images import write_image

CLI = [sys.executable, "-m", "faceveil.cli"]


@pytest.fixture(scope="module")
def generator():
    return get_generator(device="cpu")


@pytest.fixture(scope="module")
def directions(generator):
    return load_directions(generator)


@pytest.mark.parametrize("name", ATTRIBUTES)
def test_attribute_direction_moves_its_score_the_right_way(generator, directions, name):
    z = generator.sample_latents(16, seed=4242)  # not among the fitted or benchmarked samples
    d = directions.vector(name)  # the orthogonal variant, as edit() uses by default
    before = label_samples(generator, z - 2 * d)
    after = label_samples(generator, z + 2 * d)
    column = ATTRIBUTES.index(name)
    ok = ~(np.isnan(before[:, column]) | np.isnan(after[:, column]))
    assert ok.sum() >= 12
    right_way = (after[ok, column] > before[ok, column]).mean()
    assert right_way >= 0.7, f"{name}: {right_way:.0%} moved the right way"


def test_shipped_directions_are_unit_and_pcs_orthogonal(directions):
    pcs = directions.names("pca")
    assert 10 <= len(pcs) <= 20
    for name in directions.names():
        v = directions.vector(name, orthogonal=False)
        assert v.shape == (100,) and np.linalg.norm(v) == pytest.approx(1, abs=1e-4)
    basis = np.stack([directions.vector(p) for p in pcs])
    assert np.abs(basis @ basis.T - np.eye(len(pcs))).max() < 1e-4
    shares = [directions.meta["explained_variance"][p] for p in pcs]
    assert shares == sorted(shares, reverse=True) and 0 < sum(shares) < 1
    assert min(directions.meta["linearity"].values()) >= 0.5
    # The orthogonal variants are orthogonal to the other attributes' normals.
    for name in ATTRIBUTES:
        v = directions.vector(name, orthogonal=True)
        assert v @ directions.vector(name, orthogonal=False) > 0.8
        for other in set(ATTRIBUTES) - {name}:
            assert abs(v @ directions.vector(other, orthogonal=False)) < 1e-4
    assert directions.kind("age") == "attribute" and directions.kind("dim_7") == "raw"
    assert directions.names("orthogonal") == [f"{a}_orthogonal" for a in ATTRIBUTES]


def test_presets(directions, generator):
    assert directions.preset_names() == [
        *("random", "mean", "female", "male", "young", "old", "smiling", "face")
    ]
    assert np.array_equal(directions.preset("random", seed=3), generator.sample_latents(1, 3)[0])
    assert not np.array_equal(directions.preset("random", seed=3), directions.preset("random"))
    assert not directions.preset("mean").any()
    for name in directions.preset_names()[:-1]:
        assert directions.preset(name).shape == (generator.latent_dim,)
    # The class averages lie on the right side along the attribute they were picked by.
    along = {a: directions.vector(a, orthogonal=False) for a in ATTRIBUTES}
    assert (
        directions.preset("female") @ along["gender"] > directions.preset("male") @ along["gender"]
    )
    assert directions.preset("old") @ along["age"] > directions.preset("young") @ along["age"]
    assert directions.preset("smiling") @ along["smile"] > 0
    with pytest.raises(InputError, match="unknown preset 'sad'.*smiling"):
        directions.preset("sad")
    with pytest.raises(InputError, match="needs an image"):
        directions.preset("face")


def test_face_preset_is_the_inverted_latent(directions, generator):
    crop = generator.sample(1, seed=21)[0]
    options = {"aligned": True, "method": "encoder"}
    z = directions.preset("face", image=crop, **options)
    assert np.array_equal(z, invert(generator, crop, **options).z)


def test_edit(generator, directions):
    z = generator.sample_latents(2, seed=0)
    assert np.array_equal(edit(z, {}, generator), z)
    moved = edit(z, {"dim_3": 1.5, "age": 2}, generator)
    expected = z + 1.5 * np.eye(generator.latent_dim)[3] + 2 * directions.vector("age")
    assert np.allclose(moved, expected, atol=1e-5)
    raw = edit(z[0], {"age": 2}, generator, orthogonal=False)
    assert np.allclose(raw, z[0] + 2 * directions.vector("age", orthogonal=False), atol=1e-5)
    with pytest.raises(InputError, match="unknown direction 'beard'.*age.*dim_0..dim_99"):
        edit(z, {"beard": 1}, generator)
    with pytest.raises(InputError, match="must be a number"):
        edit(z, {"age": "old"}, generator)
    with pytest.raises(InputError, match="must be finite"):
        edit(z, {"age": float("nan")}, generator)
    with pytest.raises(InputError, match="100 values"):
        edit(z[:, :50], {"age": 1}, generator)


def test_save_load_round_trip_and_bad_files(tmp_path, directions):
    path = directions.save(tmp_path / "d.npz")
    back = Directions.load(path)
    assert back.names() == directions.names() and back.meta == directions.meta
    assert np.array_equal(back.vector("smile"), directions.vector("smile"))
    assert np.array_equal(back.preset("old"), directions.preset("old"))
    (tmp_path / "bad.npz").write_bytes(b"not an npz")
    with pytest.raises(InputError, match="not a directions file"):
        Directions.load(tmp_path / "bad.npz")
    short = Directions(3, {"a": np.ones(4, np.float32)}, {"a": "pca"})
    with pytest.raises(InputError, match="do not match"):
        Directions.load(short.save(tmp_path / "short.npz"))


@pytest.mark.slow
def test_fit_on_a_model_without_directions(tmp_path, generator):
    """A user model dir starts with raw directions only; a fit on few samples (too few for
    attributes) still gives orthogonal PCA directions, and they load back with the model."""
    info = GeneratorInfo.from_dict(generator.info.to_dict() | {"name": "mine"})
    info.save(tmp_path)
    mine = get_generator(tmp_path, device="cpu")
    assert load_directions(mine).names() == [f"dim_{i}" for i in range(100)]
    fitted = fit_directions(mine, n=8, seed=5, pcs=12)
    assert fitted.names("attribute") == [] and len(fitted.names("pca")) == 12
    assert fitted.meta["fit"]["samples"] == 8 and not fitted.presets
    fitted.save(tmp_path / "directions.npz")
    assert load_directions(mine).names("pca") == fitted.names("pca")


def test_parse_changes():
    assert parse_changes("age=+2, smile=-1") == {"age": 2.0, "smile": -1.0}
    assert parse_changes("pc0=0.5,") == {"pc0": 0.5}
    for bad in ("age", "age=old", "=2", "", ",", "age=inf"):
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
    out.unlink()
    for bad in ("smile=lots", "beard=1"):
        run = subprocess.run([*args, "--raw", "--set", bad], capture_output=True, text=True)
        assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
        assert "--set" in run.stderr and not out.exists()
