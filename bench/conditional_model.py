"""A conditional anonymiser (DeepPrivacy-style): masked face + landmarks + z -> a new face.

Not shipped (it lost to synth, see bench/conditional.py), so it lives here, beside its bench.

The network sees a face aligned to the generator's landmark template (64 px for dcgan64) with
its inner face (the oval of :func:`face_oval`, brows to chin) replaced by grey, the hole as a
mask, five Gaussian heatmaps at the face's own landmarks (after alignment: they carry the pose
and the mouth) and a latent z (FiLM in every decoder stage) that picks the identity. It paints
the hole; outside it the output is the input, exactly.

Training (:func:`train_conditional`, ``bench/train_conditional.py``) uses the
generator's samples, aligned to its template on their own YuNet landmarks, and optionally the
faces of a prepared dataset. Losses: hinge GAN with a spectrally normalised patch
discriminator that sees the same mask and landmarks; L1 between 4x4-pooled output and target
inside the hole (coarse light and shape follow the original, detail does not); and a
mode-seeking term (Mao et al. 2019) that keeps two latents on one input apart, so that z
changes the identity instead of collapsing to a mean face.

Files in the model directory: ``checkpoint.pt``, ``train_log.json``, ``losses.png`` and
``samples/epoch_NNNN.png`` after every epoch, as :mod:`faceveil.gen.train` writes them;
``conditional_data.npz`` (the aligned training faces, cached); and at the end
``conditional.pt``, the generator net as an fp16 state_dict, which :func:`load_conditional`
reads (from a generator's model directory, or any path).
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from faceveil.align import face_oval
from faceveil.errors import InputError, OutputError

WEIGHTS_FILE = "conditional.pt"
DATA_FILE = "conditional_data.npz"
HOLE_THRESHOLD = 0.05  # of the feathered oval: the hole covers everything synth blends in
HOLE_RANGE = (0.02, 0.4)  # thresholds drawn in training: holes a little larger and smaller
SIGMA = 1.5  # px at 64 px: landmark heatmap blobs
POOL = 4  # the L1 term compares 4x4-pooled images: light and shape, not identity detail
FLIP = [1, 0, 2, 4, 3]  # landmark order after a horizontal flip
FIXED_ON_RESUME = ("batch", "lr", "seed", "latent_dim", "width", "samples", "generator", "d_width")


# --- networks ---------------------------------------------------------------------------------


def _widths(width: int, res: int) -> list[int]:
    """Channels at res, res/2, ... 4 px: doubling, capped at 8 x width (thin where it is
    costly: compute goes with the area)."""
    levels = int(math.log2(res)) - 2
    return [min(width * 2**i, 8 * width) for i in range(levels + 1)]


class FiLM(nn.Module):
    """Per-channel scale and shift from z; starts as the identity."""

    def __init__(self, latent_dim: int, channels: int):
        super().__init__()
        self.lin = nn.Linear(latent_dim, 2 * channels)
        nn.init.zeros_(self.lin.weight)
        nn.init.zeros_(self.lin.bias)

    def forward(self, h: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        g, b = self.lin(z)[..., None, None].chunk(2, dim=1)
        return h * (1 + g) + b


class ConditionalGenerator(nn.Module):
    """U-Net: condition (N, 9, res, res) and z (N, latent_dim) -> (N, 3, res, res) in [-1, 1].

    The condition is the masked face (3), the hole (1) and five landmark heatmaps (5).
    """

    def __init__(self, width: int = 32, latent_dim: int = 32, res: int = 64):
        super().__init__()
        if res not in (32, 64, 128):
            raise ValueError(f"resolution must be 32, 64 or 128, got {res}")
        c = _widths(width, res)
        self.width, self.latent_dim, self.res = width, latent_dim, res
        self.inp = nn.Conv2d(9, c[0], 3, 1, 1)
        self.down = nn.ModuleList(nn.Conv2d(a, b, 4, 2, 1) for a, b in zip(c, c[1:], strict=False))
        self.zmap = nn.Linear(latent_dim, c[-1] * 16)
        self.mid = nn.Conv2d(c[-1], c[-1], 3, 1, 1)
        self.mid_film = FiLM(latent_dim, c[-1])
        self.up = nn.ModuleList(
            nn.Conv2d(c[i + 1] + c[i], c[i], 3, 1, 1) for i in range(len(c) - 1)
        )
        self.films = nn.ModuleList(FiLM(latent_dim, c[i]) for i in range(len(c) - 1))
        self.out = nn.Conv2d(c[0], 3, 3, 1, 1)

    def forward(self, cond: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        act = functools.partial(F.leaky_relu, negative_slope=0.2)
        skips = [act(self.inp(cond))]
        for conv in self.down:
            skips.append(act(conv(skips[-1])))
        h = skips[-1] + self.zmap(z).view(z.shape[0], -1, 4, 4)
        h = act(self.mid_film(self.mid(h), z))
        for i in reversed(range(len(self.up))):
            h = F.interpolate(h, scale_factor=2.0, mode="nearest")
            h = act(self.films[i](self.up[i](torch.cat([h, skips[i]], 1)), z))
        return torch.tanh(self.out(h))


class PatchDiscriminator(nn.Module):
    """Spectrally normalised patch critic on (image 3 + hole 1 + heatmaps 5): logits per patch."""

    def __init__(self, width: int = 32):
        super().__init__()
        sn = nn.utils.spectral_norm
        c = [9, width, 2 * width, 4 * width]
        layers: list[nn.Module] = []
        for a, b in zip(c, c[1:], strict=False):
            layers += [sn(nn.Conv2d(a, b, 4, 2, 1)), nn.LeakyReLU(0.2, True)]
        layers.append(sn(nn.Conv2d(c[-1], 1, 3, 1, 1)))
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


# --- conditions -------------------------------------------------------------------------------


def heatmaps(landmarks: torch.Tensor, res: int, sigma: float = SIGMA) -> torch.Tensor:
    """(N, 5, 2) landmarks in pixels -> (N, 5, res, res) Gaussian blobs in [0, 1]."""
    sigma = sigma * res / 64
    grid = torch.arange(res, dtype=torch.float32, device=landmarks.device)
    dx = (grid[None, None, None, :] - landmarks[..., 0, None, None]) ** 2
    dy = (grid[None, None, :, None] - landmarks[..., 1, None, None]) ** 2
    return torch.exp(-(dx + dy) / (2 * sigma * sigma))


def condition(face: torch.Tensor, hole: torch.Tensor, heat: torch.Tensor) -> torch.Tensor:
    """The generator's input: the face (N, 3, H, W) in [-1, 1] with the hole grey (0)."""
    return torch.cat([face * (1 - hole), hole, heat], 1)


