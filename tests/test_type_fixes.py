"""Bugs the type checker (mypy, `make test`) found: each test fails on the code before the fix."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceveil.anonymize.state import REDRAW_EVERY, RunState, Tracked


def test_tiled_steps_are_resized_with_area_interpolation():
    # cv2.resize(f, size, cv2.INTER_AREA) passed the flag as `dst`: bilinear resizing.
    from faceveil.restore.pipeline import STEP_SIDE, _tiled

    rng = np.random.default_rng(0)
    faces = [rng.integers(0, 256, (s, s, 3), dtype=np.uint8) for s in (300, 411)]
    size = (STEP_SIDE, STEP_SIDE)
    expected = np.hstack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in faces])
    np.testing.assert_array_equal(_tiled(faces), expected)


def test_a_track_without_a_latent_is_kept_not_redrawn():
    # Was TypeError (float * None) at the first redraw of a track remembered without z_face.
    run = RunState()
    run.remember("synth", 1, Tracked(np.full(2, 7)))
    drawn = []
    for _ in range(REDRAW_EVERY + 1):
        known = run.reuse("synth", 1, z_now=lambda: np.ones(2), redraw=drawn.append)
    assert drawn == []
    assert known is not None and known.face_rgb.tolist() == [7, 7]


def test_an_unreadable_orl_file_names_the_file(monkeypatch, tmp_path):
    # cv2.imread's None went on to cv2.resize: an OpenCV assertion that named no file.
    from faceveil.io import orl

    missing = tmp_path / "s1" / "1.pgm"
    monkeypatch.setattr(orl, "orl_files", lambda: [missing])
    with pytest.raises(FileNotFoundError, match="1.pgm"):
        orl.load_orl.__wrapped__(2.0)
