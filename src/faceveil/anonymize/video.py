"""Anonymise a video frame by frame, with tracking so short detector misses stay covered."""

from __future__ import annotations

import collections
import dataclasses
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
from tqdm import tqdm

from faceveil.anonymize.apply import apply_to_faces
from faceveil.anonymize.consent import Consent
from faceveil.anonymize.options import AnonymizeOptions
from faceveil.anonymize.report import FileReport
from faceveil.anonymize.state import Cancelled, RunState
from faceveil.detect import FirstLook, faces_found, first_look, second_look
from faceveil.errors import InputError
from faceveil.faces import Face
from faceveil.io.atomic import atomic_output
from faceveil.io.boxes import BoxEntry
from faceveil.io.pipeline import BackgroundSink, prefetch
from faceveil.io.video import VideoWriter, read_frames

# A new track is also covered this many frames back, for faces the detector finds late.
LOOKBACK_FRAMES = 4
# The second detector (recall "balanced") looks at every this-many frames; a face it alone
# finds is tracked between, and covered back to the frame after its last look.
SECOND_LOOK_EVERY = LOOKBACK_FRAMES + 1

Look = FirstLook | list[Face]  # YuNet's look at a frame, or a custom detector's faces


class FrameFaces:
    """The faces of a video's frames as they come: detected and tracked, a new track also
    covered in the frames still waiting (look-back); or given boxes, used exactly. One per
    video: nothing carries over to the next.

    YuNet looks at every frame on the caller's thread; CenterFace's second look (recall
    "balanced", every SECOND_LOOK_EVERY frames) runs on a thread of its own, and the tracker
    takes each frame once both looks are in, in order. `detector(frame, options)`, where
    given, replaces both (tests use it to make the detector miss frames). Call :meth:`close`.
    """

    MAX_LAG = 3  # frames YuNet may run ahead of the tracker while CenterFace looks

    def __init__(self, fps: float, options: AnonymizeOptions, detector=None, given=None):
        from faceveil.track import FaceTracker  # norfair takes 0.7 s to import; only video

        self.options = options
        self.between = dataclasses.replace(options, recall="fast")  # frames between looks
        self.detector = detector
        self.given: BoxEntry | None = given
        self.tracker = FaceTracker(max_gap=max(3, round(fps / 2)))
        # index, frame; its faces (a custom detector's) or YuNet's look; CenterFace's, if any
        self.looking: collections.deque[tuple[int, np.ndarray | None, Look, Future | None]] = (
            collections.deque()
        )
        self.pending: collections.deque[tuple[int, np.ndarray | None, list[Face]]] = (
            collections.deque()
        )
        self.first_box: dict[int | None, Face] = {}  # the tracker numbers every face
        self.count = 0  # frames added
        self._second = ThreadPoolExecutor(1, thread_name_prefix="faceveil-second-look")

    def _look(self, frame: np.ndarray) -> tuple[Look, Future | None]:
        """This frame's detections, or YuNet's look and CenterFace's, still running."""
        options = self.options if self.count % SECOND_LOOK_EVERY == 0 else self.between
        if self.detector is not None:
            return self.detector(frame, options), None
        # One ONNX Runtime thread a call: this run's own threads keep the cores busy.
        look = first_look(frame, **options.detect_kwargs("video"), threads=1)
        if not look.wants_second_look:
            return look, None
        return look, self._second.submit(second_look, look)

    def add(self, frame: np.ndarray, keep_frame: bool = True) -> None:
        kept = frame if keep_frame else None
        if self.given is not None:
            faces = self.given.for_frame(self.count)
            for face in faces:
                self.first_box.setdefault(face.track_id, face)
            self.pending.append((self.count, kept, faces))
        else:
            self.looking.append((self.count, kept, *self._look(frame)))
            self._track(len(self.looking) > self.MAX_LAG)
        self.count += 1

    def _track(self, wait: bool) -> None:
        """Frames whose looks are in, through the tracker; at least one if `wait`."""
        while self.looking:
            index, frame, first, second = self.looking[0]
            if not wait and second is not None and not second.done():
                return
            self.looking.popleft()
            wait = False
            if isinstance(first, FirstLook):
                first = faces_found(first, None if second is None else second.result())
            faces = self.tracker.update(first)
            for face in faces:
                if face.track_id not in self.first_box:
                    self.first_box[face.track_id] = face
                    for _, _, earlier in self.pending:
                        earlier.append(dataclasses.replace(face, predicted=True))
            self.pending.append((index, frame, faces))

    def ready(self, keep: int) -> Iterator[tuple[int, np.ndarray | None, list[Face]]]:
        """The waiting frames but the last `keep`, oldest first: their faces are final."""
        if keep == 0:
            while self.looking:
                self._track(wait=True)
        lookback = 0 if self.given is not None else keep
        while len(self.pending) > lookback:
            yield self.pending.popleft()

    def close(self) -> None:
        self._second.shutdown(cancel_futures=True)


