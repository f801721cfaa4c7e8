"""Write src/faceveil/data/demo.jpg: the bundled demo image used by `make run`.

A 1280x720 synthetic scene (``faceveil.testing.make_scene``) with the scikit-image astronaut
(public domain) and five faces from the DCGAN in ``faceveil.gen`` (trained on synthetic faces),
over a cluttered background. No photo of a real person is scraped from anywhere.

    .venv/bin/python scripts/make_demo.py [--seed 7] [--out src/faceveil/data/demo.jpg]
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

from PIL import Image

from faceveil.testing import make_scene

ROOT = Path(__file__).resolve().parents[1]
SIZE = (1280, 720)
FACES = ("astronaut", "dcgan", "dcgan", "dcgan", "dcgan", "dcgan")
MAX_BYTES = 300_000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=ROOT / "src" / "faceveil" / "data" / "demo.jpg")
    args = ap.parse_args()

    image, boxes = make_scene(
        args.seed,
        SIZE,
        n_faces=len(FACES),
        face_sizes=(60, 170),
        max_rotation_deg=12,
        sources=FACES,
        one_per_face=True,
    )
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=90, optimize=True)
    if buf.tell() > MAX_BYTES:
        raise SystemExit(f"demo.jpg would be {buf.tell()} bytes (limit {MAX_BYTES})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(buf.getvalue())
    print(f"wrote {args.out} ({buf.tell() // 1000} kB, {len(boxes)} faces)")
    for x, y, w, h in boxes:
        print(f"  box ({x:.0f}, {y:.0f}, {w:.0f}, {h:.0f})")


if __name__ == "__main__":
    main()
