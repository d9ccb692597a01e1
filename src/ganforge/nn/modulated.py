"""Modulated convolution with weight demodulation (StyleGAN2: Karras, Laine, Aittala, Hellsten, Lehtinen & Aila 2020,
"Analyzing and Improving the Image Quality of StyleGAN", CVPR 2020, §2.2, Eq. 1-3).

The style scales the convolution's *input* channels through the weights, w'_ijk = s_i · w_ijk (Eq. 1), instead of
scaling normalised activations (AdaIN); demodulation then divides each output channel's weights by their norm,
w''_ijk = w'_ijk / sqrt(Σ_ik w'_ijk² + ε) (Eq. 3), so that unit-variance inputs give unit-variance outputs — the
statistics AdaIN's instance norm enforced on the actual features are enforced on the expected ones, and the
per-sample magnitudes of the features survive. Official conventions (stylegan2-ada `modulated_conv2d`): the affine
map A is an equalized-lr dense layer of gain 1 with bias initialised to 1; the weight is equalized (N(0, 1) stored,
scaled by 1/√fan_in); one grouped convolution runs the whole batch; toRGB modulates without demodulating.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .equalized import EqualLinear


class ModulatedConv2d(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, w_dim: int, demodulate: bool = True,
                 eps: float = 1e-8):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.affine = EqualLinear(w_dim, in_channels, gain=1.0, bias_init=1.0)
        self.demodulate, self.eps, self.padding = demodulate, eps, kernel_size // 2

    def styled_weight(self, w: torch.Tensor) -> torch.Tensor:
        """N × out × in × k × k: the weight modulated by each sample's style (and demodulated)."""
        s = self.affine(w)
        weight = self.weight.unsqueeze(0) * (self.scale * s).view(s.shape[0], 1, -1, 1, 1)
        if self.demodulate:
            weight = weight * torch.rsqrt(weight.pow(2).sum(dim=(2, 3, 4), keepdim=True) + self.eps)
        return weight

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        n, c, h, wd = x.shape
        weight = self.styled_weight(w)
        out = F.conv2d(x.reshape(1, n * c, h, wd), weight.reshape(-1, c, *weight.shape[3:]).to(x.dtype),
                       padding=self.padding, groups=n)
        return out.reshape(n, -1, h, wd)

    def extra_repr(self) -> str:
        o, i, k, _ = self.weight.shape
        return f"{i} → {o}, k={k}, demodulate={self.demodulate}"
