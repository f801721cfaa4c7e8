"""Shared fixtures: synthetic test inputs (scikit-image's astronaut only), CLI runner, clips.

Every input is generated here with fixed seeds; no photo of a real person is read from disk.
"""

from __future__ import annotations

import io
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np
import pytest
import skimage.data
from PIL import Image

# ksame's synthetic gallery: a small one in a private cache, so no test pays the 1000-sample
# build (18-65 s) and nothing is written to the user's ~/.cache.
os.environ.setdefault("FACEVEIL_KSAME_SAMPLES", "150")
os.environ.setdefault(
    "XDG_CACHE_HOME", str(Path(__file__).resolve().parent.parent / ".pytest_cache" / "xdg")
)

# The astronaut's face, as YuNet sees it: (x, y, w, h).
ASTRO_BOX = (180.0, 66.0, 90.0, 111.0)
FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
GPS_LATITUDE = (48.0, 51.0, 29.0)


# --------------------------------------------------------------------------- geometry helpers


def iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    return inter / (aw * ah + bw * bh - inter)


def inner_slices(box, frac: float = 0.6) -> tuple[slice, slice]:
    """The central `frac` of a box, as (rows, cols) slices."""
    x, y, w, h = box
    cx, cy = x + w / 2, y + h / 2
    return (
        slice(int(cy - frac * h / 2), int(cy + frac * h / 2)),
        slice(int(cx - frac * w / 2), int(cx + frac * w / 2)),
    )


def may_change_mask(shape_hw, face, *, mask_scale: float = 1.3, shape: str = "ellipse"):
    """True where a method may change pixels: the enlarged region plus a 1.5 px margin.

    Computed independently of `faceveil.anonymize.regions`: the detector box scaled by
    `mask_scale` about its centre; for ``ellipse`` the ellipse inscribed in it, rolled with the
    eye line (landmarks 0 and 1).
    """
    H, W = shape_hw[:2]
    x, y, w, h = face.box
    cx, cy = x + w / 2, y + h / 2
    hw, hh = w * mask_scale / 2 + 1.5, h * mask_scale / 2 + 1.5
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    # pixel centres
    dx, dy = xx + 0.5 - cx, yy + 0.5 - cy
    if shape == "box":
        return (np.abs(dx) <= hw) & (np.abs(dy) <= hh)
    (rx, ry), (lx, ly) = face.landmarks[0], face.landmarks[1]
    a = math.atan2(ly - ry, lx - rx)
    u = dx * math.cos(a) + dy * math.sin(a)
    v = -dx * math.sin(a) + dy * math.cos(a)
    return (u / hw) ** 2 + (v / hh) ** 2 <= 1.0


def changed_mask(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    diff = a != b
    return diff.any(axis=2) if diff.ndim == 3 else diff


def norm_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two same-dtype arrays, as a fraction of the dtype range."""
    top = 1.0 if a.dtype.kind == "f" else float(np.iinfo(a.dtype).max)
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean() / top)


# --------------------------------------------------------------------------- image fixtures


@pytest.fixture
def astronaut() -> np.ndarray:
    """A fresh (512, 512, 3) uint8 RGB copy of skimage's astronaut (one face at ASTRO_BOX)."""
    return skimage.data.astronaut().copy()


@pytest.fixture(scope="session")
def astro_face():
    """The astronaut's face as detected by faceveil (a `faceveil.Face`)."""
    import faceveil

    faces = faceveil.detect(skimage.data.astronaut())
    assert len(faces) == 1 and iou(faces[0].box, ASTRO_BOX) > 0.8
    return faces[0]


@pytest.fixture(scope="session")
def sface():
    """cosine(original, other, face) -> SFace cosine similarity, both aligned with the ORIGINAL
    face's YuNet row (box, landmarks, score)."""
    import faceveil.models

    rec = cv2.FaceRecognizerSF.create(str(faceveil.models.weight_path("sface")), "")

    def feature(rgb: np.ndarray, row: np.ndarray) -> np.ndarray:
        bgr = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)
        return rec.feature(rec.alignCrop(bgr, row)).copy()

    def cosine(original: np.ndarray, other: np.ndarray, face) -> float:
        row = np.array([*face.box, *np.asarray(face.landmarks).ravel(), face.score], np.float32)
        assert row.shape == (15,)
        return float(
            rec.match(feature(original, row), feature(other, row), cv2.FaceRecognizerSF_FR_COSINE)
        )

    return cosine


