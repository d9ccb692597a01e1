"""DiscoGAN (Kim, Cha, Kim, Lee, Kim, "Learning to Discover Cross-Domain Relations with Generative Adversarial
Networks", ICML 2017, §3, Eq. 1–5), as its official code (SKTBrain/DiscoGAN `discogan/image_translation.py`).

Two generators, G_AB (`generator`) and G_BA (`generator_ba`), and two discriminators, D_B (`discriminator`,
judges domain B) and D_A (`discriminator_a`). Per iteration, on a batch a of A and an unrelated batch b of B:

    recon_A = MSE(G_BA(G_AB(a)), a),  recon_B = MSE(G_AB(G_BA(b)), b)              (paper Eq. 2, the code's MSE)
    gan_B   = BCE(D_B(G_AB(a)), 1),   dis_B = ½·BCE(D_B(b), 1) + ½·BCE(D_B(G_AB(a)), 0)      (same for A)
    fm_B    = Σ_layers mean((E_batch f(b) − E_batch f(G_AB(a)))²)   over D_B's hidden layers after the first
    total_AB = (0.1·gan_B + 0.9·fm_B)·(1 − rate) + rate·recon_A                    (total_BA symmetric)

`model_arch` (the paper's baselines, §4.1 / Fig. 3, the code's `--model_arch`): `discogan` minimises
total_AB + total_BA against dis_A + dis_B; `recongan` (GAN with reconstruction) minimises total_AB against dis_B;
`gan` minimises 0.1·gan_B + 0.9·fm_B against dis_B. Feature matching with weight 0.9 is in the official code
only, not in the paper's equations.

Curriculum: `rate` is 0.01 for the first 10,000 iterations, then 0.5 (`--starting_rate`, `--default_rate`,
`--gan_curriculum`); here the switch happens at `curriculum` × train.steps (or `curriculum_steps`). Updates: D on
iterations where iters % 3 == 0, G on the other two (`--update_interval 3`). Adam lr 2e-4, β (0.5, 0.999),
weight decay 1e-5 for both (one optimiser for both generators, one for both discriminators). No learning-rate
decay.
"""
from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..models import build_discriminator, build_generator
from ..registry import METHODS
from .translation import TranslationMethod

ARCHS = ("discogan", "recongan", "gan")


@dataclass
class DiscoGANConfig:
    name: str = "discogan"
    model_arch: str = "discogan"  # discogan | recongan | gan
    lr: float = 2e-4
    betas: Tuple[float, float] = (0.5, 0.999)
    weight_decay: float = 1e-5
    gan_weight: float = 0.1  # the adversarial term inside (… )·(1 − rate)
    fm_weight: float = 0.9  # feature matching on D's hidden layers
    starting_rate: float = 0.01  # weight of the reconstruction before the curriculum switch
    default_rate: float = 0.5  # and after it
    curriculum: float = 0.2  # fraction of train.steps before the switch (official: iteration 10,000)
    curriculum_steps: int = field(default=-1, metadata={"bound": None})  # in iterations; ≥ 0 overrides curriculum
    update_interval: int = 3  # D updates on iterations k with k % update_interval == 0, G on the others

    def validate(self):
        if self.model_arch not in ARCHS:
            raise ConfigError(f"method.model_arch must be one of {ARCHS}, got {self.model_arch!r}")
        if len(self.betas) != 2:
            raise ConfigError(f"method.betas needs two values, got {self.betas}")
        if self.lr <= 0 or self.weight_decay < 0 or self.gan_weight < 0 or self.fm_weight < 0:
            raise ConfigError("method.lr must be > 0 and weight_decay, gan_weight, fm_weight ≥ 0")
        for key in ("starting_rate", "default_rate", "curriculum"):
            if not 0.0 <= getattr(self, key) <= 1.0:
                raise ConfigError(f"method.{key} must be in [0, 1], got {getattr(self, key)}")
        if self.update_interval < 2:
            raise ConfigError(f"method.update_interval must be ≥ 2 (one D iteration, then G ones), got "
                              f"{self.update_interval}")


def swapped(info):
    return dataclasses.replace(info, shape=tuple(info.target_shape), target_shape=tuple(info.shape))


def bce(logits: torch.Tensor, real: bool) -> torch.Tensor:
    """nn.BCELoss on sigmoid(logits), computed from the logits (official D ends in a sigmoid)."""
    return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits) if real else torch.zeros_like(logits))


def fm_loss(real_feats: List[torch.Tensor], fake_feats: List[torch.Tensor]) -> torch.Tensor:
    """Official `get_fm_loss`: per layer the squared difference of the batch means of the features, averaged
    (HingeEmbeddingLoss with target 1 is the mean), summed over layers."""
    return sum(((r.mean(0) - f.mean(0)) ** 2).mean() for r, f in zip(real_feats, fake_feats))


