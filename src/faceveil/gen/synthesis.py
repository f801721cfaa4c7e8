"""Sampling faces from a generator, at the size a user asked for."""

from __future__ import annotations

import numpy as np

from faceveil.gen.registry import get_generator
from faceveil.gen.upsample import upsample


def generate(
    n: int = 1,
    seed: int = 0,
    *,
    model: str | None = None,
    truncation: float = 1.0,
    size: int | None = None,
    sharpen: float = 0.5,
    resampler: str = "cubic",
) -> np.ndarray:
    """Synthetic faces of nobody.

    Parameters
    ----------
    n : number of faces.
    seed : the same seed gives the same faces (latents are drawn on the CPU).
    model : registered generator name or model directory; the built-in ``dcgan64`` by default.
    truncation : in [0, 1]; latents are scaled by it towards the mean face, trading variety for
        typicality.
    size : output side in pixels; the generator's resolution when None.
    sharpen, resampler : see :func:`faceveil.gen.upsample.upsample`.

    Returns
    -------
    (n, size, size, 3) uint8 RGB.
    """
    generator = get_generator(model)
    faces = generator.sample(n, seed=seed, truncation=truncation)
    if size is None or size == generator.resolution:
        return faces
    return upsample(faces, size, method=resampler, sharpen=sharpen)
