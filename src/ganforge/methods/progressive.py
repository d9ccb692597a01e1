"""Progressive growing (Karras et al. 2018, "Progressive Growing of GANs for Improved Quality, Stability, and
Variation", §2, App. A; schedule conventions of the official code, reference/papers-details.md §2.2).

The recipe is the standard GAN game (ProGAN: WGAN-GP with drift 0.001, n_critic 1, Adam 1e-3 β (0, 0.99); StyleGAN:
non-saturating + R1) plus a schedule this method owns — the Trainer stays generic:

* level(images) = start + phase + max(t − stabilize, 0) / fade, with phase = images // (stabilize + fade) and t the
  images into the phase: each new resolution fades in over `fade` real images, then trains stable for
  `stabilize` images (ProGAN: 800k + 800k; StyleGAN: 600k + 600k, starting at 8²);
* both networks get the level; real images are faded the same way (blended with their own lower-resolution
  version during a fade);
* Adam's state is reset whenever floor(level) or ceil(level) changes (the start and end of each fade);
* per-level batch multipliers (more, smaller images at low resolution) and learning rates.

The level lives in the networks' state and the image counter in the method's, so a checkpoint resumes mid-fade.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Tuple

import torch

from ..errors import ConfigError
from ..models.progressive import fade_images
from ..registry import METHODS
from .standard import StandardConfig, StandardGAN


@dataclass
class ProgressiveConfig(StandardConfig):
    name: str = "progressive"
    start_level: int = 0  # 0 = 4×4 (ProGAN); StyleGAN starts at 8×8 (1)
    stabilize: int = 800_000  # real images per stable phase
    fade: int = 800_000  # real images per fade-in
    batch_multipliers: Tuple[int, ...] = ()  # per level (4², 8², …): real batches per D step; () = 1 everywhere
    lr_per_level: Tuple[float, ...] = ()  # per level, for both players; () = lr_g / lr_d throughout
    reset_optimizer: bool = True

    def validate(self):
        super().validate()
        if self.start_level < 0 or self.stabilize < 1 or self.fade < 1:
            raise ConfigError(f"method.start_level must be ≥ 0 and method.stabilize / method.fade ≥ 1, got "
                              f"{self.start_level}, {self.stabilize}, {self.fade}")
        if any(m < 1 for m in self.batch_multipliers) or any(lr <= 0 for lr in self.lr_per_level):
            raise ConfigError("method.batch_multipliers must be ≥ 1 and method.lr_per_level > 0")


def level_at(images: int, start: int, max_level: int, stabilize: int, fade: int) -> float:
    """The level after `images` real images (ProGAN's TrainingSchedule, with level = log2(res) − 2)."""
    phase, t = divmod(images, stabilize + fade)
    return float(min(max_level, start + phase + max(t - stabilize, 0) / fade))


class ProgressiveGAN(StandardGAN):
    def __init__(self, cfg: ProgressiveConfig, generator, discriminator):
        super().__init__(cfg, generator, discriminator)
        for name, net in (("generator", generator), ("discriminator", discriminator)):
            if not hasattr(net, "set_level"):
                raise ConfigError(f"method progressive needs progressive networks (progan, stylegan); the {name} "
                                  f"{type(net).__name__} has no resolution levels")
        self.max_level = discriminator.max_level
        if cfg.start_level > self.max_level:
            raise ConfigError(f"method.start_level {cfg.start_level} is above the data's top level "
                              f"{self.max_level} ({4 * 2 ** self.max_level}²)")
        self.images = 0
        self.phase = None  # (floor, ceil) of the level the optimisers were made for
        self.set_level(self.level())

    def level(self) -> float:
        c = self.cfg
        return level_at(self.images, c.start_level, self.max_level, c.stabilize, c.fade)

    def set_level(self, level: float) -> None:
        self.generator.set_level(level)
        self.discriminator.set_level(level)
        phase = (math.floor(level), math.ceil(level))
        if self.phase is not None and phase != self.phase and self.cfg.reset_optimizer:
            self._opt = None  # fresh Adam moments for the new stage (rebuilt lazily)
        self.phase = phase
        if self._opt is not None:
            self.apply_lr(self._opt)

    def apply_lr(self, optimizers) -> None:
        lrs = self.cfg.lr_per_level
        if lrs:
            lr = lrs[min(self.phase[1], len(lrs) - 1)]
            for opt in optimizers.values():
                for group in opt.param_groups:
                    group["lr"] = lr

    def optimizers(self):
        fresh = self._opt is None
        opts = super().optimizers()
        if fresh:
            self.apply_lr(opts)
        return opts

    def set_network(self, name, module):
        super().set_network(name, module)
        if self.phase is not None:
            module.set_level(self.level())

    def real_batch(self, data) -> tuple:
        mults = self.cfg.batch_multipliers
        m = mults[min(self.phase[1], len(mults) - 1)] if mults else 1
        batches = [data.next() for _ in range(m)]
        x = torch.cat([b.x for b in batches]) if m > 1 else batches[0].x
        y = (torch.cat([b.y for b in batches]) if m > 1 else batches[0].y) if batches[0].y is not None else None
        return fade_images(x, self.level()), y

    def step(self, data, progress: float):
        self.set_level(self.level())
        for _ in range(self.critic_steps()):
            real, y = self.real_batch(data)
            d_loss = self.d_step(real, y)
            self.images += real.shape[0] * self.world_size
        for _ in range(self.cfg.g_repeats):
            g_loss = self.g_step(real.shape[0], real, y)
        return {"d_loss": d_loss, "g_loss": g_loss, "level": torch.full((), self.level(), device=d_loss.device)}

    def state_dict(self) -> dict:
        state = super().state_dict()
        # the stage the optimisers belong to: a checkpoint taken just as the images reach a new stage still holds
        # the old stage's Adam moments, which the next step must reset exactly as an uninterrupted run does
        state["schedule"] = {"images": self.images, "phase": list(self.phase) if self.phase else None}
        return state

    def load_state_dict(self, state: dict) -> None:
        self.images = int(state["schedule"]["images"])
        self.phase = None
        self.set_level(self.level())
        saved = state["schedule"].get("phase")
        if saved is not None:
            self.phase = tuple(int(p) for p in saved)  # the loaded optimiser state's stage
        super().load_state_dict(state)


METHODS.register("progressive", ProgressiveConfig)(ProgressiveGAN)
