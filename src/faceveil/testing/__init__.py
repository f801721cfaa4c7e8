"""Test and benchmark helpers: synthetic multi-face scenes and clips with known face boxes."""

from faceveil.testing.scenes import (
    SOURCES,
    FaceSource,
    Match,
    Score,
    box_iou,
    evaluate,
    face_source,
    make_background,
    make_clip,
    make_scene,
    match,
)

__all__ = [
    "SOURCES",
    "FaceSource",
    "Match",
    "Score",
    "box_iou",
    "evaluate",
    "face_source",
    "make_background",
    "make_clip",
    "make_scene",
    "match",
]