class _VideoRun:
    """The state of one video's run: its faces, the per-track replacements and the report.
    Made anew for every video."""

    def __init__(
        self, src, dst, info, options: AnonymizeOptions, detector, should_stop, given=None
    ) -> None:
        self.options = options
        self.frames: list[dict] = []  # the report's per-frame boxes
        self.report = FileReport(
            str(src),
            str(dst),
            kind="video",
            method=options.method,
            fps=float(info.fps),
            frames=self.frames,
        )
        self.faces = FrameFaces(float(info.fps), options, detector, given)
        self.state = RunState(should_stop=should_stop)  # also polled between a frame's faces
        self.fallbacks: list[str] = []
        self.consent = Consent.from_options(options)
        self.kept: dict[int | None, dict] = {}  # per track: the best match it was kept at

    @property
    def count(self) -> int:
        return self.faces.count

    def add(self, frame) -> None:
        self.faces.add(frame)

    def anonymized(self, item: tuple[np.ndarray, list[Face]]) -> np.ndarray:
        """The frame with its faces covered: on the sink's thread, while the next frames are
        detected, one frame at a time and in order (a track's replacement follows it)."""
        frame, faces = item
        if not faces:
            return frame
        try:
            return apply_to_faces(frame, faces, self.options, self.fallbacks, run=self.state)
        except Cancelled:
            raise Cancelled(f"{self.report.input}: stopped after {self.count} frame(s)") from None

    def flush(self, sink: BackgroundSink, keep: int) -> None:
        """Send the waiting frames but the last `keep`, with their faces, to be written."""
        for index, frame, faces in self.faces.ready(keep):
            assert frame is not None  # kept for anonymising
            if self.consent is not None and faces:
                faces = self._consented(frame, faces, index)
            sink.put((frame, faces))
            if not faces:
                continue
            boxes = [
                {"box": f.to_dict()["box"], "track_id": f.track_id, "predicted": f.predicted}
                for f in faces
            ]
            self.frames.append({"index": index, "faces": boxes})

    def _consented(self, frame: np.ndarray, faces: list[Face], index: int) -> list[Face]:
        assert self.consent is not None
        covered, kept = self.consent.split(frame, faces, index)
        tracks = {id(f) for f in covered}
        for face, report in zip([f for f in faces if id(f) not in tracks], kept, strict=True):
            best = self.kept.get(face.track_id)
            if best is None or report["similarity"] > best["similarity"]:
                self.kept[face.track_id] = {**report, "track_id": face.track_id, "frame": index}
        return covered

    def finish(self, seconds: float) -> FileReport:
        self.report.frame_count = self.count
        if self.fallbacks:
            self.report.warnings.append(
                f"{len(self.fallbacks)} face-frame(s) fell back to blur; first: {self.fallbacks[0]}"
            )
        self.report.faces = list(self.faces.first_box.values())
        self.report.kept = list(self.kept.values())
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
    detector: Callable[[np.ndarray, AnonymizeOptions], list[Face]] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    given: BoxEntry | None = None,
) -> FileReport:
    """Anonymise `src` into `dst` (atomically), keeping fps, frame count, size and audio.

    `detector(frame, options) -> list[Face]` can be replaced, e.g. to simulate missed frames.
    `on_progress(done, total)` is called after each frame (`total`: the container's frame
    count estimate, 0 when unknown; the last call has ``done == total`` = frames written).
    `should_stop()` is polled before each frame; when it returns True the run raises
    :class:`Cancelled` and `dst` is left as it was (the output is written atomically).
    `given`: the video's boxes from a box file, used in place of detection and tracking.
    """
    start = time.perf_counter()
    info, frames = read_frames(src)
    run = _VideoRun(src, dst, info, options, detector, should_stop, given)
    total = info.frames_estimate or 0
    with (
        atomic_output(dst) as tmp,
        VideoWriter(
            tmp,
            info,
            source=src,
            keep_audio=options.keep_audio,
            keep_subtitles=options.keep_subtitles,
            keep_metadata=options.keep_metadata,
        ) as writer,
    ):
        sink: BackgroundSink[tuple[np.ndarray, list[Face]]] = BackgroundSink(
            lambda item: writer.write(run.anonymized(item))
        )
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
        except BaseException:
            sink.close(quiet=True)  # this error, not one the sink met on the way out
            raise
        else:
            sink.close()  # the writer must not close while the sink still writes
        finally:
            run.faces.close()
            bar.close()
            source.close()  # stops the decoding thread at once on an early exit
        _check_complete(src, run.count, info.frames_estimate)
    if on_progress is not None:
        on_progress(run.count, run.count)
    return run.finish(time.perf_counter() - start)
