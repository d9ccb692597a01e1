"""MaskGAN and MaskMLE (Fedus, Goodfellow & Dai, "MaskGAN: Better Text Generation via Filling in the ______",
ICLR 2018; official tensorflow/models `research/maskgan`, `train_mask_gan.py` and `model_utils/model_losses.py`).

Each iteration masks the real rows of a batch (`mask`: ``contiguous`` or ``random``, `rate` the share of missing
tokens; the paper keeps half, ``is_present_rate`` 0.5) and then, by stage (kept in the counters, so resume is
exact at any point, DESIGN.md §10):

1. **Maximum-likelihood pre-training** for the first `pretrain_steps` generator updates: cross-entropy of the
   missing tokens with teacher forcing (official ``gen_training_strategy=cross_entropy``, Adam lr 7.4876e-4).
   With `pretrain_discriminator` the discriminator is trained on the generator's fills meanwhile (the official
   ``dis_pretrain``, at its own rate ``dis_pretrain_learning_rate`` 5e-3). **MaskMLE** (method ``maskmle``) is this stage alone, for the whole run.
2. **Adversarial** (MaskGAN): `d_iters` discriminator updates — 0.5·(BCE(D(x), 1) + BCE(D(x̂), present)) weighted
   by the missing positions, so only filled-in words count — then one generator update by REINFORCE: rewards
   log D(x̂_t) at the filled tokens, discounted returns (γ = `gamma`), advantage = return − critic value clipped
   at ±`advantage_clip`, generator gradients clipped at norm `grad_clip`; the critic regresses the returns (MSE
   on missing tokens). `baseline: none` drops the critic (plain REINFORCE, for the variance comparison).

Hyperparameters: the paper's PTB GAN-mode values are γ 0.89072, D lr 5e-4, 2 D iterations, G lr 3.8877e-5 and
critic lr 5.1761e-7 for 100,000 steps at batch 128; at the few hundred steps a CPU allows those learning rates do
not move the networks, so the presets take the official IMDB example's G lr 1.66e-3 and critic lr 9.756e-4
scaled down (see the presets), with γ, clipping and D settings as the paper.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from ..models.maskgan import Critic
from ..nn.masking import make_mask, random_mask
from ..nn.reinforce import advantages, discounted_returns, reinforce_loss, token_rewards
from ..registry import METHODS
from .base import Method
from .standard import adam



@dataclass
class MaskGANConfig:
    name: str = "maskgan"
    mask: str = "contiguous"  # contiguous (the paper's GAN runs) | random (official default)
    rate: float = 0.5  # share of missing tokens (1 − is_present_rate)
    pretrain_steps: int = 500  # MLE generator updates before the adversarial stage
    pretrain_discriminator: bool = True  # train D on the generator's fills during pre-training
    pretrain_lr: float = 7.4876e-4  # G's MLE learning rate (official pre-training command)
    g_lr: float = 1.66e-4  # G's REINFORCE learning rate (paper PTB 3.8877e-5 at 100k steps; IMDB 1.66e-3)
    d_lr: float = 5e-4  # dis_learning_rate
    d_pretrain_lr: float = 5e-3  # dis_pretrain_learning_rate: D's rate during the pre-training stage
    critic_lr: float = 9.756e-4  # critic_learning_rate (IMDB example; PTB 5.1761e-7)
    d_iters: int = 2  # dis_train_iterations per generator update
    gamma: float = 0.89072  # rl_discount_rate
    baseline: str = "critic"  # critic | none
    advantage_clip: float = 5.0
    grad_clip: float = 10.0
    betas: Tuple[float, float] = (0.9, 0.999)
    adversarial: bool = True  # False: MaskMLE (maximum likelihood for the whole run)

    def validate(self):
        if self.mask not in ("contiguous", "random"):
            raise ConfigError(f"method.mask must be contiguous or random, got {self.mask!r}")
        if not 0.0 < self.rate <= 1.0:
            raise ConfigError(f"method.rate must be in (0, 1], got {self.rate}")
        if self.baseline not in ("critic", "none"):
            raise ConfigError(f"method.baseline must be critic or none, got {self.baseline!r}")
        if not 0.0 <= self.gamma <= 1.0 or self.d_iters < 1 or self.pretrain_steps < 0:
            raise ConfigError(f"method.gamma must be in [0, 1], d_iters ≥ 1 and pretrain_steps ≥ 0, got "
                              f"{self.gamma}, {self.d_iters}, {self.pretrain_steps}")


@dataclass
class MaskMLEConfig(MaskGANConfig):
    name: str = "maskmle"
    pretrain_discriminator: bool = False
    adversarial: bool = False


def mle_loss(logits: torch.Tensor, tokens: torch.Tensor, missing: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy (nats per token) of the missing tokens."""
    nll = F.cross_entropy(logits.transpose(1, 2), tokens, reduction="none")
    return (nll * missing).sum() / missing.sum().clamp(min=1)


def discriminator_loss(d_real: torch.Tensor, d_fake: torch.Tensor, missing: torch.Tensor) -> torch.Tensor:
    """0.5·(BCE(real, 1) + BCE(fake, present)) averaged over the missing positions (official `dis_loss`)."""
    w = missing.float()
    real = F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real), weight=w, reduction="sum")
    fake = F.binary_cross_entropy_with_logits(d_fake, 1.0 - w, weight=w, reduction="sum")
    return 0.5 * (real + fake) / w.sum().clamp(min=1)


