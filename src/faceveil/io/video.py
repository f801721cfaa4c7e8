"""Video reading and writing through the ffmpeg that ships in imageio-ffmpeg.

Frames are RGB uint8. The writer keeps resolution, frame rate and frame count, muxes the
source's audio track back in, and drops container metadata unless asked to keep it.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from faceveil.errors import InputError, OutputError

VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")
_AUDIO_CODEC = {
    ".mp4": "aac",
    ".m4v": "aac",
    ".mov": "aac",
    ".mkv": "copy",
    ".avi": "libmp3lame",
    ".webm": "libopus",
}


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: Fraction
    duration: float
    codec: str
    audio_codec: str | None

    @property
    def frames_estimate(self) -> int:
        return max(0, round(self.duration * float(self.fps)))


def _exact_fps(fps: float) -> Fraction:
    """29.97 -> 30000/1001 and friends; other rates as they come."""
    for base in (24, 30, 48, 60, 120):
        if abs(fps - base * 1000 / 1001) < 0.005:
            return Fraction(base * 1000, 1001)
    return Fraction(fps).limit_denominator(1001)


# ffmpeg's log lines, in the words faceveil reports (first match wins).
_READ_REASONS = (
    ("Permission denied", "cannot read video: permission denied"),
    ("No such file", "no such file"),
    ("Invalid data found", "not a video file"),
    ("Input #0", "not a video file (no video stream)"),
)
_WRITE_REASONS = (
    ("No space left on device", "no space left on device"),
    ("Disk quota exceeded", "no space left on device (disk quota exceeded)"),
    ("File too large", "file too large"),
    ("Permission denied", "permission denied"),
    ("Read-only file system", "read-only file system"),
)


def _read_failure(log: str, path: Path) -> str:
    """A plain reason for ffmpeg's failure to read `path`, from its log."""
    if "moov atom not found" in log:  # also said of any non-video named .mp4
        with contextlib.suppress(OSError), path.open("rb") as f:
            if f.read(8)[4:] == b"ftyp":  # an MP4/MOV that lost its index: cut short
                return "cannot read video: it is truncated or corrupt"
    return next((why for needle, why in _READ_REASONS if needle in log), "cannot read video")


def _write_failure(log: str) -> str:
    """A plain reason for ffmpeg's failure to write, from its log."""
    why = next((why for needle, why in _WRITE_REASONS if needle in log), None)
    return f"cannot write video ({why or 'the encoder stopped'})"


