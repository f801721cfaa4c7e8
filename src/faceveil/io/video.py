"""Video reading and writing through the ffmpeg that ships in imageio-ffmpeg.

Frames are RGB uint8 and upright (a phone video's rotation is applied on reading, so the output
shows the same way without it). The writer keeps resolution, frame rate and frame count, muxes
the source's audio track back in (copied where the container takes it), and drops subtitles and
container metadata unless asked to keep them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
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
from faceveil.io.frame_times import FrameTimes, read_frame_times, restore_frame_times

log = logging.getLogger(__name__)

# imageio-ffmpeg warns that a rotated phone video's frames are not its stored size: intended.
logging.getLogger("imageio_ffmpeg").setLevel(logging.ERROR)

VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")
_AUDIO_CODEC = {  # what audio is re-encoded to when it cannot be copied
    ".mp4": "aac",
    ".m4v": "aac",
    ".mov": "aac",
    ".mkv": "copy",
    ".avi": "libmp3lame",
    ".webm": "libopus",
}
# Source audio codecs each container takes as they are: copied, never re-encoded.
_AUDIO_COPIES = {
    ".mp4": {"aac", "mp3", "opus", "alac", "ac3", "eac3", "flac"},
    ".m4v": {"aac", "mp3", "alac", "ac3"},
    ".mov": {"aac", "mp3", "alac", "ac3", "pcm_s16le", "pcm_s24le"},
    ".avi": {"mp3", "ac3", "pcm_s16le"},
    ".webm": {"opus", "vorbis"},
}
# Text subtitles, converted to what each container carries (avi carries none).
_SUBTITLE_CODEC = {".mp4": "mov_text", ".m4v": "mov_text", ".mov": "mov_text", ".mkv": "srt",
                   ".webm": "webvtt"}  # fmt: skip


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: Fraction
    duration: float
    codec: str
    audio_codec: str | None
    frame_times: FrameTimes | None = None  # a variable rate's own times (read_frames only)

    @property
    def frames_estimate(self) -> int:
        if self.frame_times is not None:
            return len(self.frame_times)
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
    frame_times = read_frame_times(path)
    # Every decoded frame once, never repeated to fill a constant rate, where times vary.
    passthrough = ["-fps_mode", "passthrough"] if frame_times is not None else []
    gen = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24", output_params=passthrough)
    try:
        meta = next(gen)
    except (OSError, RuntimeError, StopIteration) as exc:
        raise InputError(f"{path}: {_read_failure(str(exc), path)}") from None
    width, height = meta["size"]  # after ffmpeg's auto-rotation
    # frame times here, not in probe_video: only a decode needs them, and they cost a demux
    info = dataclasses.replace(info, width=width, height=height, frame_times=frame_times)

    def frames() -> Iterator[np.ndarray]:
        try:
            for raw in gen:
                yield np.frombuffer(raw, np.uint8).reshape(height, width, 3)
        except (OSError, RuntimeError):  # ffmpeg stopped mid-stream
            raise InputError(f"{path}: video is truncated or corrupt") from None
        finally:
            gen.close()

    return info, frames()


def _audio_codec(source_codec: str | None, source: Path, ext: str) -> str:
    """Copy the audio where the output container takes it as it is; else re-encode."""
    if source.suffix.lower() == ext or source_codec in _AUDIO_COPIES.get(ext, set()):
        return "copy"
    return _AUDIO_CODEC[ext]


class VideoWriter:
    """Write RGB frames to `path`; the container comes from the extension.

    The original `source` gives its audio track (`keep_audio`, copied where the container
    takes it), its text subtitles (`keep_subtitles`) and its metadata (`keep_metadata`). Use as
    a context manager: on error ffmpeg is stopped and the caller removes the partial file.
    ffmpeg's own failures (a full disk, a write error) raise one-line OutputErrors, at
    :meth:`write` or at :meth:`close`.
    """

    def __init__(
        self,
        path: str | Path,
        info: VideoInfo,
        *,
        source: str | Path | None = None,
        keep_audio: bool = True,
        keep_subtitles: bool = False,
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
            if info.frame_times is not None:  # frames in display order: times map one to one
                params += ["-bf", "0"]
        pix_fmt = "yuv420p" if even else "yuv444p"
        audio = keep_audio and source is not None and info.audio_codec is not None
        subtitles = keep_subtitles and source is not None and ext in _SUBTITLE_CODEC
        if not (audio or subtitles or keep_metadata):
            source = None  # input #1, the original, only when something of it is kept
        # Metadata of the source (title, GPS, creation time) comes only from input #1.
        params += ["-map_metadata", "1" if (keep_metadata and source is not None) else "-1"]
        if ext in (".mp4", ".mov", ".m4v"):
            params += ["-movflags", "+faststart"]
        # The command imageio-ffmpeg's write_frames builds, run here so that ffmpeg's log
        # (and its exit status) come back to us instead of going to the user's terminal.
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-f", "rawvideo", "-vcodec", "rawvideo"]
        cmd += ["-s", f"{info.width}x{info.height}", "-pix_fmt", "rgb24"]
        cmd += ["-r", str(Fraction(info.fps).limit_denominator())]
        cmd += ["-i", "-", *(["-i", str(source)] if source is not None else [])]
        cmd += ["-vcodec", codec, "-pix_fmt", pix_fmt, "-v", "error", *params, "-map", "0:v:0"]
        if audio:
            assert source is not None
            cmd += ["-map", "1:a:0", "-acodec", _audio_codec(info.audio_codec, Path(source), ext)]
        if subtitles:
            assert source is not None
            same = Path(source).suffix.lower() == ext
            cmd += ["-map", "1:s?", "-scodec", "copy" if same else _SUBTITLE_CODEC[ext]]
        self.path = path
        self.frame_times = info.frame_times
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
        if self.frame_times is not None and not restore_frame_times(self.path, self.frame_times):
            log.warning("%s: frame times not kept (frames and times differ in number)", self.path)

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
