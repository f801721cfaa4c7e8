"""Network architectures of the generators faceveil can load or train.

Every generator maps z of shape (N, latent_dim) to images (N, 3, res, res) in [-1, 1]. The
DCGAN generator keeps the PyTorch DCGAN tutorial's layer layout, so that the ``state_dict`` of
the pretrained model in ``gan-face-generate`` (``main.0.weight`` ...) loads as is.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from faceveil.gen.choices import RESOLUTIONS


def _check_resolution(res: int) -> int:
    if res not in RESOLUTIONS:
        raise ValueError(f"resolution must be one of {RESOLUTIONS}, got {res}")
    return int(math.log2(res)) - 2  # number of stride-2 up/down steps after the 4x4 stage


class DCGANGenerator(nn.Module):
    """DCGAN generator: z (N, nz) or (N, nz, 1, 1) in, (N, 3, res, res) in [-1, 1] out."""

    def __init__(self, nz: int = 100, ngf: int = 64, res: int = 64, nc: int = 3):
        super().__init__()
        steps = _check_resolution(res)
        width = ngf * 2 ** (steps - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(nz, width, 4, 1, 0, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(True),
        ]
        for _ in range(steps - 1):
            layers += [
                nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(width // 2),
                nn.ReLU(True),
            ]
            width //= 2
        layers += [nn.ConvTranspose2d(width, nc, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z.reshape(z.shape[0], -1, 1, 1))


def _downsampler(nc: int, width: int, res: int, first_bias: bool) -> tuple[list[nn.Module], int]:
    """Stride-2 conv stages from res x res down to 4x4, doubling the width; returns the layers
    and the final width."""
    steps = _check_resolution(res)
    layers: list[nn.Module] = [
        nn.Conv2d(nc, width, 4, 2, 1, bias=first_bias),
        nn.LeakyReLU(0.2, True),
    ]
    for _ in range(steps - 1):
        layers += [
            nn.Conv2d(width, width * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(width * 2),
            nn.LeakyReLU(0.2, True),
        ]
        width *= 2
    return layers, width


class DCGANDiscriminator(nn.Module):
    """DCGAN discriminator: (N, 3, res, res) in, one logit per image out."""

    def __init__(self, ndf: int = 64, res: int = 64, nc: int = 3):
        super().__init__()
        layers, width = _downsampler(nc, ndf, res, first_bias=False)
        layers += [nn.Conv2d(width, 1, 4, 1, 0, bias=False)]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).reshape(-1)


class ConvEncoder(nn.Module):
    """Image (N, 3, res, res) to a vector (N, out_dim): the VAE encoder and the amortised
    inversion encoder share this trunk."""

    def __init__(self, out_dim: int, nef: int = 64, res: int = 64, nc: int = 3):
        super().__init__()
        layers, width = _downsampler(nc, nef, res, first_bias=True)
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(width * 16, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


class VAE(nn.Module):
    """A convolutional VAE whose decoder has the DCGAN generator's layout."""

    def __init__(self, nz: int = 100, nf: int = 64, res: int = 64, nc: int = 3):
        super().__init__()
        self.nz = nz
        self.encoder = ConvEncoder(2 * nz, nf, res, nc)
        self.decoder = DCGANGenerator(nz, nf, res, nc)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar.clamp(-10, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        return self.decoder(z), mu, logvar
