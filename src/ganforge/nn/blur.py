"""Low-pass filtering with the separable binomial [1, 2, 1] (Zhang 2019, "Making Convolutional Networks Shift-
Invariant Again"; StyleGAN, Karras et al. 2019, §2: bilinear up/downsampling by blurring after upsampling in G and
before downsampling in D)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Blur(nn.Module):
    """Depthwise 3×3 convolution with the normalised outer product of [1, 2, 1]; same size out (zero padding)."""

    def __init__(self):
        super().__init__()
        k = torch.tensor([1.0, 2.0, 1.0])
        self.register_buffer("kernel", (k[:, None] * k[None, :] / 16.0)[None, None], persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        return F.conv2d(x, self.kernel.to(x.dtype).expand(c, 1, 3, 3), padding=1, groups=c)
