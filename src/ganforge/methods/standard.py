"""The standard GAN game (Goodfellow et al. 2014, Algorithm 1), with DCGAN's optimiser settings as defaults
(Radford et al. 2016, §4: Adam, lr 2e-4, β1 = 0.5).

Per iteration: `d_steps` discriminator updates, each on a fresh real batch and fresh fakes, then one generator
update with the chosen cost (non-saturating by default, or the original minimax one).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import torch

from ..errors import ConfigError
from ..losses import D_LOSSES, G_LOSSES
from ..registry import METHODS
from .base import Method


@dataclass
class StandardConfig:
    name: str = "standard"
    g_loss: str = "nonsaturating"  # nonsaturating | minimax
    d_loss: str = "bce"
    d_steps: int = 1  # discriminator updates per generator update (k in Algorithm 1)
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: Tuple[float, float] = (0.5, 0.999)

    def validate(self):
        if self.g_loss not in G_LOSSES:
            raise ConfigError(f"method.g_loss must be one of {sorted(G_LOSSES)}, got {self.g_loss!r}")
        if self.d_loss not in D_LOSSES:
            raise ConfigError(f"method.d_loss must be one of {sorted(D_LOSSES)}, got {self.d_loss!r}")
        if self.d_steps < 1:
            raise ConfigError(f"method.d_steps must be ≥ 1, got {self.d_steps}")
        if len(self.betas) != 2:
            raise ConfigError(f"method.betas must have two values, got {self.betas}")


def adam(params, lr: float, betas) -> torch.optim.Adam:
    """Adam with the fastest implementation available (foreach on CPU, fused on CUDA)."""
    params = list(params)
    fused = bool(params) and params[0].is_cuda
    return torch.optim.Adam(params, lr=lr, betas=tuple(betas), fused=fused or None, foreach=None if fused else True)


class StandardGAN(Method):
    def __init__(self, cfg: StandardConfig, generator, discriminator):
        super().__init__(cfg, generator, discriminator)
        self.g_cost = G_LOSSES[cfg.g_loss]
        self.d_cost = D_LOSSES[cfg.d_loss]
        self._opt = None

    def _build_optimizers(self):
        self._opt = {
            "g": adam(self.generator.parameters(), self.cfg.lr_g, self.cfg.betas),
            "d": adam(self.discriminator.parameters(), self.cfg.lr_d, self.cfg.betas),
        }

    def optimizers(self):
        if self._opt is None:  # built lazily so that they live on the networks' device
            self._build_optimizers()
        return self._opt

    def d_step(self, real: torch.Tensor, y=None) -> torch.Tensor:
        G, D = self.generator, self.discriminator
        with torch.no_grad():
            fake = G(self.sample_z(real.shape[0]), y)
        loss = self.d_cost(D(real, y), D(fake, y))
        self.update(loss, "d")
        self.d_steps += 1
        return loss.detach()

    def g_step(self, n: int, y=None) -> torch.Tensor:
        G, D = self.generator, self.discriminator
        loss = self.g_cost(D(G(self.sample_z(n), y), y))
        self.update(loss, "g")
        self.g_steps += 1
        return loss.detach()

    def step(self, data, progress: float):
        for _ in range(self.cfg.d_steps):
            batch = data.next()
            d_loss = self.d_step(batch.x, None)
        g_loss = self.g_step(batch.x.shape[0], None)
        return {"d_loss": d_loss, "g_loss": g_loss}


METHODS.register("standard", StandardConfig)(StandardGAN)
