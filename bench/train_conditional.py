"""Train the conditional anonymiser (bench/conditional_model.py) on dcgan64's samples.

    .venv/bin/python bench/train_conditional.py [--out DIR] [--resume]

The reference run of docs/benchmarks.md: the settings below, on one torch thread (reproducible,
and faster than two on a busy 2-core machine). ``--resume`` continues a stopped run exactly;
bench/conditional.py reads the result with ``--weights DIR``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from conditional_model import train_conditional

SETTINGS = {"samples": 8000, "epochs": 5, "batch": 8, "width": 16, "latent_dim": 32, "seed": 0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--out", type=Path, default=Path.home() / ".cache" / "faceveil" / "train_conditional"
    )
    ap.add_argument("--epochs", type=int, default=SETTINGS["epochs"])
    ap.add_argument("--resume", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    began = time.perf_counter()
    options = {**SETTINGS, "epochs": args.epochs}
    if args.resume:
        options = {"epochs": args.epochs}
    result = train_conditional(
        "dcgan64", args.out, resume=args.resume, overwrite=not args.resume, progress=True, **options
    )
    print(f"{len(result.log)} epochs in {time.perf_counter() - began:.0f} s; {result.notes[-1]}")


if __name__ == "__main__":
    main()
