"""pix2pix (Isola, Zhu, Zhou, Efros, "Image-to-Image Translation with Conditional Adversarial Networks", CVPR 2017).

The objective (§2.1, Eq. 4): G* = arg min_G max_D L_cGAN(G, D) + λ·L_L1(G), with

* L_cGAN = E[log D(x, y)] + E[log(1 − D(x, G(x)))]: a conditional PatchGAN that sees the input x (domain A) with
  either the real target y or the translation G(x) (domain B), concatenated along channels;
* L_L1 = E‖y − G(x)‖₁, λ = 100;
* G has no z: its noise is the U-Net's dropout (§2.1).

Training follows the official code (phillipi/pix2pix `train.lua`, pytorch-CycleGAN-and-pix2pix `pix2pix_model.py`):
per iteration one batch; G translates it once; D is updated on (A, B) vs the detached (A, G(A)) with its loss
halved ("we divide the objective by 2 while optimizing D", §3.3); then G is updated on the non-saturating GAN
loss of the updated D plus λ·L1. Adam lr 2e-4, β = (0.5, 0.999) for both, constant (the original code has no lr
decay). The GAN criterion is BCE on logits ("vanilla",
the Lua `BCECriterion` after a sigmoid) or least squares ("lsgan"), applied to every patch logit and averaged.

The paper's loss ablation (Table 1) is the Lua code's switches: `gan` (use_GAN), `l1` (use_L1) and
`conditional` (condition_GAN: false makes D see B alone — the "GAN" rows). The discriminator's input channels
follow `conditional` (the method sets the PatchGAN's `conditional` from it).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Tuple

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from ..models import build_discriminator, build_generator
from ..registry import METHODS
from .standard import adam
from .translation import TranslationMethod, require_pairs

GAN_LOSSES = ("vanilla", "lsgan")


@dataclass
class Pix2PixConfig:
    name: str = "pix2pix"
    lr: float = 2e-4
    betas: Tuple[float, float] = (0.5, 0.999)
    lambda_l1: float = 100.0
    gan: bool = True  # use_GAN
    l1: bool = True  # use_L1
    conditional: bool = True  # condition_GAN: D sees concat(A, B); false: D sees B only
    gan_loss: str = "vanilla"  # vanilla (BCE on logits) | lsgan
    d_loss_weight: float = 0.5  # "divide the objective by 2 while optimizing D"

    def validate(self):
        if not (self.gan or self.l1):
            raise ConfigError("method: pix2pix needs at least one of gan and l1 (both are false)")
        if self.gan_loss not in GAN_LOSSES:
            raise ConfigError(f"method.gan_loss must be one of {GAN_LOSSES}, got {self.gan_loss!r}")
        if self.lr <= 0 or self.lambda_l1 < 0 or self.d_loss_weight <= 0:
            raise ConfigError("method.lr and d_loss_weight must be > 0, lambda_l1 ≥ 0")
        if len(self.betas) != 2:
            raise ConfigError(f"method.betas needs two values, got {self.betas}")


def gan_criterion(kind: str, logits: torch.Tensor, real: bool) -> torch.Tensor:
    """The official `GANLoss`: every patch logit against the label 1 (real) or 0 (fake), averaged."""
    logits = logits.float()
    target = torch.full_like(logits, 1.0 if real else 0.0)
    if kind == "lsgan":
        return F.mse_loss(logits, target)
    return F.binary_cross_entropy_with_logits(logits, target)


class Pix2Pix(TranslationMethod):
    """pix2pix (Isola et al., CVPR 2017): a U-Net translator trained with a conditional PatchGAN and λ·L1."""

    def __init__(self, cfg: Pix2PixConfig, generator, discriminator):
        super().__init__(cfg, generator, discriminator)
        self._opt = None

    @classmethod
    def from_config(cls, config, info) -> "Pix2Pix":
        require_pairs(info, "pix2pix")
        d_cfg = config.discriminator
        has_flag = isinstance(getattr(d_cfg, "conditional", None), bool)
        if has_flag:
            d_cfg = dataclasses.replace(d_cfg, conditional=bool(config.method.conditional))
        elif config.method.conditional:
            raise ConfigError(f"pix2pix's conditional D needs a discriminator that takes the input image "
                              f"(patchgan), not {d_cfg.name!r}; or set method.conditional=false")
        return cls(config.method, build_generator(config.generator, info), build_discriminator(d_cfg, info))

    def optimizers(self):
        if self._opt is None:
            c = self.cfg
            self._opt = {"g": adam(self.generator.parameters(), c.lr, c.betas),
                         "d": adam(self.discriminator.parameters(), c.lr, c.betas)}
        return self._opt

    def judge(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """D's patch logits of the image b (with its condition a when conditional)."""
        return self.discriminator(b, a) if self.cfg.conditional else self.discriminator(b)

    def d_loss(self, a, real_b, fake_b) -> torch.Tensor:
        c = self.cfg
        loss_fake = gan_criterion(c.gan_loss, self.judge(a, fake_b.detach()), False)
        loss_real = gan_criterion(c.gan_loss, self.judge(a, real_b), True)
        return (loss_fake + loss_real) * c.d_loss_weight

    def g_losses(self, a, real_b, fake_b):
        """(total, GAN term, L1 term): total = GAN + λ·L1 with the switched-off terms left out."""
        c = self.cfg
        zero = fake_b.new_zeros(())
        gan = gan_criterion(c.gan_loss, self.judge(a, fake_b), True) if c.gan else zero
        l1 = F.l1_loss(fake_b.float(), real_b.float()) if c.l1 else zero
        return gan + c.lambda_l1 * l1, gan, l1

    def step(self, data, progress: float):
        c = self.cfg
        batch = data.next()
        a, real_b = batch.x, batch.target
        fake_b = self.generator(a)
        logs = {}
        if c.gan:
            d_loss = self.d_loss(a, real_b, fake_b)
            self.update(d_loss, "d")
            self.d_steps += 1
            logs["d_loss"] = d_loss.detach()
        d_params = list(self.discriminator.parameters())
        for p in d_params:  # G's backward needs no D gradients (official set_requires_grad(netD, False))
            p.requires_grad_(False)
        try:
            g_loss, gan, l1 = self.g_losses(a, real_b, fake_b)
            self.update(g_loss, "g")
        finally:
            for p in d_params:
                p.requires_grad_(True)
        self.g_steps += 1
        logs["g_loss"] = g_loss.detach()
        if c.gan:
            logs["g_gan"] = gan.detach()
        if c.l1:
            logs["g_l1"] = l1.detach()
        return logs


METHODS.register("pix2pix", Pix2PixConfig)(Pix2Pix)
