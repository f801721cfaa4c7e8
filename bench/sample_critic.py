"""Contact sheets for setting and checking the generator sample critic's limits by eye.

    .venv/bin/python bench/sample_critic.py [--n 240] [--seed 3] [--out out/critic]

For every measure of faceveil.gen.quality.Critique: a sheet of samples sorted by it (worst
first, its value under each), and two sheets of random samples the critic keeps and rejects.
Prints each measure's percentiles and the share that passes each limit.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path

import cv2
import numpy as np

from faceveil.gen.quality import LIMITS, Critique, critique
from faceveil.gen.registry import get_generator

TILE = 128


def sheet(faces: np.ndarray, captions: list[str], columns: int = 12) -> np.ndarray:
    rows = -(-len(faces) // columns)
    out = np.full((rows * (TILE + 16), columns * TILE, 3), 255, np.uint8)
    for k, (face, text) in enumerate(zip(faces, captions, strict=True)):
        y, x = (k // columns) * (TILE + 16), (k % columns) * TILE
        out[y : y + TILE, x : x + TILE] = cv2.resize(face, (TILE, TILE), cv2.INTER_CUBIC)
        cv2.putText(out, text, (x + 2, y + TILE + 12), cv2.FONT_HERSHEY_SIMPLEX, 0.35, 0, 1)
    return out


def save(path: Path, image: np.ndarray) -> None:
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=240)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("out/critic"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    generator = get_generator()
    faces = generator.sample(args.n, seed=args.seed)
    c = critique(faces, generator.landmark_template)
    clean = c.clean()
    summary = {"n": args.n, "clean": int(clean.sum())}
    for f in fields(Critique):
        value = getattr(c, f.name)
        low, high = LIMITS[f.name]
        order = np.argsort(value if low is not None else -np.nan_to_num(value, nan=np.inf))
        worst = order[:48]
        save(
            args.out / f"sorted_{f.name}.png",
            sheet(faces[worst], [f"{i}:{value[i]:.3f}" for i in worst]),
        )
        summary[f.name] = {
            "p10_50_90": [round(float(q), 3) for q in np.nanpercentile(value, [10, 50, 90])],
            "fails": len([i for i in range(args.n) if f.name in c.failures(i)]),
        }
    rng = np.random.default_rng(0)
    for name, pick in (("kept", np.flatnonzero(clean)), ("rejected", np.flatnonzero(~clean))):
        if not len(pick):
            continue
        shown = np.sort(rng.choice(pick, min(48, len(pick)), replace=False))
        captions = [f"{i}:{','.join(x[:4] for x in c.failures(i))}" for i in shown]
        save(args.out / f"{name}.png", sheet(faces[shown], captions))
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