def jpeg_with_exif(
    pixels: np.ndarray, *, orientation: int | None = None, gps: bool = True, fmt: str = "JPEG"
) -> bytes:
    """Encode `pixels` with an EXIF block: camera make, optional orientation and a GPS IFD."""
    exif = Image.Exif()
    exif[0x010F] = "FaceveilTestCam"  # Make
    if orientation is not None:
        exif[0x0112] = orientation
    if gps:
        ifd = exif.get_ifd(0x8825)
        ifd[1] = "N"
        ifd[2] = GPS_LATITUDE
        ifd[3] = "E"
        ifd[4] = (2.0, 17.0, 40.0)
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buf, fmt, exif=exif, quality=95)
    return buf.getvalue()


@pytest.fixture
def exif_jpeg():
    return jpeg_with_exif


def gps_of(path) -> dict:
    with Image.open(path) as im:
        return dict(im.getexif().get_ifd(0x8825))


def exif_of(path) -> dict:
    with Image.open(path) as im:
        return dict(im.getexif())


def leftovers(folder: Path) -> list[str]:
    """Hidden/temp files an atomic write might have left in a folder tree."""
    return sorted(
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.name.startswith(".") or p.suffix in (".tmp", ".part")
    )


# --------------------------------------------------------------------------- CLI


def faceveil_cmd() -> list[str]:
    return [sys.executable, "-m", "faceveil.cli"]


@pytest.fixture(scope="session")
def run_cli():
    """run_cli(*args, cwd=None) -> CompletedProcess with text stdout/stderr."""
    base = faceveil_cmd()
    env = {k: v for k, v in os.environ.items() if k not in ("FACEVEIL_DEBUG", "FACEVEIL_LOG")}

    def run(*args, cwd=None, timeout=120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*base, *map(str, args)],
            capture_output=True,
            text=True,
            cwd=cwd,
            env=env,
            timeout=timeout,
        )

    return run


# --------------------------------------------------------------------------- video

_CROP = 140  # side of the face crop pasted into clips
# The astronaut's face inside the crop a[20:220, 130:330] resized 200 -> 140 (scale 0.7).
CROP_FACE = ((180 - 130) * 0.7, (66 - 20) * 0.7, 90 * 0.7, 111 * 0.7)


def clip_face_box(i: int, size=(320, 240)) -> tuple[float, float, float, float]:
    """Where the face is in frame `i` of a clip made by `make_clip`."""
    x, y = _crop_pos(i, size)
    return (x + CROP_FACE[0], y + CROP_FACE[1], CROP_FACE[2], CROP_FACE[3])


def _crop_pos(i: int, size) -> tuple[int, int]:
    w, h = size
    x = 10 + (3 * i) % max(1, w - _CROP - 20)
    y = (h - _CROP) // 2 + (i % 5) - 2
    return x, y


def clip_frames(n: int = 40, size=(320, 240)):
    """Synthetic frames: a noisy grey background with the astronaut's face moving right."""
    w, h = size
    rng = np.random.default_rng(1234)
    bg = rng.integers(80, 120, (h, w, 3), dtype=np.uint8)
    crop = cv2.resize(
        skimage.data.astronaut()[20:220, 130:330], (_CROP, _CROP), interpolation=cv2.INTER_AREA
    )
    for i in range(n):
        f = bg.copy()
        x, y = _crop_pos(i, size)
        f[y : y + _CROP, x : x + _CROP] = crop
        yield f


