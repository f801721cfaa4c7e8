"""Filling covered faces (``faceveil.restore``) against classical inpainting.

    python bench/restore.py [--orl 6] [--dcgan 6] [--kinds surgical,...] [--details 0.6,1.0]
                            [--seed 0] [--no-covering]

Faces: a seeded choice of ORL faces (2x) and DCGAN samples (4x), each covered once by every
kind of :data:`faceveil.restore.OCCLUDER_KINDS` (``occluded_set``, exact ground truth). The
face is detected on the *covered* image, as ``faceveil restore`` does (the clean face's
landmarks when the detector misses it; counted). Each method fills the ground-truth mask:
the generator fill at each ``--details`` value, OpenCV Telea and Navier-Stokes, scikit-image
biharmonic. Measured inside the hole against the uncovered original: PSNR and SSIM (the SSIM
map of the whole image, averaged over the hole); SFace identity similarity of the restored
face with the original (both aligned on the clean face's landmarks), next to that of the
covered face; how often YuNet finds the face again (IoU >= 0.5 with the clean face's box);
seconds per face. With the covering detector available (and not --no-covering): its IoU with
the ground truth, and the generator fill on its mask end to end.

Writes bench/out/restore.json and bench/out/restore.md.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from skimage.metrics import structural_similarity

OUT = Path(__file__).resolve().parent / "out"


def hole_ssim(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    _, full = structural_similarity(a, b, channel_axis=2, full=True, data_range=255)
    return float(full.mean(axis=2)[mask].mean())


def hole_psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    err = ((a.astype(np.float64) - b.astype(np.float64))[mask] ** 2).mean()
    return float(10 * np.log10(255.0**2 / max(err, 1e-10)))


def identity(reference: np.ndarray, image: np.ndarray, face) -> float:
    from faceveil.analysis.identity import cosine, embed_faces

    return float(cosine(embed_faces(reference, [face])[0], embed_faces(image, [face])[0]))


def found_again(image: np.ndarray, face) -> bool:
    from faceveil.detect import detect
    from faceveil.faces import box_iou

    return any(box_iou(f.box, face.box) >= 0.5 for f in detect(image))


def _mean(rows: list[dict], key: str) -> float | None:
    vals = [r[key] for r in rows if r.get(key) is not None]
    return float(np.mean(vals)) if vals else None


def summarise(rows: list[dict]) -> dict:
    keys = ("psnr", "ssim", "identity", "found", "seconds")
    return {"n": len(rows), **{k: _mean(rows, k) for k in keys}}


def _fmt(v, digits=3, pct=False) -> str:
    if v is None:
        return "n/a"
    return f"{100 * v:.0f} %" if pct else f"{v:.{digits}f}"


def table(title: str, groups: dict[str, dict]) -> list[str]:
    lines = [
        f"| {title} | n | PSNR in hole (dB) | SSIM in hole | identity vs original | "
        "face found again | s/face |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for name, s in groups.items():
        lines.append(
            f"| {name} | {s['n']} | {_fmt(s['psnr'], 2)} | {_fmt(s['ssim'])} | "
            f"{_fmt(s['identity'])} | {_fmt(s['found'], pct=True)} | {_fmt(s['seconds'], 2)} |"
        )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orl", type=int, default=6, help="ORL faces (each covered by every kind)")
    ap.add_argument("--dcgan", type=int, default=6, help="DCGAN faces")
    ap.add_argument("--kinds", default=None, help="comma-separated occluder kinds (default all)")
    ap.add_argument("--details", default="0.6,1.0", help="detail values of the generator fill")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-covering", action="store_true", help="skip the covering detector")
    args = ap.parse_args()

    from faceveil.detect import detect
    from faceveil.faces import box_iou
    from faceveil.restore.baselines import BASELINES
    from faceveil.restore.fill import fill_covering
    from faceveil.restore.occlusions import OCCLUDER_KINDS, occluded_set

    kinds = tuple(args.kinds.split(",")) if args.kinds else OCCLUDER_KINDS
    details = [float(d) for d in args.details.split(",")]
    items = occluded_set({"orl": args.orl, "dcgan": args.dcgan}, kinds=kinds, seed=args.seed)
    find_covering = None
    if not args.no_covering:
        try:
            from faceveil.restore.covering import find_covering
        except ImportError:
            find_covering = None

    rows: list[dict] = []
    faces_found = 0
    for n, it in enumerate(items, 1):
        covered, truth, clean, clean_face = it["image"], it["truth"], it["clean"], it["face"]
        seen = [f for f in detect(covered) if box_iou(f.box, clean_face.box) >= 0.3]
        face = max(seen, key=lambda f: f.box[2] * f.box[3]) if seen else clean_face
        faces_found += bool(seen)
        common = {"name": it["name"], "source": it["source"], "kind": it["kind"]}
        rows.append(
            {
                **common,
                "method": "covered (no fill)",
                "psnr": hole_psnr(covered, clean, truth),
                "ssim": hole_ssim(covered, clean, truth),
                "identity": identity(clean, covered, clean_face),
                "found": found_again(covered, clean_face),
                "seconds": None,
            }
        )
        fills = {}
        for d in details:
            fills[f"generator fill (detail {d:g})"] = lambda d=d, c=covered, f=face, t=truth: (
                fill_covering(c, f, t, detail=d, seed=args.seed).image
            )
        for name, fn in BASELINES.items():
            fills[name] = lambda fn=fn, c=covered, t=truth: fn(c, t)
        for method, run in fills.items():
            start = time.perf_counter()
            out = run()
            seconds = time.perf_counter() - start
            assert (out[~truth] == covered[~truth]).all(), f"{method} changed pixels outside"
            rows.append(
                {
                    **common,
                    "method": method,
                    "psnr": hole_psnr(out, clean, truth),
                    "ssim": hole_ssim(out, clean, truth),
                    "identity": identity(clean, out, clean_face),
                    "found": found_again(out, clean_face),
                    "seconds": seconds,
                }
            )
        if find_covering is not None:
            try:
                start = time.perf_counter()
                pred = np.asarray(find_covering(covered, face), bool)
                out = fill_covering(covered, face, pred, detail=details[0], seed=args.seed).image
                seconds = time.perf_counter() - start
            except (NotImplementedError, FileNotFoundError, RuntimeError) as exc:
                print(f"covering detector unavailable ({type(exc).__name__}): skipped")
                find_covering = None
            else:
                union = (pred | truth).sum()
                rows.append(
                    {
                        **common,
                        "method": f"end to end (find_covering + fill, detail {details[0]:g})",
                        "covering_iou": float((pred & truth).sum() / union) if union else 1.0,
                        "psnr": hole_psnr(out, clean, truth),
                        "ssim": hole_ssim(out, clean, truth),
                        "identity": identity(clean, out, clean_face),
                        "found": found_again(out, clean_face),
                        "seconds": seconds,
                    }
                )
        print(f"{n}/{len(items)} {it['name']} {it['kind']}", flush=True)

    by_method: dict[str, list] = defaultdict(list)
    by_source: dict[str, list] = defaultdict(list)
    by_kind: dict[str, list] = defaultdict(list)
    for r in rows:
        by_method[r["method"]].append(r)
        by_source[f"{r['source']}: {r['method']}"].append(r)
        by_kind[f"{r['kind']}: {r['method']}"].append(r)
    summary = {
        "items": len(items),
        "face_detected_on_covered": faces_found / max(len(items), 1),
        "methods": {k: summarise(v) for k, v in by_method.items()},
        "by_source": {k: summarise(v) for k, v in sorted(by_source.items())},
        "by_kind": {k: summarise(v) for k, v in sorted(by_kind.items())},
    }
    ious = [r["covering_iou"] for r in rows if "covering_iou" in r]
    summary["covering_iou"] = float(np.mean(ious)) if ious else None
    command = (
        f"python bench/restore.py --orl {args.orl} --dcgan {args.dcgan} --details {args.details}"
        + (f" --kinds {args.kinds}" if args.kinds else "")
        + f" --seed {args.seed}"
    )
    lines = [
        f"`{command}`: {len(items)} covered faces ({args.orl} ORL, {args.dcgan} DCGAN x "
        f"{len(kinds)} kinds); face detected on the covered image: "
        f"{_fmt(summary['face_detected_on_covered'], pct=True)}"
        + (f"; covering IoU {summary['covering_iou']:.3f}" if ious else "")
        + ".",
        "",
        *table("method", summary["methods"]),
        "",
        *table("source: method", summary["by_source"]),
        "",
        *table("kind: method", summary["by_kind"]),
    ]
    OUT.mkdir(exist_ok=True)
    (OUT / "restore.json").write_text(
        json.dumps({"command": command, "summary": summary, "rows": rows}, indent=1) + "\n"
    )
    (OUT / "restore.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
