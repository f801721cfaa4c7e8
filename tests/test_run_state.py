"""Per-run state: a video's tracks keep their replacement within the run, and nothing carries
over to the next video (bug: module globals keyed by (id(opts), track_id) made track 1 of a
second video reuse the first person's face, never identity-checked)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import make_clip
from faceveil.anonymize import AnonymizeOptions, anonymize_paths, ksame, synth
from faceveil.anonymize.state import REDRAW_EVERY, RunState, Tracked


def test_run_state_reuses_and_redraws_a_track():
    run = RunState()
    assert run.reuse("synth", 1) is None
    run.remember("synth", 1, Tracked(np.zeros(2), np.zeros(2)))
    draws = []

    def redraw(t):
        draws.append(t.z_face.copy())
        return np.full(2, len(draws))

    for _ in range(REDRAW_EVERY * 2):
        known = run.reuse("synth", 1, z_now=lambda: np.ones(2), redraw=redraw)
    assert len(draws) == 2  # every REDRAW_EVERY frames
    assert draws[0] == pytest.approx([0.5, 0.5])  # smoothed toward the face's latent
    assert known.face_rgb.tolist() == [2, 2]
    assert run.reuse("ksame", 1) is None  # per method
    assert RunState().reuse("synth", 1) is None  # per run


def test_untracked_faces_are_not_remembered():
    run = RunState()
    run.remember("synth", None, Tracked(np.zeros(2)))
    assert not run.tracks


@pytest.mark.slow
@pytest.mark.parametrize("module", [synth, ksame])
def test_second_video_is_identity_checked_again(tmp_path, monkeypatch, module):
    """One options object, two videos: the first track of each gets its own identity check."""
    checks = []
    real = module.IdentityCheck

    class CountingCheck(real):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kwargs):
            checks.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(module, "IdentityCheck", CountingCheck)
    a = make_clip(tmp_path / "a.mp4", n=6, audio=False, location=None)
    b = make_clip(tmp_path / "b.mp4", n=6, audio=False, location=None)
    options = AnonymizeOptions(method=module.__name__.rsplit(".", 1)[1], k=3)
    batch = anonymize_paths([a, b], tmp_path / "out", options=options, progress=False)
    assert not batch.failed
    tracks = [len({f.track_id for f in rep.faces}) for rep in batch.files]
    assert tracks == [1, 1]
    assert len(checks) == 2  # the old code checked once, on the first video only