def make_clip(
    path: Path,
    *,
    n: int = 40,
    size=(320, 240),
    fps: int = 25,
    audio: bool = True,
    location: str | None = "+48.8584+002.2945/",
    faststart: bool = False,
) -> Path:
    """Write a clip with libx264 (+ a sine audio track muxed by ffmpeg, + metadata)."""
    path = Path(path)
    even = size[0] % 2 == 0 and size[1] % 2 == 0
    silent = path.with_name(path.stem + ".silent.mp4")
    gen = imageio_ffmpeg.write_frames(
        str(silent),
        size,
        fps=fps,
        codec="libx264",
        pix_fmt_out="yuv420p" if even else "yuv444p",
        macro_block_size=1,
        quality=None,
        output_params=["-preset", "ultrafast", "-crf", "12"],
        ffmpeg_log_level="error",
    )
    gen.send(None)
    for frame in clip_frames(n, size):
        gen.send(frame)
    gen.close()
    cmd = [FFMPEG, "-y", "-loglevel", "error", "-i", str(silent)]
    if audio:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={n / fps}"]
        cmd += ["-map", "0:v", "-map", "1:a", "-c:a", "aac", "-shortest"]
    cmd += ["-c:v", "copy"]
    if location:
        cmd += ["-metadata", f"location={location}", "-metadata", "title=faceveil-secret"]
    if faststart:
        cmd += ["-movflags", "+faststart"]
    subprocess.run([*cmd, str(path)], check=True, capture_output=True)
    silent.unlink()
    return path


def ffprobe_text(path) -> str:
    """ffmpeg's description of a file (streams and metadata)."""
    proc = subprocess.run([FFMPEG, "-hide_banner", "-i", str(path)], capture_output=True, text=True)
    return proc.stderr


def video_meta(path) -> dict:
    gen = imageio_ffmpeg.read_frames(str(path))
    try:
        return next(gen)
    finally:
        gen.close()


def read_all_frames(path) -> list[np.ndarray]:
    gen = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    meta = next(gen)
    w, h = meta["size"]
    return [np.frombuffer(raw, np.uint8).reshape(h, w, 3).copy() for raw in gen]


def has_location(text: str) -> bool:
    return bool(re.search(r"location|48\.8584|faceveil-secret", text))


@pytest.fixture(scope="session")
def clip(tmp_path_factory) -> Path:
    """40 frames, 320x240 at 25 fps, moving face, sine audio, GPS location metadata."""
    return make_clip(tmp_path_factory.mktemp("clip") / "clip.mp4")


# --------------------------------------------------------------------------- PostgreSQL

ROOT = Path(__file__).resolve().parent.parent
PG_SCRIPT = ROOT / "scripts" / "start_test_postgres.sh"


def _initdb() -> str | None:
    import glob
    import shutil

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return shutil.which("initdb") or (found[-1] if found else None)


@pytest.fixture(scope="session")
def postgres_url():
    """A PostgreSQL server URL for the store tests: FACEVEIL_TEST_POSTGRES_URL when set, else a
    throwaway cluster (scripts/start_test_postgres.sh) for the session, removed at the end.
    Skips when PostgreSQL is not installed (make install adds Debian's where it can)."""
    url = os.environ.get("FACEVEIL_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    if _initdb() is None:
        pytest.skip("PostgreSQL not installed (initdb not found; apt-get install postgresql)")
    pytest.importorskip("psycopg", reason="psycopg is not installed (dev extra)")
    proc = subprocess.run(
        ["bash", str(PG_SCRIPT)], capture_output=True, text=True, timeout=120, check=False
    )
    if proc.returncode != 0:  # installed but broken: say so rather than skip quietly
        pytest.fail(f"start_test_postgres.sh failed: {proc.stderr.strip()[-500:]}")
    url = proc.stdout.strip().splitlines()[-1]
    os.environ["FACEVEIL_TEST_POSTGRES_URL"] = url
    try:
        yield url
    finally:
        os.environ.pop("FACEVEIL_TEST_POSTGRES_URL", None)
        subprocess.run(["bash", str(PG_SCRIPT), "--stop", url], timeout=60, check=False)
