"""Before/after contact sheets of a face-replacing method at five face sizes, to judge by eye.

    python bench/visual_panel.py [--method synth] [--photos DIR] [--out bench/out/panel]

Sources, all of which a user may publish:

- ``skimage.data.astronaut()`` (public domain);
- matplotlib's ``grace_hopper.jpg`` sample, when matplotlib is installed (public domain);
- generated scenes (``faceveil.testing.make_scene``), whose faces come from ORL and the
  generator;
- every image in ``--photos DIR``: for local checks only, never committed (for example the
  test images inside the insightface sdist, ``pip download --no-deps --no-binary :all:``).

Each source is rescaled so that its largest face is 32, 64, 128, 256 and 400 px (turned
copies are the same photo flipped and rotated by 12 degrees). For every size the script writes
``panel_<size>.png`` (and a smaller ``synth_panel_<size>.jpg``, the copy in docs/): rows of
source crops, before | after, small ones enlarged with nearest-neighbour so that a seam or
patch can be seen. It prints, per size, how many faces
were replaced and how many fell back to blur, and why.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

import faceveil
from faceveil.testing import make_scene

SIZES = (32, 64, 128, 256, 400)
OUT = Path(__file__).resolve().parent / "out" / "panel"
ROW_HEIGHT = 420  # px: crops are scaled to fit, small ones enlarged with nearest-neighbour
DOCS_WIDTH = 1400  # px: the JPEG copy of each sheet for docs/


def sources(photos: Path | None) -> dict[str, np.ndarray]:
    from skimage import data

    found = {"astronaut": data.astronaut()}
    spec = importlib.util.find_spec("matplotlib")
    if spec and spec.origin:
        hopper = Path(spec.origin).parent / "mpl-data" / "sample_data" / "grace_hopper.jpg"
        if hopper.is_file():
            found["hopper"] = faceveil.read_image(hopper)
    for seed in (1, 4):
        scene, _ = make_scene(seed, size=(960, 540), n_faces=3, face_sizes=(120, 160))
        found[f"scene{seed}"] = scene
    for path in sorted(photos.iterdir()) if photos else []:
        try:
            found[path.stem] = faceveil.read_image(path)[:, :, :3]
        except faceveil.FaceveilError:
            continue
    return found


def turned(rgb: np.ndarray) -> np.ndarray:
    """Mirror image rotated by 12 degrees: a second pose from the same photo."""
    h, w = rgb.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 12, 1.0)
    return cv2.warpAffine(rgb[:, ::-1], m, (w, h), borderMode=cv2.BORDER_REFLECT)


def at_face_size(rgb: np.ndarray, side: int) -> np.ndarray | None:
    faces = faceveil.detect(rgb)
    if not faces:
        return None
    largest = max(max(f.box[2], f.box[3]) for f in faces)
    scale = side / largest
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=interp)


def crop_around(rgb: np.ndarray, faces) -> tuple[slice, slice]:
    boxes = np.array([f.box for f in faces])
    x0, y0 = boxes[:, 0].min(), boxes[:, 1].min()
    x1, y1 = (boxes[:, 0] + boxes[:, 2]).max(), (boxes[:, 1] + boxes[:, 3]).max()
    pad = 0.5 * max(boxes[:, 2].max(), boxes[:, 3].max())
    h, w = rgb.shape[:2]
    return (
        slice(int(max(0, y0 - pad)), int(min(h, y1 + pad))),
        slice(int(max(0, x0 - pad)), int(min(w, x1 + pad))),
    )


def fit(tile: np.ndarray, height: int) -> np.ndarray:
    scale = height / tile.shape[0]
    interp = cv2.INTER_NEAREST if scale > 1 else cv2.INTER_AREA
    return cv2.resize(tile, None, fx=scale, fy=scale, interpolation=interp)


def label(tile: np.ndarray, text: str) -> np.ndarray:
    out = tile.copy()
    cv2.putText(out, text, (6, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, text, (6, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1)
    return out


def row(before: np.ndarray, after: np.ndarray, name: str) -> np.ndarray:
    height = ROW_HEIGHT if before.shape[0] > ROW_HEIGHT or before.shape[0] < 160 else None
    b, a = (fit(t, height) if height else t for t in (before, after))
    gap = np.full((b.shape[0], 6, 3), 255, np.uint8)
    return np.hstack([label(b, f"{name} before"), gap, label(a, "after")])


def stack(rows: list[np.ndarray]) -> np.ndarray:
    width = max(r.shape[1] for r in rows)
    padded = [
        np.pad(r, ((0, 8), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows
    ]
    return np.vstack(padded)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="synth")
    parser.add_argument("--photos", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    base = sources(args.photos)
    poses = {**base, **{f"{k}-turned": turned(v) for k, v in base.items()}}
    summary: dict[str, dict] = {}
    for side in (int(s) for s in args.sizes.split(",")):
        rows, outcomes = [], Counter()
        for name, rgb in poses.items():
            scaled = at_face_size(rgb, side)
            if scaled is None:
                continue
            result = faceveil.anonymize(scaled, args.method, seed=args.seed)
            faces = result.report.faces
            if not faces:
                continue
            blurred = len(result.report.warnings)
            outcomes["faces"] += len(faces)
            outcomes["fallback"] += blurred
            for w in result.report.warnings:
                outcomes[w.split(":")[-1].strip()[:60]] += 1
            ys, xs = crop_around(scaled, faces)
            rows.append(row(scaled[ys, xs], result.image[ys, xs], f"{name} {side}px"))
        if rows:
            sheet = stack(rows)
            cv2.imwrite(str(args.out / f"panel_{side}.png"), sheet[:, :, ::-1])
            small = cv2.resize(sheet, None, fx=(f := DOCS_WIDTH / sheet.shape[1]), fy=f)
            cv2.imwrite(
                str(args.out / f"synth_panel_{side}.jpg"),
                small[:, :, ::-1],
                [cv2.IMWRITE_JPEG_QUALITY, 82],
            )
        summary[str(side)] = dict(outcomes)
        print(side, dict(outcomes), flush=True)
    (args.out / "panel.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
