"""iGAN's editing constraints (Zhu et al., ECCV 2016, §3.2 and §5; official `constrained_opt_theano.py`).

The user's strokes become target maps at the generator's resolution, gathered in :class:`Constraints`:

* colour: pixels under `colour_mask` should take `colour_target` (a brush colour, or per-pixel colours for a warp);
  cost `Σ M·(G − T)² / (C·Σ M)` — iGAN's `mean(mask·(G − colour)²) / mean(mask)`;
* sketch: the edge map of the output should follow the stroke: `0.2 · Σ M_e·(E(G) − E_target)² / Σ M_e`. iGAN
  compares HOG descriptors; here E is a differentiable Sobel edge map (Sobel magnitude / 8 of the grey image,
  clamped to 1, so a full black-to-white step gives 1): stroke pixels target 1;
* warp: the content around a `from` point should move to a `to` point — as in iGAN's warp brush (`ui_warp.py`),
  colour and edge constraints on the destination disc whose targets are the source disc of the current
  projection, shifted;
* smoothness: `5 · mean((code − code₀)²)` keeps the code near the projection code₀.

All costs are per sample (N,) and exactly zero when the image satisfies its constraints.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

import torch
import torch.nn.functional as F

EDGE_WEIGHT = 0.2  # official --edge weight of the sketch term
SMOOTH_WEIGHT = 5.0  # official smoothness weight on (z − z0)²


def edge_map(x: torch.Tensor) -> torch.Tensor:
    """N×C×H×W images in [-1, 1] -> N×H×W edge strength in [0, 1] (Sobel magnitude of the channel mean / 8,
    clamped at 1; borders replicated)."""
    grey = x.mean(dim=1, keepdim=True)
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=x.dtype, device=x.device)
    kernel = torch.stack([kx, kx.t()])[:, None]  # 2×1×3×3
    g = F.conv2d(F.pad(grey, (1, 1, 1, 1), mode="replicate"), kernel)
    sq = (g**2).sum(1)
    magnitude = sq.clamp(min=1e-12).sqrt() * (sq > 0)  # exactly 0 on flat regions, finite gradient everywhere
    return (magnitude / 8.0).clamp(max=1.0)


@dataclass
class Constraints:
    """Target maps at the generator's resolution (C×H×W / H×W); empty masks mean no constraint of that kind."""

    colour_target: torch.Tensor
    colour_mask: torch.Tensor
    edge_target: torch.Tensor
    edge_mask: torch.Tensor

    @staticmethod
    def empty(shape) -> "Constraints":
        c, h, w = shape
        return Constraints(torch.zeros(c, h, w), torch.zeros(h, w), torch.zeros(h, w), torch.zeros(h, w))

    def copy(self) -> "Constraints":
        return Constraints(*(t.clone() for t in (self.colour_target, self.colour_mask, self.edge_target,
                                                   self.edge_mask)))

    @property
    def painted(self) -> torch.Tensor:
        """H×W bool: every pixel some constraint touches."""
        return (self.colour_mask > 0) | (self.edge_mask > 0)

    def to(self, device) -> "Constraints":
        return Constraints(*(t.to(device) for t in (self.colour_target, self.colour_mask, self.edge_target,
                                                      self.edge_mask)))


def colour_cost(image: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    area = mask.sum()
    if area <= 0:
        return image.new_zeros(len(image))
    return (mask * (image - target) ** 2).flatten(1).sum(1) / (image.shape[1] * area)


def sketch_cost(image: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, weight: float = EDGE_WEIGHT):
    area = mask.sum()
    if area <= 0:
        return image.new_zeros(len(image))
    return weight * (mask * (edge_map(image) - target) ** 2).flatten(1).sum(1) / area


def smoothness_cost(latent: torch.Tensor, latent0: torch.Tensor, weight: float = SMOOTH_WEIGHT) -> torch.Tensor:
    return weight * ((latent - latent0) ** 2).mean(1)


def constraint_costs(image: torch.Tensor, c: Constraints, latent: Optional[torch.Tensor] = None,
                     latent0: Optional[torch.Tensor] = None, edge_weight: float = EDGE_WEIGHT,
                     smooth_weight: float = SMOOTH_WEIGHT) -> Dict[str, torch.Tensor]:
    """{"colour", "sketch", "smooth"}: per-sample costs (N,) of images N×C×H×W under constraints `c`."""
    c = c.to(image.device)
    out = {"colour": colour_cost(image, c.colour_target, c.colour_mask),
           "sketch": sketch_cost(image, c.edge_target, c.edge_mask, edge_weight)}
    out["smooth"] = smoothness_cost(latent, latent0, smooth_weight) if latent is not None and latent0 is not None \
        else image.new_zeros(len(image))
    return out
