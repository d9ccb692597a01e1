"""iGAN's constrained editing on the manifold (Zhu et al., ECCV 2016, §3.2, Eq. 5; official
`constrained_opt_theano.py`): find the code that satisfies the user's constraints while staying near the projection,

    code* = argmin  colour(G(code)) + 0.2·sketch(G(code)) + 5·mean((code − code₀)²)

by Adam (official lr 0.1, β1 0.9) from `candidates` starts — the projection code₀ itself and code₀ plus small noise
(iGAN runs 64 in parallel and shows the best) — keeping the candidate with the lowest cost.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

import torch

from .constraints import EDGE_WEIGHT, SMOOTH_WEIGHT, Constraints, constraint_costs


@dataclass
class ConstrainedResult:
    latent: torch.Tensor  # 1×dim
    image: torch.Tensor  # 1×C×H×W, CPU
    costs: Dict[str, float]  # the winning candidate's colour / sketch / smooth costs


def constrained_edit(ls, latent0: torch.Tensor, constraints: Constraints, start: Optional[torch.Tensor] = None,
                     steps: int = 20, lr: float = 0.1, candidates: int = 1, noise: float = 0.1,
                     edge_weight: float = EDGE_WEIGHT, smooth_weight: float = SMOOTH_WEIGHT,
                     seed: int = 0) -> ConstrainedResult:
    """Optimise from `start` (default: the projection `latent0`, 1×dim) under `constraints`."""
    latent0 = latent0.to(ls.device)
    start = (latent0 if start is None else start.to(ls.device)).detach()
    init = start.repeat(candidates, 1)
    if candidates > 1:
        rng = torch.Generator().manual_seed(seed)
        init[1:] += noise * torch.randn(candidates - 1, init.shape[1], generator=rng).to(init)
    c = constraints.to(ls.device)
    z = init.clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr, betas=(0.9, 0.999))

    def cost(code):
        terms = constraint_costs(ls.decode(code), c, code, latent0, edge_weight, smooth_weight)
        return terms, terms["colour"] + terms["sketch"] + terms["smooth"]

    with torch.enable_grad():
        for _ in range(int(steps)):
            _, total = cost(z)
            opt.zero_grad(set_to_none=True)
            total.sum().backward()
            opt.step()
    with torch.no_grad():
        terms, total = cost(z)
        best = int(total.argmin())
        image = ls.decode(z[best : best + 1]).float().cpu()
    return ConstrainedResult(z[best : best + 1].detach(), image, {k: float(v[best]) for k, v in terms.items()})