# --- inference --------------------------------------------------------------------------------


@dataclass
class ConditionalModel:
    """A trained conditional generator, ready to fill aligned faces."""

    net: ConditionalGenerator
    template: np.ndarray  # (5, 2) in res px
    path: str = ""

    @property
    def res(self) -> int:
        return self.net.res

    @property
    def latent_dim(self) -> int:
        return self.net.latent_dim

    @functools.cached_property
    def hole(self) -> np.ndarray:
        """The (res, res) float32 0/1 hole the model paints at inference."""
        return (face_oval(self.template, self.res) > HOLE_THRESHOLD).astype(np.float32)

    def latents(self, seeds) -> np.ndarray:
        """One z (latent_dim,) per seed, from ``numpy.random.default_rng(seed)``."""
        return np.stack(
            [np.random.default_rng(int(s)).standard_normal(self.latent_dim) for s in seeds]
        ).astype(np.float32)

    def fill(self, crop, landmarks=None, z_or_seeds=0, hole=None) -> np.ndarray:
        """New faces for one aligned crop.

        Parameters
        ----------
        crop : uint8 (res, res, 3) face aligned to the template.
        landmarks : (5, 2) landmarks in crop pixels (the face's own, mapped through the
            alignment matrix: they give the pose); None uses the template.
        z_or_seeds : an int seed, a sequence of seeds, or latents (latent_dim,) or (N, latent_dim).
        hole : (res, res) mask of the region to paint (> 0.5); default :attr:`hole`.

        Returns
        -------
        uint8 (res, res, 3) for one seed or latent, (N, res, res, 3) for several; equal to
        `crop` outside the hole.
        """
        crop = np.asarray(crop)
        if crop.shape != (self.res, self.res, 3) or crop.dtype != np.uint8:
            raise InputError(f"crop must be uint8 ({self.res}, {self.res}, 3), got {crop.shape}")
        z = np.asarray(z_or_seeds)
        if z.dtype.kind in "iu":
            single = z.ndim == 0
            z = self.latents(np.atleast_1d(z))
        else:
            single = z.ndim == 1
            z = np.atleast_2d(z).astype(np.float32)
        if z.shape[1] != self.latent_dim:
            raise InputError(f"z must have {self.latent_dim} values, got {z.shape[1]}")
        lm = self.template if landmarks is None else np.asarray(landmarks, np.float32)
        hole = self.hole if hole is None else (np.asarray(hole) > 0.5).astype(np.float32)
        dev = next(self.net.parameters()).device
        n = len(z)
        with torch.inference_mode():
            face = torch.from_numpy(crop).to(dev).permute(2, 0, 1)[None].float() / 127.5 - 1
            h = torch.from_numpy(hole).to(dev)[None, None]
            heat = heatmaps(torch.from_numpy(lm).to(dev)[None], self.res)
            cond = condition(face, h, heat).expand(n, -1, -1, -1)
            out = self.net(cond, torch.from_numpy(z).to(dev))
            out = out * h + face * (1 - h)
            rgb = ((out.permute(0, 2, 3, 1).cpu().numpy() + 1) * 127.5).round().clip(0, 255)
        rgb = rgb.astype(np.uint8)
        keep = hole < 0.5
        rgb[:, keep] = crop[keep]  # exactly the input outside the hole, no rounding drift
        return rgb[0] if single else rgb


