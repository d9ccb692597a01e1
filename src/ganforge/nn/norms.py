"""Normalisations without learned parameters."""
from __future__ import annotations

import torch
from torch import nn


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Pixelwise feature normalisation x / √(mean over channels of x² + ε) (Karras et al. 2018, §4.2); on latent
    vectors (N×D) it normalises each to norm √D (StyleGAN's `normalize_latents`)."""
    return x * torch.rsqrt(x.float().pow(2).mean(dim=1, keepdim=True).to(x.dtype) + eps)


class PixelNorm(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pixel_norm(x)


def instance_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Per-sample, per-channel normalisation over H×W without affine parameters, in float32 (StyleGAN's
    `instance_norm`: subtract the spatial mean, multiply by rsqrt(mean(x²) + ε))."""
    orig = x.dtype
    x = x.float()
    x = x - x.mean(dim=(2, 3), keepdim=True)
    return (x * torch.rsqrt(x.pow(2).mean(dim=(2, 3), keepdim=True) + eps)).to(orig)
