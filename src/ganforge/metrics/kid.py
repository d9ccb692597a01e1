"""Kernel Inception Distance (Bińkowski, Sutherland, Arbel, Gretton, "Demystifying MMD GANs", ICLR 2018, §4 and
App. D): the unbiased estimator of the squared MMD between two feature sets with the cubic polynomial kernel

    k(x, y) = (γ·xᵀy + c)^degree,  γ = 1/D, c = 1, degree = 3,
    MMD²_u = [Σ_{i≠j} k(x_i, x_j) + Σ_{i≠j} k(y_i, y_j)] / (m(m−1)) − 2·Σ_{i,j} k(x_i, y_j) / m²,

averaged over random subsets of m samples drawn without replacement from each set (metrics.md §3.3: 100 subsets
of 1000, the MMD-GAN / torch-fidelity / StyleGAN2-ADA / torchmetrics convention). Unlike FID it is unbiased in
N, and it can be slightly negative when the two distributions are equal.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import torch


class MeanStd(NamedTuple):
    """A score averaged over subsets or splits, with its standard deviation over them."""

    mean: float
    std: float


def polynomial_kernel(x: torch.Tensor, y: torch.Tensor, *, degree: int = 3, gamma: Optional[float] = None,
                      coef0: float = 1.0) -> torch.Tensor:
    """(γ·x yᵀ + coef0)^degree for x: m×D, y: n×D; γ defaults to 1/D (Bińkowski et al. 2018, §4)."""
    g = 1.0 / x.shape[1] if gamma is None else gamma
    return (x @ y.T * g + coef0) ** degree


def mmd2_unbiased(x, y, *, degree: int = 3, gamma: Optional[float] = None, coef0: float = 1.0,
                  dtype: torch.dtype = torch.float64) -> float:
    """Unbiased MMD² (the U-statistic of Gretton et al. 2012, Lemma 6) between two equally sized samples
    x, y (m×D) with the polynomial kernel — one KID subset. Diagonal terms k(x_i, x_i) are left out of the
    within-set sums; the cross term keeps all m² pairs (as MMD-GAN, torch-fidelity and StyleGAN2-ADA do)."""
    return float(_mmd2(torch.as_tensor(x).to(dtype), torch.as_tensor(y).to(dtype), degree, gamma, coef0))


def _mmd2(x: torch.Tensor, y: torch.Tensor, degree: int, gamma: Optional[float], coef0: float) -> torch.Tensor:
    m = x.shape[0]
    if y.shape[0] != m or m < 2 or x.ndim != 2 or y.shape[1] != x.shape[1]:
        raise ValueError(f"x and y must both be m×D with m ≥ 2, got {tuple(x.shape)} and {tuple(y.shape)}")
    kw = dict(degree=degree, gamma=gamma, coef0=coef0)
    k_xx = polynomial_kernel(x, x, **kw)
    k_yy = polynomial_kernel(y, y, **kw)
    k_xy = polynomial_kernel(x, y, **kw)
    within = (k_xx.sum() - k_xx.diagonal().sum()) + (k_yy.sum() - k_yy.diagonal().sum())
    return within / (m * (m - 1)) - 2.0 * k_xy.sum() / (m * m)


def kid(real_features, fake_features, *, num_subsets: int = 100, subset_size: int = 1000, degree: int = 3,
        gamma: Optional[float] = None, coef0: float = 1.0, seed: int = 0, std_ddof: int = 0,
        dtype: torch.dtype = torch.float64) -> MeanStd:
    """KID = mean over `num_subsets` subsets of the unbiased MMD² (Bińkowski et al. 2018), and its std.

    num_subsets, subset_size: 100 × 1000 (MMD-GAN code, torch-fidelity, StyleGAN2-ADA, torchmetrics). The size
        is clipped to min(N_real, N_fake) as StyleGAN2-ADA does (torchmetrics/torch-fidelity raise instead).
    degree, gamma, coef0: the kernel (γ·xᵀy + coef0)^degree; γ = None means 1/D. Defaults: the cubic kernel.
    seed: subsets come from a fresh `torch.Generator().manual_seed(seed)`: per subset, `randperm(N_real)[:m]`
        then `randperm(N_fake)[:m]` — the draw order of torchmetrics, so `torch.manual_seed(seed)` before its
        `compute()` selects the very same subsets. (torch-fidelity draws with `np.random.RandomState(2020)`.)
    std_ddof: 0 = population std over subsets (torch-fidelity, torchmetrics).
    dtype: float64 by default (exact; float32 — what the other libraries use — is ~2.5× faster on CPU and
        adds ~1e-7 absolute error, far below the subset std).
    Non-finite features give (NaN, NaN).
    """
    x_all = real_features.detach() if isinstance(real_features, torch.Tensor) else torch.as_tensor(real_features)
    y_all = fake_features.detach() if isinstance(fake_features, torch.Tensor) else torch.as_tensor(fake_features)
    if x_all.ndim != 2 or y_all.ndim != 2 or x_all.shape[1] != y_all.shape[1]:
        raise ValueError(f"features must be N×D with the same D, got {tuple(x_all.shape)}, {tuple(y_all.shape)}")
    if num_subsets < 1:
        raise ValueError(f"num_subsets must be ≥ 1, got {num_subsets}")
    n_real, n_fake = x_all.shape[0], y_all.shape[0]
    m = min(subset_size, n_real, n_fake)
    if m < 2:
        raise ValueError(f"KID needs at least 2 samples per set, got {n_real} and {n_fake}")
    if not (bool(torch.isfinite(x_all).all()) and bool(torch.isfinite(y_all).all())):
        return MeanStd(float("nan"), float("nan"))  # e.g. a diverged generator: a result, not a crash
    gen = torch.Generator().manual_seed(seed)
    scores = []
    for _ in range(num_subsets):
        idx_x = torch.randperm(n_real, generator=gen)[:m].to(x_all.device)
        idx_y = torch.randperm(n_fake, generator=gen)[:m].to(y_all.device)
        scores.append(_mmd2(x_all[idx_x].to(dtype), y_all[idx_y].to(dtype), degree, gamma, coef0))
    t = torch.stack(scores).to(torch.float64).cpu()
    std = float(t.std(correction=std_ddof)) if num_subsets > std_ddof else float("nan")
    return MeanStd(float(t.mean()), std)
