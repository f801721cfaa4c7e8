"""``ksame`` measured by the privacy audit on ORL 2x, for several k.

    python bench/ksame.py [--people 40] [--k 2 5 10] [--scenes 10] [--no-attributes]
                          [--samples 1000] [--orl-gallery]

First the synthetic gallery is built from scratch in a temporary cache folder (build time,
identities kept). Then, for each k, the ORL protocol of ``bench/privacy.py``
(``faceveil.audit.orl``): re-ID against the other nine photos of the same person, detection
kept, attribute agreement, time per face, and the share of faces that fell back to blur (no
k-average passed the identity check, or the face was too small or turned). Then the
multi-face scenes of bench/privacy.py (re-ID there: the same photo's SFace identity; SSIM
outside the enlarged face regions). Writes bench/out/ksame.md and bench/out/ksame.json.

With --orl-gallery, the gallery is a folder of photos instead: all photos of the ORL people
after --people (e.g. --people 30: people 31-40), which the probes never include; written to
bench/out/ksame_orl_gallery.*.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "out"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=40, help="ORL subjects (max 40)")
    ap.add_argument("--k", type=int, nargs="+", default=[2, 5, 10])
    ap.add_argument("--samples", type=int, default=None, help="synthetic gallery samples")
    ap.add_argument("--scenes", type=int, default=10, help="multi-face scenes")
    ap.add_argument("--no-attributes", action="store_true", help="skip age/gender/emotion")
    ap.add_argument(
        "--orl-gallery",
        action="store_true",
        help="a user gallery instead: the photos of the ORL people after --people",
    )
    args = ap.parse_args()
    if args.samples:
        os.environ["FACEVEIL_KSAME_SAMPLES"] = str(args.samples)

    from faceveil.anonymize.ksame import synthetic_gallery, user_gallery
    from faceveil.anonymize.replace import model

    model()  # load the networks outside the timed build
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_CACHE_HOME"] = tmp
        folder = _orl_gallery(Path(tmp) / "gallery", args.people) if args.orl_gallery else None
        start = time.perf_counter()
        gallery = user_gallery(folder) if folder else synthetic_gallery()
        build = time.perf_counter() - start
        results = _measure(args, gallery, build, folder)
    name = "ksame_orl_gallery" if folder else "ksame"
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps(results, indent=2))
    table = markdown(results)
    (OUT / f"{name}.md").write_text(table + "\n")
    print(table)


def _orl_gallery(folder: Path, people: int) -> Path:
    from PIL import Image

    from faceveil.io.orl import load_orl

    folder.mkdir(parents=True)
    for i, (person, image) in enumerate(load_orl()):
        if person > people:
            Image.fromarray(image).save(folder / f"p{person:02d}_{i:03d}.png")
    return folder


def _measure(args, gallery, build: float, folder) -> dict:
    from faceveil.anonymize import anonymize
    from faceveil.audit import audit_pair
    from faceveil.audit.orl import orl_protocol

    results: dict = {
        "gallery": {"source": gallery.source, "identities": len(gallery), "build_s": build},
        "k": {},
    }
    print(f"{gallery.source}: {len(gallery)} identities, built in {build:.1f} s", flush=True)
    for k in args.k:
        fallbacks = []

        def anonymizer(image, faces, k=k, fallbacks=fallbacks):
            result = anonymize(image, "ksame", faces=faces, k=k, gallery=folder)
            fallbacks.append(len(result.report.warnings))
            return result.image

        row = orl_protocol(anonymizer, people=args.people, attributes=not args.no_attributes)
        row["fallback_rate"] = float(np.mean(fallbacks))
        if args.scenes:
            row["scenes"] = _scenes(anonymize, audit_pair, k, args.scenes, folder)
        results["k"][k] = row
        print(f"k={k}: done", flush=True)
    return results


def _scenes(anonymize, audit_pair, k: int, n: int, folder) -> dict:
    """bench/privacy.py's scenes (1280x720, 6 faces each): the same photo's identity, detection
    kept, SSIM outside the enlarged face regions, fallbacks and time per face."""
    from faceveil.detect import detect
    from faceveil.testing import make_scene

    faces_total = reid = kept = fallbacks = 0
    ssims, seconds = [], 0.0
    for seed in range(n):
        image, _ = make_scene(500 + seed, (1280, 720), 6, (60, 160), max_rotation_deg=10)
        faces = detect(image)
        start = time.perf_counter()
        out, report = anonymize(image, "ksame", faces=faces, k=k, gallery=folder)
        seconds += time.perf_counter() - start
        fallbacks += len(report.warnings)
        item = audit_pair(image, out, faces=faces, attributes=False)
        ssims.append(item.ssim_outside)
        for f in item.faces:
            faces_total += 1
            reid += f.re_identified
            kept += f.still_detectable
    return {
        "faces": faces_total,
        "re_identification_rate": reid / faces_total,
        "detection_kept_rate": kept / faces_total,
        "fallback_rate": fallbacks / faces_total,
        "ssim_outside": float(np.mean(ssims)),
        "ms_per_face": 1000 * seconds / faces_total,
    }


def _pct(v) -> str:
    return "–" if v is None else f"{100 * v:.1f} %"


def markdown(results: dict) -> str:
    lines = [
        "| data | k | re-ID | re-ID (any of 9) | detection kept | blur fallback | same gender "
        "| same emotion | age diff (y) | SSIM outside | ms/face |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for k, r in results["k"].items():
        lines.append(
            f"| ORL 2x | {k} | {_pct(r['re_identification_rate'])} "
            f"| {_pct(r['re_identified_any_rate'])} | {_pct(r['detection_kept_rate'])} "
            f"| {_pct(r['fallback_rate'])} | {_pct(r['same_gender_rate'])} "
            f"| {_pct(r['same_emotion_rate'])} | {_num(r['mean_age_difference'])} | – "
            f"| {r['ms_per_face']:.0f} |"
        )
    for k, r in results["k"].items():
        if "scenes" not in r:
            continue
        s = r["scenes"]
        lines.append(
            f"| scenes | {k} | {_pct(s['re_identification_rate'])} | – "
            f"| {_pct(s['detection_kept_rate'])} | {_pct(s['fallback_rate'])} | – | – | – "
            f"| {s['ssim_outside']:.4f} | {s['ms_per_face']:.0f} |"
        )
    return "\n".join(lines)


def _num(v) -> str:
    return "–" if v is None else f"{v:.1f}"


if __name__ == "__main__":
    main()
