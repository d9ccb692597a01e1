"""CycleGAN (Zhu, Park, Isola, Efros, "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial
Networks", ICCV 2017), as its official code (junyanz/pytorch-CycleGAN-and-pix2pix, `models/cycle_gan_model.py`).

Two translators, G: A → B (`generator`) and F: B → A (`generator_ba`), and two discriminators, D_B judging domain B
(real B vs G(A); the official code's `netD_A`) and D_A judging domain A (real A vs F(B); official `netD_B`). The
data are unpaired: a Batch's `x` is a draw of A and its `target` an unrelated draw of B.

Objective (paper Eq. 3, 2, 1 and §5.2 / official `backward_G`), least-squares GAN (§4 "Training details"):

    L_G = w_gan·[MSE(D_B(G(a)), 1) + MSE(D_A(F(b)), 1)]
        + λ_A·‖F(G(a)) − a‖₁ + λ_B·‖G(F(b)) − b‖₁                      (forward and backward cycle, λ = 10)
        + λ_idt·(λ_B·‖G(b) − b‖₁ + λ_A·‖F(a) − a‖₁)                     (identity, λ_idt = 0.5)
    L_D = ½·[MSE(D(real), 1) + MSE(D(pool(fake)), 0)]                  for each of D_A, D_B

Each D sees its fakes through an image pool of 50 (Shrivastava et al. 2017; `nn/image_pool.py`). One Adam for
both generators and one for both discriminators: lr 2e-4, β (0.5, 0.999). Per iteration: the G step with the Ds
frozen, then the D step (official `optimize_parameters`). The learning rate is constant for the first part of the
run, then falls linearly to 0 (official `lambda_rule`, 100 + 100 epochs, here counted in iterations: see
`lr_factor`).

Ablation switches (paper Table 4 / Fig. 7: "Cycle alone", "GAN alone", "GAN + forward cycle", "GAN + backward
cycle", full): `gan_weight`, `cycle_forward` (λ_A), `cycle_backward` (λ_B), `identity` (λ_idt). With
`gan_weight: 0` the discriminators are not trained (nothing reads them).
"""
from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..models import build_discriminator, build_generator
from ..nn.image_pool import ImagePool
from ..registry import METHODS
from .standard import adam
from .translation import TranslationMethod, linear_decay, set_lr

GAN_MODES = ("lsgan", "vanilla")


@dataclass
class CycleGANConfig:
    name: str = "cyclegan"
    lr: float = 2e-4  # both optimisers (official --lr)
    betas: Tuple[float, float] = (0.5, 0.999)
    gan_mode: str = "lsgan"  # lsgan (MSE to 1 / 0, the paper) | vanilla (BCE on logits, the official option)
    gan_weight: float = 1.0  # 0 = "cycle alone" in the paper's ablation
    cycle_forward: float = 10.0  # λ_A: ‖F(G(a)) − a‖₁
    cycle_backward: float = 10.0  # λ_B: ‖G(F(b)) − b‖₁
    identity: float = 0.5  # λ_idt, relative to λ_A / λ_B (needs equal channel counts in A and B)
    pool_size: int = 50  # image pool per discriminator; 0 = D sees the newest fakes only
    decay_start: float = 0.5  # fraction of train.steps at which the lr starts to fall (official: 100 of 200 epochs)
    decay_start_step: int = -1  # the same in iterations; ≥ 0 overrides decay_start

    def validate(self):
        if self.gan_mode not in GAN_MODES:
            raise ConfigError(f"method.gan_mode must be one of {GAN_MODES}, got {self.gan_mode!r}")
        if len(self.betas) != 2:
            raise ConfigError(f"method.betas needs two values, got {self.betas}")
        if self.lr <= 0:
            raise ConfigError(f"method.lr must be > 0, got {self.lr}")
        for key in ("gan_weight", "cycle_forward", "cycle_backward", "identity"):
            if getattr(self, key) < 0:
                raise ConfigError(f"method.{key} must be ≥ 0, got {getattr(self, key)}")
        if self.pool_size < 0:
            raise ConfigError(f"method.pool_size must be ≥ 0, got {self.pool_size}")
        if not 0.0 <= self.decay_start <= 1.0:
            raise ConfigError(f"method.decay_start is a fraction of train.steps in [0, 1], got {self.decay_start}")


