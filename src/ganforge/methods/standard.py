"""The standard GAN game (Goodfellow et al. 2014, Algorithm 1), with DCGAN's optimiser settings as defaults
(Radford et al. 2016, §4: Adam, lr 2e-4, β1 = 0.5).

Per iteration: `d_steps` discriminator updates, each on a fresh real batch and fresh fakes, then `g_repeats`
generator updates (1, or 3 as the official minibatch-discrimination script of Salimans et al. 2016). The
objective is a choice of costs on D's outputs (losses.py): the minimax / non-saturating GAN game,
least squares (LSGAN, Mao et al. 2017), hinge (Lim & Ye 2017) or Wasserstein (Arjovsky et al. 2017) — plus
switchable regularisers and tricks, each from its paper:

* `gp_weight`: WGAN-GP gradient penalty λ (Gulrajani et al. 2017); `r1_gamma`: R1 (Mescheder et al. 2018), on
  every `r1_every`-th D step with weight ×`r1_every` (lazy regularisation, Karras et al. 2020, App. B);
  `drift`: ε·E[D(x)²] (Karras et al. 2018, App. A.1);
* `label_smoothing`: one-sided label smoothing, real target α < 1 (Salimans et al. 2016, §3.4);
* `feature_matching`: G matches the batch mean of D's last hidden features (Salimans et al. 2016, §3.1);
* `historical_averaging`: both players pay w·‖θ − mean of past θ‖² (Salimans et al. 2016, §3.3).

Class-conditional networks (`num_classes` > 0, e.g. cGAN, projection D) get the real labels and, for fakes,
uniform labels from the seeded stream.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import torch

from ..errors import ConfigError
from ..losses import (D_LOSSES, G_LOSSES, d_loss_bce_smoothed, d_loss_least_squares, g_loss_least_squares,
                      gradient_penalty, r1_penalty)
from ..registry import METHODS
from .base import Method


@dataclass
class StandardConfig:
    name: str = "standard"
    g_loss: str = "nonsaturating"  # nonsaturating | minimax | least_squares | hinge | wasserstein
    d_loss: str = "bce"  # bce | least_squares | hinge | wasserstein
    ls_targets: Tuple[float, float, float] = (0.0, 1.0, 1.0)  # LSGAN a (fake), b (real), c (G's target)
    d_steps: int = 1  # discriminator updates per generator update (k in Algorithm 1, n_critic in WGAN)
    g_repeats: int = 1  # generator updates per iteration, each on fresh z (official minibatch-discrimination script: 3)
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: Tuple[float, float] = (0.5, 0.999)
    optimizer: str = "adam"  # adam | rmsprop
    gp_weight: float = 0.0
    r1_gamma: float = 0.0
    r1_every: int = 1  # lazy R1 (Karras et al. 2020, StyleGAN2 App. B): the penalty on every k-th D step, ×k
    drift: float = 0.0
    label_smoothing: float = 1.0  # target of real samples in the bce D loss; 1 = none, 0.9 = Salimans et al.
    feature_matching: bool = False
    historical_averaging: float = 0.0

    def validate(self):
        if self.g_loss not in G_LOSSES:
            raise ConfigError(f"method.g_loss must be one of {sorted(G_LOSSES)}, got {self.g_loss!r}")
        if self.d_loss not in D_LOSSES:
            raise ConfigError(f"method.d_loss must be one of {sorted(D_LOSSES)}, got {self.d_loss!r}")
        if self.d_steps < 1 or self.r1_every < 1 or self.g_repeats < 1:
            raise ConfigError(f"method.d_steps, method.g_repeats and method.r1_every must be ≥ 1, got "
                              f"{self.d_steps}, {self.g_repeats}, {self.r1_every}")
        if len(self.betas) != 2 or len(self.ls_targets) != 3:
            raise ConfigError(f"method.betas needs two values and method.ls_targets three, got {self.betas}, "
                              f"{self.ls_targets}")
        if self.optimizer not in ("adam", "rmsprop"):
            raise ConfigError(f"method.optimizer must be adam or rmsprop, got {self.optimizer!r}")
        if not 0.5 < self.label_smoothing <= 1.0:
            raise ConfigError(f"method.label_smoothing is the real target α in (0.5, 1], got {self.label_smoothing}")
        if self.label_smoothing < 1.0 and self.d_loss != "bce":
            raise ConfigError("method.label_smoothing applies to the bce discriminator loss only")
        for key in ("gp_weight", "r1_gamma", "drift", "historical_averaging"):
            if getattr(self, key) < 0:
                raise ConfigError(f"method.{key} must be ≥ 0, got {getattr(self, key)}")


def adam(params, lr: float, betas) -> torch.optim.Adam:
    """Adam with the fastest implementation available (foreach on CPU, fused on CUDA)."""
    params = list(params)
    fused = bool(params) and params[0].is_cuda
    return torch.optim.Adam(params, lr=lr, betas=tuple(betas), fused=fused or None, foreach=None if fused else True)


def make_optimizer(kind: str, params, lr: float, betas) -> torch.optim.Optimizer:
    """adam (see `adam`) or rmsprop (PyTorch defaults α 0.99, ε 1e-8: the official WGAN code)."""
    if kind == "rmsprop":
        return torch.optim.RMSprop(list(params), lr=lr, foreach=True)
    return adam(params, lr, betas)


class HistoricalAverage:
    """Running mean of a network's parameters over the updates so far, and the penalty ‖θ − θ̄‖²
    (Salimans et al. 2016, §3.3). The mean is part of the checkpoint."""

    def __init__(self, module: torch.nn.Module):
        self.module = module
        self.mean = [p.detach().clone() for p in module.parameters()]
        self.count = 1

    def penalty(self) -> torch.Tensor:
        return sum(((p - m) ** 2).sum() for p, m in zip(self.module.parameters(), self.mean))

    @torch.no_grad()
    def update(self) -> None:
        self.count += 1
        for p, m in zip(self.module.parameters(), self.mean):
            m.add_(p.detach() - m, alpha=1.0 / self.count)

    def state_dict(self) -> dict:
        return {"mean": {str(i): m for i, m in enumerate(self.mean)}, "count": torch.tensor(self.count)}

    def load_state_dict(self, state: dict) -> None:
        for i, m in enumerate(self.mean):
            m.copy_(state["mean"][str(i)])
        self.count = int(state["count"])


class StandardGAN(Method):
    def __init__(self, cfg: StandardConfig, generator, discriminator):
        super().__init__(cfg, generator, discriminator)
        self.g_cost, self.d_cost = G_LOSSES[cfg.g_loss], D_LOSSES[cfg.d_loss]
        if cfg.d_loss == "least_squares":
            a, b, _ = cfg.ls_targets
            self.d_cost = lambda real, fake: d_loss_least_squares(real, fake, a, b)
        if cfg.g_loss == "least_squares":
            self.g_cost = lambda fake: g_loss_least_squares(fake, cfg.ls_targets[2])
        if cfg.label_smoothing < 1.0:
            self.d_cost = lambda real, fake: d_loss_bce_smoothed(real, fake, cfg.label_smoothing)
        self._opt = None
        self._history: Optional[Dict[str, HistoricalAverage]] = None

    # -- optimisers and owned state -------------------------------------------------------------------------------
    def _build_optimizers(self):
        c = self.cfg
        self._opt = {"g": make_optimizer(c.optimizer, self.generator.parameters(), c.lr_g, c.betas),
                     "d": make_optimizer(c.optimizer, self.discriminator.parameters(), c.lr_d, c.betas)}

    def optimizers(self):
        if self._opt is None:  # built lazily so that they live on the networks' device
            self._build_optimizers()
        return self._opt

    def history(self) -> Dict[str, HistoricalAverage]:
        if self._history is None:
            self._history = {"g": HistoricalAverage(self.generator), "d": HistoricalAverage(self.discriminator)} \
                if self.cfg.historical_averaging > 0 else {}
        return self._history

    def state_dict(self) -> dict:
        state = super().state_dict()
        if self.history():
            state["historical"] = {k: h.state_dict() for k, h in self.history().items()}
        return state

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        for k, h in self.history().items():
            h.load_state_dict(state["historical"][k])

    # -- labels ------------------------------------------------------------------------------------------------------
    def fake_labels(self, n: int) -> Optional[torch.Tensor]:
        k = self.generator.num_classes
        return self.sample_labels(n, k) if k else None

    def d_labels(self, y):
        """What D is told about the labels: y for a class-conditional D, nothing otherwise."""
        return y if getattr(self.discriminator, "num_classes", 0) else None

    # -- the two players' updates ------------------------------------------------------------------------------------
    def regularize_d(self, loss, real, fake, real_y, fake_y, real_scores):
        c, D = self.cfg, self.discriminator
        if c.gp_weight:
            if real_y is not None and not torch.equal(real_y, fake_y):
                raise ConfigError("method.gp_weight with a class-conditional D needs matching labels per pair")
            loss = loss + c.gp_weight * gradient_penalty(D, real, fake, real_y)
        if c.r1_gamma and self.d_steps % c.r1_every == 0:
            loss = loss + 0.5 * c.r1_gamma * c.r1_every * r1_penalty(D, real, real_y)
        if c.drift:
            loss = loss + c.drift * (real_scores.float() ** 2).mean()
        if c.historical_averaging:
            loss = loss + c.historical_averaging * self.history()["d"].penalty()
        return loss

    def d_objective(self, real, y, fake, fake_y):
        """D's game loss on a real and a fake batch, and its real scores (for the drift term)."""
        D = self.discriminator
        real_scores = D(real, self.d_labels(y))
        return self.d_cost(real_scores, D(fake, self.d_labels(fake_y))), real_scores

    def d_step(self, real: torch.Tensor, y=None) -> torch.Tensor:
        n = real.shape[0]
        fake_y = self.fake_labels(n)
        if self.cfg.gp_weight and self.d_labels(y) is not None and fake_y is not None:
            fake_y = y  # interpolating pairs x̂ = x + u(G(z, y) − x) must share the label D reads
        with torch.no_grad():
            fake = self.generator(self.sample_z(n), fake_y)
        loss, real_scores = self.d_objective(real, y, fake, fake_y)
        loss = self.regularize_d(loss, real, fake, self.d_labels(y), self.d_labels(fake_y), real_scores)
        self.update(loss, "d")
        if self.history():
            self.history()["d"].update()
        self.d_steps += 1
        return loss.detach()

    def feature_gap(self, fake_features, real, y=None) -> torch.Tensor:
        """Feature matching (Salimans et al. 2016, §3.1): ‖E f(x) − E f(G(z))‖² over D's last hidden features f;
        the real side is a constant target."""
        with torch.no_grad():
            _, real_features = self.discriminator.forward_with_features(real, self.d_labels(y))
        return ((real_features.flatten(1).mean(0) - fake_features.flatten(1).mean(0)) ** 2).sum()

    def g_objective(self, fake, fake_y, real, y):
        """G's loss on a batch of its samples: the chosen cost of D's scores, or the feature gap."""
        D = self.discriminator
        if self.cfg.feature_matching:
            return self.feature_gap(D.forward_with_features(fake, self.d_labels(fake_y))[1], real, y)
        return self.g_cost(D(fake, self.d_labels(fake_y)))

    def g_step(self, n: int, real=None, y=None) -> torch.Tensor:
        fake_y = self.fake_labels(n)
        loss = self.g_objective(self.generator(self.sample_z(n), fake_y), fake_y, real, y)
        if self.cfg.historical_averaging:
            loss = loss + self.cfg.historical_averaging * self.history()["g"].penalty()
        self.update(loss, "g")
        if self.history():
            self.history()["g"].update()
        self.g_steps += 1
        return loss.detach()

    def critic_steps(self) -> int:
        """Discriminator updates before the next generator update."""
        return self.cfg.d_steps

    def step(self, data, progress: float):
        for _ in range(self.critic_steps()):
            batch = data.next()
            d_loss = self.d_step(batch.x, batch.y)
        for _ in range(self.cfg.g_repeats):
            g_loss = self.g_step(batch.x.shape[0], batch.x, batch.y)
        return {"d_loss": d_loss, "g_loss": g_loss}


METHODS.register("standard", StandardConfig)(StandardGAN)
