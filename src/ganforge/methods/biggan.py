"""BigGAN's training recipe (Brock, Donahue, Simonyan, "Large Scale GAN Training for High Fidelity Natural Image
Synthesis", ICLR 2019, §3, §3.1, §4; BigGAN-PyTorch `train_fns.GAN_training_function`, reference/papers-details.md
§3.1 and §3.4): the standard hinge game of SA-GAN/SN-GAN with the paper's settings, plus orthogonal
regularisation of G.

* Hinge loss; 2 D steps per G step, each on a fresh real batch and fresh (z, y) (uniform class labels);
* Adam with β = (0, 0.999) and the paper's learning rates G 5e-5, D 2e-4 (the parser defaults of the official
  code; its launch script uses 1e-4 / 4e-4 with 1 D step, set them in a preset to follow it);
* orthogonal regularisation (§3.1, nn/orthogonal.py) on every G weight with ≥ 2 dimensions except the shared
  embedding, with `ortho` = the official `G_ortho` strength (= the paper's β = 1e-4): the loss added to G's is
  (ortho / 2)·Σ‖W Wᵀ ⊙ (1 − I)‖²_F, whose gradient equals the gradient term `utils.ortho` adds;
* G EMA with a start step and BN standing statistics are the Trainer's (`train.ema`, `train.ema_start`; the paper's
  0.9999 from iteration 20000).
Everything else — labels, the D step, the step loop, checkpointed state — is the standard recipe (standard.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

from ..errors import ConfigError
from ..nn.orthogonal import orthogonal_penalty, orthogonal_targets
from ..registry import METHODS
from .standard import StandardConfig, StandardGAN


@dataclass
class BigGANConfig(StandardConfig):
    name: str = "biggan"
    g_loss: str = "hinge"
    d_loss: str = "hinge"
    d_steps: int = 2
    lr_g: float = 5e-5
    lr_d: float = 2e-4
    betas: Tuple[float, float] = (0.0, 0.999)
    ortho: float = 1e-4  # G's orthogonal regularisation strength (official G_ortho; the paper's β); 0 = off

    def validate(self):
        super().validate()
        if self.ortho < 0:
            raise ConfigError(f"method.ortho must be ≥ 0, got {self.ortho}")


class BigGAN(StandardGAN):
    """The standard recipe with BigGAN's defaults and G's orthogonal regularisation."""

    def ortho_parameters(self):
        """G's regularised weights (recomputed each call: the Trainer may swap in a SyncBatchNorm copy of G)."""
        g = self.generator
        return orthogonal_targets(g, g.ortho_skip() if hasattr(g, "ortho_skip") else ())

    def g_step(self, n: int, real=None, y=None):
        """The standard G step with D frozen (as the official training function does): G's loss back-propagates
        through D to the images without computing D's weight gradients, which D's next step would discard."""
        self.discriminator.requires_grad_(False)
        try:
            return super().g_step(n, real, y)
        finally:
            self.discriminator.requires_grad_(True)

    def g_objective(self, fake, fake_y, real, y):
        loss = super().g_objective(fake, fake_y, real, y)
        if self.cfg.ortho:
            loss = loss + 0.5 * self.cfg.ortho * orthogonal_penalty(self.ortho_parameters())
        return loss


METHODS.register("biggan", BigGANConfig)(BigGAN)
