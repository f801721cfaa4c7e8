"""Measurement harness for the peer tool deface (CenterFace), not part of faceveil.

Run it with the deface venv made by bench/setup_deface.sh:

    bench/.deface-venv/bin/python bench/deface_boxes.py IMG [IMG ...]
    bench/.deface-venv/bin/python bench/deface_boxes.py --video CLIP.mp4 [--scale 640x360]

It builds the detector exactly as deface 1.5.0's CLI does at default settings
(``CenterFace(in_shape=<--scale or None>, backend='auto')``; 'auto' picks ONNX
Runtime when both onnx and onnxruntime import, else OpenCV DNN), reads inputs
the same way (imageio, RGB), calls it with deface's default threshold (0.2)
and prints one JSON line per image or video frame on stdout:

    {"file": ..., "frame": i, "boxes": [[x, y, w, h, score], ...]}

Boxes are the raw detector boxes in pixels of the original input (top-left and
size), before deface enlarges them by --mask-scale (1.3) for anonymisation.
"""

import argparse
import contextlib
import json
import sys

import imageio
import imageio.v2 as iio
from deface.centerface import CenterFace

DEFAULT_THRESH = 0.2  # deface/deface.py: parser.add_argument('--thresh', default=0.2)


def to_boxes(dets):
    return [
        [
            round(float(x1), 2),
            round(float(y1), 2),
            round(float(x2 - x1), 2),
            round(float(y2 - y1), 2),
            round(float(s), 4),
        ]
        for x1, y1, x2, y2, s in dets
    ]


def emit(path, i, dets):
    print(json.dumps({"file": path, "frame": i, "boxes": to_boxes(dets)}), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images", nargs="*", help="image files")
    ap.add_argument("--video", help="video file; every frame is measured")
    ap.add_argument("--scale", metavar="WxH", help="as deface --scale (inference size)")
    ap.add_argument("--thresh", type=float, default=DEFAULT_THRESH)
    args = ap.parse_args()
    if not args.images and not args.video:
        ap.error("give image files and/or --video PATH")

    in_shape = tuple(int(v) for v in args.scale.split("x")) if args.scale else None
    # CenterFace prints "Running on <provider>." to stdout; keep stdout pure JSON.
    with contextlib.redirect_stdout(sys.stderr):
        centerface = CenterFace(in_shape=in_shape, backend="auto")
    print(f"deface_boxes: backend={centerface.backend}", file=sys.stderr)

    for path in args.images:
        dets, _ = centerface(iio.imread(path), threshold=args.thresh)
        emit(path, 0, dets)
    if args.video:
        reader = imageio.get_reader(args.video)
        for i, frame in enumerate(reader.iter_data()):
            dets, _ = centerface(frame, threshold=args.thresh)
            emit(args.video, i, dets)
        reader.close()


if __name__ == "__main__":
    main()
