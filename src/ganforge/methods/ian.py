"""The Introspective Adversarial Network's training recipe (Brock, Lim, Ritchie, Weston, "Neural Photo Editing with
Introspective Adversarial Networks", ICLR 2017, §3, Eq. 1–3; official `train_IAN.py`, reference/next-wave.md §11).

The discriminator's body doubles as the encoder (models/ian.py); the generator is the decoder. Per iteration, on a
real batch x, reconstructions x̂ = G(μ + σ·ε) with (μ, log σ) = E(x), and samples G(z), z ~ N(0, I):

* D step (body + discriminator head), x̂ and the samples held constant (official `consider_constant=[X_hat]`):
  `dd·CE(D(x), real) + dg·[CE(D(x̂), reconstruction) + CE(D(G(z)), sample)] + ortho·R(body)` — the ternary
  adversarial loss (classes p1 real, p2 reconstruction, p3 sample);
* G step (decoder) and encoder-head step, one Adam over both (each group's gradient is that of its own official
  objective, since the terms not shared do not depend on the other group):
  decoder:  `adv_G + 3·pixel + 1·feature + ortho·R(G)`;
  encoder:  `adv_G + 3·pixel + 1·feature + KL + 1e-5·‖head weights‖²`;
  with `adv_G = agr·CE(D(x̂), real) + ags·CE(D(G(z)), real)`, `pixel = mean(2·|x̂ − x|)`,
  `feature` = mean over the body's layers of MSE(body_l(x), body_l(x̂)) and
  `KL = −½·mean(1 + 2 log σ − μ² − σ²)`. The body and the discriminator head are frozen in this step (the encoder
  head sits on the body but the body learns from the D loss only, as in the official code).
* R is IAN's L1 orthogonal regulariser (nn/orthogonal.py `orthogonal_l1`) on every 4-D weight, strength 1e-3.
* Adam lr 2e-4, β1 0.5; the official schedule {epoch 0: 2e-4, 25: 1e-4, 50: 5e-5, 75: 1e-5} of 80 epochs is
  applied at the same fractions of train.steps when `lr_schedule` is on.

`adversarial: binary` is the ablation with the usual two classes: reconstructions and samples are both "fake" (D's
real-vs-rest log-odds with binary cross-entropy). `adversarial: none` is the plain-VAE baseline of the same networks
(Kingma & Welling 2014): no D step, no adversarial term, and the body learns with the encoder head from the
reconstruction + KL loss (set feature_weight 0: the features would be the encoder's own).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Tuple

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from ..models import build_discriminator, build_generator
from ..models.ian import REAL, RECONSTRUCTION, SAMPLE, IANDiscriminator
from ..nn.orthogonal import orthogonal_l1
from ..registry import METHODS
from .base import Method
from .standard import adam
from .translation import set_lr

# official lr schedule: (fraction of the run, lr multiplier) from {0: 2e-4, 25: 1e-4, 50: 5e-5, 75: 1e-5} of 80 epochs
SCHEDULE = ((0.0, 1.0), (25 / 80, 0.5), (50 / 80, 0.25), (75 / 80, 0.05))


@dataclass
class IANConfig:
    name: str = "ian"
    lr: float = 2e-4
    betas: Tuple[float, float] = (0.5, 0.999)
    lr_schedule: bool = True
    recon_weight: float = 3.0
    feature_weight: float = 1.0
    kl_weight: float = 1.0
    dg_weight: float = 1.0  # D's loss on reconstructions and samples
    dd_weight: float = 1.0  # D's loss on real images
    agr_weight: float = 1.0  # G's adversarial loss on reconstructions
    ags_weight: float = 1.0  # G's adversarial loss on samples
    ortho: float = 1e-3
    reg: float = 1e-5  # L2 on the encoder head's weights
    adversarial: str = "ternary"  # ternary | binary (ablation) | none (plain VAE baseline)

    def validate(self):
        if self.adversarial not in ("ternary", "binary", "none"):
            raise ConfigError(f"method.adversarial must be ternary, binary or none, got {self.adversarial!r}")
        if self.lr <= 0 or len(self.betas) != 2:
            raise ConfigError(f"method.lr must be > 0 and method.betas two values, got {self.lr}, {self.betas}")
        for key in ("recon_weight", "feature_weight", "kl_weight", "dg_weight", "dd_weight", "agr_weight",
                    "ags_weight", "ortho", "reg"):
            if getattr(self, key) < 0:
                raise ConfigError(f"method.{key} must be ≥ 0, got {getattr(self, key)}")


def ternary_targets(n: int, cls: int, device) -> torch.Tensor:
    return torch.full((n,), cls, dtype=torch.long, device=device)


def ternary_d_loss(real: torch.Tensor, recon: torch.Tensor, sample: torch.Tensor, dd: float = 1.0, dg: float = 1.0):
    """D's ternary loss from N×3 logits: real -> class 0, reconstructions -> 1, samples -> 2."""
    ce = lambda t, c: F.cross_entropy(t, ternary_targets(len(t), c, t.device))  # noqa: E731
    return dd * ce(real, REAL) + dg * (ce(recon, RECONSTRUCTION) + ce(sample, SAMPLE))


