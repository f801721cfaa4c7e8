"""Anonymise a video frame by frame, with tracking so short detector misses stay covered."""

from __future__ import annotations

import collections
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

from tqdm import tqdm

from faceveil.anonymize.apply import apply_to_faces
from faceveil.anonymize.options import AnonymizeOptions
from faceveil.anonymize.report import FileReport
from faceveil.detect import detect
from faceveil.errors import InputError
from faceveil.faces import Face
from faceveil.io.atomic import atomic_output
from faceveil.io.pipeline import BackgroundSink, prefetch
from faceveil.io.video import VideoWriter, read_frames

# A new track is also covered this many frames back, for faces the detector finds late.
LOOKBACK_FRAMES = 4


class Cancelled(Exception):
    """Raised when `should_stop()` asked an anonymisation to stop; no output is left.

    Not a FaceveilError: :func:`~faceveil.anonymize.anonymize_paths` lets it through instead of
    reporting the file as failed and going on with the next one.
    """


def _detect_frame(frame, options: AnonymizeOptions) -> list[Face]:
    return detect(frame, **options.detect_kwargs("video"))


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
    from faceveil.track import FaceTracker  # norfair takes 0.7 s to import; only video needs it

    start = time.perf_counter()
    info, frames = read_frames(src)
    report = FileReport(
        str(src), str(dst), kind="video", method=options.method, fps=float(info.fps), frames=[]
    )
    tracker = FaceTracker(max_gap=max(3, round(float(info.fps) / 2)))
    pending: collections.deque[tuple[int, object, list[Face]]] = collections.deque()
    first_box: dict[int, Face] = {}
    fallbacks: list[str] = []
    count = 0

    def flush(sink: BackgroundSink, keep: int) -> None:
        while len(pending) > keep:
            index, frame, faces = pending.popleft()
            sink.put(apply_to_faces(frame, faces, options, fallbacks) if faces else frame)
            if faces:
                report.frames.append(
                    {
                        "index": index,
                        "faces": [
                            {
                                "box": f.to_dict()["box"],
                                "track_id": f.track_id,
                                "predicted": f.predicted,
                            }
                            for f in faces
                        ],
                    }
                )

    with (
        atomic_output(dst) as tmp,
        VideoWriter(tmp, info, audio_source=src, keep_metadata=options.keep_metadata) as writer,
    ):
        sink = BackgroundSink(writer.write)
        source = prefetch(frames)
        total = info.frames_estimate or 0
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
                    raise Cancelled(f"{src}: stopped after {count} frame(s)")
                faces = tracker.update(detector(frame, options))
                for face in faces:
                    if face.track_id not in first_box:
                        first_box[face.track_id] = face
                        # Cover the new face in the frames still waiting to be written.
                        for _, _, earlier in pending:
                            earlier.append(dataclasses.replace(face, predicted=True))
                pending.append((count, frame, faces))
                count += 1
                flush(sink, LOOKBACK_FRAMES)
                if on_progress is not None:
                    on_progress(count, max(total, count))
            flush(sink, 0)
        finally:
            sink.close()  # the writer must not close while the sink still writes
            bar.close()
            source.close()  # stops the decoding thread at once on an early exit
        if count == 0:
            raise InputError(f"{src}: video has no frames")
        expected = info.frames_estimate
        if expected and count < expected * 0.9 and expected - count >= 3:
            raise InputError(
                f"{src}: video is truncated (decoded {count} of about {expected} frames)"
            )
    report.frame_count = count
    if on_progress is not None:
        on_progress(count, count)
    if fallbacks:
        report.warnings.append(
            f"{len(fallbacks)} face-frame(s) fell back to blur; first: {fallbacks[0]}"
        )
    report.faces = list(first_box.values())
    report.seconds = time.perf_counter() - start
    return report
