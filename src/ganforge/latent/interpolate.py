"""Latent interpolation (Radford et al. 2016, §6.1 "walking in the latent space"; White 2016, "Sampling
Generative Networks": spherical interpolation, because Gaussian codes concentrate near a sphere and the straight
line between two of them passes through improbably small norms)."""
from __future__ import annotations

import torch


def lerp(a: torch.Tensor, b: torch.Tensor, t) -> torch.Tensor:
    """(1 − t)·a + t·b, with t a float or a tensor broadcastable against a leading batch dimension."""
    t = torch.as_tensor(t, dtype=a.dtype, device=a.device)
    if t.dim() == 1:
        t = t.view(-1, *([1] * a.dim()))
    return a + (b - a) * t


def slerp(a: torch.Tensor, b: torch.Tensor, t, eps: float = 1e-7) -> torch.Tensor:
    """Spherical interpolation along the great circle between a and b (White 2016), norms interpolated linearly.

    At t=0 it returns a, at t=1 b; for (anti)parallel vectors it falls back to lerp.
    """
    t = torch.as_tensor(t, dtype=a.dtype, device=a.device)
    if t.dim() == 1:
        t = t.view(-1, *([1] * a.dim()))
    na, nb = a.norm(dim=-1, keepdim=True), b.norm(dim=-1, keepdim=True)
    ua, ub = a / na.clamp_min(eps), b / nb.clamp_min(eps)
    cos = (ua * ub).sum(-1, keepdim=True).clamp(-1 + eps, 1 - eps)
    omega = torch.acos(cos)
    so = torch.sin(omega)
    direction = (torch.sin((1 - t) * omega) * ua + torch.sin(t * omega) * ub) / so
    norm = na + (nb - na) * t
    out = direction * norm
    return torch.where(so.abs() < 1e-4, lerp(a, b, t), out)


def interpolation_path(keys: torch.Tensor, steps: int, spherical: bool = False) -> torch.Tensor:
    """Codes along a path through K key codes (K×D): `steps` points per segment, ends included once.

    Returns ((K−1)·(steps−1) + 1) × D.
    """
    if keys.dim() != 2 or len(keys) < 2:
        raise ValueError("need at least two key latents (K×D) to interpolate")
    if steps < 2:
        raise ValueError("steps must be at least 2")
    fn = slerp if spherical else lerp
    t = torch.linspace(0, 1, steps, dtype=keys.dtype)
    segments = [fn(keys[i], keys[i + 1], t)[: None if i == len(keys) - 2 else -1] for i in range(len(keys) - 1)]
    return torch.cat(segments)
