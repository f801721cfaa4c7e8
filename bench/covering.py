"""``faceveil.restore.find_covering`` on synthetic coverings with exact ground truth.

    nice -n 10 .venv/bin/python bench/covering.py [--orl 20] [--dcgan 20] [--seed 0] [--no-baseline]

Faces (all disjoint from the segmenter's training faces): a seeded choice of ORL faces of
people 1-20 (2x; training used people 21-40), the astronaut, and DCGAN samples of seed 0 (4x;
training used seeds 1000+). Each is covered once by every kind of
:data:`faceveil.restore.OCCLUDER_KINDS` (colour drawn per item, see ``occluded_set``).
Reports IoU, precision and recall per kind, source and colour for the learned segmenter and,
as a baseline, the hand-built finder (skin model + SLIC + GrabCut); then the uncovered faces
themselves (how many come back with an empty mask, false area as a share of the face box),
and the time per face (detection not included). Writes bench/out/covering.md and .json.
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


def _table(title: str, groups: dict[str, dict[str, list]], methods: list[str]) -> list[str]:
    head = f"| {title} | n | " + " | ".join(
        f"IoU {m} | precision {m} | recall {m}" if m == methods[0] else f"IoU {m}" for m in methods
    )
    rows = [head + " |", "|---|--:|" + "--:|" * (3 + len(methods) - 1)]
    for name in groups[methods[0]]:
        a = np.array(groups[methods[0]][name])
        cells = [f"{a[:, 0].mean():.2f} | {a[:, 1].mean():.2f} | {a[:, 2].mean():.2f}"]
        cells += [f"{np.array(groups[m][name])[:, 0].mean():.2f}" for m in methods[1:]]
        rows.append(f"| {name} | {len(a)} | " + " | ".join(cells) + " |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orl", type=int, default=20, help="ORL faces (people 1-20)")
    ap.add_argument("--dcgan", type=int, default=20, help="DCGAN faces (seed --seed)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-baseline", action="store_true", help="skip the hand-built finder")
    args = ap.parse_args()

    from covering_handbuilt import find_covering_handbuilt
    from faceveil.restore import find_covering
    from faceveil.restore.occlusions import occluded_set, source_faces

    methods = {"learned": find_covering}
    if not args.no_baseline:
        methods["hand-built"] = find_covering_handbuilt
    per_source = {"orl": args.orl, "astronaut": 1, "dcgan": args.dcgan}
    items = occluded_set(per_source, seed=args.seed)
    keys = ("kind", "source", "colour")
    by = {m: {k: defaultdict(list) for k in keys} for m in methods}
    overall = {m: [] for m in methods}
    times = {m: [] for m in methods}
    for m, fn in methods.items():
        fn(items[0]["image"], items[0]["face"])  # load models before timing
        for it in items:
            t0 = time.perf_counter()
            pred = fn(it["image"], it["face"])
            times[m].append(time.perf_counter() - t0)
            s = _scores(pred, it["truth"])
            overall[m].append(s)
            for key in keys:
                by[m][key][it[key]].append(s)

    clean = {m: [] for m in methods}
    for source, n in per_source.items():
        for _name, img, face in source_faces(source, n, seed=args.seed):
            x, y, w, h = face.box
            for m, fn in methods.items():
                pred = fn(img, face)
                clean[m].append((source, bool(pred.any()), float(pred.sum() / (w * h))))

    names = list(methods)
    lines = [
        f"{len(items)} covered faces ({', '.join(f'{k} {v}' for k, v in per_source.items())} "
        f"faces x {len(by[names[0]]['kind'])} kinds), seed {args.seed}",
        "",
    ]
    for m in names:
        ov = np.array(overall[m])
        lines.append(
            f"**{m}: mean IoU {ov[:, 0].mean():.3f}, median {np.median(ov[:, 0]):.3f}, "
            f"precision {ov[:, 1].mean():.3f}, recall {ov[:, 2].mean():.3f}**  "
        )
    for key in keys:
        lines += ["", *_table(key, {m: by[m][key] for m in names}, names)]
    lines += [
        "",
        "| uncovered faces | method | n | empty mask | false area / face box, mean | max |",
        "|---|---|--:|--:|--:|--:|",
    ]
    for source in [*per_source, "all"]:
        for m in names:
            rows = [c for c in clean[m] if source in ("all", c[0])]
            if rows:
                area = np.array([r[2] for r in rows])
                lines.append(
                    f"| {source} | {m} | {len(rows)} | {sum(not r[1] for r in rows)} | "
                    f"{area.mean():.3f} | {area.max():.3f} |"
                )
    lines.append("")
    for m in names:
        t = np.array(times[m]) * 1000
        lines.append(
            f"time per face, {m}: median {np.median(t):.0f} ms, p95 {np.percentile(t, 95):.0f} ms  "
        )
    text = "\n".join(lines)
    print(text)
    OUT.mkdir(exist_ok=True)
    (OUT / "covering.md").write_text(text + "\n")
    summary = {
        m: {
            "overall_iou": float(np.mean([s[0] for s in overall[m]])),
            "per_kind_iou": {
                k: float(np.mean([s[0] for s in v])) for k, v in by[m]["kind"].items()
            },
            "per_source_iou": {
                k: float(np.mean([s[0] for s in v])) for k, v in by[m]["source"].items()
            },
            "beige_iou": float(np.mean([s[0] for s in by[m]["colour"].get("beige", [])] or [0])),
            "uncovered_empty": sum(not c[1] for c in clean[m]),
            "uncovered": len(clean[m]),
            "ms_per_face_median": float(np.median(times[m]) * 1000),
        }
        for m in names
    }
    (OUT / "covering.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
