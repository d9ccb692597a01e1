"""Latent vector arithmetic (Radford et al. 2016, §6.3): average the codes of several samples that share a
concept, then combine the averages, e.g. smiling woman − neutral woman + neutral man ≈ smiling man."""
from __future__ import annotations

from typing import Dict, Sequence

import torch


def group_means(z: torch.Tensor, groups: Sequence) -> Dict:
    """Mean latent code of each group: z is N×D, groups a length-N sequence of group ids."""
    labels = list(groups)
    if len(labels) != len(z):
        raise ValueError(f"{len(z)} codes but {len(labels)} group ids")
    out = {}
    for g in dict.fromkeys(labels):
        idx = torch.tensor([i for i, lab in enumerate(labels) if lab == g])
        out[g] = z[idx].mean(0)
    return out


def analogy(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """a − b + c on (mean) codes: "a is to b as ? is to c". Each may be D or N×D (then averaged first)."""
    def mean(v):
        return v.mean(0) if v.dim() == 2 else v

    return mean(a) - mean(b) + mean(c)
