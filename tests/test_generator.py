"""The generator interface, the registry, alignment to a template, upsampling, `generate`."""

from __future__ import annotations

import pickle
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from faceveil.align import align_face, measure_landmark_template, store_landmark_template
from faceveil.errors import InputError
from faceveil.gen import get_generator, list_generators, register
from faceveil.gen.base import GeneratorInfo
from faceveil.gen.nets import DCGANGenerator
from faceveil.gen.synthesis import generate
from faceveil.gen.upsample import grid, upsample

CLI = [sys.executable, "-m", "faceveil.cli"]


@pytest.fixture
def models_home(tmp_path, monkeypatch):
    home = tmp_path / "models"
    monkeypatch.setenv("FACEVEIL_MODELS", str(home))
    get_generator.cache_clear()
    yield home
    get_generator.cache_clear()


def test_sampling_is_deterministic_by_seed():
    g = get_generator()
    a = g.sample(4, seed=3)
    assert a.shape == (4, 64, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a, g.sample(4, seed=3))
    assert not np.array_equal(a, g.sample(4, seed=4))


def test_truncation_zero_gives_the_mean_face_every_time():
    g = get_generator()
    faces = g.sample(3, seed=0, truncation=0.0)
    assert np.array_equal(faces[0], faces[1]) and np.array_equal(faces[1], faces[2])
    assert np.array_equal(faces[0], g.decode(np.zeros(g.latent_dim, np.float32)))


def test_decode_checks_the_latent_shape():
    g = get_generator()
    assert g.decode(np.zeros(100, np.float32)).shape == (64, 64, 3)
    with pytest.raises(ValueError, match="100 columns"):
        g.decode(np.zeros((2, 50), np.float32))


def test_builtin_model_metadata_names_its_training_data_and_template():
    (info,) = list_generators(name="dcgan64")
    assert "DigiFace-1M" in info.training_data and "non-commercial" in info.licence
    template = np.asarray(info.landmark_template)
    assert template.shape == (5, 2)
    # Eyes above the nose above the mouth, right eye on the image's left.
    assert template[0, 0] < template[1, 0] and template[2, 1] > template[0, 1]
    assert template[3, 1] > template[2, 1]
    assert list_generators(dataset="digiface-1m") and not list_generators(dataset="nope")


@pytest.mark.slow
def test_stored_template_matches_a_fresh_measurement():
    g = get_generator()
    measured, rate = measure_landmark_template(g, n=64, seed=500)
    assert rate > 0.9
    assert np.abs(measured - g.landmark_template).max() < 1.5


def test_store_landmark_template_writes_the_measured_template_into_model_json(tmp_path):
    real = get_generator()

    class Copy:  # the built-in model's samples, its model.json in tmp_path
        resolution = real.resolution
        info = GeneratorInfo(
            "copy", "dcgan", real.latent_dim, real.resolution, "x", "y", path=str(tmp_path)
        )

        def sample(self, n, seed):
            return real.sample(n, seed=seed)

    rate = store_landmark_template(Copy(), n=16, seed=500)
    saved = GeneratorInfo.load(tmp_path)
    assert rate > 0.8 and saved.tags["sample_detection_rate"] == f"{rate:.3f}"
    assert np.abs(np.asarray(saved.landmark_template) - real.landmark_template).max() < 3.0


def test_a_face_warped_away_aligns_back_to_the_template():
    g = get_generator()
    face = g.sample(1, seed=11)[0]
    # Put the face, 3x larger and turned by 15 degrees, into a bigger picture.
    m = cv2.getRotationMatrix2D((32, 32), 15, 3.0)
    m[:, 2] += (150, 120)
    photo = cv2.warpAffine(face, m, (500, 400), flags=cv2.INTER_CUBIC)
    landmarks = cv2.transform(g.landmark_template[None], m)[0]
    crop, matrix = align_face(photo, landmarks, g.landmark_template, 64)
    assert crop.shape == (64, 64, 3)
    assert np.allclose(cv2.transform(landmarks[None], matrix)[0], g.landmark_template, atol=0.5)
    assert structural_similarity(face[8:-8, 8:-8], crop[8:-8, 8:-8], channel_axis=2) > 0.8


