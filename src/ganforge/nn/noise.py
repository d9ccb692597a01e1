"""Per-layer noise inputs (StyleGAN, Karras et al. 2019, §3.2): a single-channel image of N(0, 1) noise added to
every feature map, scaled by a learned per-channel factor (the paper's B) initialised to zero."""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn


class NoiseInjection(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor, noise: Optional[torch.Tensor] = None) -> torch.Tensor:
        if noise is None:
            noise = torch.randn(x.shape[0], 1, x.shape[2], x.shape[3], device=x.device, dtype=x.dtype)
        return x + noise * self.weight.view(1, -1, 1, 1)
