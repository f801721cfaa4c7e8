"""Studio store figures: dataset import speed (detect + attributes + skin tone per photo), a
filtered listing, and the cost of training one epoch per library call (how the studio's train
job reports progress and stops between epochs) against one call.

    .venv/bin/python bench/studio_store.py
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path


def bench_import(n: int = 20) -> str:
    from fastapi.testclient import TestClient

    from faceveil.io.images import encode_image
    from faceveil.server.app import create_app
    from faceveil.server.settings import Settings
    from faceveil.testing import make_scene

    imgs = [encode_image(make_scene(s, size=(1280, 720), n_faces=3)[0], ".jpg") for s in range(n)]
    settings = Settings(data_dir=Path(tempfile.mkdtemp()), run_worker=False)
    with TestClient(create_app(settings)) as c:
        ds = c.post("/api/v1/datasets", json={"name": "b"}).json()["id"]
        url = f"/api/v1/datasets/{ds}/images"
        c.post(url, files=[("files", ("w.jpg", imgs[0]))])  # loads the models
        files = [("files", (f"{i}.jpg", b)) for i, b in enumerate(imgs[1:])]
        t = time.perf_counter()
        added = len(c.post(url, files=files).json()["added"])
        dt = time.perf_counter() - t
        t = time.perf_counter()
        for _ in range(20):
            c.get(url, params={"gender": "female", "min_faces": 2, "limit": 50})
        q = (time.perf_counter() - t) / 20
    return (
        f"import: {added} 1280x720 photos of 3 faces in {dt:.1f} s ({dt / added * 1000:.0f} ms "
        f"each); a filtered listing {q * 1000:.1f} ms"
    )


def bench_train(epochs: int = 3) -> str:
    os.environ["FACEVEIL_MODELS"] = tempfile.mkdtemp()
    from faceveil.gen import get_generator
    from faceveil.gen.train import train
    from faceveil.io.images import write_image

    data = Path(tempfile.mkdtemp())
    for i, face in enumerate(get_generator().sample(256, seed=1)):
        write_image(data / f"{i:04d}.png", face)
    kw = {"res": 64, "width": 32, "latent_dim": 64, "batch": 32}
    train(data, Path(tempfile.mkdtemp()) / "warm", template_samples=8, epochs=1, **kw)
    t = time.perf_counter()
    train(data, Path(tempfile.mkdtemp()) / "a", template_samples=256, epochs=epochs, **kw)
    one = time.perf_counter() - t
    model, t = Path(tempfile.mkdtemp()) / "b", time.perf_counter()
    for e in range(1, epochs + 1):
        samples = 256 if e == epochs else 8
        train(data, model, resume=e > 1, template_samples=samples, epochs=e, **kw)
    per = time.perf_counter() - t
    return (
        f"train {epochs} epochs (256 faces, 64 px, width 32): one call {one:.1f} s, "
        f"one call per epoch {per:.1f} s"
    )


if __name__ == "__main__":
    print(bench_import())
    print(bench_train())
