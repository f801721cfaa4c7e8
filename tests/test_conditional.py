"""The conditional anonymiser: network shapes, training with exact resume, the CLI, inference."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from faceveil.align import face_oval
from faceveil.cli import app
from faceveil.errors import InputError
from faceveil.gen import get_generator
from faceveil.gen.conditional import (
    WEIGHTS_FILE,
    ConditionalGenerator,
    PatchDiscriminator,
    heatmaps,
    load_conditional,
    train_conditional,
)

TINY = {"samples": 24, "width": 4, "latent_dim": 8, "batch": 8}


def _any_model():
    from faceveil.gen.conditional import ConditionalModel

    return ConditionalModel(ConditionalGenerator(4, 8), get_generator().landmark_template)


def _weights(model_dir) -> dict:
    return torch.load(model_dir / "checkpoint.pt", weights_only=True)["nets"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny model trained 2 epochs straight, and one trained 1 epoch then resumed to 2."""
    straight = tmp_path_factory.mktemp("straight")
    train_conditional("dcgan64", straight, epochs=2, **TINY)
    resumed = tmp_path_factory.mktemp("resumed")
    train_conditional("dcgan64", resumed, epochs=1, **TINY)
    result = train_conditional("dcgan64", resumed, resume=True, epochs=2)
    return straight, resumed, result


def test_network_shapes():
    g = ConditionalGenerator(width=4, latent_dim=8, res=64)
    out = g(torch.zeros(3, 9, 64, 64), torch.randn(3, 8))
    assert out.shape == (3, 3, 64, 64)
    assert out.abs().max() <= 1
    assert PatchDiscriminator(8)(torch.zeros(2, 9, 64, 64)).shape == (2, 1, 8, 8)
    heat = heatmaps(torch.tensor([[[10.0, 20.0]] * 5]), 64)
    assert heat.shape == (1, 5, 64, 64)
    assert heat[0, 0, 20, 10] == 1 and heat[0, 0, 20, 20] < 1e-6


def test_hole_covers_what_synth_blends_in():
    from faceveil.anonymize.replace import face_mask

    template = get_generator().landmark_template
    for widen in (1.0, 1.25):
        assert np.array_equal(face_oval(template, 64, 128, widen), face_mask(128, widen))
    model = load_conditional(get_generator(), path=None) or _any_model()
    assert face_mask(64)[model.hole < 0.5].max() < 0.05  # synth pastes only painted pixels
    assert 0.3 < model.hole.mean() < 0.7


def test_training_writes_checkpoints_and_resumes_exactly(tiny):
    straight, resumed, result = tiny
    for k, net in _weights(straight).items():
        for name, t in net.items():
            assert torch.equal(t, _weights(resumed)[k][name]), (k, name)
    assert [e["epoch"] for e in result.log] == [1, 2] and result.epochs_run == 1
    for d in (straight, resumed):
        assert (d / WEIGHTS_FILE).is_file() and (d / "samples" / "epoch_0002.png").is_file()
        assert (d / "train_log.json").is_file() and (d / "losses.png").is_file()
    with pytest.raises(InputError, match="differs from the checkpoint"):
        train_conditional("dcgan64", resumed, resume=True, epochs=3, width=8)


def test_cli_trains_and_resumes(tmp_path):
    out = tmp_path / "cond"
    args = ["--samples", "16", "--width", "4", "--latent-dim", "8", "--batch", "8", "-q"]
    runner = CliRunner()
    first = runner.invoke(app, ["train", "dcgan64", "-o", str(out), "--arch", "conditional",
                                "--epochs", "1", *args])  # fmt: skip
    assert first.exit_code == 0, first.output
    assert "conditional anonymiser" in first.output and (out / WEIGHTS_FILE).is_file()
    again = runner.invoke(app, ["train", "dcgan64", "-o", str(out), "--resume", "--epochs", "2"])
    assert again.exit_code == 0, again.output
    assert torch.load(out / "checkpoint.pt", weights_only=True)["epoch"] == 2
    bad = runner.invoke(app, ["train", "dcgan64", "-o", str(out), "--samples", "5"])
    assert bad.exit_code == 2


def test_inference_is_seeded_and_keeps_the_outside(tiny):
    model = load_conditional(get_generator(), tiny[0])
    crop = get_generator().sample(1, seed=5)[0]
    a, b = model.fill(crop, None, [1, 2]), model.fill(crop, None, [1, 2])
    assert a.shape == (2, 64, 64, 3) and np.array_equal(a, b)
    inside, outside = model.hole > 0.5, model.hole < 0.5
    assert (a[0] != a[1])[inside].any()  # another seed, another face (barely trained here)
    assert np.array_equal(a[:, outside], np.broadcast_to(crop[outside], a[:, outside].shape))
    assert np.array_equal(model.fill(crop, None, 1), a[0])
    z = model.latents([1])
    assert np.array_equal(model.fill(crop, None, z[0]), a[0])
    with pytest.raises(InputError):
        model.fill(crop[:32], None, 1)


def test_loader_without_weights_or_with_a_pickle(tmp_path):
    assert load_conditional(get_generator(), tmp_path) is None
    (tmp_path / WEIGHTS_FILE).write_bytes(pickle.dumps(print))
    with pytest.raises(InputError, match="not a loadable"):
        load_conditional(get_generator(), tmp_path)


def test_shipped_model_if_any_makes_new_faces():
    """The default weights (when shipped): faces that differ from the original and per seed."""
    from faceveil.gen.conditional import conditional_face, conditional_faces

    model = load_conditional()
    crop = get_generator().sample(1, seed=9)[0]
    if model is None:
        assert conditional_face(crop, 0) is None
        pytest.skip("no conditional weights shipped")
    faces = conditional_faces(crop, [0, 1, 2])
    inside = model.hole > 0.5
    for face in faces:
        assert np.abs(face.astype(int) - crop)[inside].mean() > 5
    assert np.abs(faces[0].astype(int) - faces[1])[inside].mean() > 3
    assert np.array_equal(conditional_face(crop, 1), faces[1])