def swapped(info):
    """The same data seen from domain B: `shape` and `target_shape` exchanged (builds F: B → A and D_A)."""
    return dataclasses.replace(info, shape=tuple(info.target_shape), target_shape=tuple(info.shape))


def gan_loss(scores: torch.Tensor, real: bool, mode: str = "lsgan") -> torch.Tensor:
    """Official `GANLoss`: lsgan = mean((D − 1)²) or mean(D²); vanilla = BCE with logits against 1 or 0. Averaged
    over every patch logit of the map."""
    target = torch.ones_like(scores) if real else torch.zeros_like(scores)
    if mode == "lsgan":
        return F.mse_loss(scores, target)
    return F.binary_cross_entropy_with_logits(scores, target)


class CycleGAN(TranslationMethod):
    """CycleGAN (Zhu et al., ICCV 2017); see the module docstring. `translators()` gives {"AtoB": G, "BtoA": F}."""

    def __init__(self, cfg: CycleGANConfig, generator: nn.Module, generator_ba: nn.Module, discriminator: nn.Module,
                 discriminator_a: nn.Module, total_steps: int, identity_ok: bool = True):
        super().__init__(cfg, generator, discriminator)
        if cfg.identity > 0 and not identity_ok:
            raise ConfigError("method.identity needs domains A and B with the same number of channels (G must "
                              "accept a B image); set method.identity=0 for this data")
        self.generator_ba, self.discriminator_a = generator_ba, discriminator_a
        self.total_steps = int(total_steps)
        self.iters = 0  # iterations done (= G updates)
        seed = torch.initial_seed() % 2**40  # the Trainer seeded torch with train.seed just before building this
        self.pools = {name: ImagePool(cfg.pool_size, torch.Generator().manual_seed(seed * 1_000 + k + 17))
                      for k, name in enumerate(("b", "a"))}  # "b": fakes G(a) for D_B, "a": fakes F(b) for D_A
        self._opt = None

    @classmethod
    def from_config(cls, config, info) -> "CycleGAN":
        if not info.two_domain:
            raise ConfigError("cyclegan needs two-domain image data (a dataset whose Batches carry a target image, "
                              "e.g. digits-ab or shapes-labels with unpaired=true)")
        back = swapped(info)
        g, f = build_generator(config.generator, info), build_generator(config.generator, back)
        d_b, d_a = build_discriminator(config.discriminator, info), build_discriminator(config.discriminator, back)
        if getattr(config.discriminator, "conditional", False):
            raise ConfigError("cyclegan's discriminators judge single images: set discriminator.conditional=false")
        return cls(config.method, g, f, d_b, d_a, config.train.steps, identity_ok=info.shape == info.target_shape)

    # -- schedule ---------------------------------------------------------------------------------------------------
    def decay_start_step(self) -> int:
        c = self.cfg
        return c.decay_start_step if c.decay_start_step >= 0 else int(round(c.decay_start * self.total_steps))

    def lr_factor(self, k: int) -> float:
        """The lr factor of update k (0-based). The official rule at epoch granularity, 1 − max(0, e + 1 − n) /
        (n_decay + 1) during epoch e, becomes per iteration `linear_decay(k + 1, c, T − c)`: 1 for the first c
        updates, then 1 − j/(T − c + 1) at the j-th decayed update, reaching exactly 0 at k = T (after the run)."""
        c = min(self.decay_start_step(), self.total_steps)
        return max(0.0, linear_decay(k + 1, c, self.total_steps - c))

    # -- optimisers and owned state -----------------------------------------------------------------------------------
    def networks(self) -> Dict[str, nn.Module]:
        return {"generator": self.generator, "generator_ba": self.generator_ba,
                "discriminator": self.discriminator, "discriminator_a": self.discriminator_a}

    def optimizers(self):
        if self._opt is None:
            c = self.cfg
            self._opt = {"g": adam(itertools.chain(self.generator.parameters(), self.generator_ba.parameters()),
                                   c.lr, c.betas),
                         "d": adam(itertools.chain(self.discriminator.parameters(),
                                                   self.discriminator_a.parameters()), c.lr, c.betas)}
        return self._opt

    def translators(self) -> Dict[str, nn.Module]:
        return {"AtoB": self.generator, "BtoA": self.generator_ba}

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["cyclegan"] = {"iters": self.iters, "pools": {k: p.state_dict() for k, p in self.pools.items()}}
        return state

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.iters = int(state["cyclegan"]["iters"])
        for k, p in self.pools.items():
            p.load_state_dict(state["cyclegan"]["pools"][k])

    # -- losses -------------------------------------------------------------------------------------------------------
    def generator_losses(self, real_a: torch.Tensor, real_b: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Every term of L_G (weighted) and the fakes the discriminators will see."""
        c = self.cfg
        G, Fb = self.generator, self.generator_ba
        fake_b, fake_a = G(real_a), Fb(real_b)
        out = {"fake_b": fake_b, "fake_a": fake_a}
        zero = real_a.new_zeros(())
        out["gan"] = c.gan_weight * (gan_loss(self.discriminator(fake_b), True, c.gan_mode)
                                     + gan_loss(self.discriminator_a(fake_a), True, c.gan_mode)) \
            if c.gan_weight > 0 else zero
        out["cycle_a"] = c.cycle_forward * F.l1_loss(Fb(fake_b), real_a) if c.cycle_forward > 0 else zero
        out["cycle_b"] = c.cycle_backward * F.l1_loss(G(fake_a), real_b) if c.cycle_backward > 0 else zero
        idt = zero
        if c.identity > 0:
            if c.cycle_backward > 0:
                idt = idt + c.identity * c.cycle_backward * F.l1_loss(G(real_b), real_b)
            if c.cycle_forward > 0:
                idt = idt + c.identity * c.cycle_forward * F.l1_loss(Fb(real_a), real_a)
        out["identity"] = idt
        return out

    def discriminator_loss(self, d: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """½·(GAN(D(real), 1) + GAN(D(fake), 0)) (official `backward_D_basic`)."""
        mode = self.cfg.gan_mode
        return 0.5 * (gan_loss(d(real), True, mode) + gan_loss(d(fake.detach()), False, mode))

    # -- one iteration ------------------------------------------------------------------------------------------------
    def step(self, data, progress: float):
        batch = data.next()
        real_a, real_b = batch.x, batch.target
        factor = self.lr_factor(self.iters)
        for opt in self.optimizers().values():
            set_lr(opt, self.cfg.lr * factor)
        train_d = self.cfg.gan_weight > 0
        ds = (self.discriminator, self.discriminator_a)
        for d in ds:
            d.requires_grad_(False)
        g = self.generator_losses(real_a, real_b)
        loss_g = g["gan"] + g["cycle_a"] + g["cycle_b"] + g["identity"]
        self.update(loss_g, "g")
        self.g_steps += 1
        logs = {"loss_g": loss_g.detach(), "gan_g": g["gan"].detach(), "cycle_a": g["cycle_a"].detach(),
                "cycle_b": g["cycle_b"].detach(), "identity": g["identity"].detach()}
        for d in ds:
            d.requires_grad_(True)
        if train_d:
            loss_db = self.discriminator_loss(self.discriminator, real_b, self.pools["b"].query(g["fake_b"]))
            loss_da = self.discriminator_loss(self.discriminator_a, real_a, self.pools["a"].query(g["fake_a"]))
            self.update(loss_db + loss_da, "d")  # the two Ds have separate parameters: one backward, one step
            self.d_steps += 1
            logs["loss_d_b"], logs["loss_d_a"] = loss_db.detach(), loss_da.detach()
        self.iters += 1
        logs["lr_factor"] = torch.tensor(factor)
        return logs


METHODS.register("cyclegan", CycleGANConfig)(CycleGAN)
