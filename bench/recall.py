"""Recall on hard conditions, faceveil against deface 1.5.0, side by side in one run.

    bash bench/setup_deface.sh                      # once: deface in bench/.deface-venv
    .venv/bin/python bench/recall.py [--scenes 15] [--recall balanced] [--skip-deface]

Every condition is built from the same generated scenes (``faceveil.testing.make_scene``:
the astronaut, ORL and DCGAN faces on a cluttered 1280x720 background, 6 faces each):

- ``clean``: faces of 40-160 px;
- ``tiny``: faces of 20-28 px in the 720p frame;
- ``thumbnail``: the clean scene shrunk to 480x270 (faces of 15-60 px);
- ``rotated``: every face rolled by 35 degrees either way;
- ``dark``: a quarter of the light (gamma 2.2) and sensor noise (sigma 6 grey levels);
- ``jpeg15``: JPEG quality 15;
- ``motion``: a 15 px horizontal motion blur;
- ``lowres``: shrunk 4x and enlarged back;
- ``masked``: the lower half of every face under a plain mask;
- ``grey``: an old photo: grey, faded, sepia-free, with film grain.

faceveil's boxes are what ``faceveil anonymize`` covers at its defaults (or `--recall`);
deface's are the raw CenterFace boxes at its default threshold 0.2, from
``bench/deface_boxes.py`` in its own venv. A face is **covered** when a box matches it at IoU
>= 0.3 (greedy, one to one: :func:`faceveil.testing.evaluate`). **False alarms**: boxes that
match no face, and the share of the image they cover away from every face (per mille).
Prints a Markdown table and writes bench/out/recall.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

import faceveil
from faceveil.anonymize import AnonymizeOptions
from faceveil.testing import evaluate
from faceveil.testing.conditions import CONDITIONS, hard_scene

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
DEFACE_PY = ROOT / "bench" / ".deface-venv" / "bin" / "python"
DEFACE_BOXES = ROOT / "bench" / "deface_boxes.py"


def false_area(preds, gts, shape) -> float:
    """Share of the image inside predicted boxes and outside every (1.3x) ground-truth box."""
    h, w = shape[:2]
    covered = np.zeros((h, w), bool)
    for x, y, bw, bh in (p[:4] for p in preds):
        covered[max(0, int(y)) : int(y + bh), max(0, int(x)) : int(x + bw)] = True
    for x, y, bw, bh in gts:
        cx, cy = x + bw / 2, y + bh / 2
        x0, y0 = int(cx - 0.65 * bw), int(cy - 0.65 * bh)
        covered[max(0, y0) : int(cy + 0.65 * bh), max(0, x0) : int(cx + 0.65 * bw)] = False
    return float(covered.mean())


def score(preds: list, truth: list, shapes: list) -> dict:
    s = evaluate([[p[:4] for p in ps] for ps in preds], truth)
    area = np.mean([false_area(p, g, sh) for p, g, sh in zip(preds, truth, shapes, strict=True)])
    return {**s.to_dict(), "false_area_permille": round(1000 * float(area), 2)}


def faceveil_boxes(images: list[np.ndarray], recall: str | None) -> tuple[list, float]:
    opts = AnonymizeOptions() if recall is None else AnonymizeOptions(recall=recall)
    kwargs = opts.detect_kwargs("image")
    faceveil.detect(images[0], **kwargs)  # models load
    start = time.perf_counter()
    found = [[f.box for f in faceveil.detect(im, **kwargs)] for im in images]
    return found, (time.perf_counter() - start) / len(images)


def deface_boxes(paths: list[Path]) -> list:
    cmd = [str(DEFACE_PY), str(DEFACE_BOXES), *map(str, paths)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"deface_boxes.py failed: {proc.stderr[-2000:]}")
    lines = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]
    by_file = {Path(x["file"]).name: x["boxes"] for x in lines}
    return [by_file[p.name] for p in paths]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", type=int, default=15, help="images per condition")
    ap.add_argument("--recall", default=None, help="faceveil's --recall preset (default: its own)")
    ap.add_argument("--conditions", default=",".join(CONDITIONS))
    ap.add_argument("--skip-deface", action="store_true")
    args = ap.parse_args()
    work = OUT / "recall"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    results: dict = {}
    paths: list[Path] = []
    data = {}
    for condition in args.conditions.split(","):
        images, truth = [], []
        for i in range(args.scenes):
            rgb, boxes = hard_scene(condition, 500 + i)
            path = work / f"{condition}_{i:03d}.png"
            cv2.imwrite(str(path), rgb[:, :, ::-1])
            images.append(rgb)
            truth.append([list(b) for b in boxes])
            paths.append(path)
        data[condition] = (images, truth)
    defaced = {} if args.skip_deface else dict(zip(paths, deface_boxes(paths), strict=True))
    for condition, (images, truth) in data.items():
        shapes = [im.shape for im in images]
        found, seconds = faceveil_boxes(images, args.recall)
        mine = score(found, truth, shapes)
        mine["seconds_per_image"] = round(seconds, 3)
        results[condition] = {"faceveil": mine}
        if defaced:
            theirs = [defaced[p] for p in paths if p.name.startswith(condition + "_")]
            results[condition]["deface"] = score(theirs, truth, shapes)
    OUT.mkdir(exist_ok=True)
    (OUT / "recall.json").write_text(
        json.dumps({"recall_preset": args.recall, **results}, indent=1)
    )
    print(markdown(results))


def markdown(results: dict) -> str:
    head = (
        "| condition | faces | faceveil covered | deface covered | faceveil false (boxes, "
        "‰ area) | deface false (boxes, ‰ area) | faceveil s/image |"
    )
    lines = [head, "|---|--:|--:|--:|--:|--:|--:|"]
    totals: dict[str, list[float]] = {}
    for condition, r in results.items():
        me, them = r["faceveil"], r.get("deface")
        for tool, t in r.items():
            total = totals.setdefault(tool, [0, 0, 0, 0.0])
            total[0] += t["hits"]
            total[1] += t["hits"] + t["misses"]
            total[2] += t["false_positives"]
            total[3] += t["false_area_permille"] / len(results)
        lines.append(
            f"| {condition} | {me['hits'] + me['misses']} | {me['recall']:.1%} | "
            + (f"{them['recall']:.1%}" if them else "–")
            + f" | {me['false_positives']}, {me['false_area_permille']} | "
            + (f"{them['false_positives']}, {them['false_area_permille']}" if them else "–")
            + f" | {me['seconds_per_image']} |"
        )

    def cells(tool: str) -> tuple[str, str]:
        if tool not in totals:
            return "–", "–"
        hits, faces, boxes, area = totals[tool]
        return f"**{hits / faces:.1%}**", f"{boxes:.0f}, {area:.2f} (mean)"

    (mine, my_false), (theirs, their_false) = cells("faceveil"), cells("deface")
    faces = totals["faceveil"][1]
    lines.append(f"| **all** | {faces:.0f} | {mine} | {theirs} | {my_false} | {their_false} | |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
