"""`faceveil prepare` and `faceveil train`: dataset crops, training, checkpoints and resume."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from conftest import exif_of, gps_of, jpeg_with_exif
from faceveil.detect import detect
from faceveil.errors import InputError, OutputError
from faceveil.gen import get_generator, list_generators
from faceveil.gen.encoder import encode, load_encoder
from faceveil.gen.prepare import prepare_dataset
from faceveil.gen.train import train
from faceveil.io.images import write_image

CLI = [sys.executable, "-m", "faceveil.cli"]
ANGLES = (-20, 0, 20)
TINY = ["--res", "32", "--width", "8", "--latent-dim", "16", "--batch", "8"]
TINY_KW = {"res": 32, "width": 8, "latent_dim": 16, "batch": 8, "template_samples": 16}


def run(*args, home=None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "FACEVEIL_DEBUG"}
    if home is not None:
        env["FACEVEIL_MODELS"] = str(home)
    return subprocess.run(
        [*CLI, *map(str, args)], capture_output=True, text=True, env=env, timeout=300
    )


def scene(faces: list[np.ndarray], seed: int, angle: float = 0, zoom: float = 2.5) -> np.ndarray:
    """A 240x320 noisy background with the 64 px faces enlarged by `zoom` and turned by `angle`,
    side by side."""
    rng = np.random.default_rng(seed)
    img = rng.integers(60, 200, (240, 320, 3), dtype=np.uint8)
    for k, face in enumerate(faces):
        m = cv2.getRotationMatrix2D((32, 32), angle, zoom)
        m[:, 2] += (160 - 32 + 160 * (k - (len(faces) - 1) / 2), 120 - 32)
        warped = cv2.warpAffine(face, m, (320, 240), flags=cv2.INTER_CUBIC)
        inside = cv2.warpAffine(np.full((64, 64), 255, np.uint8), m, (320, 240)) > 0
        img[inside] = warped[inside]
    return img


@pytest.fixture(scope="module")
def raw_dir(tmp_path_factory):
    """15 photos of one face (turned by -20, 0 or 20 degrees), one of two faces, one JPEG
    with GPS EXIF, a corrupt file, a faceless image and a text file, in two folders."""
    raw = tmp_path_factory.mktemp("raw")
    faces = get_generator().sample(17, seed=11)  # all 18 faces score >= 0.85
    (raw / "trip").mkdir()
    for i in range(14):
        folder = raw / "trip" if i % 2 else raw
        write_image(folder / f"p{i:02d}.png", scene([faces[i]], i, ANGLES[i % 3]))
    write_image(raw / "pair.png", scene([faces[14], faces[15]], 14, zoom=1.6))
    (raw / "gps.jpg").write_bytes(jpeg_with_exif(scene([faces[16]], 15)))
    (raw / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg" * 8)
    write_image(raw / "faceless.png", np.full((120, 160, 3), 90, np.uint8))
    (raw / "notes.txt").write_text("not an image")
    return raw


@pytest.fixture(scope="module")
def dataset(raw_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("ds") / "faces"
    proc = run("prepare", raw_dir, "-o", out, "-q")
    assert proc.returncode == 0, proc.stderr
    return out, proc


def manifest(folder) -> list[dict]:
    return [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]


def test_prepare_crops_every_face_levels_the_eyes_and_reports_bad_files(dataset):
    out, proc = dataset
    rows = manifest(out)
    assert len(rows) == 17  # 15 single faces + 2 from the pair
    assert sorted(r["source"] for r in rows).count("pair.png") == 2
    assert {r["source"] for r in rows} >= {"trip/p01.png", "p00.png", "gps.jpg"}
    for key in ("box", "score", "landmarks", "age", "gender", "gender_prob", "emotion"):
        assert all(key in r for r in rows), key
    # The skipped files are named with a reason; the text file is not an image to report.
    assert "corrupt.jpg" in proc.stderr and "faceless.png: no face detected" in proc.stderr
    assert "notes.txt" not in proc.stderr and "17 face crops from 16 of 18 images" in proc.stdout
    summary = json.loads((out / "prepare.json").read_text())
    assert {s["source"] for s in summary["skipped"]} == {"corrupt.jpg", "faceless.png"}
    for row in rows:
        crop = np.asarray(Image.open(out / row["file"]))
        assert crop.shape == (64, 64, 3)
        # Detected again in the crop (at 2x, in a grey frame), the eyes are level.
        canvas = cv2.copyMakeBorder(
            cv2.resize(crop, (128, 128)), 64, 64, 64, 64, cv2.BORDER_CONSTANT, value=(128,) * 3
        )
        found = detect(canvas, small_faces=False)
        assert found, row["file"]
        (rx, ry), (lx, ly) = found[0].landmarks[:2]
        assert abs(ly - ry) < 0.1 * (lx - rx), (row["source"], ly - ry)
    gps_crop = out / next(r["file"] for r in rows if r["source"] == "gps.jpg")
    assert not gps_of(gps_crop) and not exif_of(gps_crop)


def test_prepare_never_overwrites_and_can_keep_the_largest_face(raw_dir, tmp_path):
    out = tmp_path / "largest"
    assert run("prepare", raw_dir, "-o", out, "--largest", "--size", "32", "-q").returncode == 0
    rows = manifest(out)
    assert len(rows) == 16 and Image.open(out / rows[0]["file"]).size == (32, 32)
    before = (out / "manifest.jsonl").read_bytes()
    with pytest.raises(OutputError, match="--overwrite"):
        prepare_dataset(raw_dir, out)
    assert (out / "manifest.jsonl").read_bytes() == before
    with pytest.raises(OutputError, match="outside"):
        prepare_dataset(raw_dir, raw_dir / "ds")
    with pytest.raises(InputError, match="not a folder"):
        prepare_dataset(tmp_path / "missing", tmp_path / "d2")
    assert run("prepare", raw_dir, "-o", out, "--size", "4").returncode == 2


def test_prepare_without_a_single_face_fails(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    write_image(raw / "wall.png", np.full((100, 100, 3), 200, np.uint8))
    (raw / "broken.png").write_bytes(b"")
    proc = run("prepare", raw, "-o", tmp_path / "ds", "-q")
    assert proc.returncode == 1
    assert "wall.png" in proc.stderr and "broken.png: empty file" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_train_writes_a_loadable_model_and_resumes(dataset, tmp_path, monkeypatch):
    out, _ = dataset
    home, model = tmp_path / "home", tmp_path / "tiny"
    args = ["train", out, "-o", model, *TINY, "--template-samples", "16", "--epochs", "1"]
    first = run(*args, "--name", "tiny-test", "--tag", "skin_tone=any", "-q", home=home)
    assert first.returncode == 0, first.stderr
    assert "no landmark template" in first.stderr  # one epoch gives no detectable faces
    ckpt = torch.load(model / "checkpoint.pt", weights_only=True)
    assert ckpt["epoch"] == 1 and ckpt["config"]["arch"] == "dcgan"
    assert (model / "samples" / "epoch_0001.png").is_file() and (model / "losses.png").is_file()
    log1 = json.loads((model / "train_log.json").read_text())["epochs"]
    assert [e["epoch"] for e in log1] == [1]

    monkeypatch.setenv("FACEVEIL_MODELS", str(home))
    get_generator.cache_clear()
    g = get_generator("tiny-test")
    assert g.decode(np.zeros((2, 16), np.float32)).shape == (2, 32, 32, 3)
    assert g.info.tags["skin_tone"] == "any" and "17 face crops" in g.info.training_data
    assert g.info.landmark_template is None

    # Resuming continues from epoch 1: the log grows, the first epoch is kept as it was.
    again = run("train", out, "-o", model, "--resume", "--epochs", "2", "-q", home=home)
    assert again.returncode == 0, again.stderr
    log2 = json.loads((model / "train_log.json").read_text())["epochs"]
    assert [e["epoch"] for e in log2] == [1, 2] and log2[0] == log1[0]
    assert torch.load(model / "checkpoint.pt", weights_only=True)["epoch"] == 2
    assert (model / "samples" / "epoch_0002.png").is_file()
    listed = run("models", home=home)
    assert listed.returncode == 0 and {"tiny-test", "dcgan64"} <= set(listed.stdout.split())
    assert [i.name for i in list_generators(skin_tone="any")] == ["tiny-test"]
    # Starting again over a model needs --overwrite; a changed setting cannot be resumed.
    with pytest.raises(OutputError, match="--resume to continue"):
        train(out, model, epochs=1)
    with pytest.raises(InputError, match="differs from the checkpoint"):
        train(out, model, resume=True, arch="vae")
    get_generator.cache_clear()


@pytest.mark.slow
def test_resume_gives_the_same_weights_as_training_straight_through(dataset, tmp_path, monkeypatch):
    out, _ = dataset
    monkeypatch.setenv("FACEVEIL_MODELS", str(tmp_path / "home"))
    straight = train(out, tmp_path / "straight", epochs=2, **TINY_KW)
    train(out, tmp_path / "halves", epochs=1, **TINY_KW)
    resumed = train(out, tmp_path / "halves", resume=True, epochs=2, template_samples=16)
    assert resumed.epochs_run == 1 and len(resumed.log) == 2
    a = torch.load(tmp_path / "straight" / "generator.pt", weights_only=True)
    b = torch.load(tmp_path / "halves" / "generator.pt", weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    strip = [{k: v for k, v in e.items() if k != "seconds"} for e in straight.log]
    assert strip == [{k: v for k, v in e.items() if k != "seconds"} for e in resumed.log]

    vae = train(out, tmp_path / "vae", arch="vae", epochs=1, encoder_steps=2, **TINY_KW)
    assert set(vae.log[0]) >= {"recon", "kl", "loss"}
    g = get_generator(tmp_path / "vae")
    assert g.info.arch == "vae" and g.sample(3).shape == (3, 32, 32, 3)
    assert encode(load_encoder(g), g.sample(2)).shape == (2, 16)
    get_generator.cache_clear()


class _Payload:
    """Unpickling this would create a file: the proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_malicious_weights_and_checkpoints_are_refused(dataset, tmp_path):
    out, _ = dataset
    marker = tmp_path / "pwned"
    model = tmp_path / "evil"
    model.mkdir()
    evil = pickle.dumps({"main.0.weight": _Payload(marker)})
    (model / "generator.pt").write_bytes(evil)
    (model / "checkpoint.pt").write_bytes(evil)
    info = {"name": "evil", "arch": "dcgan", "latent_dim": 16, "resolution": 32}
    (model / "model.json").write_text(json.dumps({**info, "training_data": "-", "licence": "-"}))
    home = tmp_path / "home"
    weights = run("evaluate-generator", model, "--n", "4", home=home)
    assert weights.returncode == 1 and "not a loadable weights file" in weights.stderr
    resume = run("train", out, "-o", model, "--resume", home=home)
    assert resume.returncode == 1 and "not a loadable checkpoint" in resume.stderr
    assert resume.stderr.count("\n") == 1
    for proc in (weights, resume):
        assert "Traceback" not in proc.stderr
        assert proc.stderr.splitlines()[-1].startswith("faceveil: error:")
    assert not marker.exists()


def test_train_usage_errors(dataset, tmp_path):
    out, _ = dataset
    model = tmp_path / "m"
    for arch in ("gan", "conditional"):  # the conditional anonymiser lives in bench/ now
        bad = run("train", out, "-o", model, "--arch", arch)
        assert bad.returncode == 2 and "must be one of dcgan, vae" in bad.stderr
    tag = run("train", out, "-o", model, "--tag", "novalue")
    assert tag.returncode == 2 and "key=value" in tag.stderr
    with pytest.raises(InputError, match="resolution must be one of"):
        train(out, model, res=48)
    with pytest.raises(InputError, match="taken by a built-in"):
        train(out, model, name="dcgan64")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no images to train on"):
        train(tmp_path / "empty", model)
    assert not model.exists()
