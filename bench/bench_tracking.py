"""How many face-frames does the video path leave visible when the detector misses frames?

    python bench/bench_tracking.py [--frames 250]

On the benchmark clip (``make_clip(seed=0)``, 1280x720, 6 moving faces, known boxes), the real
detector is wrapped so that it returns nothing on chosen frames: none, a seeded random 20 %, and
bursts of 5 frames out of every 25. For each pattern it counts the ground-truth face-frames left
visible (no covered region holds at least 70 % of the face's box):

- without tracking: the wrapped detector's own boxes, as a per-frame anonymiser would cover;
- with faceveil's tracking (norfair + 4-frame look-back): the boxes ``anonymize_video`` covered.

Results are printed as Markdown and written to bench/out/tracking.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from faceveil import detect
from faceveil.anonymize import AnonymizeOptions, anonymize_video
from faceveil.testing import make_clip

OUT = Path(__file__).resolve().parent / "out"
COVERED = 0.7  # fraction of a face's box inside a covered region for it to count as hidden


def _covered_fraction(face, region) -> float:
    fx, fy, fw, fh = face
    rx, ry, rw, rh = region
    iw = max(0.0, min(fx + fw, rx + rw) - max(fx, rx))
    ih = max(0.0, min(fy + fh, ry + rh) - max(fy, ry))
    return iw * ih / max(fw * fh, 1e-9)


def _enlarge(box, scale: float):
    x, y, w, h = box
    return (x + w / 2 - w * scale / 2, y + h / 2 - h * scale / 2, w * scale, h * scale)


def visible_face_frames(truth: list, covered: list, mask_scale: float) -> int:
    """Ground-truth faces with no covered region over at least COVERED of their box."""
    count = 0
    for faces, boxes in zip(truth, covered, strict=True):
        regions = [_enlarge(b, mask_scale) for b in boxes]
        count += sum(
            1 for f in faces if not any(_covered_fraction(f, r) >= COVERED for r in regions)
        )
    return count


def dropout_patterns(frames: int) -> dict[str, set[int]]:
    rng = np.random.default_rng(0)
    return {
        "no dropout": set(),
        "random 20 % of frames": {int(i) for i in np.nonzero(rng.random(frames) < 0.2)[0]},
        "bursts of 5 every 25 frames": {i for i in range(frames) if i % 25 >= 20},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=250)
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    clip = OUT / "clip_tracking.mp4"
    truth = make_clip(clip, 0, size=(1280, 720), frames=args.frames, fps=25, n_faces=6)
    options = AnonymizeOptions()
    total = sum(len(f) for f in truth)
    rows = []
    for name, dropped in dropout_patterns(len(truth)).items():
        raw: list[list] = []

        def detector(frame, opts, dropped=dropped, raw=raw):
            faces = [] if len(raw) in dropped else detect(frame, **opts.detect_kwargs("video"))
            raw.append([f.box for f in faces])
            return faces

        report = anonymize_video(
            clip, OUT / "clip_tracking_out.mp4", options, progress=False, detector=detector
        )
        by_index = {f["index"]: [x["box"] for x in f["faces"]] for f in report.frames}
        tracked = [by_index.get(i, []) for i in range(len(truth))]
        rows.append(
            {
                "pattern": name,
                "dropped_frames": len(dropped),
                "face_frames": total,
                "visible_without_tracking": visible_face_frames(truth, raw, options.mask_scale),
                "visible_with_tracking": visible_face_frames(truth, tracked, options.mask_scale),
            }
        )
    (OUT / "tracking.json").write_text(json.dumps(rows, indent=2))
    print(
        "| detector dropout | dropped frames | face-frames | left visible, no tracking "
        "| left visible, faceveil |"
    )
    print("|---|--:|--:|--:|--:|")
    for r in rows:
        print(
            f"| {r['pattern']} | {r['dropped_frames']} | {r['face_frames']} | "
            f"{r['visible_without_tracking']} | {r['visible_with_tracking']} |"
        )


if __name__ == "__main__":
    main()
