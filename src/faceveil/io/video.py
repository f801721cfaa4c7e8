"""Video reading and writing through the ffmpeg that ships in imageio-ffmpeg.

Frames are RGB uint8. The writer keeps resolution, frame rate and frame count, muxes the
source's audio track back in, and drops container metadata unless asked to keep it.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from faceveil.errors import InputError

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
        last = err.strip().splitlines()[-1] if err.strip() else "unknown format"
        raise InputError(f"{path}: not a readable video ({last})")
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
        raise InputError(f"{path}: cannot decode video ({str(exc).splitlines()[0]})") from None
    width, height = meta["size"]  # after ffmpeg's auto-rotation
    info = VideoInfo(width, height, info.fps, info.duration, info.codec, info.audio_codec)

    def frames() -> Iterator[np.ndarray]:
        try:
            for raw in gen:
                yield np.frombuffer(raw, np.uint8).reshape(height, width, 3)
        except (OSError, RuntimeError) as exc:
            raise InputError(
                f"{path}: video is truncated or corrupt ({str(exc).splitlines()[0]})"
            ) from None
        finally:
            gen.close()

    return info, frames()


class VideoWriter:
    """Write RGB frames to `path`; the container comes from the extension.

    Audio is taken from `audio_source` when it has an audio track. Use as a context manager;
    on error the ffmpeg process is stopped and the caller removes the partial file.
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
            same_container = Path(audio_source).suffix.lower() == ext
            audio_codec = "copy" if same_container else _AUDIO_CODEC[ext]
        # Metadata of the source (title, GPS, creation time) comes only from input #1.
        params += ["-map_metadata", "1" if (keep_metadata and audio is not None) else "-1"]
        if ext in (".mp4", ".mov", ".m4v"):
            params += ["-movflags", "+faststart"]
        self._gen = imageio_ffmpeg.write_frames(
            str(path),
            (info.width, info.height),
            fps=info.fps,
            codec=codec,
            quality=None,
            pix_fmt_out=pix_fmt,
            macro_block_size=1,
            output_params=params,
            audio_path=str(audio) if audio is not None else None,
            audio_codec=audio_codec,
            ffmpeg_log_level="error",
        )
        self._gen.send(None)
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        self._gen.send(np.ascontiguousarray(frame))
        self.frames += 1

    def close(self) -> None:
        self._gen.close()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
