"""InfoGAN (Chen, Duan, Houthooft, Schulman, Sutskever, Abbeel, "InfoGAN: Interpretable Representation Learning by
Information Maximizing Generative Adversarial Nets", NeurIPS 2016), with the settings of the official code
(`openai/InfoGAN`, `infogan_trainer.py` and `launchers/run_mnist_exp.py`).

Objective (§5, Eq. 6): `min_{G,Q} max_D V(D, G) − λ·L_I(G, Q)`, where the variational lower bound on the mutual
information between the codes c and the samples G(z, c) is (§5, Eq. 5, Lemma 5.1)

    L_I(G, Q) = E_{c∼P(c), x∼G(z,c)}[log Q(c|x)] + H(c)  ≤  I(c; G(z, c)).

It is estimated per code type on the fakes of each update, like the official `mi_est = H(c) − CE`:

* categorical c1 (uniform over K): `H(c) = log K`, `CE = cross_entropy(Q's logits, c)`;
* continuous c2, c3, ... (U(−1, 1) each): `H(c) = M·log 2`, and Q(c|x) is a factored Gaussian with learned means
  and a **fixed standard deviation 1** (official MNIST launcher, `fix_std=True`). With σ fixed at 1 the bound is
  loose: perfect recovery gives `M·(log 2 − ½·log 2π) ≈ −0.226·M`, not ∞. (The official code uses the N(0, 1) log
  density of c as its "entropy" term; that only shifts the logged number by a constant.)

Both players maximise L_I as in the official code: `d_loss = bce − λ·L_I` and `g_loss = non-saturating − λ·L_I`.
**Q is trained with D**: Q's head lives in the discriminator module on top of D's body (the official code builds it
in D's variable scope `d_net`, so its variables are in D's optimiser, lr 2e-4); the paper's `min_{G,Q}` would also
allow training Q with G, but sharing D's optimiser keeps Q's gradients and D's body in one update, as the released
code does. G gets the information term's gradient through D's body and Q.

Weights: λ = 1 for the categorical code (paper §6 and the official code); `lambda_cont` = 1 as in the official MNIST
launcher (`info_reg_coeff=1.0` for every code). The paper (§6) says a smaller λ is typically used for continuous
codes to keep L_I on the GAN objective's scale; with σ fixed at 1 the continuous term is ½·(c − μ)², already of
that scale, so the official value is kept and can be lowered with `method.lambda_cont`.

Each iteration: one D(+Q) update on a fresh real batch and fresh codes, then one G update on fresh codes (the
official trainer runs the two optimisers in separate `sess.run`s, each drawing new codes). Codes come from the
Method's seeded, rank-aware stream (`sample_uniform`, `sample_labels`), so a run is deterministic from its seed and
resumes bitwise. Logged: `d_loss` and `g_loss` (the GAN parts, as the official trainer logs them), `mi_cat` and
`mi_cont` (the L_I estimates of the G update; `mi_cat` tends to log K when c1 is recovered from the images).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Tuple

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from ..losses import d_loss_bce, g_loss_nonsaturating
from ..registry import METHODS
from .base import Method
from .standard import adam


@dataclass
class InfoGANConfig:
    name: str = "infogan"
    lr_g: float = 1e-3  # official MNIST launcher
    lr_d: float = 2e-4  # D and its Q head
    betas: Tuple[float, float] = (0.5, 0.999)
    lambda_cat: float = 1.0  # λ of the categorical code's L_I
    lambda_cont: float = 1.0  # λ of the continuous codes' L_I (official code: 1; the paper suggests smaller)

    def validate(self):
        if len(self.betas) != 2:
            raise ConfigError(f"method.betas needs two values, got {self.betas}")
        if self.lambda_cat < 0 or self.lambda_cont < 0:
            raise ConfigError(f"method.lambda_cat and lambda_cont must be ≥ 0, got {self.lambda_cat}, "
                              f"{self.lambda_cont}")


def categorical_mi_lower_bound(logits: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """L_I of a uniform categorical code (Chen et al. 2016, Eq. 5): H(c) + E[log Q(c|x)] = log K − CE(logits, c).

    Equals log K (its maximum) when Q puts all mass on the true code and 0 when Q is uniform."""
    k = logits.shape[1]
    return math.log(k) - F.cross_entropy(logits.float(), codes.long())


def gaussian_mi_lower_bound(means: torch.Tensor, codes: torch.Tensor, low: float = -1.0,
                            high: float = 1.0) -> torch.Tensor:
    """L_I of M continuous codes c ∼ U(low, high)^M under a factored Gaussian Q(c|x) = N(means, 1)
    (Chen et al. 2016, Eq. 5; fixed σ = 1 as in the official MNIST code):
    M·log(high − low) + E[Σ_m log N(c_m; μ_m, 1)]. Perfect recovery gives M·(log(high − low) − ½·log 2π)."""
    m = codes.shape[1]
    log_q = -0.5 * math.log(2 * math.pi) - 0.5 * (codes.float() - means.float()) ** 2
    return m * math.log(high - low) + log_q.sum(1).mean()


class InfoGAN(Method):
    """InfoGAN's training recipe (Chen et al. 2016, §5, Eq. 6; official `InfoGANTrainer`): see the module
    docstring. The code layout (noise, K, M) is read from the generator; the discriminator's Q head must match."""

    def __init__(self, cfg: InfoGANConfig, generator, discriminator):
        super().__init__(cfg, generator, discriminator)
        for attr in ("noise_dim", "categorical", "continuous"):
            if not hasattr(generator, attr):
                raise ConfigError(f"method infogan needs a generator with structured codes (generator.name: "
                                  f"infogan), got {type(generator).__name__}")
        if not hasattr(discriminator, "q"):
            raise ConfigError(f"method infogan needs a discriminator with a Q head (discriminator.name: infogan), "
                              f"got {type(discriminator).__name__}")
        if (discriminator.categorical, discriminator.continuous) != (generator.categorical, generator.continuous):
            raise ConfigError(
                f"the Q head predicts {discriminator.categorical} categories and {discriminator.continuous} "
                f"continuous codes but the generator draws {generator.categorical} and {generator.continuous}: set "
                f"discriminator.categorical/continuous equal to generator.categorical/continuous")
        self._opt = None

    def optimizers(self):
        if self._opt is None:  # built lazily so that they live on the networks' device
            c = self.cfg
            self._opt = {"g": adam(self.generator.parameters(), c.lr_g, c.betas),
                         "d": adam(self.discriminator.parameters(), c.lr_d, c.betas)}
        return self._opt

    # -- codes -------------------------------------------------------------------------------------------------------
    def sample_codes(self, n: int) -> Tuple[torch.Tensor, Optional[torch.Tensor], torch.Tensor]:
        """(z, categorical index (N,) or None, continuous codes N×M) from the seeded, rank-aware stream."""
        G = self.generator
        noise = self.sample_uniform(n, G.noise_dim)
        cat = self.sample_labels(n, G.categorical) if G.categorical else None
        cont = self.sample_uniform(n, G.continuous)
        return G.make_input(noise, cat, cont), cat, cont

    def sample_z(self, n: int, generator=None) -> torch.Tensor:
        """Structured inputs from the seeded stream (the base class would draw N(0, I))."""
        if generator is not None and generator is not self.generator:
            return super().sample_z(n, generator)
        return self.sample_codes(n)[0]

    def information(self, features: torch.Tensor, cat, cont) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(λ-weighted L_I, categorical L_I, continuous L_I) of Q on D's features of fakes drawn with (cat, cont)."""
        logits, means = self.discriminator.q(features)
        zero = features.new_zeros((), dtype=torch.float32)
        mi_cat = categorical_mi_lower_bound(logits, cat) if cat is not None else zero
        mi_cont = gaussian_mi_lower_bound(means, cont) if cont.shape[1] else zero
        return self.cfg.lambda_cat * mi_cat + self.cfg.lambda_cont * mi_cont, mi_cat, mi_cont

    # -- the two players' updates ------------------------------------------------------------------------------------
    def d_step(self, real: torch.Tensor) -> torch.Tensor:
        """D and Q: bce − λ·L_I (official `discriminator_loss -= info_reg_coeff * mi_est`)."""
        G, D = self.generator, self.discriminator
        z, cat, cont = self.sample_codes(real.shape[0])
        with torch.no_grad():
            fake = G(z)
        fake_logits, features = D.forward_with_features(fake)
        gan = d_loss_bce(D(real), fake_logits)
        info, _, _ = self.information(features, cat, cont)
        self.update(gan - info, "d")
        self.d_steps += 1
        return gan.detach()

    def g_step(self, n: int):
        """G: non-saturating −log D(G(z, c)) − λ·L_I."""
        z, cat, cont = self.sample_codes(n)
        fake_logits, features = self.discriminator.forward_with_features(self.generator(z))
        gan = g_loss_nonsaturating(fake_logits)
        info, mi_cat, mi_cont = self.information(features, cat, cont)
        self.update(gan - info, "g")
        self.g_steps += 1
        return gan.detach(), mi_cat.detach(), mi_cont.detach()

    def step(self, data, progress: float):
        batch = data.next()
        d_loss = self.d_step(batch.x)
        g_loss, mi_cat, mi_cont = self.g_step(batch.x.shape[0])
        return {"d_loss": d_loss, "g_loss": g_loss, "mi_cat": mi_cat, "mi_cont": mi_cont}


METHODS.register("infogan", InfoGANConfig)(InfoGAN)
