"""Variable frame rate: a video's own frame times, read from its packets and put back after
encoding.

Frames travel to and from ffmpeg as raw pixels, which carry no times, and the encoder is given
one frame rate. That is exact for most videos, but a phone's variable-rate video would drift
against its sound. So every video's frame times are read first (packets only, nothing is
decoded). Where they vary, the output is encoded at its nominal rate without B-frames, and
PyAV then rewrites the video packets' times to the source's, copying every other stream as
it is.
"""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from faceveil.errors import OutputError

# Frame durations within this share of the median (or one tick) count as one constant rate.
RATE_TOLERANCE = 0.01


@dataclass(frozen=True)
class FrameTimes:
    """Presentation times of a video's frames: integer `ticks` of `time_base` seconds,
    from 0, in display order."""

    time_base: Fraction
    ticks: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.ticks)


def read_frame_times(path: str | Path) -> FrameTimes | None:
    """The first video stream's frame times, or None where its frames are evenly spaced
    (or cannot be read: decoding reports that). Reads packets only, nothing is decoded."""
    import av  # PyAV is only needed here

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            base = stream.time_base
            pts = sorted(p.pts for p in container.demux(stream) if p.pts is not None)
    except (av.FFmpegError, IndexError, OSError):
        return None
    if len(pts) < 3 or base is None:
        return None
    steps = [b - a for a, b in zip(pts, pts[1:], strict=False)]
    typical = statistics.median(steps)
    if all(abs(s - typical) <= max(1, RATE_TOLERANCE * typical) for s in steps):
        return None
    return FrameTimes(Fraction(base), tuple(p - pts[0] for p in pts))


def restore_frame_times(path: Path, times: FrameTimes) -> bool:
    """Give the video packets of `path` (encoded at one rate, no B-frames) `times`, in place.

    False, and `path` unchanged, when the packet count does not match (the decoder dropped a
    frame, so times cannot be paired with frames); OutputError when it cannot be rewritten.
    """
    import av  # PyAV is only needed here

    try:
        return _restore(av, path, times)
    except (av.FFmpegError, OSError) as exc:
        raise OutputError(f"{path}: cannot write video ({exc})") from None


def _restore(av, path: Path, times: FrameTimes) -> bool:

    tmp = path.with_name(f".{path.stem}.times{path.suffix}")
    options = {"movflags": "+faststart"} if path.suffix.lower() in (".mp4", ".mov", ".m4v") else {}
    try:
        with av.open(str(path)) as src:
            video = src.streams.video[0].index
            count = sum(1 for p in src.demux(video=0) if p.dts is not None)
        if count != len(times):
            return False
        with av.open(str(path)) as src, av.open(str(tmp), "w", options=options) as dst:
            dst.metadata.update(src.metadata)
            out = {s.index: dst.add_stream_from_template(s) for s in src.streams}
            for stream, copy in zip(src.streams, out.values(), strict=True):
                copy.metadata.update(stream.metadata)
            out[video].time_base = times.time_base  # the source's ticks, kept exactly
            steps = [b - a for a, b in zip(times.ticks, times.ticks[1:], strict=False)]
            steps.append(int(statistics.median(steps)))  # the last frame's duration
            frame = 0
            for packet in src.demux():
                if packet.dts is None:  # the demuxer's end-of-stream marker
                    continue
                if packet.stream.index == video:
                    packet.pts = packet.dts = times.ticks[frame]
                    packet.duration = steps[frame]
                    packet.time_base = times.time_base
                    frame += 1
                packet.stream = out[packet.stream.index]
                dst.mux(packet)
        os.replace(tmp, path)
        return True
    finally:
        tmp.unlink(missing_ok=True)
