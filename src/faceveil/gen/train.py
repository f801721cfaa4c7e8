"""Training a DCGAN or a VAE face generator on a folder of face crops.

The DCGAN follows the standard recipe (Radford et al. 2016, and the PyTorch tutorial): Adam
with lr 2e-4 and betas (0.5, 0.999), BCE-with-logits, weights drawn from N(0, 0.02). The VAE
minimises the squared reconstruction error plus ``kl_beta`` x the KL divergence to N(0, I).

Everything random in an epoch (order, flips, noise) is drawn from a generator seeded with
(seed, epoch), so ``resume`` after epoch k gives the same weights as training straight through.
The model directory holds, besides ``model.json`` and ``generator.pt`` at the end::

    checkpoint.pt     nets, optimisers, epoch, RNG state, config and log after every epoch
                      (plain tensors and dicts: it loads with torch.load(weights_only=True))
    train_log.json    config and per-epoch losses and seconds
    losses.png        the loss curves
    samples/epoch_0001.png ...  faces from the same fixed latents after each epoch
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import time
import warnings
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from faceveil.align import store_landmark_template
from faceveil.errors import InputError, OutputError
from faceveil.gen.base import (
    ENCODER_FILE,
    GENERATOR_FILE,
    MODEL_FILE,
    GeneratorInfo,
    default_device,
    to_uint8,
)
from faceveil.gen.nets import RESOLUTIONS, VAE, DCGANDiscriminator, DCGANGenerator
from faceveil.gen.prepare import dataset_files, describe_dataset
from faceveil.gen.registry import BUILTIN_DIR, get_generator, register
from faceveil.gen.upsample import grid
from faceveil.io.atomic import atomic_output
from faceveil.io.images import read_image, to_rgb8, write_image

CHECKPOINT_FILE = "checkpoint.pt"
LOG_FILE = "train_log.json"
LOSS_PLOT = "losses.png"
SAMPLES_DIR = "samples"
ARCH_CHOICES = ("dcgan", "vae")
DEFAULT_LR = {"dcgan": 2e-4, "vae": 1e-3}
BETAS = {"dcgan": (0.5, 0.999), "vae": (0.9, 0.999)}
MIN_TEMPLATE_RATE = 0.2  # below this share of detected samples, a mean template means little
N_FIXED_SAMPLES = 64
# Settings that shape the nets or the optimisation: a resumed run must keep them.
FIXED_ON_RESUME = ("arch", "res", "batch", "lr", "seed", "latent_dim", "width", "kl_beta")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass
class TrainConfig:
    """How to train; ``lr`` None takes the architecture's default."""

    arch: str = "dcgan"
    res: int = 64
    epochs: int = 25
    batch: int = 64
    lr: float | None = None
    seed: int = 0
    latent_dim: int = 100
    width: int = 64  # ngf and ndf of the DCGAN, nf of the VAE
    kl_beta: float = 1.0
    name: str = ""  # default: the model directory's name
    licence: str = ""  # default: "as the training images: ..."
    tags: dict[str, str] = field(default_factory=dict)

    def check(self) -> TrainConfig:
        if self.arch not in ARCH_CHOICES:
            raise InputError(f"arch must be one of {', '.join(ARCH_CHOICES)}, got {self.arch!r}")
        if self.res not in RESOLUTIONS:
            raise InputError(f"resolution must be one of {RESOLUTIONS}, got {self.res}")
        for key in ("epochs", "batch", "latent_dim", "width"):
            if getattr(self, key) < 1:
                raise InputError(f"{key} must be at least 1, got {getattr(self, key)}")
        if self.lr is None:
            self.lr = DEFAULT_LR[self.arch]
        if not 0 < self.lr < 1 or self.kl_beta < 0:
            raise InputError(f"need 0 < lr < 1 and kl_beta >= 0, got {self.lr}, {self.kl_beta}")
        if self.name and not _NAME.fullmatch(self.name):
            raise InputError(f"name {self.name!r}: use letters, digits, '.', '_' and '-' only")
        if self.name and (BUILTIN_DIR / self.name).is_dir():
            raise InputError(f"name {self.name!r} is taken by a built-in generator")
        return self


