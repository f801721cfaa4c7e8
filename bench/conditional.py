"""The conditional anonymiser against synth's latent mixing, on the ORL protocol.

    python bench/conditional.py [--people 40] [--weights PATH] [--diversity 20] [--strip]

Two methods, the same pipeline (synth's alignment, candidates ranked by shading and attributes,
colour match, pyramid blend, SFace identity check, up to 4 tries, blur fallback):

- ``synth``: the registered method (encoder latent mixed with a random one, decoded by dcgan64);
- ``conditional``: the same, but each candidate is the conditional model's face, painted into
  the aligned 64 px crop around the face's own landmarks (registered here only, for the bench;
  ``conditional_replace`` is the function synth would call).

ORL protocol (400 faces upscaled 2x; each anonymised face, aligned on the original landmarks, is
matched against the nine other photos of the same person). Columns: re-ID rate at the SFace
threshold, detection kept (YuNet finds a face overlapping the box), landmark drift (mean shift /
inter-ocular distance, of the faces still found), same gender, same emotion, age difference,
faces blurred by the fallback, ms/face. Diversity: mean SFace cosine between the results of four
seeds on the same photo (lower is more varied; the threshold is 0.363). Writes
bench/out/conditional.json and .md; ``--strip`` writes docs/conditional_vs_synth.jpg.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
import zlib
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from conditional_model import HOLE_THRESHOLD, load_conditional
from faceveil.align import face_oval
from faceveil.analysis.identity import SFACE_THRESHOLD, cosine, embed_faces
from faceveil.anonymize import anonymize, register
from faceveil.anonymize import replace as R
from faceveil.anonymize import synth as S
from faceveil.anonymize.registry import Fallback
from faceveil.audit.metrics import audit_pair
from faceveil.detect import detect
from faceveil.io.orl import load_orl

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
STRIP = ROOT / "docs" / "conditional_vs_synth.jpg"
MODEL = {"model": None}


def conditional_replace(rgb: np.ndarray, face, opts) -> np.ndarray:
    """synth.replace_face (stills): the same alignment, attribute-aware ranking of candidates
    on a scouting copy, widening tries, identity check and paste, but each candidate is the
    conditional model's face painted into the crop, not a decoded latent mix."""
    model = MODEL["model"]
    res = model.res
    aligned = R.align(rgb, face)
    m64 = aligned.matrix * (res / aligned.size)
    # replicate, not black, beyond the photo: the model was trained on reflected borders
    crop = cv2.warpAffine(
        rgb, m64, (res, res), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE
    )
    lm64 = cv2.transform(face.landmarks[None].astype(np.float32), m64)[0]
    key = zlib.crc32(np.round(np.asarray(face.box) / 4).astype(np.int32).tobytes())
    small_rgb, small_face = R.scouting_copy(rgb, face)
    scout = R.align(small_rgb, small_face)
    before = R.attributes(small_rgb, small_face)
    reference = embed_faces(rgb, [face])[0]
    for attempt, (_, widen) in enumerate(S.ATTEMPTS):
        seeds = [
            zlib.crc32(f"{opts.seed}:{key}:{attempt}:{i}".encode()) for i in range(S.CANDIDATES)
        ]
        hole = face_oval(model.template, res, widen=widen) > HOLE_THRESHOLD
        ranked = []
        for candidate in model.fill(crop, lm64, np.array(seeds, np.int64), hole=hole):
            small_out, shading = scout.widened(widen).paste_scored(small_rgb, candidate)
            cost = shading + S._attribute_cost(before, R.attributes(small_out, small_face))
            ranked.append((cost, candidate))
        ranked.sort(key=lambda item: item[0])
        for _, candidate in ranked[: S.CHECKS]:
            out = aligned.widened(widen).paste(rgb, candidate)
            if R.identity_hidden(reference, out, face):
                return out
    raise Fallback("no conditional face passed the identity check")


register("conditional", "bench only: the conditional model's faces in synth's pipeline")(
    R.replacing(conditional_replace)
)


