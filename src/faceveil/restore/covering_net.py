"""The covering segmenter: a tiny U-Net on the face-aligned crop (imports torch; load lazily).

Input: the data channels of :func:`faceveil.restore.covering.features` (normalised RGB,
skin likelihood, edge magnitude, inside-the-image); the net adds fixed face-frame channels
itself (u, v and a template face-region prior), so flipping a training crop needs no care.
Output: one logit per crop pixel, "covered".
"""

from __future__ import annotations

import torch
from torch import nn


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class CoveringNet(nn.Module):
    prior: torch.Tensor  # a buffer: Module's __getattr__ alone types it Tensor | Module

    def __init__(self, in_channels: int, prior: torch.Tensor, widths=(8, 16, 32, 64)):
        super().__init__()
        self.register_buffer("prior", prior.float()[None])  # (1, P, S, S)
        cin = in_channels + prior.shape[0]
        self.down = nn.ModuleList()
        for w in widths:
            self.down.append(_block(cin, w))
            cin = w
        self.up = nn.ModuleList()
        for w in reversed(widths[:-1]):
            self.up.append(_block(cin + w, w))
            cin = w
        self.head = nn.Conv2d(cin, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.cat([x, self.prior.expand(x.shape[0], -1, -1, -1)], 1)
        skips = []
        for i, block in enumerate(self.down):
            if i:
                x = nn.functional.max_pool2d(x, 2)
            x = block(x)
            skips.append(x)
        for block, skip in zip(self.up, reversed(skips[:-1]), strict=True):
            x = nn.functional.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], 1))
        return self.head(x)[:, 0]
