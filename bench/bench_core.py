"""Side-by-side benchmark: faceveil vs deface 1.5.0 (CenterFace) on the same synthetic inputs.

    python bench/bench_core.py [--frames 250] [--photos 20] [--skip-deface]

In one run:

(a) a 1280x720, 25 fps clip with 6 moving faces (``faceveil.testing.make_clip``): wall time and
    fps of ``faceveil anonymize clip.mp4 -o ... -q --json`` and of ``deface clip.mp4 -o ...`` at
    default settings and with ``--scale 640x360``, and per-frame recall of each. faceveil's boxes
    are the ones its ``--json`` report says it covered in each frame; deface's are the raw
    CenterFace boxes from ``bench/deface_boxes.py`` with the same settings as the timed run.
(b) a folder of 1920x1080 photos with 8 faces each (``faceveil.testing.make_scene``): total wall
    time of each CLI on the folder, time per photo, and recall of each tool's boxes (faceveil:
    its ``--json`` report, i.e. ``faceveil.detect`` at CLI defaults; deface: deface_boxes.py).
(c) five 3840x2160 photos with ten 12-24 px faces each (distant people in street or dashcam
    footage): the same measurements; and faceveil once more on the 1080p folder with
    ``--no-small-faces``, to show what its tiled small-face pass costs.
(d) peak memory (RSS) of every timed CLI run: GNU ``/usr/bin/time -v`` when present, else
    ``getrusage(RUSAGE_CHILDREN)`` in a wrapper process. Either way it is the peak of the
    largest single process (ffmpeg helpers are not added in).

All timings are of the command-line tools as a user runs them, process start-up included.
Inputs and outputs go to bench/out/ (gitignored); the table is printed as Markdown and every
number is written to bench/out/results.json. Ground truth is YuNet's own box on each clean
source face, so mean IoU favours faceveil; recall at IoU >= 0.3 is a fair comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2

import faceveil
from faceveil.testing import evaluate, make_clip, make_scene

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
DEFACE_VENV = ROOT / "bench" / ".deface-venv"
DEFACE = DEFACE_VENV / "bin" / "deface"
DEFACE_PY = DEFACE_VENV / "bin" / "python"
DEFACE_BOXES = ROOT / "bench" / "deface_boxes.py"
FACEVEIL = Path(sys.executable).with_name("faceveil")  # the CLI of the venv running this script

CLIP_SEED, CLIP_SIZE, CLIP_FPS, CLIP_FACES = 0, (1280, 720), 25, 6
PHOTO_SEED, PHOTO_SIZE, PHOTO_FACES, PHOTO_FACE_SIZES = 100, (1920, 1080), 8, (24, 200)
PHOTO_ROLL = 15.0
# A second set: 4K frames with only tiny faces (street or dashcam footage at a distance).
TINY_SEED, TINY_SIZE, TINY_FACES, TINY_FACE_SIZES, TINY_COUNT = 200, (3840, 2160), 10, (12, 24), 5

# Runs the command given as argv, then reports the children's peak RSS (kB) on its last line.
_RUSAGE_WRAPPER = (
    "import resource, subprocess, sys; "
    "rc = subprocess.call(sys.argv[1:]); "
    "print('peak_rss_kb', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "
    "file=sys.stderr); sys.exit(rc)"
)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Measured subprocess runs


@dataclass
class Run:
    seconds: float
    peak_rss_mb: float


def _gnu_time() -> str | None:
    path = shutil.which("time") or "/usr/bin/time"
    if not os.access(path, os.X_OK):
        return None
    probe = subprocess.run([path, "-v", "true"], capture_output=True, text=True)
    return path if "Maximum resident set size" in probe.stderr else None


GNU_TIME = _gnu_time()


def measured(cmd: list[str | Path]) -> Run:
    """Run `cmd`, returning its wall time and peak RSS; stop the benchmark if it fails."""
    cmd = [str(c) for c in cmd]
    if GNU_TIME:
        rss_file = OUT / "time-v.txt"
        full = [GNU_TIME, "-v", "-o", str(rss_file), *cmd]
    else:
        full = [sys.executable, "-c", _RUSAGE_WRAPPER, *cmd]
    start = time.perf_counter()
    proc = subprocess.run(full, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    if GNU_TIME:
        text = rss_file.read_text()
        rss_file.unlink()
        kb = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    else:
        kb = re.search(r"peak_rss_kb (\d+)", proc.stderr)
    return Run(seconds, int(kb.group(1)) / 1024 if kb else float("nan"))


def deface_boxes(*args: str | Path) -> list[dict]:
    """Run bench/deface_boxes.py in the deface venv; one dict per image or frame."""
    cmd = [str(DEFACE_PY), str(DEFACE_BOXES), *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"deface_boxes.py failed: {proc.stderr[-3000:]}")
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


# --------------------------------------------------------------------------------------------
# Inputs


def make_inputs(frames: int, photos: int) -> tuple:
    clip = OUT / "clip.mp4"
    log(f"writing {clip.name}: {CLIP_SIZE[0]}x{CLIP_SIZE[1]}, {frames} frames, {CLIP_FACES} faces")
    clip_truth = make_clip(
        clip, CLIP_SEED, size=CLIP_SIZE, frames=frames, fps=CLIP_FPS, n_faces=CLIP_FACES
    )
    photo_dir = OUT / "photos"
    log(f"writing {photos} photos {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} with {PHOTO_FACES} faces each")
    photo_truth = write_photos(
        photo_dir, photos, PHOTO_SEED, PHOTO_SIZE, PHOTO_FACES, PHOTO_FACE_SIZES
    )
    log(f"writing {TINY_COUNT} photos {TINY_SIZE[0]}x{TINY_SIZE[1]} with tiny faces")
    tiny_truth = write_photos(
        OUT / "tiny", TINY_COUNT, TINY_SEED, TINY_SIZE, TINY_FACES, TINY_FACE_SIZES
    )
    truth = {"clip": clip_truth, "photos": photo_truth, "tiny": tiny_truth}
    (OUT / "truth.json").write_text(json.dumps(truth))
    return clip, clip_truth, photo_dir, photo_truth, OUT / "tiny", tiny_truth


def write_photos(folder: Path, count: int, seed: int, size, faces: int, face_sizes) -> dict:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    truth = {}
    for i in range(count):
        image, boxes = make_scene(seed + i, size, faces, face_sizes, max_rotation_deg=PHOTO_ROLL)
        name = f"scene_{i:03d}.jpg"
        cv2.imwrite(
            str(folder / name),
            cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
            [cv2.IMWRITE_JPEG_QUALITY, 95],
        )
        truth[name] = boxes
    return truth


# --------------------------------------------------------------------------------------------
# The two tools


def faceveil_clip(clip: Path, truth: list) -> dict:
    out, report = OUT / "clip_faceveil.mp4", OUT / "clip_faceveil.json"
    out.unlink(missing_ok=True)
    log("faceveil on the clip")
    run = measured([FACEVEIL, "anonymize", clip, "-o", out, "-q", "--json", report])
    frames = json.loads(report.read_text())["files"][0]["frames"]
    by_index = {f["index"]: [face["box"] for face in f["faces"]] for f in frames}
    preds = [by_index.get(i, []) for i in range(len(truth))]
    return row("faceveil", "defaults", run, evaluate(preds, truth), len(truth))


def deface_clip(clip: Path, truth: list, scale: str | None) -> dict:
    tag = f"scale{scale}" if scale else "default"
    out = OUT / f"clip_deface_{tag}.mp4"
    out.unlink(missing_ok=True)
    extra = ["--scale", scale] if scale else []
    log(f"deface on the clip ({tag})")
    run = measured([DEFACE, clip, "-o", out, *extra])
    log(f"deface_boxes.py on the clip ({tag})")
    lines = deface_boxes("--video", clip, *extra)
    preds = [[]] * len(truth)
    for line in lines:
        preds[line["frame"]] = line["boxes"]
    settings = f"--scale {scale}" if scale else "defaults"
    return row("deface 1.5.0", settings, run, evaluate(preds, truth), len(truth))


def faceveil_photos(photo_dir: Path, truth: dict, *flags: str) -> dict:
    tag = photo_dir.name + "".join(flags).replace("-", "_")
    out, report = OUT / f"{tag}_faceveil", OUT / f"{tag}_faceveil.json"
    shutil.rmtree(out, ignore_errors=True)
    log(f"faceveil on {photo_dir.name} {' '.join(flags)}")
    run = measured([FACEVEIL, "anonymize", photo_dir, "-o", out, "-q", "--json", report, *flags])
    found = {
        Path(f["input"]).name: [face["box"] for face in f["faces"]]
        for f in json.loads(report.read_text())["files"]
    }
    names = sorted(truth)
    score = evaluate([found.get(n, []) for n in names], [truth[n] for n in names])
    return row("faceveil", " ".join(flags) or "defaults", run, score, len(names))


def deface_photos(photo_dir: Path, truth: dict) -> dict:
    # deface writes NAME_anonymized.jpg beside each input of a folder, so give it a copy.
    work = OUT / f"{photo_dir.name}_deface"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(photo_dir, work)
    log(f"deface on {photo_dir.name}")
    run = measured([DEFACE, work])
    names = sorted(truth)
    log(f"deface_boxes.py on {photo_dir.name}")
    found = {
        Path(x["file"]).name: x["boxes"] for x in deface_boxes(*(photo_dir / n for n in names))
    }
    score = evaluate([found.get(n, []) for n in names], [truth[n] for n in names])
    return row("deface 1.5.0", "defaults", run, score, len(names))


def row(tool: str, settings: str, run: Run, score, items: int) -> dict:
    return {
        "tool": tool,
        "settings": settings,
        **asdict(run),
        "items": items,
        "per_second": items / run.seconds,
        "seconds_per_item": run.seconds / items,
        **score.to_dict(),
    }


# --------------------------------------------------------------------------------------------
# Report


def markdown(results: dict) -> str:
    lines = [
        "| input | tool | settings | wall s | throughput | faceveil speed-up "
        "| recall | mean IoU | false pos. | peak RSS MB |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for key, label, unit in (
        ("clip", results["inputs"]["clip"]["label"], "fps"),
        ("photos", results["inputs"]["photos"]["label"], "s/photo"),
        ("tiny", results["inputs"]["tiny"]["label"], "s/photo"),
    ):
        rows = results[key]
        base = rows[0]  # faceveil
        for r in rows:
            if unit == "fps":
                throughput = f"{r['per_second']:.1f} fps"
            else:
                throughput = f"{r['seconds_per_item']:.2f} s/photo"
            speedup = base["per_second"] / r["per_second"]
            lines.append(
                f"| {label} | {r['tool']} | {r['settings']} | {r['seconds']:.1f} | {throughput} "
                f"| {speedup:.2f}x | {r['recall']:.3f} | {r['mean_iou']:.3f} "
                f"| {r['false_positives']} | {r['peak_rss_mb']:.0f} |"
            )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=250, help="clip length (default 250)")
    ap.add_argument("--photos", type=int, default=20, help="number of 1080p photos (default 20)")
    ap.add_argument("--skip-deface", action="store_true", help="measure faceveil only")
    args = ap.parse_args()
    if args.frames < 1 or args.photos < 1:
        ap.error("--frames and --photos must be at least 1")

    OUT.mkdir(parents=True, exist_ok=True)
    if not FACEVEIL.exists():
        sys.exit(f"faceveil CLI not found beside {sys.executable}; run `make install` first")
    if not args.skip_deface:
        log("checking the deface venv (bench/setup_deface.sh)")
        subprocess.run(["bash", str(ROOT / "bench" / "setup_deface.sh")], check=True)

    started = time.perf_counter()
    load_before = [round(v, 2) for v in os.getloadavg()]  # other work on the machine skews times
    clip, clip_truth, photo_dir, photo_truth, tiny_dir, tiny_truth = make_inputs(
        args.frames, args.photos
    )
    clip_faces = sum(len(b) for b in clip_truth)
    photo_faces = sum(len(b) for b in photo_truth.values())

    clip_rows = [faceveil_clip(clip, clip_truth)]
    photo_rows = [
        faceveil_photos(photo_dir, photo_truth),
        faceveil_photos(photo_dir, photo_truth, "--no-small-faces"),
    ]
    tiny_rows = [faceveil_photos(tiny_dir, tiny_truth)]
    if not args.skip_deface:
        clip_rows += [deface_clip(clip, clip_truth, None), deface_clip(clip, clip_truth, "640x360")]
        photo_rows.append(deface_photos(photo_dir, photo_truth))
        tiny_rows.append(deface_photos(tiny_dir, tiny_truth))

    results = {
        "inputs": {
            "clip": {
                "label": f"clip {CLIP_SIZE[1]}p, {args.frames} frames",
                "size": CLIP_SIZE,
                "frames": args.frames,
                "fps": CLIP_FPS,
                "faces_per_frame": CLIP_FACES,
                "face_boxes": clip_faces,
                "seed": CLIP_SEED,
            },
            "photos": {
                "label": f"{args.photos} photos {PHOTO_SIZE[1]}p",
                "size": PHOTO_SIZE,
                "count": args.photos,
                "faces_per_photo": PHOTO_FACES,
                "face_sizes": PHOTO_FACE_SIZES,
                "max_roll_deg": PHOTO_ROLL,
                "face_boxes": photo_faces,
                "first_seed": PHOTO_SEED,
            },
            "tiny": {
                "label": f"{TINY_COUNT} photos {TINY_SIZE[1]}p, tiny faces",
                "size": TINY_SIZE,
                "count": TINY_COUNT,
                "faces_per_photo": TINY_FACES,
                "face_sizes": TINY_FACE_SIZES,
                "face_boxes": sum(len(b) for b in tiny_truth.values()),
                "first_seed": TINY_SEED,
            },
        },
        "clip": clip_rows,
        "photos": photo_rows,
        "tiny": tiny_rows,
        "match_iou": 0.3,
        "memory": "GNU time -v" if GNU_TIME else "getrusage(RUSAGE_CHILDREN)",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "faceveil": faceveil.__version__,
            "load_average_before": load_before,
            "load_average_after": [round(v, 2) for v in os.getloadavg()],
        },
        "bench_seconds": round(time.perf_counter() - started, 1),
    }
    (OUT / "results.json").write_text(json.dumps(results, indent=2))
    print(markdown(results))
    log(f"done in {results['bench_seconds']:.0f} s; numbers in {OUT / 'results.json'}")


if __name__ == "__main__":
    main()
