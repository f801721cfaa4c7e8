"""Detections as data: the box JSON that ``faceveil detect --json`` writes and
``faceveil anonymize --boxes`` reads back, edited by a person or made by another tool.

One format for every input kind::

    {"files": [
      {"input": "photo.jpg", "kind": "image", "faces": [FACE, ...]},
      {"input": "clip.mp4", "kind": "video", "frames": [{"index": 0, "faces": [FACE, ...]}, ...]}
    ]}

and, for one image, ``{"faces": [FACE, ...]}`` alone. A FACE needs only ``"box": [x, y, w, h]``
in input pixels; ``score``, ``landmarks`` (five [x, y]: the eyes, nose tip and mouth corners,
image-left first), ``track_id`` and ``found_by`` are kept when given. In a video, the boxes of
one ``track_id`` are interpolated between the frames that list it (keyframes).
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from faceveil.errors import InputError
from faceveil.faces import Face

MAX_BYTES = 256 * 1024 * 1024  # a box file larger than this is not one


def landmarks_in(box: tuple[float, float, float, float]) -> np.ndarray:
    """Five plausible landmarks of an upright face filling `box` (YuNet's proportions), for
    boxes given without them: they orient the ellipse and place a replacement."""
    x, y, w, h = box
    rel = np.array([[0.32, 0.40], [0.68, 0.40], [0.50, 0.58], [0.36, 0.76], [0.64, 0.76]])
    return (rel * [w, h] + [x, y]).astype(np.float32)


def face_from_json(item: dict, where: str) -> Face:
    """A Face from one FACE object; InputError (one line) for a malformed one."""
    try:
        box = tuple(float(v) for v in item["box"])
        if len(box) != 4 or box[2] <= 0 or box[3] <= 0 or not np.isfinite(box).all():
            raise ValueError
        marks = item.get("landmarks")
        landmarks = np.asarray(marks, np.float32).reshape(5, 2) if marks else landmarks_in(box)
        track = item.get("track_id")
        return Face(
            box,
            float(item.get("score", 1.0)),
            landmarks,
            track_id=None if track is None else int(track),
            found_by=str(item.get("found_by", "given")),
        )
    except (KeyError, TypeError, ValueError):
        raise InputError(
            f'{where}: a face needs "box": [x, y, w, h] with a positive size '
            "(and five [x, y] landmarks if any)"
        ) from None


@dataclass
class BoxEntry:
    """The boxes of one input: `faces` for an image, `frames` (index -> faces) for a video."""

    input: str
    faces: list[Face] = field(default_factory=list)
    frames: dict[int, list[Face]] | None = None

    def __post_init__(self) -> None:
        self._tracks = _Tracks(self.frames) if self.frames is not None else None

    def for_frame(self, index: int) -> list[Face]:
        """The faces of video frame `index`: as listed, plus every track interpolated across it
        from the listed frames either side."""
        return self.faces if self._tracks is None else self._tracks.at(index)


class _Tracks:
    def __init__(self, frames: dict[int, list[Face]]):
        self.frames = frames
        self.by_track: dict[int, tuple[list[int], list[Face]]] = {}  # keyframe indices, faces
        for index in sorted(frames):
            for face in frames[index]:
                if face.track_id is not None:
                    indices, faces = self.by_track.setdefault(face.track_id, ([], []))
                    indices.append(index)
                    faces.append(face)

    def at(self, index: int) -> list[Face]:
        listed = list(self.frames.get(index, []))
        seen = {f.track_id for f in listed}
        for track, (indices, faces) in self.by_track.items():
            after = bisect.bisect_right(indices, index)  # first keyframe past `index`
            if track not in seen and 0 < after < len(indices):
                a, b = after - 1, after
                listed.append(_between((indices[a], faces[a]), (indices[b], faces[b]), index))
        return listed


def _between(a: tuple[int, Face], b: tuple[int, Face], index: int) -> Face:
    t = (index - a[0]) / (b[0] - a[0])
    fa, fb = a[1], b[1]
    x, y, w, h = (float(p + t * (q - p)) for p, q in zip(fa.box, fb.box, strict=True))
    marks = (fa.landmarks + t * (fb.landmarks - fa.landmarks)).astype(np.float32)
    return Face((x, y, w, h), min(fa.score, fb.score), marks, fa.track_id, True, fa.found_by)


@dataclass
class BoxFile:
    """A parsed box file; :meth:`entry_for` finds the boxes of one input."""

    entries: list[BoxEntry]
    single: bool = False  # the one-image form, {"faces": [...]}

    def entry_for(self, src: str | Path, inputs: int = 1) -> BoxEntry:
        """The entry of `src`: by its path as given, resolved, or by its file name when that is
        unique. The one-image form fits one input only. InputError when there is none: an
        input without boxes is never passed through unanonymised by mistake."""
        src = Path(src)
        if self.single:
            if inputs != 1:
                raise InputError("the box file lists one image's faces; give one input with it")
            return self.entries[0]
        for entry in self.entries:
            if entry.input == str(src) or Path(entry.input).resolve() == src.resolve():
                return entry
        named = [e for e in self.entries if Path(e.input).name == src.name]
        if len(named) == 1:
            return named[0]
        raise InputError(f"{src}: the box file has no entry for it")


def _entry(item: dict, where: str) -> BoxEntry:
    name = str(item.get("input", ""))
    if "frames" in item:
        frames: dict[int, list[Face]] = {}
        for frame in item["frames"]:
            index = int(frame["index"])
            faces = [face_from_json(f, f"{where} frame {index}") for f in frame.get("faces", [])]
            frames.setdefault(index, []).extend(faces)
        return BoxEntry(name, frames=frames)
    return BoxEntry(name, [face_from_json(f, where) for f in item.get("faces", [])])


def read_boxes(path: str | Path) -> BoxFile:
    """Parse a box file; InputError with one line when it is not one."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_BYTES:
            raise InputError(f"{path}: larger than {MAX_BYTES >> 20} MiB; not a box file")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable box file ({type(exc).__name__})") from None
    try:
        if isinstance(data, dict) and "files" in data:
            return BoxFile([_entry(item, f"{path}: {item.get('input')}") for item in data["files"]])
        if isinstance(data, dict) and "faces" in data:
            return BoxFile([_entry(data, str(path))], single=True)
    except (KeyError, TypeError, ValueError, AttributeError):
        pass
    raise InputError(f'{path}: a box file is {{"files": [...]}} or {{"faces": [...]}}')


def image_entry(src: str | Path, faces: list[Face], shape: tuple[int, ...]) -> dict:
    """One image's entry of a box file."""
    return {
        "input": str(src),
        "kind": "image",
        "width": int(shape[1]),
        "height": int(shape[0]),
        "faces": [f.to_dict() for f in faces],
    }


def video_entry(src: str | Path, fps: float, frames: list[list[Face]]) -> dict:
    """One video's entry of a box file: every frame, with each face's track."""
    return {
        "input": str(src),
        "kind": "video",
        "fps": round(float(fps), 4),
        "frame_count": len(frames),
        "frames": [
            {"index": i, "faces": [f.to_dict() for f in faces]} for i, faces in enumerate(frames)
        ],
    }
