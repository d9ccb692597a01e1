"""Carrying an edit made on the manifold back to the original photo: motion + colour flow (iGAN, Zhu et al.,
ECCV 2016, §3.3).

iGAN estimates, between the projected generation A = G(z₀) and the edited one B = G(z₁), a dense motion field
and a colour change, and applies both to the original image x (the official code never released this step).
ganforge's stated, simple estimate:

* motion: Horn–Schunck optical flow (Horn & Schunck 1981) from A to B on the grey images, single scale,
  α = `smoothness`, `iterations` Jacobi updates; flow f means B(p + f(p)) ≈ A(p);
* warp: backward, `warp(img, f)(q) = img(q − f(q))` (bilinear, border values repeated);
* colour: what the motion does not explain, B − warp(A, f), added to the warped photo:

      output = warp(x, f) + (B − warp(A, f))

So the photo's own detail x − A rides along with the motion, and where B = A the output is x exactly.
Large displacements (more than a few pixels) are beyond a single-scale flow; the colour term then carries
the change.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

_AVG = torch.tensor([[1 / 12, 1 / 6, 1 / 12], [1 / 6, 0.0, 1 / 6], [1 / 12, 1 / 6, 1 / 12]])


def _conv(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), k[None, None].to(x))


def horn_schunck(a: torch.Tensor, b: torch.Tensor, smoothness: float = 0.1, iterations: int = 200) -> torch.Tensor:
    """Flow N×2×H×W (dx, dy in pixels) from images a to b (N×C×H×W in [-1, 1])."""
    ga, gb = a.mean(1, keepdim=True), b.mean(1, keepdim=True)
    kx = torch.tensor([[0.0, 0.0, 0.0], [-0.5, 0.0, 0.5], [0.0, 0.0, 0.0]])
    mid = (ga + gb) / 2
    ix, iy, it = _conv(mid, kx), _conv(mid, kx.t()), gb - ga
    u, v = torch.zeros_like(ga), torch.zeros_like(ga)
    denom = smoothness**2 + ix**2 + iy**2
    for _ in range(int(iterations)):
        ub, vb = _conv(u, _AVG), _conv(v, _AVG)
        common = (ix * ub + iy * vb + it) / denom
        u, v = ub - ix * common, vb - iy * common
    return torch.cat([u, v], 1)


def warp(img: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """img(q − flow(q)), bilinear, borders repeated."""
    n, _, h, w = img.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=img.dtype), torch.arange(w, dtype=img.dtype), indexing="ij")
    sx = xs - flow[:, 0]
    sy = ys - flow[:, 1]
    grid = torch.stack([2 * sx / max(w - 1, 1) - 1, 2 * sy / max(h - 1, 1) - 1], -1)
    return F.grid_sample(img, grid, mode="bilinear", padding_mode="border", align_corners=True)


@torch.no_grad()
def transfer_edit(original: torch.Tensor, projected: torch.Tensor, edited: torch.Tensor, smoothness: float = 0.1,
                  iterations: int = 200):
    """(output, flow): the edit projected -> edited carried onto `original` (all N×C×H×W in [-1, 1])."""
    if torch.equal(projected, edited):
        return original.clone(), torch.zeros(len(original), 2, *original.shape[-2:])
    flow = horn_schunck(projected, edited, smoothness, iterations)
    out = warp(original, flow) + (edited - warp(projected, flow))
    return out.clamp(-1, 1), flow
