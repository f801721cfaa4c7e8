"""Latent presets: where the sliders start.

- ``random``: z ~ N(0, I), seeded; the same latent as ``generator.sample_latents(1, seed)[0]``;
- ``mean``: the mean latent, all zeros (the generator's "average face");
- ``female``, ``male``, ``young``, ``old``, ``smiling``: the mean latent of the fitting samples
  the analysis models put in that class (stored in ``directions.npz``);
- ``face``: a real face, the latent :func:`faceveil.gen.invert.invert` finds for a photo.
"""

from __future__ import annotations

import numpy as np
import torch

BUILT_IN = ("random", "mean")
FACE = "face"
CLASS_SHARE = 0.2  # young, old and smiling: the bottom or top fifth of the score


def random_latent(latent_dim: int, seed: int = 0) -> np.ndarray:
    """z ~ N(0, I) of shape (latent_dim,), drawn on the CPU as Generator.sample_latents does."""
    rng = torch.Generator("cpu").manual_seed(int(seed))
    return torch.randn(latent_dim, generator=rng).numpy()


def class_averages(z: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Mean latent per class, from latents `z` (N, d) and labels (N, 3) of age in years,
    P(female) and P(happy). Female and male need P >= 0.8 of their gender."""
    age, female, happy = labels.T
    masks = {
        "female": female >= 0.8,
        "male": female <= 0.2,
        "young": age <= np.quantile(age, CLASS_SHARE),
        "old": age >= np.quantile(age, 1 - CLASS_SHARE),
        "smiling": happy >= np.quantile(happy, 1 - CLASS_SHARE),
    }
    return {k: z[m].mean(axis=0).astype(np.float32) for k, m in masks.items() if m.any()}


def face_latent(generator, image, **invert_options) -> np.ndarray:
    """The latent of the largest face in `image` (path, bytes or RGB array).

    `invert_options` go to :func:`faceveil.gen.invert.invert` (method, steps, restarts, seed,
    aligned). Raises InputError when the image has no face.
    """
    from faceveil.gen.invert import invert  # the optimisation machinery: load on use

    return invert(generator, image, **invert_options).z
