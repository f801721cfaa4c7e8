"""Partial facial re-imaging: find what covers a face (``find_covering``) and fill it with a
plausible generated face (``restore``); synthetic occlusions with exact ground truth to
measure both (``occlude``). A filled region is a plausible guess, not the person's real face."""

from faceveil.restore.covering import find_covering
from faceveil.restore.occlusions import OCCLUDER_KINDS, occlude
from faceveil.restore.pipeline import Restoration, restore, write_steps

__all__ = ["OCCLUDER_KINDS", "Restoration", "find_covering", "occlude", "restore", "write_steps"]