def _save_model(directory, name="tiny", res=32, state=None):
    net = DCGANGenerator(nz=16, ngf=8, res=res)
    torch.save(state if state is not None else net.state_dict(), directory / "generator.pt")
    info = GeneratorInfo(
        name=name,
        arch="dcgan",
        latent_dim=16,
        resolution=res,
        training_data="test",
        licence="test",
        arch_kwargs={"ngf": 8},
        tags={"skin_tone": "any"},
    )
    info.save(directory)
    return info


def test_registered_model_loads_by_name_from_anywhere(tmp_path, models_home):
    model_dir = tmp_path / "somewhere" / "tiny"
    model_dir.mkdir(parents=True)
    _save_model(model_dir)
    register(model_dir)
    g = get_generator("tiny")
    assert (g.latent_dim, g.resolution) == (16, 32)
    assert g.sample(2, seed=0).shape == (2, 32, 32, 3)
    assert [i.name for i in list_generators(skin_tone="any")] == ["tiny"]
    # A model directory in the model home is found without registering.
    home_model = models_home / "other"
    home_model.mkdir(parents=True)
    _save_model(home_model, name="other")
    assert get_generator("other").name == "other"


def test_bad_models_give_one_line_errors(tmp_path, models_home):
    with pytest.raises(InputError, match="no generator 'missing'"):
        get_generator("missing")
    bad = tmp_path / "bad"
    bad.mkdir()
    # A weights file that would run code when unpickled is refused, not executed.
    _save_model(bad, name="bad")
    (bad / "generator.pt").write_bytes(pickle.dumps(subprocess.Popen))
    with pytest.raises(InputError, match="not a loadable weights file"):
        get_generator(bad)
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    _save_model(wrong, name="wrong", state=DCGANGenerator(nz=16, ngf=16, res=32).state_dict())
    with pytest.raises(InputError, match="weights do not fit"):
        get_generator(wrong)
    (wrong / "model.json").write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        get_generator(wrong)


def test_upsample_and_grid():
    faces = get_generator().sample(3, seed=0)
    big = upsample(faces, 256)
    assert big.shape == (3, 256, 256, 3) and big.dtype == np.uint8
    assert upsample(faces[0], 32).shape == (32, 32, 3)
    # Enlarging then shrinking back gives nearly the original.
    back = cv2.resize(upsample(faces[0], 256, sharpen=0), (64, 64), interpolation=cv2.INTER_AREA)
    assert structural_similarity(faces[0], back, channel_axis=2) > 0.9
    with pytest.raises(ValueError, match="method"):
        upsample(faces, 128, method="magic")
    assert grid(faces, columns=2, gap=2).shape == (64 * 2 + 2, 64 * 2 + 2, 3)


def test_generate_sizes_and_seeds():
    a = generate(2, seed=5, size=128)
    assert a.shape == (2, 128, 128, 3)
    assert np.array_equal(generate(2, seed=5), get_generator().sample(2, seed=5))


def test_cli_generate(tmp_path):
    out = tmp_path / "grid.png"
    ok = subprocess.run(
        [*CLI, "generate", "-n", "4", "--size", "96", "-o", out], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    assert cv2.imread(str(out)).shape == (96 * 2 + 2, 96 * 2 + 2, 3)
    ok = subprocess.run(
        [*CLI, "generate", "-n", "2", "--out-dir", tmp_path / "d"], capture_output=True, text=True
    )
    assert ok.returncode == 0 and len(list((tmp_path / "d").glob("*.png"))) == 2
    both = subprocess.run(
        [*CLI, "generate", "-o", out, "--out-dir", tmp_path / "d"], capture_output=True, text=True
    )
    assert both.returncode == 2 and "exactly one" in both.stderr
    unknown = subprocess.run(
        [*CLI, "generate", "--model", "nope", "-o", tmp_path / "x.png"],
        capture_output=True,
        text=True,
    )
    assert unknown.returncode == 1 and unknown.stderr.count("\n") == 1 and "nope" in unknown.stderr
    assert not (tmp_path / "x.png").exists()
