"""Time per face of every face-analysis model, one face at a time and in batches.

    python bench/analysis_speed.py [--repeat 30] [--batch 8]

Inputs: the scikit-image astronaut (one face, 512x512) and the same photo tiled so that it
holds `--batch` faces. Each row times what a caller pays for that model: crop or alignment
plus inference. The detector row is a whole ``faceveil.detect`` call at its defaults (tiled
small-face pass included) divided by the number of faces: it depends on the image size, not
on the faces. Numbers are medians over `--repeat` runs after one warm-up run, in milliseconds
per face; the table is printed as Markdown.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import skimage.data

from faceveil.analysis import embed_faces
from faceveil.analysis.attributes import analyze_faces
from faceveil.detect import detect
from faceveil.models.agegender import alignment, face_chips, get_age_net, get_gender_net
from faceveil.models.emotion import predict_emotions
from faceveil.models.facemesh import predict_mesh


def _median_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up: loads the model, sizes the interpreter's batch
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)


def _tiled(n: int) -> np.ndarray:
    """The astronaut tiled into a grid of exactly `n` faces (2 rows for n = 8)."""
    rows = max(1, round(math.sqrt(n / 2)))
    while n % rows:
        rows -= 1
    return np.tile(skimage.data.astronaut(), (rows, n // rows, 1))


def _rows(image: np.ndarray, n: int, repeat: int) -> dict[str, float]:
    faces = detect(image)
    if len(faces) != n:
        raise RuntimeError(f"expected {n} faces, the detector found {len(faces)}")
    landmarks = [f.landmarks for f in faces]
    boxes = [f.box for f in faces]
    mesh, _ = predict_mesh(image, boxes, landmarks)
    aligns = [alignment(lm, m) for lm, m in zip(landmarks, mesh, strict=True)]
    age, gender = get_age_net(), get_gender_net()
    per_face = {
        "detector (YuNet, whole image)": lambda: detect(image),
        "SFace embedding": lambda: embed_faces(image, faces),
        "age (dlib, 64x64 chip)": lambda: age(face_chips(image, aligns, age.chip_size)),
        "gender (dlib, 32x32 chip)": lambda: gender(face_chips(image, aligns, gender.chip_size)),
        "emotion (mini-Xception, 64x64)": lambda: predict_emotions(image, landmarks),
        "face mesh (MediaPipe, 192x192)": lambda: predict_mesh(image, boxes, landmarks),
        "analyze_faces (all but detector)": lambda: analyze_faces(image, faces),
    }
    return {name: _median_ms(fn, repeat) / n for name, fn in per_face.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30, help="timed runs per cell (30)")
    parser.add_argument("--batch", type=int, default=8, help="faces in the batched image (8)")
    args = parser.parse_args()

    single = _rows(skimage.data.astronaut(), 1, args.repeat)
    tiled = _tiled(args.batch)
    batched = _rows(tiled, args.batch, args.repeat)
    h, w = tiled.shape[:2]
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"median of {args.repeat} runs, ms per face\n"
    )
    print(f"| model | 1 face (512x512) | {args.batch} faces in one call ({w}x{h}) |")
    print("|---|---:|---:|")
    for name in single:
        print(f"| {name} | {single[name]:.2f} | {batched[name]:.2f} |")


if __name__ == "__main__":
    main()
