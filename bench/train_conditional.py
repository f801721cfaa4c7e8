"""Train the conditional anonymiser shipped with dcgan64 (faceveil/data/generators/dcgan64/).

    .venv/bin/python scripts/train_conditional.py [--out DIR] [--install]

The same as ``faceveil train dcgan64 -o DIR --arch conditional`` with the
settings below, on one torch thread (reproducible, and faster than two on a busy 2-core
machine). ``--install`` copies the weights into the package; ``--resume`` continues a stopped
run exactly.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import torch

from faceveil.gen.conditional import WEIGHTS_FILE, train_conditional
from faceveil.gen.registry import BUILTIN_DIR

SETTINGS = {"samples": 8000, "epochs": 5, "batch": 8, "width": 16, "latent_dim": 32, "seed": 0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--out", type=Path, default=Path.home() / ".cache" / "faceveil" / "train_conditional"
    )
    ap.add_argument("--epochs", type=int, default=SETTINGS["epochs"])
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--install", action="store_true", help="copy the weights into the package")
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
    if args.install:
        target = BUILTIN_DIR / "dcgan64" / WEIGHTS_FILE
        shutil.copyfile(args.out / WEIGHTS_FILE, target)
        print(f"installed {target} ({target.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
