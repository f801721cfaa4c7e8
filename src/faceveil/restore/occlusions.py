"""Procedural occluders with exact ground truth. Work in progress."""

from __future__ import annotations

OCCLUDER_KINDS = ("surgical", "cloth", "n95", "scarf", "sunglasses", "hand")


def occlude(image, face, kind, *, seed=0):
    """(occluded image, exact ground-truth bool mask)."""
    raise NotImplementedError
