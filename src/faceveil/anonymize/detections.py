"""Every face of images, folders and videos as data (the box file of
:mod:`faceveil.io.boxes`), found exactly as anonymisation finds them: the same detection
options, and for video the same tracking and look-back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from faceveil.anonymize.options import AnonymizeOptions
from faceveil.anonymize.video import LOOKBACK_FRAMES, FrameFaces
from faceveil.detect import detect
from faceveil.errors import FaceveilError, InputError, failure_line
from faceveil.faces import Face
from faceveil.io.boxes import image_entry, video_entry
from faceveil.io.images import IMAGE_EXTENSIONS, load_image
from faceveil.io.video import VIDEO_EXTENSIONS, read_frames
from faceveil.io.walk import media_files


@dataclass
class Detections:
    """What :func:`find_faces` found: one box-file entry per input file, and the failures."""

    files: list[dict] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)  # {"input", "error"}

    def to_dict(self) -> dict:
        """The box file: the one-image form for a single image, else the files form."""
        if len(self.files) == 1 and not self.failed and self.files[0]["kind"] == "image":
            return {"faces": self.files[0]["faces"]}
        data: dict = {"files": self.files}
        if self.failed:
            data["failed"] = self.failed
        return data


def video_faces(src: str | Path, options: AnonymizeOptions) -> dict:
    """The box-file entry of one video: every frame's faces and tracks."""
    info, frames = read_frames(src)
    faces = FrameFaces(float(info.fps), options)
    found: list[list[Face]] = []
    try:
        for frame in frames:
            faces.add(frame, keep_frame=False)
            found += [f for _, _, f in faces.ready(LOOKBACK_FRAMES)]
        found += [f for _, _, f in faces.ready(0)]
    finally:
        faces.close()
        frames.close()  # type: ignore[attr-defined]  # a generator: stops the decoder
    if not found:
        raise InputError(f"{src}: video has no frames")
    return video_entry(src, float(info.fps), found)


def _files(inputs: Sequence[Path], failed: list[dict]) -> list[Path]:
    files: list[Path] = []
    for path in inputs:
        if path.is_dir():
            found, _ = media_files(path, IMAGE_EXTENSIONS + VIDEO_EXTENSIONS, set())
            files += found
        elif path.exists():
            files.append(path)
        else:
            failed.append({"input": str(path), "error": f"{path}: no such file or folder"})
    return files


def find_faces(inputs: Sequence[str | Path], options: AnonymizeOptions | None = None) -> Detections:
    """Detect every face of images, videos and folders (recursive); a bad file is listed in
    ``failed``, never fatal."""
    options = options or AnonymizeOptions()
    result = Detections()
    for path in _files([Path(p) for p in inputs], result.failed):
        try:
            if path.suffix.lower() in VIDEO_EXTENSIONS:
                result.files.append(video_faces(path, options))
                continue
            pixels = load_image(path).pixels
            faces = detect(pixels, **options.detect_kwargs("image"))
            result.files.append(image_entry(path, faces, pixels.shape))
        except (FaceveilError, OSError, ValueError) as exc:
            result.failed.append({"input": str(path), "error": failure_line(path, exc)})
    return result
