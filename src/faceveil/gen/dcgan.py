"""Synthetic test faces from the pretrained 64x64 DCGAN (trained on DigiFace-1M, synthetic faces;
non-commercial research terms). The samples show no real person."""

from __future__ import annotations

import numpy as np


def sample_faces(n: int, seed: int = 0) -> np.ndarray:
    """`n` synthetic 64x64 faces from the built-in DCGAN, (n, 64, 64, 3) uint8 RGB.

    The latents are drawn on the CPU from a generator seeded with `seed`, so a seed gives the
    same faces on every run and device (up to float rounding on a GPU).
    """
    from faceveil.gen.registry import get_generator

    return get_generator("dcgan64").sample(n, seed=seed)
