"""Two unpaired 2-D domains for DiscoGAN's toy experiment (Kim, Cha, Kim, Lee, Kim, "Learning to Discover
Cross-Domain Relations with Generative Adversarial Networks", ICML 2017, §4.1 and Fig. 3): domain A is a mixture
of 5 Gaussians, domain B a mixture of 10. The official repository has no code for this experiment, so the layout
is ours (the paper gives only the mode counts): A's 5 modes sit on a circle of radius 1 (a pentagon, the first
at the top), B's 10 modes on a circle of radius 1.5 (the first at 18°), every mode an isotropic Gaussian with
σ = 0.05 and equal weight.

Batches: `x` = points of A (N×2), `target` = unrelated points of B (N×2, drawn through `target_index` as every
unpaired dataset); `attrs["mode"]` is the A mode of x and `attrs["target_mode"]` the B mode of the target.
`DataInfo.target_shape` is (2,): not images, so `DataInfo.two_domain` (images) stays False.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import DataError
from ..registry import DATASETS
from .base import DataInfo, TensorDataset

MODES_A, MODES_B = 5, 10
RADIUS_A, RADIUS_B = 1.0, 1.5
STD = 0.05


def centers(domain: str) -> np.ndarray:
    """K×2 mode centres of domain "a" (5 on radius 1, from 90°) or "b" (10 on radius 1.5, from 18°)."""
    if domain == "a":
        angles = np.pi / 2 + 2 * np.pi * np.arange(MODES_A) / MODES_A
        return RADIUS_A * np.stack([np.cos(angles), np.sin(angles)], 1)
    if domain == "b":
        angles = np.pi / 10 + 2 * np.pi * np.arange(MODES_B) / MODES_B
        return RADIUS_B * np.stack([np.cos(angles), np.sin(angles)], 1)
    raise ValueError(f"domain must be 'a' or 'b', got {domain!r}")


def assign_modes(points: torch.Tensor, domain: str, max_dist: float = 4 * STD) -> torch.Tensor:
    """The mode of each point (its nearest centre), or −1 when the point is farther than `max_dist` from every
    centre (off the data: it counts for no mode)."""
    c = torch.as_tensor(centers(domain), dtype=torch.float32)
    d = torch.cdist(points.detach().float().cpu(), c)
    dist, idx = d.min(1)
    return torch.where(dist <= max_dist, idx, torch.full_like(idx, -1))


def sample_domain(domain: str, n: int, rng: np.random.Generator):
    c = centers(domain)
    modes = rng.integers(0, len(c), size=n)
    pts = c[modes] + STD * rng.standard_normal((n, 2))
    return torch.from_numpy(pts.astype(np.float32)), torch.from_numpy(modes.astype(np.int64))


@dataclass
class ToyDomainsConfig:
    """DiscoGAN's toy: 5-mode A, 10-mode B, unpaired, deterministic from `seed`."""

    name: str = "toy-domains"
    n: int = 20_000  # points of each domain
    seed: int = 0


@DATASETS.register("toy-domains", ToyDomainsConfig)
def build_toy_domains(cfg: ToyDomainsConfig) -> TensorDataset:
    if not isinstance(cfg.n, int) or cfg.n < 1:
        raise DataError(f"toy-domains: n must be a positive integer, got {cfg.n!r}")
    rng = np.random.default_rng(cfg.seed)
    a, mode_a = sample_domain("a", cfg.n, rng)
    b, mode_b = sample_domain("b", cfg.n, rng)
    index = torch.from_numpy(rng.integers(0, cfg.n, size=cfg.n).astype(np.int64))
    info = DataInfo(shape=(2,), attr_names=("mode", "target_mode"), target_shape=(2,), paired=False)
    return TensorDataset(a, attrs={"mode": mode_a, "target_mode": mode_b[index]}, info=info, target=b,
                         target_index=index)
