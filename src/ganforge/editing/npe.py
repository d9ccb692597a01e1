"""The Neural Photo Editor's edit rule (Brock, Lim, Ritchie, Weston, "Neural Photo Editing with Introspective
Adversarial Networks", ICLR 2017, §2; official `NPE.py`).

A brush stroke asks the pixels under it to take a colour. The latent code moves along the gradient of that
region's error: `code ← code − step · (1 + brush size) · ∇ mean_region (G(code) − colour)²` (official step 0.05,
scaled by the brush width; here the brush size is √(painted area)). The photo X is then changed only where the
reconstruction changed:

    Δ = G(code) − X̂₀                 (new minus original reconstruction)
    M = blur(min(1, mean_c |Δ|))     (Gaussian σ 0.7, truncated at 4σ like scipy's gaussian_filter)
    Y = X̂₀ + M·Δ + (1 − M)·(X − X̂₀) = X + M·(G(code) − X)

computed in the last form, so pixels with M = 0 are X exactly. The official mask is global (Δ is small but
non-zero almost everywhere); its GUI has an optional localisation around the brush. `reach` (pixels) keeps that
option: |Δ| counts only within `reach` pixels of a painted pixel, so every pixel farther than reach + 3 (the blur's
radius) stays exact. `reach=None` is the official global mask.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F

NPE_STEP = 0.05
BLUR_SIGMA = 0.7


def gaussian_blur(m: torch.Tensor, sigma: float = BLUR_SIGMA, truncate: float = 4.0) -> torch.Tensor:
    """N×1×H×W blurred with a normalised Gaussian of radius int(truncate·σ + 0.5), zero padding outside."""
    r = int(truncate * sigma + 0.5)
    if r < 1:
        return m
    t = torch.arange(-r, r + 1, dtype=m.dtype, device=m.device)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = k / k.sum()
    m = F.conv2d(m, k.view(1, 1, 1, -1), padding=(0, r))
    return F.conv2d(m, k.view(1, 1, -1, 1), padding=(r, 0))


def dilate(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """H×W bool mask grown by `radius` pixels (square neighbourhood)."""
    if radius <= 0:
        return mask.bool()
    m = mask.float()[None, None]
    return F.max_pool2d(m, 2 * radius + 1, stride=1, padding=radius)[0, 0] > 0


def npe_latent_step(ls, latent: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, step: float = NPE_STEP,
                    steps: int = 1) -> torch.Tensor:
    """`steps` NPE updates of the code (1×dim) towards `target` (C×H×W colours) under `mask` (H×W)."""
    area = float(mask.sum())
    if area <= 0:
        return latent
    scale = step * (1.0 + math.sqrt(area))
    m, t = mask.to(ls.device), target.to(ls.device)
    z = latent.detach().clone().to(ls.device)
    for _ in range(int(steps)):
        z.requires_grad_(True)
        err = ((ls.decode(z)[0] - t) ** 2 * m).sum() / (area * t.shape[0])
        (grad,) = torch.autograd.grad(err, z)
        z = (z - scale * grad).detach()
    return z


@torch.no_grad()
def npe_output(x: torch.Tensor, recon0: torch.Tensor, recon: torch.Tensor, painted: Optional[torch.Tensor] = None,
               reach: Optional[int] = 3, sigma: float = BLUR_SIGMA):
    """(Y, M): the edited photo and its mask, from the photo X, the original and new reconstructions (1×C×H×W)
    and the painted pixels (H×W; needed when `reach` is set)."""
    delta = recon - recon0
    m = delta.abs().mean(1, keepdim=True).clamp(max=1.0)
    if reach is not None:
        if painted is None:
            raise ValueError("a local NPE mask (reach) needs the painted pixels")
        m = m * dilate(painted, int(reach)).to(m)
    mask = gaussian_blur(m, sigma)
    return x + mask * (recon - x), mask
