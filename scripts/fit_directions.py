"""Fit, measure and store the latent directions and presets of a generator.

    .venv/bin/python scripts/fit_directions.py [--model dcgan64] [--n 3000] [--seed 0]

Writes directions.npz into the model directory (for the built-in dcgan64, into the package's
data folder) and prints the quality table that the README quotes.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from faceveil.gen.base import DIRECTIONS_FILE
from faceveil.gen.directions import fit_directions, measure_directions
from faceveil.gen.registry import get_generator


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="dcgan64")
    ap.add_argument("--n", type=int, default=3000, help="labelled samples")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--measure", type=int, default=200, help="held-out samples for the table")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    generator = get_generator(args.model)
    start = time.perf_counter()
    directions, _, labels = fit_directions(generator, n=args.n, seed=args.seed)
    fitted = time.perf_counter() - start
    directions.quality = measure_directions(generator, directions, n=args.measure)
    directions.quality["fit"] = {"samples": args.n, "labelled": len(labels), "seconds": fitted}
    path = directions.save(Path(generator.info.path) / DIRECTIONS_FILE)
    print(f"{len(labels)} of {args.n} samples labelled in {fitted:.0f} s -> {path}")
    top = sorted(directions.explained_variance.items(), key=lambda kv: -kv[1])[:5]
    print("PCA explained variance:", ", ".join(f"{k} {v:.1%}" for k, v in top))
    print(
        "\n| direction | variant | own change per z unit | right way | other scores' change "
        "(±2 units) | SFace similarity -2 vs +2 |"
    )
    print("|---|---|--:|--:|---|--:|")
    for key, r in directions.quality.items():
        if "/" not in key:
            continue
        name, variant = key.split("/")
        others = ", ".join(f"{k} {v:.2f}" for k, v in r["others_abs_change"].items())
        print(
            f"| {name} | {variant} | {r['per_z_unit']:+.3f} {r['unit']} | {r['right_way']:.0%} "
            f"| {others} | {r['identity_similarity']:.2f} |"
        )
    print(json.dumps(directions.quality["fit"]))


if __name__ == "__main__":
    main()
