"""Minibatch standard deviation (Karras et al. 2018, "Progressive Growing of GANs", §3)."""
from __future__ import annotations

import torch
from torch import nn


class MinibatchStdDev(nn.Module):
    """Appends `num_features` constant feature maps: within each group of `group_size` samples, the standard
    deviation of every feature at every position over the group (biased, √(var + 1e-8)), averaged over channels
    (per feature slice) and positions. Samples i, i + N/G, i + 2N/G, … form a group (the official reshape);
    the batch must be divisible by min(group_size, N)."""

    def __init__(self, group_size: int = 4, num_features: int = 1):
        super().__init__()
        self.group_size, self.num_features = group_size, num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = min(self.group_size, n)
        if n % g:
            raise ValueError(f"minibatch stddev: batch {n} is not divisible by the group size {g}")
        f = self.num_features
        y = x.float().reshape(g, -1, f, c // f, h, w)  # [G, M, F, C/F, H, W]
        y = (y - y.mean(dim=0)).pow(2).mean(dim=0).add(1e-8).sqrt()  # [M, F, C/F, H, W]
        y = y.mean(dim=(2, 3, 4)).reshape(-1, f, 1, 1)  # [M, F, 1, 1]
        y = y.repeat(g, 1, h, w).to(x.dtype)  # [N, F, H, W]
        return torch.cat([x, y], dim=1)
