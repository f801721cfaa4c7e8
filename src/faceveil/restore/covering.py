"""Find the pixels that cover a face (mask, scarf, sunglasses, hand). Work in progress."""

from __future__ import annotations

import numpy as np


def find_covering(image, face=None, *, mesh=None) -> np.ndarray:
    """(H, W) bool mask of the pixels covering `face` in `image`."""
    raise NotImplementedError