class DiscoGAN(TranslationMethod):
    """DiscoGAN (Kim et al., ICML 2017) and its gan / recongan baselines; see the module docstring."""

    def __init__(self, cfg: DiscoGANConfig, generator: nn.Module, generator_ba: nn.Module, discriminator: nn.Module,
                 discriminator_a: nn.Module, total_steps: int):
        super().__init__(cfg, generator, discriminator)
        self.generator_ba, self.discriminator_a = generator_ba, discriminator_a
        self.total_steps = int(total_steps)
        self.iters = 0
        self._opt = None
        self._last: Dict[str, torch.Tensor] = {}

    @classmethod
    def from_config(cls, config, info) -> "DiscoGAN":
        if not info.target_shape:
            raise ConfigError("discogan needs two-domain data (Batches with a target: e.g. digits-ab, toy-domains)")
        back = swapped(info)
        return cls(config.method, build_generator(config.generator, info), build_generator(config.generator, back),
                   build_discriminator(config.discriminator, info), build_discriminator(config.discriminator, back),
                   config.train.steps)

    def curriculum_step(self) -> int:
        c = self.cfg
        return c.curriculum_steps if c.curriculum_steps >= 0 else int(round(c.curriculum * self.total_steps))

    def rate(self, k: int) -> float:
        """Weight of the reconstruction loss at iteration k (official: `iters < gan_curriculum`)."""
        return self.cfg.starting_rate if k < self.curriculum_step() else self.cfg.default_rate

    # -- networks, optimisers, state ----------------------------------------------------------------------------------
    def networks(self) -> Dict[str, nn.Module]:
        return {"generator": self.generator, "generator_ba": self.generator_ba,
                "discriminator": self.discriminator, "discriminator_a": self.discriminator_a}

    def optimizers(self):
        if self._opt is None:
            c = self.cfg

            def adam(params):
                return torch.optim.Adam(list(params), lr=c.lr, betas=tuple(c.betas), weight_decay=c.weight_decay,
                                        foreach=True)

            self._opt = {"g": adam(itertools.chain(self.generator.parameters(), self.generator_ba.parameters())),
                         "d": adam(itertools.chain(self.discriminator.parameters(),
                                                   self.discriminator_a.parameters()))}
        return self._opt

    def translators(self) -> Dict[str, nn.Module]:
        return {"AtoB": self.generator, "BtoA": self.generator_ba}

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["discogan"] = {"iters": self.iters}
        return state

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.iters = int(state["discogan"]["iters"])

    # -- losses ---------------------------------------------------------------------------------------------------------
    def _side(self, d: nn.Module, real: torch.Tensor, fake: torch.Tensor):
        """(dis loss, gen loss, fm loss) of one discriminator on its domain's real and translated samples."""
        real_logits, real_feats = d.forward_with_features(real)
        fake_logits, fake_feats = d.forward_with_features(fake)
        dis = 0.5 * bce(real_logits, True) + 0.5 * bce(fake_logits, False)
        return dis, bce(fake_logits, True), fm_loss(real_feats, fake_feats)

    def losses(self, a: torch.Tensor, b: torch.Tensor, rate: float) -> Dict[str, torch.Tensor]:
        """Every loss of one official iteration: `gen` and `dis` as `model_arch` combines them, and the parts."""
        c = self.cfg
        ab, ba = self.generator(a), self.generator_ba(b)
        out = {"recon_a": F.mse_loss(self.generator_ba(ab), a)}
        dis_b, gan_b, fm_b = self._side(self.discriminator, b, ab)
        total_ab = (c.gan_weight * gan_b + c.fm_weight * fm_b) * (1 - rate) + out["recon_a"] * rate
        out.update(gan_b=gan_b, fm_b=fm_b, dis_b=dis_b)
        if c.model_arch == "discogan":
            out["recon_b"] = F.mse_loss(self.generator(ba), b)
            dis_a, gan_a, fm_a = self._side(self.discriminator_a, a, ba)
            total_ba = (c.gan_weight * gan_a + c.fm_weight * fm_a) * (1 - rate) + out["recon_b"] * rate
            out.update(gan_a=gan_a, fm_a=fm_a, dis_a=dis_a, gen=total_ab + total_ba, dis=dis_b + dis_a)
        elif c.model_arch == "recongan":
            out.update(gen=total_ab, dis=dis_b)
        else:
            out.update(gen=c.gan_weight * gan_b + c.fm_weight * fm_b, dis=dis_b)
        return out

    # -- one iteration ----------------------------------------------------------------------------------------------------
    def step(self, data, progress: float):
        batch = data.next()
        a, b = batch.x, batch.target
        rate = self.rate(self.iters)
        d_turn = self.iters % self.cfg.update_interval == 0
        ds, gs = (self.discriminator, self.discriminator_a), (self.generator, self.generator_ba)
        for net in ds + gs:  # the player not updated needs no parameter gradients
            net.requires_grad_(d_turn == (net in ds))
        out = self.losses(a, b, rate)
        if d_turn:
            self.update(out["dis"], "d")
            self.d_steps += 1
            self._last["loss_d"] = out["dis"].detach()
        else:
            self.update(out["gen"], "g")
            self.g_steps += 1
            self._last["loss_g"] = out["gen"].detach()
        for net in ds + gs:
            net.requires_grad_(True)
        self.iters += 1
        zero = a.new_zeros(())
        logs = {"loss_g": self._last.get("loss_g", zero), "loss_d": self._last.get("loss_d", zero)}
        logs.update({k: out[k].detach() for k in ("recon_a", "gan_b", "fm_b")})
        logs["recon_b"] = out["recon_b"].detach() if "recon_b" in out else zero
        logs["rate"] = torch.tensor(rate)
        return logs

    # -- pictures -------------------------------------------------------------------------------------------------------
    def preview_inputs(self, dataset, n: int, seed: int):
        if len(dataset.info.shape) == 3:
            return super().preview_inputs(dataset, n, seed)
        self.paired = False
        return dataset.get(torch.arange(min(n, len(dataset)))).x  # points: the Trainer draws a scatter

    @torch.no_grad()
    def preview(self, generator: nn.Module, inputs):
        if isinstance(inputs, torch.Tensor):  # toy points: the translations G_AB(a), drawn over the B points
            return generator(inputs.to(next(generator.parameters()).device)), None
        return super().preview(generator, inputs)


METHODS.register("discogan", DiscoGANConfig)(DiscoGAN)
