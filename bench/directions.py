"""How cleanly the latent directions move what they say they move.

    .venv/bin/python bench/directions.py [--model dcgan64] [--n 200] [--pcs 5]

Held-out samples (seed 10000; the directions were fitted on seeds 0 and 1) are moved by
-3..+3 z units along each direction and re-labelled by faceveil's analysis models. Per
direction: the slope of each score per z unit (least squares per sample, then the mean), the
share of samples whose own score rises (``right way``), the SFace similarity of the moved face to
the start at +-1 and +-3 units (identity drift; 0.363 is the same-person threshold), and the
share of faces still detected at +-3. Prints a Markdown table, writes bench/out/directions.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from faceveil.analysis.identity import SFACE_THRESHOLD, embed_faces
from faceveil.gen.directions import ATTRIBUTES, attribute_scores, detected_samples, load_directions
from faceveil.gen.registry import get_generator

STEPS = np.array([-3, -2, -1, 0, 1, 2, 3], np.float32)
OUT = Path(__file__).resolve().parent / "out" / "directions.json"


def observe(generator, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scores (N, 3) and SFace embeddings (N, 128) of each latent's face; NaN if undetected."""
    scores = np.full((len(z), 3), np.nan, np.float32)
    embeddings = np.full((len(z), 128), np.nan, np.float32)
    for i, (canvas, face) in enumerate(detected_samples(generator, z)):
        if face is not None:
            scores[i] = attribute_scores(canvas, face)
            embeddings[i] = embed_faces(canvas, [face])[0]
    return scores, embeddings


def slopes(scores: np.ndarray) -> np.ndarray:
    """(N, 3) least-squares slope per sample and score over STEPS; NaN with < 4 points."""
    out = np.full(scores.shape[::2], np.nan, np.float32)
    for i, per_step in enumerate(scores):
        ok = ~np.isnan(per_step[:, 0])
        if ok.sum() >= 4:
            out[i] = np.polyfit(STEPS[ok], per_step[ok], 1)[0]
    return out


def measure(generator, vector: np.ndarray, z: np.ndarray, start: tuple, target: int | None):
    """Sweep `z` along `vector`; `start` is observe() at step 0."""
    scores = np.empty((len(z), len(STEPS), 3), np.float32)
    embeddings = np.empty((len(z), len(STEPS), 128), np.float32)
    for j, t in enumerate(STEPS):
        scores[:, j], embeddings[:, j] = start if t == 0 else observe(generator, z + t * vector)
    slope = slopes(scores)
    sim = np.einsum("ntk,nk->nt", embeddings, embeddings[:, 3])  # NaN where either undetected

    def at(*steps):
        cols = [int(np.flatnonzero(s == STEPS)[0]) for s in steps]
        return float(np.nanmean(sim[:, cols]))

    edge = ~np.isnan(scores[:, [0, -1], 0])
    row = {
        "slopes": dict(zip(ATTRIBUTES, np.nanmean(slope, axis=0).round(4).tolist(), strict=True)),
        "sface_1": at(-1, 1),
        "sface_3": at(-3, 3),
        "same_person_3": float(
            np.nanmean(
                np.where(np.isnan(sim[:, [0, -1]]), np.nan, sim[:, [0, -1]] >= SFACE_THRESHOLD)
            )
        ),
        "detected_3": float(edge.mean()),
        "samples": int((~np.isnan(slope[:, 0])).sum()),
    }
    if target is not None:
        row["right_way"] = float(np.mean(slope[~np.isnan(slope[:, target]), target] > 0))
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="dcgan64")
    ap.add_argument("--n", type=int, default=200, help="held-out samples")
    ap.add_argument("--seed", type=int, default=10_000)
    ap.add_argument("--pcs", type=int, default=5, help="PCA directions to measure too")
    args = ap.parse_args()
    torch.set_num_threads(1)
    generator = get_generator(args.model, device="cpu")
    directions = load_directions(generator)
    z = generator.sample_latents(args.n, seed=args.seed)
    t0 = time.perf_counter()
    start = observe(generator, z)
    rows = {}
    for variant in ("raw", "orthogonal"):
        for i, name in enumerate(ATTRIBUTES):
            vector = directions.vector(name, orthogonal=variant == "orthogonal")
            rows[f"{name} ({variant})"] = measure(generator, vector, z, start, target=i)
    for name in directions.names("pca")[: args.pcs]:
        rows[name] = measure(generator, directions.vector(name), z, start, target=None)
    seconds = time.perf_counter() - t0

    print(f"\n{generator.name}: {args.n} held-out samples moved -3..+3 z units, {seconds:.0f} s\n")
    print(
        "| direction | age, years / unit | P(female) / unit | P(happy) / unit | right way "
        "| SFace to start, ±1 / ±3 | same person at ±3 | detected at ±3 |"
    )
    print("|---|--:|--:|--:|--:|--:|--:|--:|")
    for key, r in rows.items():
        own = key.split(" ")[0]
        cells = [f"**{v:+.3f}**" if a == own else f"{v:+.3f}" for a, v in r["slopes"].items()]
        right = f"{r['right_way']:.0%}" if "right_way" in r else "–"
        print(
            f"| {key} | {' | '.join(cells)} | {right} | {r['sface_1']:.2f} / "
            f"{r['sface_3']:.2f} | {r['same_person_3']:.0%} | {r['detected_3']:.0%} |"
        )
    OUT.parent.mkdir(exist_ok=True)
    report = {
        "model": generator.name,
        "n": args.n,
        "seed": args.seed,
        "steps": STEPS.tolist(),
        "seconds": seconds,
        "fit": directions.meta.get("fit"),
        "directions": rows,
    }
    OUT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\n-> {OUT}")


if __name__ == "__main__":
    main()
