"""Labelled latents: generator samples with the age, gender and expression faceveil's own
models see in them.

``synth`` draws a new identity from the samples whose labels are nearest the original face's,
so the replacement keeps age, gender and expression more often than a random latent does: a
linear read-out of those labels from z explains little (R^2 0.14 for gender, below 0 for age on
dcgan64), so drawing from labelled samples works where steering along a direction does not.

Only samples that pass the critic of :mod:`faceveil.gen.quality` are kept (:func:`curate`):
about one in three of dcgan64's. Stored in the model directory as ``labelled_latents.npz``:
``z`` (N, d) float16 and ``labels`` (N, 3) float32 (age in years, P(female), P(happy)).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from faceveil.gen.base import LABELLED_FILE, Generator
from faceveil.io.atomic import atomic_output

NEIGHBOURS = 8


def label_latents(
    generator: Generator, n: int = 4000, seed: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """`n` seeded latents and their labels; undetected samples are dropped."""
    from faceveil.gen.directions import label_samples

    z = generator.sample_latents(n, seed=seed)
    labels = label_samples(generator, z)
    ok = ~np.isnan(labels).any(axis=1)
    return z[ok], labels[ok]


def curate(
    generator: Generator, z: np.ndarray, labels: np.ndarray, batch: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """The latents (and their labels) whose samples pass the critic of
    :mod:`faceveil.gen.quality`: no hair or blotch across the face, no glasses, no mottled
    skin or melted shape."""
    from faceveil.gen.quality import critique

    if generator.landmark_template is None:
        raise ValueError(f"{generator.name} has no landmark template to judge samples against")
    keep = np.concatenate(
        [
            critique(generator.decode(z[i : i + batch]), generator.landmark_template).clean()
            for i in range(0, len(z), batch)
        ]
    )
    return z[keep], labels[keep]


def save_labelled(z: np.ndarray, labels: np.ndarray, model_dir: str | Path) -> Path:
    path = Path(model_dir) / LABELLED_FILE
    with atomic_output(path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, z=z.astype(np.float16), labels=labels.astype(np.float32))
    return path


def load_labelled(generator: Generator) -> tuple[np.ndarray, np.ndarray] | None:
    """``(z, labels)`` of `generator`, or None when its model directory has none."""
    if generator.info.path is None:
        return None
    path = Path(generator.info.path) / LABELLED_FILE
    if not path.is_file():
        return None
    return _load(str(path), os.stat(path).st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _load(path: str, mtime: int) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return data["z"].astype(np.float32), data["labels"].astype(np.float32)


def nearest_latents(
    labelled: tuple[np.ndarray, np.ndarray],
    age: float,
    female: float,
    happy: float,
    n: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """`n` latents drawn at random from the NEIGHBOURS * n whose labels are nearest the given
    ones (wide enough that two seeds rarely draw the same candidates from a curated pool)."""
    z, labels = labelled
    distance = (
        np.abs(labels[:, 0] - age) / 10.0
        + 2.0 * np.abs(labels[:, 1] - female)
        + np.abs(labels[:, 2] - happy)
    )
    near = np.argsort(distance, kind="stable")[: min(len(z), NEIGHBOURS * n)]
    return z[rng.choice(near, min(n, len(near)), replace=False)]