def ternary_g_loss(recon: torch.Tensor, sample: torch.Tensor, agr: float = 1.0, ags: float = 1.0):
    """G's ternary loss: reconstructions and samples should be classified real."""
    ce = lambda t: F.cross_entropy(t, ternary_targets(len(t), REAL, t.device))  # noqa: E731
    return agr * ce(recon) + ags * ce(sample)


def real_log_odds(t: torch.Tensor) -> torch.Tensor:
    return t[:, REAL] - torch.logsumexp(t[:, 1:], dim=1)


def kl_divergence(mu: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """Official `kl_div`: −½·mean(1 + 2 log σ − μ² − exp(2 log σ)) (a mean over samples and dimensions)."""
    return -0.5 * torch.mean(1 + 2 * log_sigma - mu**2 - torch.exp(2 * log_sigma))


def ortho_sum(module) -> torch.Tensor:
    return sum((orthogonal_l1(p) for p in module.parameters() if p.dim() == 4), torch.zeros(()))


class IAN(Method):
    def __init__(self, cfg: IANConfig, generator, discriminator: IANDiscriminator):
        super().__init__(cfg, generator, discriminator)
        if not isinstance(discriminator, IANDiscriminator):
            raise ConfigError("method ian needs discriminator.name=ian (its body is also the encoder)")
        if discriminator.z_dim != generator.z_dim:
            raise ConfigError(f"discriminator.z_dim ({discriminator.z_dim}) must equal generator.z_dim "
                              f"({generator.z_dim}): the encoder's codes feed the generator")
        self._opt = None

    @classmethod
    def from_config(cls, config, info) -> "IAN":
        return cls(config.method, build_generator(config.generator, info),
                   build_discriminator(config.discriminator, info))

    def optimizers(self):
        if self._opt is None:
            c, D = self.cfg, self.discriminator
            if c.adversarial == "none":  # VAE: the body learns with the encoder head
                encoder = itertools.chain(D.body.parameters(), D.encoder.parameters())
                return self._opt_set({"ge": adam(itertools.chain(self.generator.parameters(), encoder), c.lr,
                                                 c.betas)})
            self._opt = {"ge": adam(itertools.chain(self.generator.parameters(), D.encoder.parameters()), c.lr,
                                    c.betas),
                         "d": adam(D.discriminator_parameters(), c.lr, c.betas)}
        return self._opt

    def _opt_set(self, opt):
        self._opt = opt
        return opt

    def lr_factor(self, progress: float) -> float:
        if not self.cfg.lr_schedule:
            return 1.0
        return [f for start, f in SCHEDULE if progress >= start][-1]

    def encode_sample(self, x: torch.Tensor):
        mu, log_sigma = self.discriminator.encode(x)
        return mu, log_sigma, mu + torch.exp(log_sigma) * self.sample_z(len(x))

    # -- the two updates ---------------------------------------------------------------------------------------------
    def d_step(self, x: torch.Tensor) -> torch.Tensor:
        c, D, G = self.cfg, self.discriminator, self.generator
        with torch.no_grad():
            x_hat = G(self.encode_sample(x)[2])
            x_p = G(self.sample_z(len(x)))
        t_real, t_rec, t_smp = D.ternary_logits(x), D.ternary_logits(x_hat), D.ternary_logits(x_p)
        if c.adversarial == "ternary":
            loss = ternary_d_loss(t_real, t_rec, t_smp, c.dd_weight, c.dg_weight)
        else:
            bce = F.binary_cross_entropy_with_logits
            r, h, s = real_log_odds(t_real), real_log_odds(t_rec), real_log_odds(t_smp)
            loss = c.dd_weight * bce(r, torch.ones_like(r)) + c.dg_weight * (bce(h, torch.zeros_like(h))
                                                                             + bce(s, torch.zeros_like(s)))
        if c.ortho:
            loss = loss + c.ortho * ortho_sum(D.body)
        self.update(loss, "d")
        self.d_steps += 1
        return loss.detach()

    def g_step(self, x: torch.Tensor):
        c, D, G = self.cfg, self.discriminator, self.generator
        frozen = D.discriminator_parameters() if c.adversarial != "none" else []
        for p in frozen:
            p.requires_grad_(False)
        try:
            mu, log_sigma, z_hat = self.encode_sample(x)
            x_hat = G(z_hat)
            with torch.no_grad():
                f_real = D.body_features(x)
            f_hat = D.body_features(x_hat)
            feature = torch.stack([F.mse_loss(a, b) for a, b in zip(f_hat, f_real)]).mean()
            pixel = torch.mean(2 * torch.abs(x_hat - x))
            kl = kl_divergence(mu, log_sigma)
            if c.adversarial == "none":
                adv = x.new_zeros(())
            else:
                t_rec, t_smp = D.ternary_from_features(f_hat[-1]), D.ternary_logits(G(self.sample_z(len(x))))
            if c.adversarial == "ternary":
                adv = ternary_g_loss(t_rec, t_smp, c.agr_weight, c.ags_weight)
            elif c.adversarial == "binary":
                bce = F.binary_cross_entropy_with_logits
                h, s = real_log_odds(t_rec), real_log_odds(t_smp)
                adv = c.agr_weight * bce(h, torch.ones_like(h)) + c.ags_weight * bce(s, torch.ones_like(s))
            loss = adv + c.recon_weight * pixel + c.feature_weight * feature + c.kl_weight * kl
            if c.ortho:
                loss = loss + c.ortho * ortho_sum(G)
            if c.reg:
                loss = loss + c.reg * sum((p**2).sum() for p in D.encoder.parameters() if p.dim() >= 2)
            self.update(loss, "ge")
        finally:
            for p in frozen:
                p.requires_grad_(True)
        self.g_steps += 1
        return {"g_loss": loss.detach(), "pixel": pixel.detach(), "feature": feature.detach(), "kl": kl.detach(),
                "recon_mse": ((x_hat.detach() - x) ** 2).mean()}

    def step(self, data, progress: float):
        factor = self.lr_factor(progress)
        for opt in self.optimizers().values():
            set_lr(opt, self.cfg.lr * factor)
        x = data.next().x
        d_loss = self.d_step(x) if self.cfg.adversarial != "none" else x.new_zeros(())
        logs = self.g_step(x)
        logs["d_loss"] = d_loss
        return logs


METHODS.register("ian", IANConfig)(IAN)
