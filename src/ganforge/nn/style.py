"""Style modulation (StyleGAN, Karras et al. 2019, §2, Eq. 1): AdaIN(x, y) = y_s · (x − μ(x)) / σ(x) + y_b, with
the style y = (y_s, y_b) a learned affine map of w. As in the official code the scale is applied as (1 + s), i.e.
its bias is effectively initialised to one ("biases associated with y_s initialised to one")."""
from __future__ import annotations

import torch
from torch import nn

from .equalized import EqualLinear
from .norms import instance_norm


class StyleMod(nn.Module):
    """x · (1 + s) + b per channel, (s, b) = A(w) with A an equalized-lr linear layer of gain 1."""

    def __init__(self, w_dim: int, channels: int):
        super().__init__()
        self.affine = EqualLinear(w_dim, 2 * channels, gain=1.0)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        s, b = self.affine(w).unsqueeze(-1).unsqueeze(-1).chunk(2, dim=1)
        return x * (1 + s) + b


class AdaIN(nn.Module):
    """Instance norm followed by the style modulation: output channel c has mean b_c and std |1 + s_c|."""

    def __init__(self, w_dim: int, channels: int):
        super().__init__()
        self.style = StyleMod(w_dim, channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.style(instance_norm(x), w)
