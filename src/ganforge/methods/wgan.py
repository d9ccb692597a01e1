"""Wasserstein GANs: WGAN with weight clipping (Arjovsky, Chintala, Bottou, "Wasserstein GAN", ICML 2017) and
WGAN-GP with a gradient penalty (Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017).

Both train a critic f (no sigmoid) for `d_steps` = n_critic = 5 updates per generator update on the losses
E[f(G(z))] − E[f(x)] (critic) and −E[f(G(z))] (generator); −(critic loss) estimates W1(P_r, P_g).

* WGAN (Algorithm 1): RMSProp, lr 5e-5; after every critic update all its parameters (BatchNorm's included, as
  in the official code) are clipped to [−c, c], c = 0.01. The official code's warm-up: 100 critic updates per
  generator update for the first 25 generator updates and at every 500th (`critic_warmup`).
* WGAN-GP (Algorithm 1): no clipping; λ·E[(‖∇f(x̂)‖₂ − 1)²] with λ = 10, x̂ on the segment between a real and a
  fake sample; Adam lr 1e-4, β = (0, 0.9); no batch norm in the critic (the penalty is per sample).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import torch

from ..errors import ConfigError
from ..registry import METHODS
from .standard import StandardConfig, StandardGAN


@dataclass
class WGANConfig(StandardConfig):
    name: str = "wgan"
    g_loss: str = "wasserstein"
    d_loss: str = "wasserstein"
    d_steps: int = 5
    lr_g: float = 5e-5
    lr_d: float = 5e-5
    optimizer: str = "rmsprop"
    clip: float = 0.01  # weight clipping bound c; 0 disables it
    critic_warmup: bool = True  # 100 critic updates for the first 25 G updates and every 500th

    def validate(self):
        super().validate()
        if self.clip < 0:
            raise ConfigError(f"method.clip must be ≥ 0, got {self.clip}")


@dataclass
class WGANGPConfig(WGANConfig):
    name: str = "wgan-gp"
    lr_g: float = 1e-4
    lr_d: float = 1e-4
    betas: Tuple[float, float] = (0.0, 0.9)
    optimizer: str = "adam"
    clip: float = 0.0
    critic_warmup: bool = False
    gp_weight: float = 10.0


class WGAN(StandardGAN):
    def critic_steps(self) -> int:
        if self.cfg.critic_warmup and (self.g_steps < 25 or self.g_steps % 500 == 0):
            return 100
        return self.cfg.d_steps

    def d_step(self, real: torch.Tensor, y=None) -> torch.Tensor:
        loss = super().d_step(real, y)
        if self.cfg.clip:
            with torch.no_grad():
                for p in self.discriminator.parameters():
                    p.clamp_(-self.cfg.clip, self.cfg.clip)
        return loss

    def step(self, data, progress: float):
        logs = super().step(data, progress)
        logs["wasserstein"] = -logs["d_loss"]  # the critic's estimate of W1 (plus the penalty, for WGAN-GP)
        return logs


METHODS.register("wgan", WGANConfig)(WGAN)
METHODS.register("wgan-gp", WGANGPConfig)(WGAN)
