"""The one interface every face generator has: latents in, faces out, and back.

A generator is a decoder network (z of shape (N, latent_dim) to RGB faces in [-1, 1]) plus
metadata. It lives in a *model directory*::

    MODEL_DIR/
      model.json      metadata: name, arch, latent_dim, resolution, training data, licence,
                      landmark template, free-form tags
      generator.pt    the decoder's state_dict (loaded with weights_only=True), unless
                      model.json names shipped weights ("package:<weights key>")
      encoder.pt      optional: the amortised inversion encoder
      directions.npz  optional: latent directions and presets for the sliders
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from faceveil.errors import InputError

MODEL_FILE = "model.json"
GENERATOR_FILE = "generator.pt"
ENCODER_FILE = "encoder.pt"
DIRECTIONS_FILE = "directions.npz"
LABELLED_FILE = "labelled_latents.npz"


def default_device() -> torch.device:
    """CUDA when there is one, else the CPU; ``FACEVEIL_DEVICE`` (say ``cpu``) overrides."""
    forced = os.environ.get("FACEVEIL_DEVICE")
    if forced:
        return torch.device(forced)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class GeneratorInfo:
    """What a generator is, where it came from and what it may be used for."""

    name: str
    arch: str  # a key of faceveil.gen.nets ARCHS: "dcgan" or "vae"
    latent_dim: int
    resolution: int
    training_data: str
    licence: str
    description: str = ""
    # Mean YuNet landmarks of its samples, (5, 2) in output pixels: right eye, left eye, nose
    # tip, right and left mouth corner. Faces are aligned to it before inversion or pasting.
    landmark_template: list[list[float]] | None = None
    tags: dict[str, str] = field(default_factory=dict)  # e.g. {"skin_tone": "dark"}
    arch_kwargs: dict = field(default_factory=dict)  # e.g. {"ngf": 64}
    weights: str = GENERATOR_FILE  # file in the model dir, or "package:<key>" of models.weights
    weights_key: str | None = None  # the state_dict's key inside a checkpoint dict, if any
    path: str | None = None  # the model directory; set when loaded

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "path"}

    @classmethod
    def from_dict(cls, data: dict, path: str | None = None) -> GeneratorInfo:
        known = {f for f in cls.__dataclass_fields__ if f != "path"}
        missing = {"name", "arch", "latent_dim", "resolution", "training_data", "licence"} - set(
            data
        )
        if missing:
            raise InputError(f"{path or 'model.json'}: missing {', '.join(sorted(missing))}")
        return cls(**{k: v for k, v in data.items() if k in known}, path=path)

    def save(self, model_dir: str | Path) -> Path:
        """Write model.json into `model_dir` (created if needed); returns its path."""
        model_dir = Path(model_dir)
        model_dir.mkdir(parents=True, exist_ok=True)
        target = model_dir / MODEL_FILE
        tmp = target.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        tmp.replace(target)
        return target

    @classmethod
    def load(cls, model_dir: str | Path) -> GeneratorInfo:
        model_dir = Path(model_dir)
        try:
            data = json.loads((model_dir / MODEL_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"{model_dir}: not a model directory (no {MODEL_FILE})") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{model_dir / MODEL_FILE}: not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise InputError(f"{model_dir / MODEL_FILE}: expected a JSON object")
        return cls.from_dict(data, str(model_dir))


class Generator:
    """A face generator: sample, decode, invert.

    Parameters
    ----------
    net : torch module mapping z (N, latent_dim) to (N, 3, res, res) in [-1, 1].
    info : its metadata.
    device : where it runs; :func:`default_device` when None.
    """

    def __init__(
        self, net: torch.nn.Module, info: GeneratorInfo, device: torch.device | None = None
    ):
        self.device = device or default_device()
        self.net = net.eval().to(self.device)
        for p in self.net.parameters():
            p.requires_grad_(False)
        self.info = info

    def __repr__(self) -> str:
        i = self.info
        return f"Generator({i.name!r}, {i.arch}, z={i.latent_dim}, {i.resolution}px)"

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def latent_dim(self) -> int:
        return self.info.latent_dim

    @property
    def resolution(self) -> int:
        return self.info.resolution

    @property
    def landmark_template(self) -> np.ndarray | None:
        t = self.info.landmark_template
        return None if t is None else np.asarray(t, np.float32)

    def sample_latents(self, n: int, seed: int = 0, truncation: float = 1.0) -> np.ndarray:
        """`n` latents z ~ N(0, I), scaled by `truncation` towards the mean (0).

        Drawn on the CPU from a generator seeded with `seed`, so a seed gives the same latents on
        every device. Returns (n, latent_dim) float32.
        """
        if n < 0:
            raise ValueError(f"n must be non-negative, got {n}")
        if not 0.0 <= truncation <= 1.0:
            raise ValueError(f"truncation must be in [0, 1], got {truncation}")
        rng = torch.Generator("cpu").manual_seed(int(seed))
        return (torch.randn(n, self.latent_dim, generator=rng) * truncation).numpy()

    def decode_tensor(self, z: torch.Tensor) -> torch.Tensor:
        """Differentiable decode: (N, latent_dim) on `device` to (N, 3, res, res) in [-1, 1]."""
        return self.net(z)

    def decode(self, z: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Faces for latents `z` of shape (N, latent_dim) or (latent_dim,).

        Returns (N, res, res, 3) uint8 RGB (or (res, res, 3) for one latent).
        """
        z = np.asarray(z, np.float32)
        single = z.ndim == 1
        z = z.reshape(-1, z.shape[-1]) if z.ndim else z
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have {self.latent_dim} columns, got shape {z.shape}")
        out = [np.zeros((0, self.resolution, self.resolution, 3), np.uint8)]
        with torch.inference_mode():
            for start in range(0, len(z), batch_size):
                x = self.net(torch.from_numpy(z[start : start + batch_size]).to(self.device))
                out.append(to_uint8(x))
        images = np.concatenate(out)
        return images[0] if single else images

    def sample(self, n: int, seed: int = 0, truncation: float = 1.0) -> np.ndarray:
        """`n` faces, (n, res, res, 3) uint8 RGB; the same seed gives the same faces."""
        return self.decode(self.sample_latents(n, seed, truncation))

    def invert(self, image, **kwargs):
        """The latent whose face best matches the face in `image`; see
        :func:`faceveil.gen.invert.invert` for the options and the result."""
        from faceveil.gen.invert import invert  # optimisation machinery: load on use

        return invert(self, image, **kwargs)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) in [-1, 1] to (N, H, W, 3) uint8."""
    rgb = ((x.detach().permute(0, 2, 3, 1).float().cpu().numpy() + 1.0) * 127.5).round()
    return rgb.clip(0, 255).astype(np.uint8)


def to_tensor(images: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """(N, H, W, 3) uint8 to (N, 3, H, W) float in [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(images)).to(device)
    return x.permute(0, 3, 1, 2).float() / 127.5 - 1.0
