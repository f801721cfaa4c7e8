"""Speed of the face-replacing methods against blur, on a photo and on a clip.

    python bench/replace_speed.py [--runs 5] [--frames 75] [--methods blur,synth,attributes,ksame]

- photo: a generated 1920x1080 scene with 6 faces (``make_scene(3)``), detection included,
  median of `--runs` runs after one warm-up run (models loaded);
- clip: a generated 1280x720 clip with 6 moving faces (``make_clip(seed=0)``), whole
  ``anonymize_paths`` run (decode, detect, track, method, encode), frames per second.

Run it on an otherwise idle machine; it prints a Markdown table and writes
bench/out/replace_speed.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import faceveil
from faceveil.anonymize import AnonymizeOptions, anonymize_paths
from faceveil.testing import make_clip, make_scene

OUT = Path(__file__).resolve().parent / "out"


def photo_seconds(method: str, runs: int) -> tuple[float, int]:
    scene, _ = make_scene(3, size=(1920, 1080), n_faces=6)
    faceveil.anonymize(scene, method)  # warm-up: models load
    times, fallbacks = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        report = faceveil.anonymize(scene, method).report
        times.append(time.perf_counter() - start)
        fallbacks = len(report.warnings)
    return statistics.median(times), fallbacks


def clip_fps(method: str, frames: int, workdir: Path) -> float:
    src = workdir / "clip.mp4"
    if not src.exists():
        make_clip(src, seed=0, frames=frames, audio=False)
    out = workdir / f"{method}.mp4"
    start = time.perf_counter()
    batch = anonymize_paths(
        [src], out, options=AnonymizeOptions(method=method), overwrite=True, progress=False
    )
    seconds = time.perf_counter() - start
    report = batch.files[0]
    if report.status != "ok":
        raise SystemExit(f"{method}: {report.error}")
    return report.frame_count / seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--frames", type=int, default=75)
    ap.add_argument("--methods", default="blur,synth,attributes,ksame")
    args = ap.parse_args()
    methods = args.methods.split(",")
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for method in methods:
            seconds, fallbacks = photo_seconds(method, args.runs)
            fps = clip_fps(method, args.frames, Path(tmp))
            rows[method] = {"photo_s": seconds, "photo_fallbacks": fallbacks, "clip_fps": fps}
            print(f"{method}: {seconds:.2f} s per photo, {fps:.1f} fps", flush=True)
    base = rows.get("blur")
    lines = [
        "| method | 1080p photo, 6 faces (s) | vs blur | 720p clip, 6 faces (fps) | vs blur |",
        "|---|--:|--:|--:|--:|",
    ]
    for method, r in rows.items():
        slower = f"{r['photo_s'] / base['photo_s']:.1f}x" if base else "–"
        fps_ratio = f"{r['clip_fps'] / base['clip_fps']:.2f}x" if base else "–"
        lines.append(
            f"| {method} | {r['photo_s']:.2f} | {slower} | {r['clip_fps']:.1f} | {fps_ratio} |"
        )
    print("\n".join(lines))
    OUT.mkdir(exist_ok=True)
    (OUT / "replace_speed.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