@dataclass
class TrainResult:
    """A finished training run."""

    model_dir: Path
    info: GeneratorInfo
    log: list[dict]  # one entry per epoch, all epochs so far
    epochs_run: int  # in this call
    notes: list[str] = field(default_factory=list)  # what the user should know


class FaceImages(torch.utils.data.Dataset):
    """The images of a dataset folder as uint8 tensors (3, res, res), resized when needed."""

    def __init__(self, dataset_dir: str | Path, res: int):
        self.files = dataset_files(dataset_dir)
        self.res = res

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> torch.Tensor:
        rgb = to_rgb8(read_image(self.files[i]))
        if rgb.shape[:2] != (self.res, self.res):
            small = min(rgb.shape[:2]) > self.res
            interp = cv2.INTER_AREA if small else cv2.INTER_CUBIC
            rgb = cv2.resize(rgb, (self.res, self.res), interpolation=interp)
        return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)

    def fingerprint(self) -> str:
        """Changes when files are added, removed, renamed or rewritten."""
        h = hashlib.sha256()
        for f in self.files:
            h.update(f"{f.name}:{f.stat().st_size}\n".encode())
        return f"{len(self.files)}:{h.hexdigest()[:16]}"


def _init_weights(module: torch.nn.Module) -> None:
    """DCGAN initialisation: convolutions N(0, 0.02), batch-norm scales N(1, 0.02)."""
    if isinstance(module, torch.nn.Conv2d | torch.nn.ConvTranspose2d | torch.nn.Linear):
        torch.nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            torch.nn.init.zeros_(module.bias)
    elif isinstance(module, torch.nn.BatchNorm2d):
        torch.nn.init.normal_(module.weight, 1.0, 0.02)
        torch.nn.init.zeros_(module.bias)


def _build(cfg: TrainConfig, device: torch.device):
    """(nets by name, optimisers by name, the decoder) for a config, freshly initialised."""
    torch.manual_seed(cfg.seed)
    if cfg.arch == "dcgan":
        nets = {
            "generator": DCGANGenerator(cfg.latent_dim, cfg.width, cfg.res),
            "discriminator": DCGANDiscriminator(cfg.width, cfg.res),
        }
    else:
        nets = {"vae": VAE(cfg.latent_dim, cfg.width, cfg.res)}
    for net in nets.values():
        net.apply(_init_weights).to(device).train()
    lr = cfg.lr if cfg.lr is not None else DEFAULT_LR[cfg.arch]  # __post_init__ sets it
    opts = {
        k: torch.optim.Adam(n.parameters(), lr=lr, betas=BETAS[cfg.arch]) for k, n in nets.items()
    }
    decoder = nets["generator"] if cfg.arch == "dcgan" else nets["vae"].decoder
    return nets, opts, decoder


def _dcgan_step(nets, opts, real, rng, latent_dim) -> dict[str, float]:
    g, d = nets["generator"], nets["discriminator"]
    n, dev = real.shape[0], real.device
    ones, zeros = torch.ones(n, device=dev), torch.zeros(n, device=dev)
    fake = g(torch.randn(n, latent_dim, generator=rng).to(dev))
    opts["discriminator"].zero_grad(set_to_none=True)
    bce = F.binary_cross_entropy_with_logits
    out_real, out_fake = d(real), d(fake.detach())
    loss_d = bce(out_real, ones) + bce(out_fake, zeros)
    loss_d.backward()
    opts["discriminator"].step()
    opts["generator"].zero_grad(set_to_none=True)
    loss_g = bce(d(fake), ones)
    loss_g.backward()
    opts["generator"].step()
    return {
        "loss_d": loss_d.item(),
        "loss_g": loss_g.item(),
        "d_real": torch.sigmoid(out_real).mean().item(),
        "d_fake": torch.sigmoid(out_fake).mean().item(),
    }


def _vae_step(nets, opts, real, rng, kl_beta) -> dict[str, float]:
    vae = nets["vae"]
    mu, logvar = vae.encode(real)
    z = mu + torch.randn(mu.shape, generator=rng).to(mu.device) * (0.5 * logvar).exp()
    recon = ((vae.decoder(z) - real) ** 2).sum((1, 2, 3)).mean()
    kl = -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(1).mean()
    loss = recon + kl_beta * kl
    opts["vae"].zero_grad(set_to_none=True)
    loss.backward()
    opts["vae"].step()
    return {"loss": loss.item(), "recon": recon.item(), "kl": kl.item()}


