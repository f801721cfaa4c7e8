"""Partial facial re-imaging: find what covers a face (``find_covering``), and synthetic
occlusions with exact ground truth to measure it (``occlude``)."""

from faceveil.restore.covering import find_covering
from faceveil.restore.occlusions import OCCLUDER_KINDS, occlude

__all__ = ["OCCLUDER_KINDS", "find_covering", "occlude"]