def probe_video(path: str | Path) -> VideoInfo:
    """Read a video's size, rate, duration and audio codec, or raise InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file")
    proc = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
        capture_output=True,
        text=True,
        errors="replace",
    )
    err = proc.stderr
    video = re.search(r"Stream #\S+.*?: Video: (\w+).*?, (\d{2,5})x(\d{2,5})", err)
    if not video:
        raise InputError(f"{path}: {_read_failure(err, path)}")
    fps = re.search(r"([\d.]+) fps", err) or re.search(r"([\d.]+) tbr", err)
    duration = re.search(r"Duration: (\d+):(\d+):([\d.]+)", err)
    audio = re.search(r"Stream #\S+.*?: Audio: (\w+)", err)
    secs = 0.0
    if duration:
        hh, mm, ss = duration.groups()
        secs = int(hh) * 3600 + int(mm) * 60 + float(ss)
    return VideoInfo(
        width=int(video.group(2)),
        height=int(video.group(3)),
        fps=_exact_fps(float(fps.group(1))) if fps else Fraction(25),
        duration=secs,
        codec=video.group(1),
        audio_codec=audio.group(1) if audio else None,
    )


def read_frames(path: str | Path) -> tuple[VideoInfo, Iterator[np.ndarray]]:
    """Probe a video and return its info plus an iterator of upright RGB frames."""
    path = Path(path)
    info = probe_video(path)
    gen = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    try:
        meta = next(gen)
    except (OSError, RuntimeError, StopIteration) as exc:
        raise InputError(f"{path}: {_read_failure(str(exc), path)}") from None
    width, height = meta["size"]  # after ffmpeg's auto-rotation
    info = VideoInfo(width, height, info.fps, info.duration, info.codec, info.audio_codec)

    def frames() -> Iterator[np.ndarray]:
        try:
            for raw in gen:
                yield np.frombuffer(raw, np.uint8).reshape(height, width, 3)
        except (OSError, RuntimeError):  # ffmpeg stopped mid-stream
            raise InputError(f"{path}: video is truncated or corrupt") from None
        finally:
            gen.close()

    return info, frames()


class VideoWriter:
    """Write RGB frames to `path`; the container comes from the extension.

    Audio is taken from `audio_source` when it has an audio track. Use as a context manager:
    on error ffmpeg is stopped and the caller removes the partial file. ffmpeg's own failures
    (a full disk, a write error) raise one-line OutputErrors, at :meth:`write` or at
    :meth:`close`.
    """

    def __init__(
        self,
        path: str | Path,
        info: VideoInfo,
        *,
        audio_source: str | Path | None,
        keep_metadata: bool = False,
        crf: int = 18,
    ):
        path = Path(path)
        ext = path.suffix.lower()
        if ext not in VIDEO_EXTENSIONS:
            raise InputError(
                f"cannot write video as {ext or 'no extension'}; "
                f"use one of {', '.join(VIDEO_EXTENSIONS)}"
            )
        even = info.width % 2 == 0 and info.height % 2 == 0
        if ext == ".webm":
            codec, params = (
                "libvpx-vp9",
                [
                    "-crf",
                    "32",
                    "-b:v",
                    "0",
                    "-deadline",
                    "realtime",
                    "-cpu-used",
                    "8",
                    "-row-mt",
                    "1",
                ],
            )
        else:
            codec, params = "libx264", ["-crf", str(crf), "-preset", "veryfast"]
        pix_fmt = "yuv420p" if even else "yuv444p"
        audio = audio_source if (audio_source is not None and info.audio_codec) else None
        audio_codec = None
        if audio is not None:
            same_container = Path(audio).suffix.lower() == ext
            audio_codec = "copy" if same_container else _AUDIO_CODEC[ext]
        # Metadata of the source (title, GPS, creation time) comes only from input #1.
        params += ["-map_metadata", "1" if (keep_metadata and audio is not None) else "-1"]
        if ext in (".mp4", ".mov", ".m4v"):
            params += ["-movflags", "+faststart"]
        # The command imageio-ffmpeg's write_frames builds, run here so that ffmpeg's log
        # (and its exit status) come back to us instead of going to the user's terminal.
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-f", "rawvideo", "-vcodec", "rawvideo"]
        cmd += ["-s", f"{info.width}x{info.height}", "-pix_fmt", "rgb24"]
        cmd += ["-r", str(Fraction(info.fps).limit_denominator())]
        cmd += ["-i", "-", *(["-i", str(audio)] if audio is not None else ["-an"])]
        cmd += ["-vcodec", codec, "-pix_fmt", pix_fmt, "-v", "error", *params]
        if audio is not None:
            cmd += ["-acodec", str(audio_codec), "-map", "0:v:0", "-map", "1:a:0"]
        self.path = path
        self._log = tempfile.TemporaryFile()  # noqa: SIM115  (closed by close/abort)
        try:
            # Own session: a Ctrl-C reaches Python, which stops ffmpeg and drops the file.
            self._proc = subprocess.Popen(
                [*cmd, str(path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=self._log,
                start_new_session=os.name == "posix",
            )
        except OSError as exc:
            self._log.close()
            raise OutputError(f"{path}: cannot start ffmpeg ({exc.strerror})") from None
        self.frames = 0

    def _failure(self) -> OutputError:
        """ffmpeg has stopped: its log, in one plain line."""
        self._proc.wait()
        self._log.seek(0)
        log = self._log.read().decode(errors="replace")
        return OutputError(f"{self.path}: {_write_failure(log)}")

    def write(self, frame: np.ndarray) -> None:
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(np.ascontiguousarray(frame).data.cast("B"))
        except OSError:  # a broken pipe: ffmpeg stopped
            raise self._failure() from None
        self.frames += 1

    def close(self) -> None:
        """Finish the file; raises OutputError when ffmpeg could not."""
        try:
            with contextlib.suppress(OSError):  # ffmpeg may have stopped already
                self._proc.stdin.close()  # type: ignore[union-attr]
            if self._proc.wait() != 0:
                raise self._failure()
        finally:
            self._log.close()

    def abort(self) -> None:
        """Stop ffmpeg at once; the partial file is the caller's to remove."""
        self._proc.kill()
        with contextlib.suppress(OSError):
            self._proc.stdin.close()  # type: ignore[union-attr]
        self._proc.wait()
        self._log.close()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, *rest) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