def _batches(n: int, batch: int, rng: torch.Generator) -> list[torch.Tensor]:
    """A shuffled epoch; the last partial batch is dropped unless it is the only one."""
    order = torch.randperm(n, generator=rng)
    full = n // batch
    return [order[i * batch : (i + 1) * batch] for i in range(full)] or [order]


def _load_checkpoint(path: Path) -> dict:
    try:
        with warnings.catch_warnings():  # torch warns about foreign pickles; we refuse them
            warnings.simplefilter("ignore")
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InputError(f"{path.parent}: no {CHECKPOINT_FILE} to resume from") from None
    except Exception as exc:  # a pickle that would run code, or a corrupt file: refuse
        raise InputError(f"{path}: not a loadable checkpoint ({type(exc).__name__})") from None
    needed = {"epoch", "config", "nets", "optimizers", "log", "dataset"}
    if not isinstance(ckpt, dict) or not needed <= set(ckpt):
        raise InputError(f"{path}: not a faceveil training checkpoint")
    return ckpt


def _resume_config(ckpt: dict, options: dict, config_class=None, fixed=FIXED_ON_RESUME):
    """The checkpoint's config with `options` applied; the `fixed` ones must match it."""
    config_class = config_class or TrainConfig
    known = {f.name for f in fields(config_class)}
    cfg = config_class(**{k: v for k, v in ckpt["config"].items() if k in known})
    for key, value in options.items():
        if key in fixed and value != getattr(cfg, key):
            raise InputError(
                f"{key}={value} differs from the checkpoint's {getattr(cfg, key)}; "
                "leave it out to resume, or start again with --overwrite"
            )
        setattr(cfg, key, value)
    return cfg


def _save_checkpoint(model_dir: Path, state: dict) -> None:
    with atomic_output(model_dir / CHECKPOINT_FILE) as tmp:
        torch.save(state, tmp)


def _write_json(path: Path, data) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")


def plot_losses(log: list[dict], keys: list[str], path: Path) -> None:
    """Loss curves per epoch, drawn with OpenCV (no plotting library needed)."""
    w, h, left, right, top, bottom = 640, 360, 70, 20, 20, 40
    img = np.full((h, w, 3), 255, np.uint8)
    values = np.array([[e[k] for k in keys] for e in log], np.float64)
    lo, hi = float(values.min()), float(values.max())
    hi = hi if hi > lo else lo + 1.0
    n = len(log)

    def xy(i: int, v: float) -> tuple[int, int]:
        x = left + (w - left - right) * (i / max(n - 1, 1))
        return int(round(x)), int(round(h - bottom - (h - top - bottom) * (v - lo) / (hi - lo)))

    cv2.rectangle(img, (left, top), (w - right, h - bottom), (0, 0, 0), 1)
    font, small = cv2.FONT_HERSHEY_SIMPLEX, 0.4
    for v in (lo, hi):
        cv2.putText(img, f"{v:.3g}", (4, xy(0, v)[1] + 4), font, small, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, "epoch 1", (left, h - 15), font, small, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, f"{n}", (w - right - 20, h - 15), font, small, (0, 0, 0), 1, cv2.LINE_AA)
    colours = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189)]
    for j, key in enumerate(keys):
        colour = colours[j % len(colours)]
        pts = np.array([xy(i, v) for i, v in enumerate(values[:, j])], np.int32)
        cv2.polylines(img, [pts], False, colour, 2, cv2.LINE_AA)
        cv2.putText(img, key, (left + 90 + 90 * j, h - 15), font, 0.5, colour, 1, cv2.LINE_AA)
    write_image(path, img)


def _fixed_latents(cfg: TrainConfig) -> torch.Tensor:
    rng = torch.Generator().manual_seed(cfg.seed)
    return torch.randn(N_FIXED_SAMPLES, cfg.latent_dim, generator=rng)


