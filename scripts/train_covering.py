"""Train the covering segmenter of ``faceveil.restore.find_covering`` (CPU, seeded).

    nice -n 10 .venv/bin/python scripts/train_covering.py [--samples 5000] [--minutes 11]
        [--seed 0] [--init WEIGHTS.pt --lr 1.5e-3]  # --init: continue from earlier weights

Training faces: DCGAN samples of seeds 1000+ (upscaled 4x; evaluation uses seed 0) and ORL
people 21-40 (2x; evaluation uses people 1-20 and the astronaut). Each sample: a random
covering of ``TRAIN_KINDS`` (the six evaluated kinds plus random blobs) in a palette or random
colour (a third of them skin-like), with placement jitter, sometimes two coverings; a quarter
of the samples stay uncovered (empty target) so false coverings are learned away. Colour faces
are turned grey a fifth of the time (ORL is grey). Photometric augmentation: brightness,
contrast, gamma, blur, noise, JPEG; geometric: image rescaling, landmark noise, mirror.
Writes src/faceveil/data/covering_unet.pt (a state_dict).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

OUT = Path(__file__).resolve().parents[1] / "src" / "faceveil" / "data" / "covering_unet.pt"
KIND_P = {"surgical": 1, "cloth": 1, "n95": 1, "scarf": 1, "sunglasses": 1, "hand": 1.2, "blob": 1}
SKIN_LIKE = ((225, 190, 165), (215, 180, 150), (200, 150, 120), (160, 110, 80), (240, 205, 185))


def base_faces(n_dcgan: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(RGB image, detected 5 landmarks) of the training faces."""
    from faceveil.detect import detect
    from faceveil.gen import sample_faces
    from faceveil.io.orl import orl_files
    from faceveil.restore.occlusions import TRAIN_ORL_PEOPLE

    images = []
    for f in orl_files():
        if int(f.parent.name[1:]) in TRAIN_ORL_PEOPLE:
            g = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)
            g = cv2.resize(g, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
            images.append(cv2.cvtColor(g, cv2.COLOR_GRAY2RGB))
    n_orl = len(images)
    for k in range(0, n_dcgan, 200):
        for f in sample_faces(min(200, n_dcgan - k), seed=1000 + seed + k):
            images.append(cv2.resize(f, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC))
    out = []
    for img in images:
        faces = detect(img, small_faces=False)
        if faces:
            face = max(faces, key=lambda f: f.box[2] * f.box[3])
            out.append((img, np.asarray(face.landmarks, np.float64)))
    print(f"{len(out)} training faces ({n_orl} ORL images, {n_dcgan} DCGAN)", flush=True)
    return out


def _colour(rng) -> tuple | str | None:
    r = rng.random()
    if r < 0.35:
        return None  # the kind's palette
    if r < 0.65:
        c = np.array(SKIN_LIKE[rng.integers(len(SKIN_LIKE))]) + rng.normal(0, 12, 3)
        return tuple(np.clip(c, 0, 255))
    return tuple(rng.uniform(10, 250, 3))


def _photometric(img: np.ndarray, rng) -> np.ndarray:
    x = img.astype(np.float32)
    x = (x - 128) * rng.uniform(0.7, 1.3) + 128 + rng.uniform(-30, 30)
    x = 255 * (np.clip(x, 0, 255) / 255) ** rng.uniform(0.75, 1.3)
    if rng.random() < 0.3:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.5, 1.5))
    if rng.random() < 0.3:
        x = x + rng.normal(0, rng.uniform(2, 8), x.shape)
    x = np.clip(x + 0.5, 0, 255).astype(np.uint8)
    if rng.random() < 0.4:
        ok, buf = cv2.imencode(".jpg", x, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 95))])
        x = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return x


