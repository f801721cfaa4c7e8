"""The amortised inversion encoder: one forward pass from an aligned face to its latent.

A :class:`~faceveil.gen.nets.ConvEncoder` is trained on the generator's own samples (z, G(z)):
a loss in latent space, plus a reconstruction loss through the frozen generator (what matters is
the face it decodes to, and latents that decode alike may differ). Samples are mildly
augmented (shift, scale, rotation, colour, grey, blur, noise) so that real photos aligned to the
generator's template, which are never exact samples, land near a sensible latent. The result is
a start for the optimisation in :mod:`faceveil.gen.invert`, or an answer on its own when speed
matters more than fidelity.

It is stored as an fp16 ``state_dict`` in ``encoder.pt`` inside the model directory.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from faceveil.errors import InputError
from faceveil.gen.base import ENCODER_FILE, Generator, to_tensor
from faceveil.gen.nets import ConvEncoder
from faceveil.gen.registry import load_state_dict

ENCODER_WIDTH = 32  # nef: 1.1 M parameters at 64 px, 2.2 MB in fp16


def build_encoder(generator: Generator, nef: int = ENCODER_WIDTH) -> ConvEncoder:
    """An untrained encoder shaped for `generator` (its resolution and latent size)."""
    return ConvEncoder(generator.latent_dim, nef=nef, res=generator.resolution)


def _augment(x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """Small random geometric and photometric changes of faces (N, 3, H, W) in [-1, 1].

    The geometry covers what alignment on five detected landmarks leaves over (a few pixels,
    a few degrees, a few per cent of scale); the colours cover real photos, grey ones included.
    """
    n, dev = x.shape[0], x.device

    def uniform(lo: float, hi: float, *shape: int) -> torch.Tensor:
        return (torch.rand(n, *shape, generator=rng) * (hi - lo) + lo).to(dev)

    angle = uniform(-0.09, 0.09)  # radians, about 5 degrees
    scale = uniform(0.93, 1.07)
    shift = uniform(-0.06, 0.06, 2)  # of the half-width: about 2 px at 64 px
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, padding_mode="border", align_corners=False)

    grey = x.mean(1, keepdim=True)
    saturation = uniform(0.6, 1.3, 1, 1, 1) * (uniform(0, 1, 1, 1, 1) > 0.2)  # 20 % grey
    x = grey + (x - grey) * saturation
    mean = x.mean((1, 2, 3), keepdim=True)
    x = (x - mean) * uniform(0.75, 1.25, 1, 1, 1) + mean + uniform(-0.15, 0.15, 1, 1, 1)
    x = x + uniform(-0.05, 0.05, 3, 1, 1)  # colour cast

    blurred = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    x = torch.where(uniform(0, 1, 1, 1, 1) < 0.3, blurred, x)  # downscaled photos are soft
    noise = torch.randn(x.shape, generator=rng).to(dev) * uniform(0, 0.04, 1, 1, 1)
    return (x + noise).clamp(-1, 1)


def train_encoder(
    generator: Generator,
    steps: int = 1500,
    seed: int = 0,
    *,
    batch: int = 64,
    recon_batch: int = 16,
    recon_weight: float = 1.0,
    lr: float = 2e-3,
    nef: int = ENCODER_WIDTH,
    progress: Callable[[int, dict], None] | None = None,
) -> ConvEncoder:
    """Train an inversion encoder for `generator` on its own samples.

    Parameters
    ----------
    generator : the (frozen) generator to invert.
    steps : optimiser steps; each draws `batch` fresh latents.
    seed : seeds latents, augmentation and initial weights: a seed gives the same encoder (on
        the same device and thread count).
    batch : samples per step for the latent loss (MSE to the true z).
    recon_batch : how many of them also get the reconstruction loss, L1 between the generator's
        decode of the prediction and the clean sample (the costly part: a generator pass with
        gradients).
    recon_weight : weight of that reconstruction loss.
    lr : Adam learning rate, decayed to zero on a cosine.
    nef : encoder width.
    progress : called as ``progress(step, losses)`` every 50 steps and at the end.

    Returns
    -------
    The trained encoder, in eval mode on the generator's device.
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    dev = generator.device
    with torch.random.fork_rng(devices=[]):  # seeded weights; the global RNG is left alone
        torch.manual_seed(seed)
        encoder = build_encoder(generator, nef)
    encoder = encoder.to(dev).train()
    rng = torch.Generator("cpu").manual_seed(seed)
    opt = torch.optim.Adam(encoder.parameters(), lr=lr, betas=(0.9, 0.99))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s / steps, 1.0)))
    )
    k = min(recon_batch, batch)
    for step in range(1, steps + 1):
        z = torch.randn(batch, generator.latent_dim, generator=rng).to(dev)
        with torch.no_grad():
            clean = generator.decode_tensor(z)
        pred = encoder(_augment(clean, rng))
        latent_loss = F.mse_loss(pred, z)
        loss = latent_loss
        recon_loss = torch.zeros(())
        if k and recon_weight:
            recon_loss = (generator.decode_tensor(pred[:k]) - clean[:k]).abs().mean()
            loss = loss + recon_weight * recon_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if progress and (step % 50 == 0 or step == steps):
            progress(step, {"latent": latent_loss.item(), "recon": recon_loss.item()})
    return encoder.eval()


def save_encoder(encoder: ConvEncoder, path: str | Path) -> Path:
    """Write the encoder as an fp16 state_dict (atomically: temp file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in encoder.state_dict().items()}
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save({k: v.cpu() for k, v in state.items()}, tmp)
    tmp.replace(path)
    return path


def load_encoder(generator: Generator) -> ConvEncoder | None:
    """The encoder stored in `generator`'s model directory, or None if it has none.

    Its width is read from the weights, so encoders of any ``nef`` load.
    """
    path = Path(generator.info.path or "") / ENCODER_FILE
    if not generator.info.path or not path.is_file():
        return None
    return _load(generator, str(path), path.stat().st_mtime_ns, str(generator.device))


@functools.lru_cache(maxsize=4)
def _load(generator: Generator, path: str, mtime: int, device: str) -> ConvEncoder:
    """Cached per file version and device (`path` and `mtime` are the cache key)."""
    state = load_state_dict(generator.info, ENCODER_FILE)  # weights_only=True
    nef = state["features.0.weight"].shape[0] if "features.0.weight" in state else ENCODER_WIDTH
    encoder = build_encoder(generator, int(nef))
    try:
        encoder.load_state_dict({k: v.float() for k, v in state.items()})
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise InputError(f"{path}: encoder weights do not fit {generator.name}: {first}") from None
    return encoder.to(device).eval()


def encode(encoder: ConvEncoder, faces: np.ndarray) -> np.ndarray:
    """Latents for aligned faces (N, res, res, 3) or one (res, res, 3) uint8: (N, d) or (d,)."""
    faces = np.asarray(faces)
    single = faces.ndim == 3
    dev = next(encoder.parameters()).device
    with torch.inference_mode():
        z = encoder(to_tensor(faces[None] if single else faces, dev)).float().cpu().numpy()
    return z[0] if single else z
