"""Video throughput at 720p, 1080p and 4K: faceveil, deface 1.5.0 and ffmpeg alone, in one run.

    python bench/video_speed.py [--skip-deface] [--sizes 720,1080,2160]

For each size, a clip of 6 moving faces (``faceveil.testing.make_clip``; faces scale with the
frame) is anonymised by

- ``ffmpeg`` alone: decode, and encode with faceveil's own settings (libx264 veryfast, CRF 18),
  the floor under any tool that re-encodes the video;
- ``faceveil anonymize clip.mp4 -o ... -q --json`` at defaults, before and after deface (the
  mean of the two is quoted);
- ``deface clip.mp4 -o ...`` at defaults (CenterFace on every frame at full size).

Wall time includes process start-up, as a user runs them. Recall is per frame (IoU >= 0.3)
against the clip's ground truth: faceveil's boxes are those its report says it covered; deface's
come from ``bench/deface_boxes.py`` (its detector rerun with the same settings), at 720p only,
because that rerun costs as much as deface itself. "faceveil's share" is the ffmpeg-alone time
over faceveil's time: how much of faceveil's run the unavoidable decode and encode are.
Needs the deface venv (``bash bench/setup_deface.sh``). Output: Markdown on stdout, numbers in
bench/out/video_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import imageio_ffmpeg

from bench_core import DEFACE, FACEVEIL, OUT, deface_boxes, log, measured
from faceveil.testing import evaluate, make_clip

# label: (size, frames, face sizes); 4K clips are short because deface runs at ~1 s a frame
CLIPS = {
    "720": ((1280, 720), 300, (50, 110)),
    "1080": ((1920, 1080), 150, (75, 165)),
    "2160": ((3840, 2160), 60, (150, 330)),
}
SEED, FPS, FACES = 0, 25, 6


def ffmpeg_alone(clip: Path, out: Path) -> float:
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", clip, "-map", "0:v:0"]
    cmd += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p", out]
    return measured(cmd).seconds


def faceveil_run(clip: Path, truth: list) -> dict:
    out, report = clip.with_name(clip.stem + "_faceveil.mp4"), clip.with_suffix(".json")
    run = measured([FACEVEIL, "anonymize", clip, "-o", out, "-q", "--json", report])
    frames = json.loads(report.read_text())["files"][0]["frames"]
    by_index = {f["index"]: [face["box"] for face in f["faces"]] for f in frames}
    score = evaluate([by_index.get(i, []) for i in range(len(truth))], truth)
    return {"seconds": run.seconds, "rss_mb": run.peak_rss_mb, **score.to_dict()}


def deface_run(clip: Path, truth: list, recall: bool) -> dict:
    run = measured([DEFACE, clip, "-o", clip.with_name(clip.stem + "_deface.mp4")])
    result = {"seconds": run.seconds, "rss_mb": run.peak_rss_mb}
    if recall:
        preds: list[list] = [[] for _ in truth]
        for line in deface_boxes("--video", clip):
            preds[line["frame"]] = line["boxes"]
        result.update(evaluate(preds, truth).to_dict())
    return result


def _recall(score: dict | None) -> str:
    return f"{score['recall']:.3f} ({score['misses']})" if score and "recall" in score else "–"


def markdown(rows: list[dict]) -> str:
    lines = [
        "| clip | frames | ffmpeg alone fps | faceveil fps | deface fps | faceveil vs deface "
        "| faceveil's share | faceveil recall (missed) | deface recall (missed) |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        n, fv, df = r["frames"], r["faceveil"], r.get("deface")
        cells = [r["label"], n, f"{n / r['ffmpeg_s']:.1f}", f"{n / fv['seconds']:.1f}"]
        cells += (
            [f"{n / df['seconds']:.2f}", f"{df['seconds'] / fv['seconds']:.1f}x"]
            if df
            else ["–", "–"]
        )
        cells += [f"{r['ffmpeg_s'] / fv['seconds']:.0%}", _recall(fv), _recall(df)]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-deface", action="store_true")
    ap.add_argument("--sizes", default=",".join(CLIPS), help="of " + ",".join(CLIPS))
    args = ap.parse_args()
    sizes = args.sizes.split(",")
    if unknown := set(sizes) - set(CLIPS):
        ap.error(f"unknown size(s): {', '.join(sorted(unknown))}")
    if not FACEVEIL.exists():
        sys.exit(f"faceveil CLI not found beside {sys.executable}; run `make install` first")
    folder = OUT / "video_speed"
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for label in sizes:
        size, frames, face_sizes = CLIPS[label]
        clip = folder / f"clip_{label}p.mp4"
        log(f"writing {clip.name}: {size[0]}x{size[1]}, {frames} frames, {FACES} faces")
        truth = make_clip(clip, SEED, size=size, frames=frames, fps=FPS, n_faces=FACES,
                          face_sizes=face_sizes)  # fmt: skip
        row: dict = {"label": f"{label}p", "size": size, "frames": frames}
        log(f"{label}p: ffmpeg alone")
        row["ffmpeg_s"] = ffmpeg_alone(clip, folder / f"clip_{label}p_ffmpeg.mp4")
        log(f"{label}p: faceveil")
        row["faceveil"] = faceveil_run(clip, truth)
        if not args.skip_deface:
            log(f"{label}p: deface")
            row["deface"] = deface_run(clip, truth, recall=label == "720")
            # again after deface's minutes: the mean of the two evens out a machine whose speed
            # drifts (shared CPUs)
            log(f"{label}p: faceveil again")
            again = faceveil_run(clip, truth)["seconds"]
            row["faceveil"]["runs"] = [row["faceveil"]["seconds"], again]
            row["faceveil"]["seconds"] = (row["faceveil"]["seconds"] + again) / 2
        rows.append(row)
    result = {"rows": rows, "cpus": os.cpu_count(), "load_after": os.getloadavg()}
    (OUT / "video_speed.json").write_text(json.dumps(result, indent=2))
    print(markdown(rows))


if __name__ == "__main__":
    main()