class MaskGAN(Method):
    def __init__(self, cfg: MaskGANConfig, generator, discriminator):
        super().__init__(cfg, generator, discriminator)
        self.critic = Critic(discriminator.net.hidden)  # it reads the discriminator's states
        self._opt: Optional[Dict[str, torch.optim.Optimizer]] = None

    def networks(self):
        return {"generator": self.generator, "discriminator": self.discriminator, "critic": self.critic}

    def optimizers(self):
        if self._opt is None:
            c = self.cfg
            self._opt = {"g_mle": adam(self.generator.parameters(), c.pretrain_lr, c.betas),
                         "g": adam(self.generator.parameters(), c.g_lr, c.betas),
                         "d": adam(self.discriminator.parameters(), c.d_lr, c.betas),
                         "d_pre": adam(self.discriminator.parameters(), c.d_pretrain_lr, c.betas),
                         "critic": adam(self.critic.parameters(), c.critic_lr, c.betas)}
        return self._opt

    @property
    def pretraining(self) -> bool:
        return not self.cfg.adversarial or self.g_steps < self.cfg.pretrain_steps

    # -- pieces -----------------------------------------------------------------------------------------------------
    def _rng(self) -> Optional[torch.Generator]:
        return self.noise.generator if self.noise is not None else None

    def masked_batch(self, data):
        """A real batch and its missing positions, drawn from the seeded stream."""

        batch = data.next()
        tokens, lengths = batch.x, batch.attrs["length"]
        u = self.sample_uniform(len(tokens), tokens.shape[1], 0.0, 1.0)
        return tokens, make_mask(u, lengths, self.cfg.rate, self.cfg.mask)

    def _clipped_update(self, loss: torch.Tensor, name: str, module: torch.nn.Module) -> None:
        opt = self.optimizers()[name]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        params = [p for p in module.parameters() if p.grad is not None]
        if self.grad_sync is not None:
            self.grad_sync(params)
        if self.cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, self.cfg.grad_clip)
        opt.step()

    def _d_step(self, data) -> torch.Tensor:
        tokens, missing = self.masked_batch(data)
        with torch.no_grad():
            fake, _ = self.generator.fill(tokens, missing, generator=self._rng())
        loss = discriminator_loss(self.discriminator(tokens, missing), self.discriminator(fake, missing), missing)
        self._clipped_update(loss, "d_pre" if self.pretraining else "d", self.discriminator)
        self.d_steps += 1
        return loss.detach()

    def policy_terms(self, tokens, missing):
        """One generator sample and everything REINFORCE needs: (log π N×L, returns, critic values or None,
        mean reward per filled token, filled tokens)."""
        fake, logp = self.generator.fill(tokens, missing, generator=self._rng())
        with torch.no_grad():
            d_logits, states = self.discriminator.forward_with_features(fake, missing)
        rewards = token_rewards(d_logits, missing)
        returns = discounted_returns(rewards, missing, self.cfg.gamma)
        values = self.critic(states) if self.cfg.baseline == "critic" else None
        mean_reward = rewards.sum() / missing.sum().clamp(min=1)
        return logp, returns, values, mean_reward, fake

    # -- the step ---------------------------------------------------------------------------------------------------
    def step(self, data, progress: float) -> Dict[str, torch.Tensor]:
        if self.pretraining:
            tokens, missing = self.masked_batch(data)
            loss = mle_loss(self.generator(tokens, missing), tokens, missing)
            self._clipped_update(loss, "g_mle", self.generator)
            self.g_steps += 1
            logs = {"g_nll": loss.detach()}
            if self.cfg.adversarial and self.cfg.pretrain_discriminator:
                logs["d_loss"] = self._d_step(data)
            return logs
        d_loss = torch.stack([self._d_step(data) for _ in range(self.cfg.d_iters)]).mean()
        tokens, missing = self.masked_batch(data)
        logp, returns, values, mean_reward, _ = self.policy_terms(tokens, missing)
        m = missing.float()
        adv = advantages(returns, None if values is None else values.detach(), self.cfg.advantage_clip)
        g_loss = reinforce_loss(logp, adv, missing)
        self._clipped_update(g_loss, "g", self.generator)
        self.g_steps += 1
        logs = {"d_loss": d_loss, "g_loss": g_loss.detach(), "reward": mean_reward.detach()}
        if values is not None:
            critic_loss = (((returns - values) ** 2) * m).sum() / m.sum().clamp(min=1)
            self._clipped_update(critic_loss, "critic", self.critic)
            logs["critic_loss"] = critic_loss.detach()
        return logs

    # -- previews: in-filled real rows ------------------------------------------------------------------------------
    def preview_inputs(self, dataset, n: int, seed: int):
        """The first rows of the data with a fixed mask (at most 16 rows); also records the data's row-length
        distribution in the generator (unconditional samples draw their length from it)."""

        lengths = dataset.attrs["length"].cpu()
        hist = torch.bincount(lengths, minlength=self.generator.seq_len + 1).float()
        self.generator.length_probs.copy_(hist / hist.sum())
        k = min(n, 16, len(dataset))
        rows = dataset.get(torch.arange(k))
        missing = random_mask(rows.attrs["length"].cpu(), rows.x.shape[1], self.cfg.rate, self.cfg.mask,
                              torch.Generator().manual_seed(seed))
        return rows.x.cpu(), missing

    def preview(self, generator, inputs):
        tokens, missing = inputs
        device = next(generator.parameters()).device
        filled, _ = generator.fill(tokens.to(device), missing.to(device), generator=None, greedy=True)
        return (filled.cpu(), missing), None


@METHODS.register("maskgan", MaskGANConfig)
class MaskGANMethod(MaskGAN):
    pass


@METHODS.register("maskmle", MaskMLEConfig)
class MaskMLEMethod(MaskGAN):
    pass