def save_conditional(net: ConditionalGenerator, path: str | Path) -> Path:
    """The net as an fp16 state_dict plus its shape (width, latent, res), written atomically."""
    from faceveil.io.atomic import atomic_output

    state = {k: v.detach().cpu().half() for k, v in net.state_dict().items()}
    state["meta.shape"] = torch.tensor([net.width, net.latent_dim, net.res])
    with atomic_output(path) as tmp:
        torch.save(state, tmp)
    return Path(path)


@functools.lru_cache(maxsize=4)
def _load_file(path: str, mtime: int, device: str) -> ConditionalGenerator:
    import warnings

    try:
        with warnings.catch_warnings():  # torch warns about foreign pickles before refusing them
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a pickle that would run code, or a corrupt file: refuse
        raise InputError(f"{path}: not a loadable weights file ({type(exc).__name__})") from None
    try:
        width, latent, res = (int(v) for v in state.pop("meta.shape"))
        net = ConditionalGenerator(width, latent, res)
        net.load_state_dict({k: v.float() for k, v in state.items()})
    except (KeyError, RuntimeError, ValueError, TypeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: not conditional-generator weights: {first}") from None
    for p in net.parameters():
        p.requires_grad_(False)
    return net.to(device).eval()


def load_conditional(generator=None, path: str | Path | None = None) -> ConditionalModel | None:
    """The conditional model of `generator` (default: the default generator), from
    ``conditional.pt`` in its model directory, or from `path` (a .pt file or a folder holding
    one). Returns None when there is no such file."""
    from faceveil.gen.registry import get_generator

    generator = generator or get_generator()
    if generator.landmark_template is None:
        return None
    if path is None:
        if not generator.info.path:
            return None
        path = Path(generator.info.path) / WEIGHTS_FILE
    path = Path(path)
    if path.is_dir():
        path = path / WEIGHTS_FILE
    if not path.is_file():
        return None
    net = _load_file(str(path), path.stat().st_mtime_ns, str(generator.device))
    if net.res != generator.resolution:
        raise InputError(
            f"{path}: made for {net.res} px, {generator.name} is {generator.resolution}"
        )
    return ConditionalModel(net, generator.landmark_template, str(path))


# --- training data ----------------------------------------------------------------------------


def _detected_landmarks(img: np.ndarray) -> np.ndarray | None:
    """YuNet landmarks of a (res, res) face in its own pixels, found at 2x in a grey frame."""
    from faceveil.detect import detect
    from faceveil.gen.directions import framed

    res = img.shape[0]
    faces = detect(framed(img), small_faces=False, max_side=None)
    return None if not faces else ((faces[0].landmarks - res) / 2.0).astype(np.float32)


def _aligned(img: np.ndarray, lm: np.ndarray, template: np.ndarray):
    from faceveil.align import align_matrix

    res = img.shape[0]
    m = align_matrix(lm, template)
    out = cv2.warpAffine(img, m, (res, res), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT101)
    return out, cv2.transform(lm[None], m)[0].astype(np.float32)


def training_faces(generator, samples: int, seed: int, dataset_dir=None, progress=False):
    """(faces uint8 (N, res, res, 3), landmarks float32 (N, 5, 2)), aligned to the template:
    `samples` generator samples plus every face of `dataset_dir`; faces YuNet misses are left
    out."""
    from tqdm import tqdm

    res, template = generator.resolution, generator.landmark_template
    sources = []
    if dataset_dir is not None:
        from faceveil.gen.train import FaceImages

        data = FaceImages(dataset_dir, res)
        sources.append((len(data), (data[i].permute(1, 2, 0).numpy() for i in range(len(data)))))
    if samples:
        z = generator.sample_latents(samples, seed=seed)
        images = (img for s in range(0, samples, 256) for img in generator.decode(z[s : s + 256]))
        sources.append((samples, images))
    faces, marks = [], []
    total = sum(n for n, _ in sources)
    with tqdm(total=total, desc="detect", unit="face", disable=not progress) as bar:
        for _, images in sources:
            for img in images:
                bar.update(1)
                lm = _detected_landmarks(img)
                if lm is not None:
                    face, lm = _aligned(img, lm, template)
                    faces.append(face)
                    marks.append(lm)
    if not faces:
        raise InputError("no face detected in any training image")
    return np.stack(faces), np.stack(marks)


# --- training ---------------------------------------------------------------------------------


@dataclass
class ConditionalConfig:
    arch: str = "conditional"
    epochs: int = 5
    batch: int = 8
    lr: float | None = None  # default 5e-4
    seed: int = 0
    latent_dim: int = 32
    width: int = 16
    samples: int = 8000  # generator samples to train on (besides a dataset's faces)
    generator: str = "dcgan64"
    l1_weight: float = 5.0  # pooled L1 inside the hole
    pixel_weight: float = 10.0  # full-resolution L1 inside the hole
    adv_weight: float = 0.1  # small: on a CPU budget, reconstruction gives the face its shape
    ms_weight: float = 0.01  # mode seeking
    d_width: int = 64  # the discriminator's
    d_lr_scale: float = 2.0  # the discriminator learns faster (two time-scale update rule)
    name: str = ""
    licence: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    def check(self) -> ConditionalConfig:
        for key in ("epochs", "batch", "latent_dim", "width"):
            if getattr(self, key) < 1:
                raise InputError(f"{key} must be at least 1, got {getattr(self, key)}")
        if self.samples < 0:
            raise InputError(f"samples must be >= 0, got {self.samples}")
        self.lr = 5e-4 if self.lr is None else self.lr
        if not 0 < self.lr < 1:
            raise InputError(f"need 0 < lr < 1, got {self.lr}")
        return self


def _photometric(x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """Colour jitter, 20 % grey and 30 % soft: real photos aligned to 64 px, grey ORL ones too."""
    n = x.shape[0]

    def uniform(lo, hi, *shape):
        return torch.rand(n, *shape, generator=rng) * (hi - lo) + lo

    grey = x.mean(1, keepdim=True)
    sat = uniform(0.6, 1.3, 1, 1, 1) * (uniform(0, 1, 1, 1, 1) > 0.2)
    x = grey + (x - grey) * sat
    mean = x.mean((1, 2, 3), keepdim=True)
    x = (x - mean) * uniform(0.75, 1.25, 1, 1, 1) + mean + uniform(-0.15, 0.15, 1, 1, 1)
    x = x + uniform(-0.05, 0.05, 3, 1, 1)
    soft = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    x = torch.where(uniform(0, 1, 1, 1, 1) < 0.3, soft, x)
    return x.clamp(-1, 1)


class _Trainer:
    """Nets, optimisers and one training step."""

    def __init__(self, cfg: ConditionalConfig, res: int, oval: np.ndarray):
        torch.manual_seed(cfg.seed)
        self.cfg, self.res = cfg, res
        self.nets = {
            "generator": ConditionalGenerator(cfg.width, cfg.latent_dim, res),
            "discriminator": PatchDiscriminator(cfg.d_width),
        }
        lrs = {"generator": cfg.lr, "discriminator": cfg.lr * cfg.d_lr_scale}
        self.opts = {
            k: torch.optim.Adam(n.parameters(), lr=lrs[k], betas=(0.5, 0.99))
            for k, n in self.nets.items()
        }
        self.oval = torch.from_numpy(oval)[None, None]

    def holes(self, n: int, rng: torch.Generator) -> torch.Tensor:
        lo, hi = HOLE_RANGE
        t = torch.rand(n, 1, 1, 1, generator=rng) * (hi - lo) + lo
        return (self.oval > t).float()

    def batch(self, faces, marks, idx, rng):
        """Augmented faces in [-1, 1], holes and heatmaps for the items `idx`."""
        x = torch.from_numpy(faces[idx.numpy()]).permute(0, 3, 1, 2).float() / 127.5 - 1
        lm = torch.from_numpy(marks[idx.numpy()]).clone()
        flip = torch.rand(len(idx), generator=rng) < 0.5
        x[flip] = x[flip].flip(-1)
        lm[flip] = lm[flip][:, FLIP]
        lm[flip, :, 0] = self.res - 1 - lm[flip, :, 0]
        x = _photometric(x, rng)
        return x, self.holes(len(idx), rng), heatmaps(lm, self.res)

    def step(self, x, hole, heat, rng) -> dict[str, float]:
        g, d = self.nets["generator"], self.nets["discriminator"]
        cfg, n = self.cfg, x.shape[0]
        z = torch.randn(2 * n, cfg.latent_dim, generator=rng)
        x2, hole2, heat2 = (torch.cat([t, t]) for t in (x, hole, heat))
        fake = g(condition(x2, hole2, heat2), z) * hole2 + x2 * (1 - hole2)

        self.opts["discriminator"].zero_grad(set_to_none=True)
        real_out = d(torch.cat([x, hole, heat], 1))
        fake_out = d(torch.cat([fake.detach(), hole2, heat2], 1))
        loss_d = F.relu(1 - real_out).mean() + F.relu(1 + fake_out).mean()
        loss_d.backward()
        self.opts["discriminator"].step()

        self.opts["generator"].zero_grad(set_to_none=True)
        adv = -d(torch.cat([fake, hole2, heat2], 1)).mean()
        area = F.avg_pool2d(hole2, POOL)
        l1 = ((F.avg_pool2d(fake, POOL) - F.avg_pool2d(x2, POOL)).abs() * area).sum() / (
            3 * area.sum() + 1e-6
        )
        pixel = ((fake - x2).abs() * hole2).sum() / (3 * hole2.sum() + 1e-6)
        f1, f2 = fake.chunk(2)
        spread = (f1 - f2).abs().sum((1, 2, 3)) / (3 * hole.sum((1, 2, 3)) + 1e-6)
        mode = (spread / (z[:n] - z[n:]).abs().mean(1)).mean()
        loss_g = cfg.adv_weight * adv + cfg.l1_weight * l1 + cfg.pixel_weight * pixel
        loss_g = loss_g + cfg.ms_weight / (mode + 1e-5)
        loss_g.backward()
        self.opts["generator"].step()
        return {
            "loss_d": loss_d.item(),
            "loss_g": adv.item(),
            "l1": l1.item(),
            "spread": spread.mean().item(),
        }

    def samples(self, faces, marks) -> np.ndarray:
        """Per row: the masked input, four latents, the original; for the first 8 faces."""
        from faceveil.gen.base import to_uint8
        from faceveil.gen.upsample import grid

        g = self.nets["generator"].eval()
        k = min(8, len(faces))
        x = torch.from_numpy(faces[:k]).permute(0, 3, 1, 2).float() / 127.5 - 1
        hole = (self.oval > HOLE_THRESHOLD).float().expand(k, -1, -1, -1)
        heat = heatmaps(torch.from_numpy(marks[:k]), self.res)
        z = torch.randn(4, k, self.cfg.latent_dim, generator=torch.Generator().manual_seed(1))
        with torch.inference_mode():
            cond = condition(x, hole, heat)
            outs = [g(cond, zi) * hole + x * (1 - hole) for zi in z]
        g.train()
        rows = torch.stack([x * (1 - hole), *outs, x], 1).flatten(0, 1)
        return grid(to_uint8(rows), columns=6)


def _fingerprint(cfg: ConditionalConfig, dataset_dir) -> str:
    from faceveil.gen.train import FaceImages

    data = FaceImages(dataset_dir, 64).fingerprint() if dataset_dir else "-"
    return f"{cfg.generator}:{cfg.samples}:{cfg.seed}:{data}"


def _cached_faces(model_dir: Path, generator, cfg, dataset_dir, fingerprint, progress):
    path = model_dir / DATA_FILE
    if path.is_file():
        with np.load(path, allow_pickle=False) as f:
            if str(f["fingerprint"]) == fingerprint:
                return f["faces"], f["landmarks"]
    faces, marks = training_faces(generator, cfg.samples, cfg.seed, dataset_dir, progress)
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    model_dir.mkdir(parents=True, exist_ok=True)
    np.savez(tmp, faces=faces, landmarks=marks, fingerprint=np.array(fingerprint))
    tmp.replace(path)
    return faces, marks


def train_conditional(
    dataset_dir,
    model_dir,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = False,
    **options,
):
    """Train a conditional anonymiser (module docstring; options as :func:`.train.train`).

    `dataset_dir` is a prepared folder whose faces join the generator's samples, or None (or
    the generator's name) for samples only. Returns a :class:`~faceveil.gen.train.TrainResult`
    whose ``info`` is the generator's.
    """
    from tqdm import tqdm

    from faceveil.gen import train as tr
    from faceveil.gen.registry import get_generator

    model_dir = Path(model_dir)
    options = {k: v for k, v in options.items() if v is not None}
    for key in ("template_samples", "encoder_steps", "res", "kl_beta"):
        options.pop(key, None)  # meaningful for generators only
    known = {f.name for f in fields(ConditionalConfig)}
    unknown = set(options) - known
    if unknown:
        raise TypeError(f"unknown training options: {', '.join(sorted(unknown))}")
    ckpt = None
    if resume:
        ckpt = tr._load_checkpoint(model_dir / tr.CHECKPOINT_FILE)
        cfg = tr._resume_config(ckpt, options, ConditionalConfig, FIXED_ON_RESUME)
    else:
        done = (model_dir / tr.CHECKPOINT_FILE, model_dir / WEIGHTS_FILE)
        if not overwrite and any(f.exists() for f in done):
            raise OutputError(
                f"{model_dir}: already holds a model; pass --resume to continue "
                "or --overwrite to start again"
            )
        cfg = ConditionalConfig(**options)
    cfg.check()
    if dataset_dir is not None and not Path(dataset_dir).is_dir():
        cfg.generator = str(dataset_dir)
        dataset_dir = None
    generator = get_generator(cfg.generator)
    if generator.landmark_template is None:
        raise InputError(f"{generator.name} has no landmark template to align faces to")
    if dataset_dir is None and cfg.samples == 0:
        raise InputError("no training faces: give a dataset folder or samples > 0")
    res = generator.resolution
    fingerprint = _fingerprint(cfg, dataset_dir)
    if ckpt is not None and ckpt["dataset"] != fingerprint:
        raise InputError(
            f"not the data the checkpoint was trained on ({ckpt['dataset']} vs {fingerprint})"
        )
    faces, marks = _cached_faces(model_dir, generator, cfg, dataset_dir, fingerprint, progress)
    trainer = _Trainer(cfg, res, face_oval(generator.landmark_template, res))
    log: list[dict] = []
    start = 0
    if ckpt is not None:
        try:
            for k, net in trainer.nets.items():
                net.load_state_dict(ckpt["nets"][k])
                trainer.opts[k].load_state_dict(ckpt["optimizers"][k])
        except (KeyError, RuntimeError, ValueError) as exc:
            first = str(exc).splitlines()[0]
            raise InputError(f"{model_dir / tr.CHECKPOINT_FILE}: does not fit: {first}") from None
        log, start = list(ckpt["log"]), int(ckpt["epoch"])
    per_epoch = max(len(faces) // cfg.batch, 1)
    bar = tqdm(
        total=per_epoch * max(cfg.epochs - start, 0),
        unit="step",
        desc="train conditional",
        disable=not progress,
    )
    for epoch in range(start + 1, cfg.epochs + 1):
        began = time.perf_counter()
        rng = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
        sums: dict[str, float] = {}
        batches = tr._batches(len(faces), cfg.batch, rng)
        for i, idx in enumerate(batches, 1):
            for k, v in trainer.step(*trainer.batch(faces, marks, idx, rng), rng).items():
                sums[k] = sums.get(k, 0.0) + v
            bar.update(1)
            bar.set_postfix({k: f"{v / i:.3f}" for k, v in sums.items()}, refresh=False)
        entry = {"epoch": epoch, **{k: round(v / len(batches), 5) for k, v in sums.items()}}
        entry["seconds"] = round(time.perf_counter() - began, 3)
        log.append(entry)
        _end_of_epoch(model_dir, cfg, trainer, faces, marks, log, fingerprint)
    bar.close()
    save_conditional(trainer.nets["generator"], model_dir / WEIGHTS_FILE)
    notes = [f"{len(faces)} training faces; weights in {model_dir / WEIGHTS_FILE}"]
    ran = max(cfg.epochs - start, 0)
    if ran == 0:
        notes.insert(0, f"the checkpoint has {start} epochs already: nothing to train")
    return tr.TrainResult(model_dir, generator.info, log, ran, notes)


def _end_of_epoch(model_dir, cfg, trainer, faces, marks, log, fingerprint) -> None:
    from faceveil.gen import train as tr
    from faceveil.io.images import write_image

    epoch = log[-1]["epoch"]
    write_image(
        model_dir / tr.SAMPLES_DIR / f"epoch_{epoch:04d}.png", trainer.samples(faces, marks)
    )
    tr._save_checkpoint(
        model_dir,
        {
            "epoch": epoch,
            "config": asdict(cfg),
            "dataset": fingerprint,
            "nets": {
                k: {n: t.cpu() for n, t in v.state_dict().items()} for k, v in trainer.nets.items()
            },
            "optimizers": {k: o.state_dict() for k, o in trainer.opts.items()},
            "log": log,
        },
    )
    tr._write_json(model_dir / tr.LOG_FILE, {"config": asdict(cfg), "epochs": log})
    tr.plot_losses(log, ["loss_d", "loss_g", "l1", "spread"], model_dir / tr.LOSS_PLOT)