def make_sample(faces, rng, uncovered: float = 0.25):
    from faceveil.faces import Face
    from faceveil.restore.covering import features
    from faceveil.restore.occlusions import TRAIN_KINDS, face_frame, frame_scale, occlude

    img, lm = faces[rng.integers(len(faces))]
    sc = rng.uniform(0.6, 1.4)
    if abs(sc - 1) > 0.05:
        img = cv2.resize(img, None, fx=sc, fy=sc, interpolation=cv2.INTER_AREA)
        lm = lm * sc
    if rng.random() < 0.2:
        img = np.repeat(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    face = Face(box=(0, 0, 1, 1), landmarks=lm.astype(np.float32), score=1.0)
    truth = np.zeros(img.shape[:2], bool)
    if rng.random() >= uncovered:
        p = np.array([KIND_P[k] for k in TRAIN_KINDS])
        n_cov = 2 if rng.random() < 0.12 else 1
        for kind in rng.choice(TRAIN_KINDS, size=n_cov, replace=False, p=p / p.sum()):
            seed = int(rng.integers(2**31))
            img, t = occlude(img, face, str(kind), seed=seed, colour=_colour(rng), jitter=0.12)
            truth |= t
    img = _photometric(img, rng)
    unit = frame_scale(face_frame(lm))
    noisy = lm + rng.normal(0, 0.03 * unit, lm.shape)
    x, m = features(img, noisy)
    from faceveil.restore.covering import CROP

    y = cv2.warpAffine(
        truth.astype(np.float32), m, (CROP, CROP), flags=cv2.INTER_AREA | cv2.WARP_INVERSE_MAP
    )
    return x.astype(np.float16), y.astype(np.float16)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=5000)
    ap.add_argument("--uncovered", type=float, default=0.25, help="share of uncovered faces")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--init", type=Path, default=None, help="start from these weights")
    ap.add_argument("--dcgan", type=int, default=1000, help="DCGAN training faces")
    ap.add_argument("--minutes", type=float, default=11.0, help="training time budget")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--cache", type=Path, default=None, help="npz of generated samples (reuse)")
    args = ap.parse_args()

    import torch

    from faceveil.restore.covering import N_DATA_CHANNELS, prior_channels
    from faceveil.restore.covering_net import CoveringNet

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    if args.cache and args.cache.exists():
        d = np.load(args.cache)
        xs, ys = d["x"], d["y"]
    else:
        faces = base_faces(args.dcgan, args.seed)
        pairs = [make_sample(faces, rng, args.uncovered) for _ in range(args.samples)]
        xs = np.stack([p[0] for p in pairs])
        ys = np.stack([p[1] for p in pairs])
        if args.cache:
            np.savez(args.cache, x=xs, y=ys)
    print(f"{len(xs)} samples in {time.perf_counter() - t0:.0f} s", flush=True)

    net = CoveringNet(N_DATA_CHANNELS, torch.from_numpy(prior_channels()))
    if args.init:
        net.load_state_dict(torch.load(args.init, map_location="cpu", weights_only=True))
    print(f"{sum(p.numel() for p in net.parameters())} parameters", flush=True)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    x_all, y_all = torch.from_numpy(xs), torch.from_numpy(ys)
    budget = args.minutes * 60
    t1 = time.perf_counter()
    step, lr0 = 0, args.lr
    while (elapsed := time.perf_counter() - t1) < budget:
        # cosine decay on wall time, so the budget is kept whatever the machine's load
        for g in opt.param_groups:
            g["lr"] = lr0 * (0.02 + 0.98 * 0.5 * (1 + np.cos(np.pi * elapsed / budget)))
        idx = torch.from_numpy(rng.integers(len(xs), size=args.batch))
        x, y = x_all[idx].float(), y_all[idx].float()
        flip = torch.rand(args.batch) < 0.5
        x[flip], y[flip] = x[flip].flip(-1), y[flip].flip(-1)
        logit = net(x)
        p = torch.sigmoid(logit)
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logit, y)
        inter = (p * y).sum((1, 2))
        dice = 1 - (2 * inter + 1) / (p.sum((1, 2)) + y.sum((1, 2)) + 1)
        loss = bce + 0.5 * dice.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 100 == 0:
            print(
                f"step {step} {elapsed:.0f}s loss {loss.item():.4f} bce {bce.item():.4f}",
                flush=True,
            )
    net.eval()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.half() if v.is_floating_point() else v for k, v in net.state_dict().items()}
    torch.save(state, args.out)
    print(f"{step} steps; wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
