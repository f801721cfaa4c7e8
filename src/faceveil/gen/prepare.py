"""Turning a folder of photos into a training set of aligned square face crops.

Every face is rotated so that its eyes are level and cropped square around the face, with a
margin; where the crop leaves the photo the border is black. The face's size and centre come
from its five landmarks, not from the detector's box, so a tilted head is framed like an upright
one: size = max(3.1 x eye distance, 2.8 x eye-to-mouth distance), which matches YuNet's box
height on frontal faces, and the centre lies a third of the way from the eyes to the mouth.

The dataset folder holds::

    DATASET_DIR/
      images/000000.png ...  the crops: new PNG files, so no EXIF or GPS data is carried over
      manifest.jsonl         one JSON object per crop: file, source, box, landmarks, score,
                             age, gender, gender_prob, emotion, emotions
      prepare.json           the settings, counts and the photos that gave no crop, and why
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from faceveil._version import __version__
from faceveil.analysis.attributes import analyze_faces
from faceveil.detect import detect
from faceveil.errors import FaceveilError, InputError, OutputError
from faceveil.faces import Face
from faceveil.io.atomic import atomic_output
from faceveil.io.images import IMAGE_EXTENSIONS, read_image, to_rgb8, write_image

MANIFEST_FILE = "manifest.jsonl"
SUMMARY_FILE = "prepare.json"
IMAGES_DIR = "images"


@dataclass
class PrepareResult:
    """What :func:`prepare_dataset` made: one manifest row per crop, and the photos it skipped."""

    dataset_dir: Path
    crops: list[dict] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)
    images: int = 0  # photos looked at
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {
            "dataset_dir": str(self.dataset_dir),
            "images": self.images,
            "crops": len(self.crops),
            "skipped": [{"source": s, "reason": r} for s, r in self.skipped],
            "seconds": round(self.seconds, 2),
        }


def find_images(folder: Path) -> list[Path]:
    """Image files under `folder`, sorted; hidden files and folders are left out."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() in IMAGE_EXTENSIONS
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def face_frame(landmarks: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Centre (x, y), size in px and roll in radians of a face, from its five landmarks."""
    lm = np.asarray(landmarks, np.float64)
    eyes, mouth = (lm[0] + lm[1]) / 2, (lm[3] + lm[4]) / 2
    eye_dist = float(np.hypot(*(lm[1] - lm[0])))
    eye_mouth = float(np.hypot(*(mouth - eyes)))
    size = max(3.1 * eye_dist, 2.8 * eye_mouth)
    roll = math.atan2(lm[1, 1] - lm[0, 1], lm[1, 0] - lm[0, 0])
    return eyes + (mouth - eyes) / 3, size, roll


def crop_face(
    image: np.ndarray, landmarks: np.ndarray, size: int = 64, padding: float = 0.1
) -> tuple[np.ndarray, np.ndarray]:
    """A (size, size) crop of the face with level eyes and `padding` x its size on every side.

    Returns ``(crop, 2x3 matrix from image to crop pixels)``. Large faces are warped at their
    own scale first and then shrunk with area averaging, so that they do not alias.
    """
    centre, face_size, roll = face_frame(landmarks)
    side = face_size * (1 + 2 * padding)
    work = max(size, min(round(side), 8 * size))  # warp at about native scale, then shrink

    def matrix(out: int) -> np.ndarray:
        s = out / side
        c, k = math.cos(roll) * s, math.sin(roll) * s
        # rotate by -roll about the centre, scale, and put the centre in the middle
        return np.array(
            [
                [c, k, out / 2 - c * centre[0] - k * centre[1]],
                [-k, c, out / 2 + k * centre[0] - c * centre[1]],
            ]
        )

    crop = cv2.warpAffine(
        image, matrix(work), (work, work), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_CONSTANT
    )
    if work != size:
        crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    return crop, matrix(size)


def _check_dirs(raw_dir: Path, dataset_dir: Path, overwrite: bool) -> None:
    if not raw_dir.is_dir():
        raise InputError(f"{raw_dir}: not a folder")
    raw, out = raw_dir.resolve(), dataset_dir.resolve()
    if out == raw or raw in out.parents or out in raw.parents:
        raise OutputError(f"{dataset_dir}: the dataset folder must lie outside {raw_dir}")
    if dataset_dir.exists() and not dataset_dir.is_dir():
        raise OutputError(f"{dataset_dir}: exists and is not a folder")
    if dataset_dir.is_dir() and any(dataset_dir.iterdir()) and not overwrite:
        raise OutputError(f"{dataset_dir}: not empty; pass --overwrite to write over its files")


def _faces_to_keep(
    faces: list[Face], threshold: float, min_face: float, all_faces: bool
) -> tuple[list[Face], str]:
    """The faces to crop, and the reason when there are none."""
    if not faces:
        return [], "no face detected"
    faces = [f for f in faces if f.score >= threshold]
    if not faces:
        return [], f"no face with score >= {threshold}"
    faces = [f for f in faces if face_frame(f.landmarks)[1] >= min_face]
    if not faces:
        return [], f"every face is smaller than {min_face:g} px"
    if not all_faces:
        faces = [max(faces, key=lambda f: face_frame(f.landmarks)[1])]
    return faces, ""


def _attributes(rgb: np.ndarray, faces: list[Face]) -> list[dict]:
    try:
        found = analyze_faces(rgb, faces, mesh=False)
    except (FaceveilError, ValueError):
        return [{} for _ in faces]  # a face the attribute models cannot read is still a face
    keys = ("age", "gender", "gender_prob", "emotion", "emotions")
    return [{k: v for k, v in a.to_dict().items() if k in keys} for a in found]


def prepare_dataset(
    raw_dir: str | Path,
    dataset_dir: str | Path,
    *,
    size: int = 64,
    padding: float = 0.1,
    threshold: float = 0.8,
    min_face: float = 32,
    all_faces: bool = True,
    overwrite: bool = False,
    progress: bool = False,
) -> PrepareResult:
    """Detect, align and crop every face in the photos under `raw_dir` into `dataset_dir`.

    Parameters
    ----------
    raw_dir : folder of photos (searched recursively; hidden files skipped).
    dataset_dir : the output folder; it must be empty or new unless `overwrite`.
    size : side of the crops in px.
    padding : margin on every side, as a fraction of the face's size.
    threshold : minimum detector score of a face.
    min_face : faces smaller than this (px, landmark-based size) are left out: enlarged, they
        would teach a generator blur.
    all_faces : one crop per face (default), or only the largest face of each photo.
    overwrite : allow writing into a folder that already holds files.
    progress : show a progress bar.

    Returns
    -------
    PrepareResult; ``skipped`` names every photo that was corrupt or gave no crop. Raises
    InputError if `raw_dir` is not a folder and OutputError if `dataset_dir` may not be written.
    """
    start = time.perf_counter()
    raw_dir, dataset_dir = Path(raw_dir), Path(dataset_dir)
    if not 8 <= size <= 1024:
        raise ValueError(f"size must be in [8, 1024], got {size}")
    if not 0 <= padding <= 2:
        raise ValueError(f"padding must be in [0, 2], got {padding}")
    _check_dirs(raw_dir, dataset_dir, overwrite)
    files = find_images(raw_dir)
    result = PrepareResult(dataset_dir, images=len(files))
    for path in tqdm(files, unit="img", desc="prepare", disable=not progress):
        source = path.relative_to(raw_dir).as_posix()
        try:
            rgb = to_rgb8(read_image(path))
            faces, reason = _faces_to_keep(
                detect(rgb, recall="fast"), threshold, min_face, all_faces
            )
            if not faces:
                result.skipped.append((source, reason))
                continue
            for face, attrs in zip(faces, _attributes(rgb, faces), strict=True):
                crop, m = crop_face(rgb, face.landmarks, size, padding)
                name = f"{IMAGES_DIR}/{len(result.crops):06d}.png"
                write_image(dataset_dir / name, crop)  # a new PNG: no metadata is copied
                result.crops.append(
                    {
                        "file": name,
                        "source": source,
                        **face.to_dict(),
                        "crop_landmarks": np.round(
                            cv2.transform(face.landmarks[None], m)[0].astype(float), 1
                        ).tolist(),
                        **attrs,
                    }
                )
        except (FaceveilError, ValueError, OSError, cv2.error) as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            result.skipped.append((source, message.removeprefix(f"{path}: ")))
    result.seconds = time.perf_counter() - start
    _write_records(result, raw_dir, size, padding, threshold, min_face, all_faces)
    return result


def _write_records(result: PrepareResult, raw_dir: Path, *settings) -> None:
    dataset_dir = result.dataset_dir
    dataset_dir.mkdir(parents=True, exist_ok=True)
    with atomic_output(dataset_dir / MANIFEST_FILE) as tmp:
        tmp.write_text("".join(json.dumps(row) + "\n" for row in result.crops) or "\n")
    names = ("size", "padding", "threshold", "min_face", "all_faces")
    summary = {
        "raw_dir": str(raw_dir.resolve()),
        **dict(zip(names, settings, strict=True)),
        **result.to_dict(),
        "faceveil": __version__,
    }
    summary.pop("dataset_dir")
    with atomic_output(dataset_dir / SUMMARY_FILE) as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")


def dataset_files(dataset_dir: str | Path) -> list[Path]:
    """The images of a dataset: those its manifest lists, else every image under the folder."""
    dataset_dir = Path(dataset_dir)
    if not dataset_dir.is_dir():
        raise InputError(f"{dataset_dir}: not a folder")
    manifest = dataset_dir / MANIFEST_FILE
    if manifest.is_file():
        try:
            rows = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
            files = [dataset_dir / row["file"] for row in rows]
        except (json.JSONDecodeError, TypeError, KeyError) as exc:
            raise InputError(f"{manifest}: not a faceveil manifest ({exc})") from None
    else:
        files = find_images(dataset_dir)
    if not files:
        raise InputError(f"{dataset_dir}: no images to train on")
    return files


def describe_dataset(dataset_dir: str | Path) -> str:
    """One line on what a dataset is, for a model's ``training_data``."""
    dataset_dir = Path(dataset_dir).resolve()
    n = len(dataset_files(dataset_dir))
    try:
        summary = json.loads((dataset_dir / SUMMARY_FILE).read_text())
        raw = f" from the photos in {summary['raw_dir']}"
    except (OSError, json.JSONDecodeError, KeyError, TypeError):
        raw = ""
    if (dataset_dir / MANIFEST_FILE).is_file():
        return (
            f"{n} face crops in {dataset_dir}{raw} (faceveil prepare; per-crop sources and "
            f"attributes in {MANIFEST_FILE})"
        )
    return f"{n} images in {dataset_dir}"
