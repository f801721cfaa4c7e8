"""Reports: what was found and done, per input and per batch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from faceveil.faces import Face


@dataclass
class FileReport:
    """One input: faces found, their boxes, the method and the time taken.

    For video, `faces` holds the distinct tracks (the first box of each) and `frames` the boxes
    covered in each frame that had any.
    """

    input: str
    output: str | None = None
    kind: str = "image"  # image | video
    method: str = "blur"
    status: str = "ok"  # ok | failed
    error: str | None = None
    seconds: float = 0.0
    faces: list[Face] = field(default_factory=list)
    frame_count: int | None = None
    fps: float | None = None
    frames: list[dict] | None = None
    warnings: list[str] = field(default_factory=list)
    details: list[dict] = field(default_factory=list)  # per face, from reporting methods
    kept: list[dict] = field(default_factory=list)  # consenting faces left visible, and why

    @property
    def face_count(self) -> int:
        return len(self.faces)

    def to_dict(self) -> dict:
        d: dict[str, Any] = {
            "input": self.input,
            "output": self.output,
            "kind": self.kind,
            "status": self.status,
            "method": self.method,
            "seconds": round(self.seconds, 3),
            "face_count": self.face_count,
            "faces": [f.to_dict() for f in self.faces],
        }
        if self.error:
            d["error"] = self.error
        if self.warnings:
            d["warnings"] = self.warnings
        if self.details:
            d["face_details"] = self.details
        if self.kept:
            d["kept"] = self.kept
        if self.kind == "video":
            d.update(frame_count=self.frame_count, fps=self.fps, frames=self.frames or [])
        return d


class SkippedFile(NamedTuple):
    """A file of a folder input that was not processed, and why."""

    input: str
    reason: str  # "unsupported format .gif", "dangling link", ...


@dataclass
class BatchReport:
    files: list[FileReport] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)  # passed over in folder walks

    @property
    def failed(self) -> list[FileReport]:
        return [f for f in self.files if f.status != "ok"]

    def to_dict(self) -> dict:
        return {
            "files": [f.to_dict() for f in self.files],
            "skipped": [s._asdict() for s in self.skipped],
            "summary": {
                "inputs": len(self.files),
                "failed": len(self.failed),
                "skipped": len(self.skipped),
                "faces": sum(f.face_count for f in self.files),
                "seconds": round(sum(f.seconds for f in self.files), 3),
            },
        }
