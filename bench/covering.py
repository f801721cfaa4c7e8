"""``faceveil.restore.find_covering`` on synthetic coverings with exact ground truth.

    python bench/covering.py [--orl 10] [--dcgan 10] [--seed 0]

Faces: a seeded choice of ORL faces (2x), the astronaut and DCGAN samples (4x); each is
covered once by every kind of :data:`faceveil.restore.OCCLUDER_KINDS` (colour drawn per item,
see ``occluded_set``). Reports IoU, precision and recall per kind, per source and per colour,
then the uncovered faces themselves (how many come back with an empty mask, and the false
area as a share of the face box), and the time per face (mesh, skin model, GrabCut; detection
not included). Writes bench/out/covering.md and bench/out/covering.json.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "out"


def _scores(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    inter = float((pred & truth).sum())
    union = float((pred | truth).sum())
    return (
        inter / union if union else 1.0,
        inter / pred.sum() if pred.any() else float(not truth.any()),
        inter / truth.sum() if truth.any() else 1.0,
    )


def _table(title: str, groups: dict[str, list]) -> list[str]:
    rows = [
        f"| {title} | n | IoU mean | IoU median | precision | recall |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for name, vals in groups.items():
        a = np.array(vals)
        rows.append(
            f"| {name} | {len(a)} | {a[:, 0].mean():.2f} | {np.median(a[:, 0]):.2f} "
            f"| {a[:, 1].mean():.2f} | {a[:, 2].mean():.2f} |"
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orl", type=int, default=10, help="ORL faces")
    ap.add_argument("--dcgan", type=int, default=10, help="DCGAN faces")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from faceveil.restore import find_covering
    from faceveil.restore.occlusions import occluded_set, source_faces

    per_source = {"orl": args.orl, "astronaut": 1, "dcgan": args.dcgan}
    items = occluded_set(per_source, seed=args.seed)
    find_covering(items[0]["image"], items[0]["face"])  # load the mesh model before timing
    by = {"kind": defaultdict(list), "source": defaultdict(list), "colour": defaultdict(list)}
    overall, times = [], []
    for it in items:
        t0 = time.perf_counter()
        pred = find_covering(it["image"], it["face"])
        times.append(time.perf_counter() - t0)
        s = _scores(pred, it["truth"])
        overall.append(s)
        for key in by:
            by[key][it[key]].append(s)
    clean = []
    for source, n in per_source.items():
        for _name, img, face in source_faces(source, n, seed=args.seed):
            pred = find_covering(img, face)
            x, y, w, h = face.box
            clean.append((source, bool(pred.any()), float(pred.sum() / (w * h))))

    ov = np.array(overall)
    lines = [
        f"{len(items)} covered faces ({', '.join(f'{k} {v}' for k, v in per_source.items())} "
        f"faces x {len(by['kind'])} kinds), seed {args.seed}",
        "",
        f"**overall: mean IoU {ov[:, 0].mean():.3f}, median {np.median(ov[:, 0]):.3f}, "
        f"precision {ov[:, 1].mean():.3f}, recall {ov[:, 2].mean():.3f}**",
        "",
        *_table("kind", by["kind"]),
        "",
        *_table("source", by["source"]),
        "",
        *_table("colour", by["colour"]),
        "",
        "| uncovered faces | n | empty mask | false area / face box, mean | max |",
        "|---|--:|--:|--:|--:|",
    ]
    for source in [*per_source, "all"]:
        rows = [c for c in clean if source in ("all", c[0])]
        if rows:
            area = np.array([r[2] for r in rows])
            lines.append(
                f"| {source} | {len(rows)} | {sum(not r[1] for r in rows)} | "
                f"{area.mean():.3f} | {area.max():.3f} |"
            )
    t = np.array(times) * 1000
    lines += ["", f"time per face: median {np.median(t):.0f} ms, p95 {np.percentile(t, 95):.0f} ms"]
    text = "\n".join(lines)
    print(text)
    OUT.mkdir(exist_ok=True)
    (OUT / "covering.md").write_text(text + "\n")
    summary = {
        "overall_iou": float(ov[:, 0].mean()),
        "per_kind_iou": {k: float(np.mean([s[0] for s in v])) for k, v in by["kind"].items()},
        "per_source_iou": {k: float(np.mean([s[0] for s in v])) for k, v in by["source"].items()},
        "uncovered_empty": sum(not c[1] for c in clean),
        "uncovered": len(clean),
        "ms_per_face_median": float(np.median(t)),
    }
    (OUT / "covering.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