def orl_rows(method: str, people: int) -> dict:
    """The ORL protocol of faceveil.audit.orl, plus landmark drift and fallbacks."""
    images = [(p, img) for p, img in load_orl(2.0) if p <= people]
    faces = []
    for _, img in images:
        found = detect(img, small_faces=False)
        faces.append(max(found, key=lambda f: f.box[2] * f.box[3]) if found else None)
    originals = np.zeros((len(images), 128), np.float32)
    by_person = defaultdict(list)
    for i, ((p, img), face) in enumerate(zip(images, faces, strict=True)):
        if face is not None:
            originals[i] = embed_faces(img, [face])[0]
            by_person[p].append(i)
    hits = total = kept = 0
    drift, ages, genders, emotions, seconds, blurred = [], [], [], [], [], 0
    for i, ((person, img), face) in enumerate(zip(images, faces, strict=True)):
        if face is None:
            continue
        start = time.perf_counter()
        result = anonymize(img, method, faces=[face], seed=0)
        seconds.append(time.perf_counter() - start)
        blurred += bool(result.report.warnings)
        anon = result.image
        fa = audit_pair(img, anon, faces=[face], detect_kwargs={"small_faces": False}).faces[0]
        kept += fa.still_detectable
        if fa.landmark_drift is not None:
            drift.append(fa.landmark_drift)
        ages.append(fa.age_difference)
        genders.append(fa.same_gender)
        emotions.append(fa.same_emotion)
        sims = originals[[j for j in by_person[person] if j != i]] @ embed_faces(anon, [face])[0]
        hits += int((sims >= SFACE_THRESHOLD).sum())
        total += len(sims)
    n = len(seconds)
    return {
        "faces": n,
        "re_identification_rate": hits / max(total, 1),
        "detection_kept_rate": kept / n,
        "landmark_drift": float(np.mean(drift)),
        "same_gender_rate": float(np.mean([g for g in genders if g is not None])),
        "same_emotion_rate": float(np.mean([e for e in emotions if e is not None])),
        "mean_age_difference": float(np.mean([a for a in ages if a is not None])),
        "blurred_rate": blurred / n,
        "ms_per_face": 1000 * float(np.mean(seconds)),
    }


def diversity(method: str, n: int) -> float:
    """Mean SFace cosine between the results of seeds 0..3 on each of `n` ORL photos."""
    sims = []
    for _, img in load_orl(2.0)[:: 400 // n][:n]:
        found = detect(img, small_faces=False)
        if not found:
            continue
        face = max(found, key=lambda f: f.box[2] * f.box[3])
        embs = [
            embed_faces(anonymize(img, method, faces=[face], seed=s).image, [face])[0]
            for s in range(4)
        ]
        sims += [cosine(a, b) for a, b in itertools.combinations(embs, 2)]
    return float(np.mean(sims))


def strip(path: Path, people=(1, 5, 9, 14, 22, 30, 35, 39)) -> None:
    """Columns of original | synth | conditional for a few ORL people and the astronaut."""
    import skimage.data

    orl = load_orl(2.0)
    photos = [orl[(p - 1) * 10] for p in people]
    astro = skimage.data.astronaut()[40:260, 140:320]
    tiles = []
    for img in [astro, *[im for _, im in photos]]:
        found = detect(img, small_faces=False)
        face = max(found, key=lambda f: f.box[2] * f.box[3])
        col = [img] + [
            anonymize(img, m, faces=[face], seed=0).image for m in ("synth", "conditional")
        ]
        col = [
            cv2.resize(c, (128, int(128 * c.shape[0] / c.shape[1])), cv2.INTER_AREA) for c in col
        ]
        tiles.append(np.concatenate([cv2.resize(c, (128, 156)) for c in col], 0))
    sheet = np.concatenate(
        [np.pad(t, ((0, 0), (0, 4), (0, 0)), constant_values=255) for t in tiles], 1
    )
    cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=40, help="ORL subjects (max 40)")
    ap.add_argument("--weights", type=Path, help="conditional.pt or its folder")
    ap.add_argument("--diversity", type=int, default=20, help="photos for the diversity check")
    ap.add_argument("--strip", action="store_true", help="write docs/conditional_vs_synth.jpg")
    ap.add_argument("--methods", default="synth,conditional")
    ap.add_argument("--name", default="conditional", help="bench/out/NAME.json and .md")
    args = ap.parse_args()
    R.model()  # one torch thread, as synth runs
    MODEL["model"] = load_conditional(path=args.weights)
    if MODEL["model"] is None:
        raise SystemExit("no conditional weights: pass --weights")
    if args.strip:
        strip(STRIP)
        print(f"wrote {STRIP}")
    OUT.mkdir(parents=True, exist_ok=True)
    results = {}
    for method in args.methods.split(","):
        results[method] = orl_rows(method, args.people)
        if args.diversity:
            results[method]["diversity_cosine"] = diversity(method, args.diversity)
        print(method, json.dumps(results[method]), flush=True)
    lines = [
        "| method | re-ID | detection kept | landmark drift | same gender | same emotion "
        "| age diff (y) | blurred | diversity (cos) | ms/face |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for m, r in results.items():
        lines.append(
            f"| {m} | {100 * r['re_identification_rate']:.1f} % "
            f"| {100 * r['detection_kept_rate']:.1f} % | {r['landmark_drift']:.3f} "
            f"| {100 * r['same_gender_rate']:.1f} % | {100 * r['same_emotion_rate']:.1f} % "
            f"| {r['mean_age_difference']:.1f} | {100 * r['blurred_rate']:.1f} % "
            f"| {r.get('diversity_cosine', float('nan')):.3f} | {r['ms_per_face']:.0f} |"
        )
    (OUT / f"{args.name}.json").write_text(json.dumps(results, indent=2))
    (OUT / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
