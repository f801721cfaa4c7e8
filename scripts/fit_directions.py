"""Fit and store the latent directions and presets of a generator.

    .venv/bin/python scripts/fit_directions.py [--model dcgan64] [--n 3000] [--seed 0]

--model is a registered name or a model directory (say one `faceveil train` wrote). Writes
directions.npz into the model directory (for the built-in dcgan64, into the package's data
folder). Measure the result with bench/directions.py. About 2 minutes for dcgan64 on one core.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from faceveil.gen.base import DIRECTIONS_FILE
from faceveil.gen.directions import ATTRIBUTES, fit_directions
from faceveil.gen.registry import get_generator


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="dcgan64", help="generator name or model directory")
    ap.add_argument("--n", type=int, default=3000, help="samples to label")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)  # small networks; leaves the other core to other jobs
    generator = get_generator(args.model, device="cpu")
    start = time.perf_counter()
    directions = fit_directions(generator, n=args.n, seed=args.seed)
    path = directions.save(Path(generator.info.path) / DIRECTIONS_FILE)
    fit = directions.meta["fit"]
    print(
        f"{fit['labelled']} of {fit['samples']} samples labelled, "
        f"{time.perf_counter() - start:.0f} s -> {path}"
    )
    pcs = directions.names("pca")
    share = directions.meta["explained_variance"]
    print(
        f"{len(pcs)} PCA directions, explaining {sum(share.values()):.0%} of the first block's "
        f"variance: " + ", ".join(f"{p} {share[p]:.1%}" for p in pcs[:5]) + " ..."
    )
    if not directions.names("attribute"):
        print("too few faces detected: no attribute directions or class presets")
        return
    normals = np.stack([directions.vector(a, orthogonal=False) for a in ATTRIBUTES])
    cos = normals @ normals.T
    print(
        "cosines between the attribute normals: "
        f"age-gender {cos[0, 1]:+.2f}, age-smile {cos[0, 2]:+.2f}, gender-smile {cos[1, 2]:+.2f}"
    )
    print("presets:", ", ".join(directions.preset_names()))


if __name__ == "__main__":
    main()
