"""Anonymise a video frame by frame, with tracking so short detector misses stay covered."""

from __future__ import annotations

import collections
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from faceveil.anonymize.apply import apply_to_faces
from faceveil.anonymize.options import AnonymizeOptions
from faceveil.anonymize.report import FileReport
from faceveil.anonymize.state import Cancelled, RunState
from faceveil.detect import detect
from faceveil.errors import InputError
from faceveil.faces import Face
from faceveil.io.atomic import atomic_output
from faceveil.io.pipeline import BackgroundSink, prefetch
from faceveil.io.video import VideoWriter, read_frames

# A new track is also covered this many frames back, for faces the detector finds late.
LOOKBACK_FRAMES = 4


def _detect_frame(frame, options: AnonymizeOptions) -> list[Face]:
    return detect(frame, **options.detect_kwargs("video"))


class _VideoRun:
    """The state of one video's run: the tracker, the frames waiting for look-back, the first
    box of each track, the per-track replacements and the report. Made anew for every video."""

    def __init__(self, src, dst, info, options: AnonymizeOptions, detector, should_stop) -> None:
        from faceveil.track import FaceTracker  # norfair takes 0.7 s to import; only video

        self.options, self.detector = options, detector
        self.frames: list[dict] = []  # the report's per-frame boxes
        self.report = FileReport(
            str(src),
            str(dst),
            kind="video",
            method=options.method,
            fps=float(info.fps),
            frames=self.frames,
        )
        self.tracker = FaceTracker(max_gap=max(3, round(float(info.fps) / 2)))
        self.state = RunState(should_stop=should_stop)  # also polled between a frame's faces
        self.pending: collections.deque[tuple[int, np.ndarray, list[Face]]] = collections.deque()
        self.first_box: dict[int | None, Face] = {}  # the tracker numbers every face
        self.fallbacks: list[str] = []
        self.count = 0

    def add(self, frame) -> None:
        """Detect and track on one frame; a new track is also covered in the waiting frames."""
        faces = self.tracker.update(self.detector(frame, self.options))
        for face in faces:
            if face.track_id not in self.first_box:
                self.first_box[face.track_id] = face
                for _, _, earlier in self.pending:
                    earlier.append(dataclasses.replace(face, predicted=True))
        self.pending.append((self.count, frame, faces))
        self.count += 1

    def flush(self, sink: BackgroundSink, keep: int) -> None:
        """Anonymise and write the waiting frames but the last `keep`."""
        while len(self.pending) > keep:
            index, frame, faces = self.pending.popleft()
            if not faces:
                sink.put(frame)
                continue
            sink.put(apply_to_faces(frame, faces, self.options, self.fallbacks, run=self.state))
            boxes = [
                {"box": f.to_dict()["box"], "track_id": f.track_id, "predicted": f.predicted}
                for f in faces
            ]
            self.frames.append({"index": index, "faces": boxes})

    def finish(self, seconds: float) -> FileReport:
        self.report.frame_count = self.count
        if self.fallbacks:
            self.report.warnings.append(
                f"{len(self.fallbacks)} face-frame(s) fell back to blur; first: {self.fallbacks[0]}"
            )
        self.report.faces = list(self.first_box.values())
        self.report.seconds = seconds
        return self.report


def _check_complete(src, count: int, expected: int | None) -> None:
    if count == 0:
        raise InputError(f"{src}: video has no frames")
    if expected and count < expected * 0.9 and expected - count >= 3:
        raise InputError(f"{src}: video is truncated (decoded {count} of about {expected} frames)")


def anonymize_video(
    src: str | Path,
    dst: str | Path,
    options: AnonymizeOptions,
    *,
    progress: bool = True,
    detector=_detect_frame,
    on_progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> FileReport:
    """Anonymise `src` into `dst` (atomically), keeping fps, frame count, size and audio.

    `detector(frame, options) -> list[Face]` can be replaced, e.g. to simulate missed frames.
    `on_progress(done, total)` is called after each frame (`total`: the container's frame
    count estimate, 0 when unknown; the last call has ``done == total`` = frames written).
    `should_stop()` is polled before each frame; when it returns True the run raises
    :class:`Cancelled` and `dst` is left as it was (the output is written atomically).
    """
    start = time.perf_counter()
    info, frames = read_frames(src)
    run = _VideoRun(src, dst, info, options, detector, should_stop)
    total = info.frames_estimate or 0
    with (
        atomic_output(dst) as tmp,
        VideoWriter(
            tmp,
            info,
            audio_source=src if options.keep_audio else None,
            keep_metadata=options.keep_metadata,
        ) as writer,
    ):
        sink = BackgroundSink(writer.write)
        source = prefetch(frames)
        bar = tqdm(
            source,
            total=total or None,
            unit="frame",
            disable=not progress,
            desc=Path(src).name,
            leave=False,
        )
        try:
            for frame in bar:
                if should_stop is not None and should_stop():
                    raise Cancelled(f"{src}: stopped after {run.count} frame(s)")
                run.add(frame)
                run.flush(sink, LOOKBACK_FRAMES)
                if on_progress is not None:
                    on_progress(run.count, max(total, run.count))
            run.flush(sink, 0)
        finally:
            sink.close()  # the writer must not close while the sink still writes
            bar.close()
            source.close()  # stops the decoding thread at once on an early exit
        _check_complete(src, run.count, info.frames_estimate)
    if on_progress is not None:
        on_progress(run.count, run.count)
    return run.finish(time.perf_counter() - start)
