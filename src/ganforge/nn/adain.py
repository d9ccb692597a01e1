"""Adaptive instance normalisation as a pure function (Huang & Belongie, "Arbitrary Style Transfer in Real-time
with Adaptive Instance Normalization", ICCV 2017, §5, Eq. 8):

    AdaIN(x, y) = σ(y) · (x − μ(x)) / σ(x) + μ(y)

μ and σ are computed per sample and per channel over the spatial dimensions. σ is sqrt(variance + eps), with the
population (biased) variance, so that AdaIN(x, y) has exactly y's per-channel mean and — for eps → 0 — exactly
y's per-channel standard deviation. StyleGAN's learned-style layer (``nn.style.AdaIN``) uses the same
normalisation with the style statistics produced by an affine map of w instead of taken from a second image.
"""
from __future__ import annotations

from typing import Tuple

import torch


def channel_mean_std(feats: torch.Tensor, eps: float = 1e-5) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per-sample, per-channel mean and sqrt(population variance + eps) of N×C×H×W (or N×C×L) features, each
    shaped N×C×1×1 (N×C×1) for broadcasting."""
    if feats.dim() < 3:
        raise ValueError(f"expected N×C×H×W (or N×C×L) features, got shape {tuple(feats.shape)}")
    dims = tuple(range(2, feats.dim()))
    mean = feats.mean(dim=dims, keepdim=True)
    var = feats.var(dim=dims, keepdim=True, unbiased=False)
    return mean, (var + eps).sqrt()


def adain(content_feats: torch.Tensor, style_feats: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """σ(y)·(x − μ(x))/σ(x) + μ(y) per channel, x = `content_feats`, y = `style_feats` (Huang & Belongie 2017,
    Eq. 8). The two may differ in spatial size but not in batch size (a batch of one style is broadcast) or in
    channels."""
    x, y = content_feats, style_feats
    if x.dim() != y.dim() or x.shape[1] != y.shape[1]:
        raise ValueError(f"content features {tuple(x.shape)} and style features {tuple(y.shape)} must have the "
                         f"same number of dimensions and channels")
    if y.shape[0] not in (1, x.shape[0]):
        raise ValueError(f"style batch {y.shape[0]} must be 1 or the content batch {x.shape[0]}")
    mu_x, sigma_x = channel_mean_std(x, eps)
    mu_y, sigma_y = channel_mean_std(y, eps)
    return sigma_y * (x - mu_x) / sigma_x + mu_y
