"""How well, and how fast, each inversion path reproduces a face.

    .venv/bin/python bench/inversion.py            # [--samples 50] [--orl 40] [--steps 200]

Three sets: held-out generator samples (seed 10000; the encoder trains on seed 0's stream),
already aligned; the first image of each ORL person, upscaled 2x; the astronaut. For each path
(``encoder``, ``optimize``, ``encoder+optimize`` = ``auto``) it prints a Markdown table of the
mean SSIM of target and reconstruction, the mean SFace cosine between them (over the pairs where
both faces are detected), the share re-identified (cosine >= 0.363; an undetected face counts
as not re-identified), for ORL the share of reconstructions that SFace matches with the
person's *second* photo (which the optimiser never saw; the aligned 64 px targets themselves
match it in ``target_second_photo`` of the JSON), and the seconds per face, everything included
(detection, alignment, inversion, scoring). One thread, so the numbers hold on a busy
machine. Results also go to bench/out/inversion.json.

``--mix`` instead compares straight-line and spherical (slerp) midpoints of 50 pairs of
sample latents: the midpoint's norm against sqrt(latent_dim), whether YuNet finds a face in
it, and its SFace similarity to each end.

Note that the identity term of the optimisation uses SFace itself, so the similarity and
re-identified columns of the optimising paths measure what the loss optimised. SSIM is
independent of it, and the second-photo column asks SFace about a photo the loss never saw.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import skimage.data
import torch
from skimage.metrics import structural_similarity

from faceveil.analysis.identity import SFACE_THRESHOLD, cosine
from faceveil.analysis.verify import find_faces
from faceveil.gen.invert import crop_embedding, identity_similarity, invert
from faceveil.gen.mix import slerp
from faceveil.gen.registry import get_generator
from faceveil.io.orl import load_orl

HELD_OUT_SEED = 10_000
PATHS = ("encoder", "optimize", "encoder+optimize")


def inputs(generator, n_samples: int, n_orl: int) -> dict[str, tuple[list, bool, list]]:
    """Set name -> (images, already aligned, embeddings of other photos of the same people)."""
    orl = load_orl(2.0)
    samples = list(generator.sample(n_samples, HELD_OUT_SEED))
    sets = {
        f"generator samples ({n_samples})": (samples, True, []),
        f"ORL, first image ({n_orl})": (
            [orl[10 * p][1] for p in range(n_orl)],
            False,
            [find_faces(orl[10 * p + 1][1], largest_only=True).embeddings[0] for p in range(n_orl)],
        ),
        "astronaut (1)": ([skimage.data.astronaut()], False, []),
    }
    return {name: (images, *rest) for name, (images, *rest) in sets.items() if images}


def summarise(results, second_photos: list) -> dict:
    sims = [r.identity_similarity for r in results]
    found = [s for s in sims if s is not None]
    row = {
        "n": len(results),
        "ssim": float(np.mean([r.ssim for r in results])),
        "identity": float(np.mean(found)) if found else None,
        "detected": len(found),
        "reidentified": sum(s >= SFACE_THRESHOLD for s in found) / len(results),
        "seconds": float(np.mean([r.seconds for r in results])),
    }
    if second_photos:  # another photo of the same person, never seen by the optimiser
        for key, faces in (
            ("second_photo", [r.reconstruction for r in results]),
            ("target_second_photo", [r.target for r in results]),  # the best one can hope
        ):
            found = [crop_embedding(f) for f in faces]
            row[key] = sum(
                e is not None and cosine(e, other) >= SFACE_THRESHOLD
                for e, other in zip(found, second_photos, strict=True)
            ) / len(results)
    return row


def midpoints(generator, pairs: int = 50) -> dict:
    """Straight-line against spherical midpoints of sample latents."""
    za = generator.sample_latents(pairs, seed=HELD_OUT_SEED)
    zb = generator.sample_latents(pairs, seed=HELD_OUT_SEED + 1)
    ends_a, ends_b = generator.decode(za), generator.decode(zb)
    mean_face = generator.decode(np.zeros(generator.latent_dim, np.float32))
    rows = {}
    for name, mids in (
        ("ends (for reference)", np.concatenate([za, zb])),
        ("linear", (za + zb) / 2),
        ("slerp", np.stack([slerp(a, b, 0.5) for a, b in zip(za, zb, strict=True)])),
    ):
        faces = generator.decode(mids)
        to_mean = [structural_similarity(f, mean_face, channel_axis=2) for f in faces]
        faces = faces[:pairs]
        sims = [
            (identity_similarity(f, a), identity_similarity(f, b))
            for f, a, b in zip(faces, ends_a, ends_b, strict=True)
        ]
        found = [s for s in sims if None not in s]
        rows[name] = {
            "norm": float(np.mean(np.linalg.norm(mids, axis=1)) / np.sqrt(generator.latent_dim)),
            "face_found": len(found) / pairs,
            "similarity_to_ends": float(np.mean(found)) if found else None,
            "ssim_to_mean_face": float(np.mean(to_mean)),
        }
    rows["ends (for reference)"]["similarity_to_ends"] = None
    print("| latent | norm / sqrt(d) | face detected | SFace to A and B | SSIM to mean face |")
    print("|---|---|---|---|---|")
    for name, r in rows.items():
        sim = r["similarity_to_ends"]
        print(
            f"| {name} | {r['norm']:.2f} | {100 * r['face_found']:.0f} % | "
            f"{'-' if sim is None else f'{sim:.3f}'} | {r['ssim_to_mean_face']:.3f} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--orl", type=int, default=40)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--restarts", type=int, default=4)
    parser.add_argument("--paths", nargs="+", default=list(PATHS), choices=PATHS)
    parser.add_argument("--mix", action="store_true", help="compare midpoints instead")
    parser.add_argument("--out", default="bench/out/inversion.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    generator = get_generator("dcgan64")
    if args.mix:
        out = Path(args.out).with_name("mixing.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(midpoints(generator), indent=2) + "\n")
        print(f"\n-> {out}")
        return
    invert(generator, skimage.data.astronaut(), method="encoder")  # load models before timing
    rows = []
    for set_name, (images, aligned, others) in inputs(generator, args.samples, args.orl).items():
        for path in args.paths:
            results = [
                invert(
                    generator,
                    img,
                    method=path,
                    steps=args.steps,
                    restarts=args.restarts,
                    aligned=aligned,
                )
                for img in images
            ]
            rows.append({"set": set_name, "path": path, **summarise(results, others)})
            print(json.dumps(rows[-1]), flush=True)
    print(
        "\n| set | path | SSIM | SFace similarity | re-identified | matches a 2nd photo "
        "| s / face |\n|---|---|---|---|---|---|---|"
    )
    for r in rows:
        ident = "-" if r["identity"] is None else f"{r['identity']:.3f}"
        if r["detected"] < r["n"]:
            ident += f" ({r['detected']}/{r['n']} detected)"
        second = f"{100 * r['second_photo']:.0f} %" if "second_photo" in r else "-"
        print(
            f"| {r['set']} | {r['path']} | {r['ssim']:.3f} | {ident} | "
            f"{100 * r['reidentified']:.0f} % | {second} | {r['seconds']:.2f} |"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2) + "\n")
    print(f"\n-> {out}")


if __name__ == "__main__":
    main()
