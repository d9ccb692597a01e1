"""AC-GAN (Odena, Olah, Shlens, "Conditional Image Synthesis with Auxiliary Classifier GANs", ICML 2017, §3).

G(z, c) draws a sample of class c; D has two heads on one body: the source (real/fake) logit and the class
logits. With L_S the log-likelihood of the right source and L_C that of the right class, on real and fake
samples alike, D maximises L_S + L_C and G maximises L_C − L_S (Eqs. 2-3). Here: D minimises the chosen source
loss + w_d·CE(class) on real and fake; G minimises its source cost + w_g·CE(class) on fakes (w_d = w_g = 1 in the
paper; WGAN-GP's ResNet AC-GAN uses w_g = 0.1). The discriminator needs `aux_classifier: true`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from ..registry import METHODS
from .standard import StandardConfig, StandardGAN


@dataclass
class ACGANConfig(StandardConfig):
    name: str = "acgan"
    aux_weight_d: float = 1.0
    aux_weight_g: float = 1.0


class ACGAN(StandardGAN):
    def __init__(self, cfg: ACGANConfig, generator, discriminator):
        super().__init__(cfg, generator, discriminator)
        if not generator.num_classes or getattr(discriminator, "aux", None) is None:
            raise ConfigError("acgan needs a class-conditional generator (generator.conditional: true) and a "
                              "discriminator with a class head (discriminator.aux_classifier: true)")

    def d_step(self, real: torch.Tensor, y=None) -> torch.Tensor:
        G, D = self.generator, self.discriminator
        n = real.shape[0]
        fake_y = self.fake_labels(n)
        with torch.no_grad():
            fake = G(self.sample_z(n), fake_y)
        real_s, real_h = D.forward_with_features(real)
        fake_s, fake_h = D.forward_with_features(fake)
        aux = F.cross_entropy(D.classify(real_h), y) + F.cross_entropy(D.classify(fake_h), fake_y)
        loss = self.d_cost(real_s, fake_s) + self.cfg.aux_weight_d * aux
        self.update(loss, "d")
        self.d_steps += 1
        return loss.detach()

    def g_step(self, n: int, real=None, y=None) -> torch.Tensor:
        G, D = self.generator, self.discriminator
        fake_y = self.fake_labels(n)
        s, h = D.forward_with_features(G(self.sample_z(n), fake_y))
        loss = self.g_cost(s) + self.cfg.aux_weight_g * F.cross_entropy(D.classify(h), fake_y)
        self.update(loss, "g")
        self.g_steps += 1
        return loss.detach()


METHODS.register("acgan", ACGANConfig)(ACGAN)
