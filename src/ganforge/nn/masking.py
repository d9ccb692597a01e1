"""MaskGAN's masking schemes (Fedus et al., ICLR 2018, §3; official `mask_strategy`): which tokens are missing.

Both schemes take uniform draws `u` (N×L in [0, 1), from the caller's seeded stream) and remove exactly
k_i = round(rate · length_i) of the first length_i tokens of row i (at least one when rate > 0), so the missing
share is the requested rate up to rounding; padding is never masked.

* ``random``: the k_i positions with the smallest draws (a uniformly random subset of that size);
* ``contiguous``: one block of k_i consecutive positions, its start uniform over the length_i − k_i + 1 places.

The result is a bool tensor, True where the token is missing (the generator fills it in).
"""
from __future__ import annotations

import torch

from ..errors import ConfigError

SCHEMES = ("random", "contiguous")


def n_missing(lengths: torch.Tensor, rate: float) -> torch.Tensor:
    """Tokens to remove per row: round(rate · length), at least 1 when rate > 0, at most length."""
    k = torch.round(lengths.double() * rate).long()
    if rate > 0:
        k = k.clamp(min=1)
    return torch.minimum(k, lengths)


def make_mask(u: torch.Tensor, lengths: torch.Tensor, rate: float, scheme: str = "random") -> torch.Tensor:
    """Missing positions (bool N×L) of rows of `lengths` tokens, from uniform draws u (N×L)."""
    if scheme not in SCHEMES:
        raise ConfigError(f"mask scheme must be one of {', '.join(SCHEMES)}, got {scheme!r}")
    if not 0.0 <= rate <= 1.0:
        raise ConfigError(f"the masking rate must be in [0, 1], got {rate}")
    n, length = u.shape
    pos = torch.arange(length, device=u.device).expand(n, length)
    valid = pos < lengths[:, None]
    k = n_missing(lengths, rate)[:, None]
    if scheme == "random":
        ranks = torch.where(valid, u, torch.full_like(u, 2.0)).argsort(dim=1).argsort(dim=1)
        return ranks < k
    start = torch.floor(u[:, :1] * (lengths[:, None] - k + 1).to(u.dtype)).long()
    return (pos >= start) & (pos < start + k)


def random_mask(lengths: torch.Tensor, seq_len: int, rate: float, scheme: str = "random",
                generator: torch.Generator | None = None) -> torch.Tensor:
    """make_mask (N×seq_len) with draws from `generator` (on CPU, moved to the lengths' device)."""
    u = torch.rand(len(lengths), seq_len, generator=generator)
    return make_mask(u.to(lengths.device), lengths, rate, scheme)
