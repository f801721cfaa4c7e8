"""The re-imaging pipeline: find the faces, find what covers each, fill it with a generated face.

``restore(image)`` is what the CLI (``faceveil restore``), the API and the studio call. Every
face is filled in turn on the image as filled so far (a later face sees the earlier fills,
not their coverings). A face whose covering mask is empty is left unchanged. Only pixels under
a covering mask change.

The filled regions are a plausible guess, **not** the person's real face.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from faceveil.errors import InputError
from faceveil.restore.fill import DETAIL, HONESTY, STEP_NAMES, fill_covering

STEP_SIDE = 256  # px: height of each face in the tiled steps of a photo with several faces
STEP_FILES = {name: f"{i}_{name}.png" for i, name in enumerate(STEP_NAMES, 1)}


@dataclass
class Restoration:
    """The restored image, the seed's four steps, and a JSON-ready report.

    image : (H, W, 3) uint8 RGB; equal to the input outside the covering masks.
    steps : ``generated``, ``smoothed`` (the faces as generated and after k-means smoothing,
        aligned; side by side when there are several; None when no face was filled),
        ``mask`` (the union of the covering masks, white on black), ``result`` (= image).
    report : ``note`` (the honesty note), ``faces`` (one dict per face: box, hole pixels,
        model and why, seconds; or why it was left alone), ``filled``, ``seconds``.
    """

    image: np.ndarray
    steps: dict[str, np.ndarray | None] = field(default_factory=dict)
    report: dict = field(default_factory=dict)


def _split_mask(mask: np.ndarray, faces: list) -> list[np.ndarray]:
    """A given covering mask shared out among `faces`: each pixel to the face whose centre is
    nearest, in units of that face's size."""
    if len(faces) == 1:
        return [mask]
    ys, xs = np.nonzero(mask)
    dist = []
    for f in faces:
        x, y, w, h = f.box
        dist.append(np.hypot(xs - (x + w / 2), ys - (y + h / 2)) / max(w, h, 1.0))
    owner = np.argmin(np.stack(dist), axis=0)
    parts = []
    for i in range(len(faces)):
        part = np.zeros_like(mask)
        part[ys[owner == i], xs[owner == i]] = True
        parts.append(part)
    return parts


def _covering(rgb: np.ndarray, face) -> np.ndarray:
    try:
        from faceveil.restore.covering import find_covering
    except ImportError:
        raise InputError("no covering detector is available: pass a mask") from None
    try:
        return np.asarray(find_covering(rgb, face), bool)
    except NotImplementedError:
        raise InputError("the covering detector is not implemented yet: pass a mask") from None


def _tiled(faces: list[np.ndarray]) -> np.ndarray | None:
    if not faces:
        return None
    if len(faces) == 1:
        return faces[0]
    size = (STEP_SIDE, STEP_SIDE)
    return np.hstack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in faces])


def restore(
    image,
    *,
    face=None,
    mask: np.ndarray | None = None,
    model: str = "auto",
    smooth_k: int | None = None,
    seed: int = 0,
    detail: float = DETAIL,
) -> Restoration:
    """Find what covers the faces in `image` and fill it with plausible generated faces.

    Parameters
    ----------
    image : path, encoded bytes or array (RGB/RGBA/gray; converted to RGB uint8).
    face : one :class:`~faceveil.faces.Face` or a list of them (default: every detected face).
    mask : (H, W) bool covering mask (default: :func:`~faceveil.restore.covering.find_covering`
        per face). With several faces, each pixel goes to the nearest face.
    model : generator name, or ``auto`` (chosen by metadata; see :mod:`faceveil.restore.select`).
    smooth_k : k-means colour smoothing of the generated faces (None: off).
    seed : the same seed gives the same result.
    detail : share of the generated faces' fine detail kept, in [0, 1].

    Returns
    -------
    :class:`Restoration`. No face found: the image unchanged, ``faces`` empty.
    """
    from faceveil.detect import detect
    from faceveil.io.images import read_image, to_rgb8

    began = time.perf_counter()
    rgb = to_rgb8(read_image(image))
    if mask is not None:
        mask = np.asarray(mask, bool)
        if mask.shape != rgb.shape[:2]:
            raise InputError(
                f"the mask is {mask.shape[1]}x{mask.shape[0]}, the image "
                f"{rgb.shape[1]}x{rgb.shape[0]}"
            )
    if face is None:
        faces = detect(rgb, recall="fast")
    else:
        faces = list(face) if isinstance(face, (list, tuple)) else [face]
    masks = _split_mask(mask, faces) if mask is not None and faces else None
    out = rgb.copy()
    union = np.zeros(rgb.shape[:2], bool)
    generated: list[np.ndarray] = []
    smoothed: list[np.ndarray] = []
    reports = []
    for i, f in enumerate(faces):
        covered = masks[i] if masks is not None else _covering(out, f)
        done = fill_covering(
            out, f, covered, model=model, smooth_k=smooth_k, seed=seed, detail=detail
        )
        out = done.image
        union |= covered
        entry = {"box": [round(float(v), 1) for v in f.box], **done.report}
        entry.pop("note", None)
        reports.append(entry)
        gen_face, smooth_face = done.steps["generated"], done.steps["smoothed"]
        if gen_face is not None and smooth_face is not None:  # None: nothing covered this face
            generated.append(gen_face)
            smoothed.append(smooth_face)
    report = {
        "note": HONESTY,
        "faces": reports,
        "filled": len(generated),
        "seconds": round(time.perf_counter() - began, 3),
    }
    steps = {
        "generated": _tiled(generated),
        "smoothed": _tiled(smoothed),
        "mask": np.repeat(union[..., None].astype(np.uint8) * 255, 3, axis=2),
        "result": out,
    }
    return Restoration(out, steps, report)


def write_steps(steps: dict, directory: str | Path) -> list[Path]:
    """Write the steps as ``1_generated.png`` .. ``4_result.png`` in `directory` (created);
    a step that is None (no face filled) is not written. Returns the paths written."""
    from faceveil.io.images import write_image

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return [
        write_image(directory / STEP_FILES[name], steps[name])
        for name in STEP_NAMES
        if steps.get(name) is not None
    ]
