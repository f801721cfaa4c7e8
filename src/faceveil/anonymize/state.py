"""Per-run state: what one run (one image, or one video) remembers between frames.

A video's tracks keep their replacement face from frame to frame. The memory belongs to the
run, never to a module: a second video starts with none, so its track 1 is a new person whose
replacement goes through the identity check again.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

REDRAW_EVERY = 3  # frames between redraws of a tracked face, to follow pose and expression
TRACK_SMOOTHING = 0.5  # weight of the previous latent at a redraw, against flicker
MAX_TRACKS = 1024  # the oldest tracks are forgotten beyond this


@dataclass
class Tracked:
    """A track's replacement: the face pasted on every frame, the latent it follows, and
    whatever else the method needs to redraw it (``extra``)."""

    face_rgb: np.ndarray
    z_face: np.ndarray | None = None
    extra: Any = None
    frames: int = 1  # frames since the last draw
    composited: Any = None  # the face as last composited (replace.Composited), moved in between


class Cancelled(Exception):
    """Raised when `should_stop()` asked a run to stop; no output is left.

    Not a FaceveilError: :func:`~faceveil.anonymize.run` lets it through instead of reporting
    the file as failed and going on with the next one.
    """


@dataclass
class RunState:
    """Memory of one run, keyed by (method, track id), and how to ask whether to stop."""

    tracks: OrderedDict[tuple[str, int], Tracked] = field(default_factory=OrderedDict)
    should_stop: Callable[[], bool] | None = None

    def check(self, where: str) -> None:
        """Raise :class:`Cancelled` if the run was asked to stop."""
        if self.should_stop is not None and self.should_stop():
            raise Cancelled(f"stopped {where}")

    def remember(self, method: str, track_id: int | None, tracked: Tracked) -> None:
        if track_id is None:
            return
        self.tracks[(method, track_id)] = tracked
        self.tracks.move_to_end((method, track_id))
        while len(self.tracks) > MAX_TRACKS:
            self.tracks.popitem(last=False)

    def reuse(
        self,
        method: str,
        track_id: int | None,
        *,
        z_now: Callable[[], np.ndarray] | None = None,
        redraw: Callable[[Tracked], np.ndarray] | None = None,
        redraw_every: int = REDRAW_EVERY,
    ) -> Tracked | None:
        """The track's replacement, or None for a face not seen before in this run.

        Every `redraw_every` frames, when `z_now` and `redraw` are given, the latent moves
        toward the face's current one (smoothed) and the face is redrawn from it.
        """
        if track_id is None or (method, track_id) not in self.tracks:
            return None
        known = self.tracks[(method, track_id)]
        self.tracks.move_to_end((method, track_id))
        if (
            redraw is not None
            and z_now is not None
            and known.z_face is not None  # nothing to follow: the face stays as drawn
            and known.frames >= redraw_every
        ):
            known.z_face = TRACK_SMOOTHING * known.z_face + (1 - TRACK_SMOOTHING) * z_now()
            known.face_rgb = redraw(known)
            known.frames = 0
        known.frames += 1
        return known
