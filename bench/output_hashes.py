"""Hashes of what every method writes, on a photo and on a short clip: a refactor that must not
change behaviour prints the same lines before and after.

    .venv/bin/python bench/output_hashes.py > new.txt
    git worktree add /tmp/old REV && PYTHONPATH=/tmp/old/src .venv/bin/python \
        bench/output_hashes.py > old.txt && diff old.txt new.txt

The photo is the scikit-image astronaut; the clip is the tests' 12-frame moving-face clip, so
the video lines also cover the per-track reuse of ``synth``, ``attributes`` and ``ksame``.
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from pathlib import Path

import imageio_ffmpeg
import skimage.data

import faceveil
from faceveil.anonymize import AnonymizeOptions, anonymize_paths

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import make_clip  # noqa: E402

PHOTO_METHODS = {
    "blur": {},
    "pixelate": {},
    "solid": {"color": (1, 2, 3)},
    "synth": {},
    "attributes": {},
    "ksame": {"k": 3},
    "cloak": {"budget": "mid"},
}
VIDEO_METHODS = ("blur", "synth", "attributes", "ksame")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def main() -> None:
    photo = skimage.data.astronaut()
    for method, options in PHOTO_METHODS.items():
        out, report = faceveil.anonymize(photo, method, **options)
        print("photo", method, _digest(out.tobytes()), report.face_count, report.warnings)
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(Path(tmp) / "clip.mp4", n=12, audio=False, location=None)
        for method in VIDEO_METHODS:
            dst = Path(tmp) / f"{method}.mp4"
            options = AnonymizeOptions(method=method, k=3)
            batch = anonymize_paths([clip], dst, options=options, progress=False)
            frames = imageio_ffmpeg.read_frames(str(dst))
            next(frames)  # the metadata
            print("video", method, _digest(b"".join(frames)), batch.files[0].warnings)


if __name__ == "__main__":
    main()
