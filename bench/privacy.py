"""The method table: what every anonymisation method leaves of a face, measured by the audit.

    python bench/privacy.py [--people 40] [--scenes 10] [--no-attributes]

For every registered method (``none`` only draws boxes: it is the control row):

- ORL protocol (``faceveil.audit.orl``): the 400 ORL faces upscaled 2x; each anonymised face,
  aligned on the original landmarks, is matched by SFace (and, with ``--recognizers
  sface,dlib``, by dlib) against the other nine photos of the same person. Re-ID = share of
  those pairs at or above the calibrated threshold (below the distance, for dlib).
- Multi-face scenes (``faceveil.testing.make_scene``, 1280x720, 6 faces from the astronaut, ORL
  and DCGAN samples): each face's identity similarity to itself before anonymisation.

Columns: re-ID rate, detection kept (YuNet still finds a face overlapping the original box),
median landmark drift of the faces still found (mean shift of the 5 landmarks / inter-ocular
distance), attribute agreement (same gender, same emotion, expression difference by the face
mesh, mean age difference), SSIM outside
the enlarged face regions, and milliseconds per face for the method alone (detection excluded).
Writes bench/out/privacy.md and bench/out/privacy.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from faceveil.anonymize import METHODS, anonymize
from faceveil.audit import audit_pair
from faceveil.audit.orl import method_anonymizer, orl_protocol
from faceveil.detect import detect
from faceveil.testing import make_scene

OUT = Path(__file__).resolve().parent / "out"


def scene_rows(method: str, scenes: list, attributes: bool) -> dict:
    faces_total, reid, kept, gender, emotion, ages, ssims, seconds = 0, 0, 0, [], [], [], [], 0.0
    drifts = []
    for image, faces in scenes:
        start = time.perf_counter()
        anon = anonymize(image, method, faces=faces).image
        seconds += time.perf_counter() - start
        item = audit_pair(image, anon, faces=faces, attributes=attributes)
        ssims.append(item.ssim_outside)
        for f in item.faces:
            faces_total += 1
            reid += f.re_identified
            kept += f.still_detectable
            if f.landmark_drift is not None:
                drifts.append(f.landmark_drift)
            if attributes:
                gender.append(f.same_gender)
                emotion.append(f.same_emotion)
                ages.append(f.age_difference)
    return {
        "faces": faces_total,
        "re_identification_rate": reid / faces_total,
        "detection_kept_rate": kept / faces_total,
        "median_landmark_drift": float(np.median(drifts)) if drifts else None,
        "same_gender_rate": float(np.mean(gender)) if gender else None,
        "same_emotion_rate": float(np.mean(emotion)) if emotion else None,
        "mean_age_difference": float(np.mean(ages)) if ages else None,
        "ssim_outside": float(np.mean(ssims)),
        "ms_per_face": 1000 * seconds / faces_total,
    }


def _pct(v) -> str:
    return "–" if v is None else f"{100 * v:.1f} %"


def _num(v, fmt="{:.1f}") -> str:
    return "–" if v is None else fmt.format(v)


def markdown(results: dict) -> str:
    lines = [
        "| data | method | re-ID | re-ID dlib | detection kept | landmark drift | same gender "
        "| same emotion | expression diff (mesh) | age diff (y) | SSIM outside | ms/face |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for data in ("orl", "scenes"):
        for method, r in results[data].items():
            ssim = _num(r.get("ssim_outside"), "{:.4f}")
            label = f"{method} (control: draws boxes)" if method == "none" else method
            lines.append(
                f"| {data} | {label} | {_pct(r['re_identification_rate'])} "
                f"| {_pct(r.get('re_identification_rate_dlib'))} "
                f"| {_pct(r['detection_kept_rate'])} "
                f"| {_num(r.get('median_landmark_drift'), '{:.3f}')} "
                f"| {_pct(r['same_gender_rate'])} "
                f"| {_pct(r['same_emotion_rate'])} "
                f"| {_num(r.get('median_expression_difference'), '{:.3f}')} "
                f"| {_num(r['mean_age_difference'])} "
                f"| {ssim} | {_num(r['ms_per_face'])} |"
            )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=40, help="ORL subjects (max 40)")
    ap.add_argument("--scenes", type=int, default=10, help="multi-face scenes")
    ap.add_argument("--no-attributes", action="store_true", help="skip age/gender/emotion")
    ap.add_argument("--methods", default=",".join(METHODS), help="comma-separated methods")
    ap.add_argument(
        "--recognizers", default="sface", help="ORL attackers: sface or sface,dlib (dlib: slower)"
    )
    ap.add_argument(
        "--dlib-threshold",
        type=float,
        default=None,
        help="dlib match distance [0.6]; 0.55: FAR 0.5 %",
    )
    args = ap.parse_args()
    attributes = not args.no_attributes
    OUT.mkdir(parents=True, exist_ok=True)
    scenes = []
    for seed in range(args.scenes):
        image, _ = make_scene(500 + seed, (1280, 720), 6, (60, 160), max_rotation_deg=10)
        scenes.append((image, detect(image)))
    results: dict = {"orl": {}, "scenes": {}}
    for method in args.methods.split(","):
        results["orl"][method] = orl_protocol(
            method_anonymizer(method),
            people=args.people,
            attributes=attributes,
            recognizers=tuple(args.recognizers.split(",")),
            dlib_threshold=args.dlib_threshold,
        )
        results["scenes"][method] = scene_rows(method, scenes, attributes)
        print(f"{method}: done", flush=True)
    (OUT / "privacy.json").write_text(json.dumps(results, indent=2))
    table = markdown(results)
    (OUT / "privacy.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
