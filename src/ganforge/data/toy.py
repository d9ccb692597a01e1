"""2-D Gaussian mixtures used to watch mode collapse: 8 Gaussians on a ring and 25 on a grid.

The data match the toy code of WGAN-GP (Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017,
``gan_toy.py``), which E-GAN reuses (Wang et al., "Evolutionary Generative Adversarial Networks", IEEE TEVC 2019,
``dataset/datasets.py``):

* ``ring8``: centres 2·{(±1,0), (0,±1), (±1/√2, ±1/√2)}, point = centre + 0.02·randn, everything divided by 1.414
  (radius ≈ 1.414, σ ≈ 0.0141); the mode of each point is drawn uniformly.
* ``grid25``: centres (2x, 2y) for x, y ∈ {−2..2}, point = centre + 0.05·randn, divided by 2.828 (spacing ≈ 0.707,
  σ ≈ 0.0177); modes are balanced (the original draws 20 points per mode and shuffles).

The mode index of each point is in ``attrs["mode"]`` (not ``y``: it is not a conditioning label).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import DataError
from ..registry import DATASETS
from .base import DataInfo, TensorDataset

log = logging.getLogger(__name__)

_SQ = 1.0 / np.sqrt(2.0)
_RING8_RAW = 2.0 * np.array(
    [(1, 0), (-1, 0), (0, 1), (0, -1), (_SQ, _SQ), (_SQ, -_SQ), (-_SQ, _SQ), (-_SQ, -_SQ)], dtype=np.float64
)
_GRID25_RAW = np.array([(2.0 * x, 2.0 * y) for x in range(-2, 3) for y in range(-2, 3)], dtype=np.float64)

# name -> (raw centres, raw noise std, divisor), exactly as in the reference code
_TOYS = {
    "ring8": (_RING8_RAW, 0.02, 1.414),
    "grid25": (_GRID25_RAW, 0.05, 2.828),
}


def toy_names():
    return sorted(_TOYS)


def _toy(name: str):
    if name not in _TOYS:
        raise DataError(f"unknown toy dataset {name!r}: use one of {', '.join(toy_names())}")
    return _TOYS[name]


def mode_centers(name: str) -> np.ndarray:
    """K×2 centres of the mixture `name` in data coordinates (after the division)."""
    centres, _, div = _toy(name)
    return centres / div


def mode_std(name: str) -> float:
    """The per-coordinate standard deviation of each mode in data coordinates (after the division)."""
    _, std, div = _toy(name)
    return std / div


@dataclass
class Ring8Config:
    """8 Gaussians on a circle of radius ≈ 1.414 (WGAN-GP / E-GAN toy)."""

    name: str = "ring8"
    n: int = 100_000
    seed: int = 0


@dataclass
class Grid25Config:
    """25 Gaussians on a 5×5 grid spanning ±1.414 (WGAN-GP / E-GAN toy)."""

    name: str = "grid25"
    n: int = 100_000
    seed: int = 0


def sample_toy(name: str, n: int, seed: int = 0):
    """(points n×2 float32, mode index n int64), deterministic given `seed`."""
    centres, std, div = _toy(name)
    if not isinstance(n, int) or n < 1:
        raise DataError(f"{name}: n must be a positive integer, got {n!r}")
    rng = np.random.default_rng(seed)
    k = len(centres)
    if name == "grid25":
        modes = rng.permutation(np.arange(n) % k)  # balanced: n//25 or n//25 + 1 points per mode
    else:
        modes = rng.integers(0, k, size=n)
    pts = (centres[modes] + std * rng.standard_normal((n, 2))) / div
    return pts.astype(np.float32), modes.astype(np.int64)


def _build(name: str, cfg) -> TensorDataset:
    pts, modes = sample_toy(name, cfg.n, cfg.seed)
    info = DataInfo(shape=(2,), attr_names=("mode",))
    log.debug("%s: %d points (seed %d)", name, cfg.n, cfg.seed)
    return TensorDataset(torch.from_numpy(pts), None, attrs={"mode": torch.from_numpy(modes)}, info=info)


@DATASETS.register("ring8", Ring8Config)
def build_ring8(cfg: Ring8Config) -> TensorDataset:
    return _build("ring8", cfg)


@DATASETS.register("grid25", Grid25Config)
def build_grid25(cfg: Grid25Config) -> TensorDataset:
    return _build("grid25", cfg)
