"""The pretrained 64x64 DCGAN face generator shipped in ``gan-face-generate``.

The network is the generator of the PyTorch DCGAN tutorial (nz=100, ngf=64, nc=3), defined here
so that its ``state_dict`` keys (``main.0.weight`` ...) match ``weights.tar["netG_state_dict"]``.
It is defined here rather than imported because ``gan_face_generate`` pulls in torchvision.

Weights: trained on DigiFace-1M (synthetic faces; non-commercial research terms). The samples
show no real person.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from torch import nn

from faceveil.models.weights import weight_path

NZ = 100  # latent size
NGF = 64  # generator feature maps
NC = 3  # output channels (RGB)


class DCGANGenerator(nn.Module):
    """DCGAN generator: z of shape (N, 100, 1, 1) in, (N, 3, 64, 64) in [-1, 1] out."""

    def __init__(self, nz: int = NZ, ngf: int = NGF, nc: int = NC):
        super().__init__()

        def up(cin: int, cout: int, stride: int, pad: int) -> list[nn.Module]:
            return [
                nn.ConvTranspose2d(cin, cout, 4, stride, pad, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(True),
            ]

        self.main = nn.Sequential(
            *up(nz, ngf * 8, 1, 0),  # 4x4
            *up(ngf * 8, ngf * 4, 2, 1),  # 8x8
            *up(ngf * 4, ngf * 2, 2, 1),  # 16x16
            *up(ngf * 2, ngf, 2, 1),  # 32x32
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),  # 64x64
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


def _device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@functools.lru_cache(maxsize=1)
def load_generator() -> DCGANGenerator:
    """The process-wide generator in eval mode, loaded on first use."""
    checkpoint = torch.load(weight_path("dcgan64"), map_location="cpu", weights_only=True)
    net = DCGANGenerator()
    net.load_state_dict(checkpoint["netG_state_dict"])
    return net.eval().to(_device())


def sample_faces(n: int, seed: int = 0) -> np.ndarray:
    """Generate `n` synthetic 64x64 faces.

    The latent vectors are drawn on the CPU from a generator seeded with `seed`, so a seed gives
    the same faces on every run and device (up to float rounding on a GPU).

    Returns
    -------
    (n, 64, 64, 3) uint8 RGB array.
    """
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    if n == 0:
        return np.zeros((0, 64, 64, 3), np.uint8)
    net = load_generator()
    z = torch.randn(n, NZ, 1, 1, generator=torch.Generator("cpu").manual_seed(int(seed)))
    with torch.inference_mode():
        out = net(z.to(next(net.parameters()).device)).cpu()
    rgb = ((out.permute(0, 2, 3, 1).numpy() + 1.0) * 127.5).round().clip(0, 255)
    return rgb.astype(np.uint8)