def train(
    dataset_dir: str | Path,
    model_dir: str | Path,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = False,
    template_samples: int = 512,
    encoder_steps: int = 0,
    **options,
) -> TrainResult:
    """Train a generator on the images in `dataset_dir`; write and register it in `model_dir`.

    Parameters
    ----------
    dataset_dir : a folder made by :func:`faceveil.gen.prepare.prepare_dataset`, or any
        folder of face images (resized to the resolution if needed).
    model_dir : where checkpoints, samples, logs and the finished model go.
    resume : continue from ``model_dir/checkpoint.pt``; settings in `options` that shape the
        nets must match it, ``epochs`` is the new total.
    overwrite : start again in a model directory that already holds a model.
    progress : show a progress bar.
    template_samples : samples used to measure the landmark template at the end.
    encoder_steps : if > 0, also train an amortised inversion encoder for that many steps
        (:func:`faceveil.gen.encoder.train_encoder`).
    **options : fields of :class:`TrainConfig`; None values are ignored.

    Returns
    -------
    TrainResult. The model is registered, so ``get_generator(name)`` finds it.
    """
    model_dir = Path(model_dir)
    options = {k: v for k, v in options.items() if v is not None}
    unknown = set(options) - {f.name for f in fields(TrainConfig)}
    if unknown:
        raise TypeError(f"unknown training options: {', '.join(sorted(unknown))}")
    device = default_device()
    ckpt = None
    if resume:
        ckpt = _load_checkpoint(model_dir / CHECKPOINT_FILE)
        cfg = _resume_config(ckpt, options)
    else:
        if not overwrite and any((model_dir / f).exists() for f in (CHECKPOINT_FILE, MODEL_FILE)):
            raise OutputError(
                f"{model_dir}: already holds a model; pass --resume to continue "
                "or --overwrite to start again"
            )
        cfg = TrainConfig(**options)
    cfg.name = cfg.name or model_dir.resolve().name
    cfg.check()
    data = FaceImages(dataset_dir, cfg.res)
    fingerprint = data.fingerprint()
    nets, opts, decoder = _build(cfg, device)
    log: list[dict] = []
    start_epoch = 0
    if ckpt is not None:
        if ckpt["dataset"] != fingerprint:
            raise InputError(
                f"{dataset_dir}: not the dataset the checkpoint was trained on "
                f"({ckpt['dataset']} vs {fingerprint}: files added, removed or changed)"
            )
        try:
            for k, net in nets.items():
                net.load_state_dict(ckpt["nets"][k])
                opts[k].load_state_dict(ckpt["optimizers"][k])
        except (KeyError, RuntimeError, ValueError) as exc:
            first = str(exc).splitlines()[0]
            raise InputError(f"{model_dir / CHECKPOINT_FILE}: does not fit: {first}") from None
        if "rng" in ckpt:
            torch.set_rng_state(ckpt["rng"])
        log, start_epoch = list(ckpt["log"]), int(ckpt["epoch"])
    model_dir.mkdir(parents=True, exist_ok=True)
    fixed_z = _fixed_latents(cfg).to(device)
    if cfg.arch == "dcgan":
        step = functools.partial(_dcgan_step, nets, opts, latent_dim=cfg.latent_dim)
    else:
        step = functools.partial(_vae_step, nets, opts, kl_beta=cfg.kl_beta)
    per_epoch = max(len(data) // cfg.batch, 1)
    bar = tqdm(
        total=per_epoch * max(cfg.epochs - start_epoch, 0),
        unit="step",
        desc=f"train {cfg.arch}",
        disable=not progress,
    )
    for epoch in range(start_epoch + 1, cfg.epochs + 1):
        began = time.perf_counter()
        rng = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
        sums: dict[str, float] = {}
        batches = _batches(len(data), cfg.batch, rng)
        for done, idx in enumerate(batches, 1):
            real = torch.stack([data[int(i)] for i in idx])
            flip = torch.rand(len(idx), generator=rng) < 0.5
            real[flip] = real[flip].flip(-1)
            real = real.to(device).float() / 127.5 - 1.0
            for k, v in step(real, rng).items():
                sums[k] = sums.get(k, 0.0) + v
            bar.update(1)
            bar.set_postfix({k: f"{v / done:.3f}" for k, v in sums.items()}, refresh=False)
        entry = {"epoch": epoch, **{k: round(v / len(batches), 5) for k, v in sums.items()}}
        entry["seconds"] = round(time.perf_counter() - began, 3)
        log.append(entry)
        _end_of_epoch(model_dir, cfg, nets, opts, decoder, fixed_z, log, fingerprint)
    bar.close()
    result = _finish(model_dir, cfg, decoder, dataset_dir, log, template_samples, encoder_steps)
    result.epochs_run = max(cfg.epochs - start_epoch, 0)
    if result.epochs_run == 0:
        result.notes.insert(0, f"the checkpoint has {start_epoch} epochs already: nothing to train")
    return result


def _end_of_epoch(model_dir, cfg, nets, opts, decoder, fixed_z, log, fingerprint) -> None:
    """Samples from the fixed latents, the checkpoint, the JSON log and the loss plot."""
    epoch = log[-1]["epoch"]
    decoder.eval()
    with torch.inference_mode():
        faces = to_uint8(decoder(fixed_z))
    decoder.train()
    write_image(model_dir / SAMPLES_DIR / f"epoch_{epoch:04d}.png", grid(faces))
    _save_checkpoint(
        model_dir,
        {
            "epoch": epoch,
            "config": asdict(cfg),
            "dataset": fingerprint,
            "nets": {k: {n: t.cpu() for n, t in v.state_dict().items()} for k, v in nets.items()},
            "optimizers": {k: o.state_dict() for k, o in opts.items()},
            "rng": torch.get_rng_state(),
            "log": log,
        },
    )
    _write_json(model_dir / LOG_FILE, {"config": asdict(cfg), "epochs": log})
    keys = ["loss_d", "loss_g"] if cfg.arch == "dcgan" else ["recon", "kl"]
    plot_losses(log, keys, model_dir / LOSS_PLOT)


def _finish(model_dir, cfg, decoder, dataset_dir, log, template_samples, encoder_steps):
    """generator.pt, model.json, the landmark template, the encoder; then register."""
    with atomic_output(model_dir / GENERATOR_FILE) as tmp:
        torch.save({k: v.cpu() for k, v in decoder.state_dict().items()}, tmp)
    trained = f"{len(log)} epochs, batch {cfg.batch}, lr {cfg.lr:g}, seed {cfg.seed}"
    info = GeneratorInfo(
        name=cfg.name,
        arch=cfg.arch,
        latent_dim=cfg.latent_dim,
        resolution=cfg.res,
        training_data=describe_dataset(dataset_dir),
        licence=cfg.licence or "as the training images: the user's own (terms not recorded)",
        description=f"{cfg.arch} at {cfg.res} px trained by faceveil train ({trained}).",
        tags={"source": "faceveil train", "epochs": str(len(log)), **cfg.tags},
        arch_kwargs={"ngf": cfg.width} if cfg.arch == "dcgan" else {"nf": cfg.width},
    )
    info.save(model_dir)
    get_generator.cache_clear()
    generator = get_generator(model_dir)
    notes = []
    try:
        rate = store_landmark_template(generator, n=template_samples, seed=cfg.seed)
    except ValueError:
        rate = 0.0
    if rate < MIN_TEMPLATE_RATE:
        generator.info.landmark_template = None
        generator.info.tags = {**generator.info.tags, "sample_detection_rate": f"{rate:.3f}"}
        generator.info.save(model_dir)
        notes.append(
            f"only {rate:.0%} of {template_samples} samples show a detectable face: no landmark "
            "template stored (train longer for inversion and face replacement to work)"
        )
    encoder = model_dir / ENCODER_FILE
    if encoder_steps > 0:
        from faceveil.gen.encoder import save_encoder, train_encoder

        save_encoder(train_encoder(generator, encoder_steps, seed=cfg.seed), encoder)
    elif encoder.exists():  # trained for the old weights: it would mislead inversion
        encoder.unlink()
        notes.append(f"removed {ENCODER_FILE}, which belonged to the previous weights")
    info = register(model_dir)
    get_generator.cache_clear()
    return TrainResult(model_dir, info, log, 0, notes)
