"""Per-layer noise inputs (StyleGAN, Karras et al. 2019, §3.2): a single-channel image of N(0, 1) noise added to
every feature map, scaled by a learned per-channel factor (the paper's B) initialised to zero.

Where the noise comes from (reference/papers-details.md §1.3, `layer_epilogue`):

* an explicit image passed in (N×1×H×W or 1×1×H×W) — for tools that want chosen or varied noise, drawn from
  their own seeded ``torch.Generator`` (style mixing, truncation, stochastic variation, PPL);
* in training mode, a fresh draw per call from the global RNG: the training stream (``randomize_noise=True``);
* in eval mode, the layer's fixed noise image — the official code's non-trainable ``noise{i}`` variables used with
  ``randomize_noise=False`` (StyleGAN2-ADA: ``noise_mode='const'``). It is drawn once from a private generator
  seeded with `seed`, so an eval-mode generator is a deterministic function of its input: sampling never reads
  or advances the global RNG, the same seed gives the same images, and interventions compare images made with
  the same noise. It is a non-persistent buffer (rebuilt from the seed, not stored in checkpoints).
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn


class NoiseInjection(nn.Module):
    def __init__(self, channels: int, resolution: int, seed: int = 0):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(channels))
        fixed = torch.randn(1, 1, resolution, resolution, generator=torch.Generator().manual_seed(seed))
        self.register_buffer("fixed_noise", fixed, persistent=False)

    def forward(self, x: torch.Tensor, noise: Optional[torch.Tensor] = None) -> torch.Tensor:
        if noise is None:
            noise = torch.randn(x.shape[0], 1, x.shape[2], x.shape[3], device=x.device, dtype=x.dtype) \
                if self.training else self.fixed_noise.to(x.dtype)
        return x + noise * self.weight.view(1, -1, 1, 1)
