"""AC-GAN (Odena, Olah, Shlens, "Conditional Image Synthesis with Auxiliary Classifier GANs", ICML 2017, §3).

G(z, c) draws a sample of class c; D has two heads on one body: the source (real/fake) logit and the class
logits. With L_S the log-likelihood of the right source and L_C that of the right class, on real and fake
samples alike, D maximises L_S + L_C and G maximises L_C − L_S (Eqs. 2-3). Here: D minimises the chosen source
loss + w_d·CE(class) on real and fake; G minimises its source cost + w_g·CE(class) on fakes (w_d = w_g = 1 in the
paper; WGAN-GP's ResNet AC-GAN uses w_g = 0.1). The discriminator needs `aux_classifier: true`.

Only the two objectives are AC-GAN's own; the steps, and with them StandardGAN's switchable regularisers, are
StandardGAN's: gradient penalty, R1 and drift act on the source logit (WGAN-GP's `gan_cifar_resnet.py` penalises
`Discriminator(interpolates)[0]`; ProGAN's `D_wgangp_acgan` adds GP, drift and the class terms), historical
averaging on both players, label smoothing, and feature matching in place of G's source cost.
"""
from __future__ import annotations

from dataclasses import dataclass

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

    def d_objective(self, real, y, fake, fake_y):
        """Source loss + w_d·(CE on real + CE on fake) (Eq. 2); the regularisers are added by StandardGAN."""
        D = self.discriminator
        real_s, real_h = D.forward_with_features(real, self.d_labels(y))
        fake_s, fake_h = D.forward_with_features(fake, self.d_labels(fake_y))
        aux = F.cross_entropy(D.classify(real_h), y) + F.cross_entropy(D.classify(fake_h), fake_y)
        return self.d_cost(real_s, fake_s) + self.cfg.aux_weight_d * aux, real_s

    def g_objective(self, fake, fake_y, real, y):
        """Source cost (or, with feature_matching, the feature gap) + w_g·CE of the intended class (Eq. 3)."""
        D = self.discriminator
        s, h = D.forward_with_features(fake, self.d_labels(fake_y))
        source = self.feature_gap(h, real, y) if self.cfg.feature_matching else self.g_cost(s)
        return source + self.cfg.aux_weight_g * F.cross_entropy(D.classify(h), fake_y)


METHODS.register("acgan", ACGANConfig)(ACGAN)
