"""GANSynth's training recipe (Engel et al. 2019, "GANSynth: Adversarial Neural Audio Synthesis", ICLR 2019, §3 and
App. B; official magenta `gansynth/lib/model.py` and `configs/mel_prog_hires.py`).

ProGAN's progressive schedule (methods/progressive.py: fade-in of each new resolution, reals faded too, Adam reset
per stage) with the AC-GAN objectives (methods/acgan.py): WGAN-GP (λ = 10) + drift 0.001 on the source score, and
softmax cross-entropy of D's pitch head — on reals for D, on fakes (target: the pitch G was asked for) for G —
weighted 10 (`generator_ac_loss_weight` = `discriminator_ac_loss_weight` = 10 in the best config). Adam lr 8e-4,
β = (0, 0.99); G's EMA 0.999 is the Trainer's (train.ema).

Fake pitches are drawn from the training set's pitch histogram (`get_pitch_counts` in the official code), which
the dataset records in `DataInfo.audio["pitch_counts"]`; uniform when it does not.

Departure, stated: the official D loss applies the class cross-entropy to reals only; AC-GAN (and methods/acgan.py)
applies it to reals and fakes. `aux_on_fakes: false` (the default here) follows the official code.

Option, not in the paper (issue 21): `aux_fake_class: true` gives the pitch head a (K+1)-th class "generated", as
the semi-supervised GAN's classifier (Salimans et al. 2016, §5: K logits, the extra one fixed at 0). D then also
learns to name fakes "generated", −log p(generated | x) = softplus(logsumexp ℓ), and G's pitch loss becomes the
(K+1)-way cross-entropy of the asked pitch, −ℓ_y + log(1 + Σ exp ℓ): a head trained on fakes is harder to fool
with notes that do not sound the pitch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from ..models import build_discriminator, build_generator
from ..registry import METHODS
from .acgan import ACGAN
from .progressive import ProgressiveConfig, ProgressiveGAN


@dataclass
class GANSynthConfig(ProgressiveConfig):
    name: str = "gansynth"
    d_loss: str = "wasserstein"
    g_loss: str = "wasserstein"
    gp_weight: float = 10.0
    drift: float = 0.001
    lr_g: float = 8e-4
    lr_d: float = 8e-4
    betas: Tuple[float, float] = (0.0, 0.99)
    aux_weight_d: float = 10.0
    aux_weight_g: float = 10.0
    aux_on_fakes: bool = False
    aux_fake_class: bool = False  # a K+1-th "generated" class in the pitch head (Salimans et al. 2016); not the paper
    progressive: bool = True  # false: no growing (the fully grown networks from step 0; the WaveGAN baseline)

    def validate(self):
        super().validate()
        if self.aux_on_fakes and self.aux_fake_class:
            raise ConfigError("method.aux_on_fakes and method.aux_fake_class exclude each other: a fake is either "
                              "named by its asked pitch or by the generated class")


class GANSynth(ProgressiveGAN, ACGAN):
    def __init__(self, cfg: GANSynthConfig, generator, discriminator, pitch_counts=None):
        self.pitch_probs = None
        if pitch_counts:
            p = torch.tensor(pitch_counts, dtype=torch.float64)
            if len(p) != generator.num_classes or p.sum() <= 0:
                raise ConfigError("gansynth: the data's pitch histogram does not match the generator's pitches")
            self.pitch_probs = (p / p.sum()).float()
        if not cfg.progressive:
            ACGAN.__init__(self, cfg, generator, discriminator)
            self.images, self.phase = 0, None
            return
        super().__init__(cfg, generator, discriminator)

    @classmethod
    def from_config(cls, config, info):
        counts = dict(info.audio).get("pitch_counts") if getattr(info, "audio", ()) else None
        return cls(config.method, build_generator(config.generator, info),
                   build_discriminator(config.discriminator, info), counts)

    # -- progressive growing, switchable -------------------------------------------------------------------------
    def set_level(self, level: float) -> None:
        if self.cfg.progressive:
            super().set_level(level)

    def set_network(self, name, module):
        if self.cfg.progressive:
            return super().set_network(name, module)
        setattr(self, name, module)

    def real_batch(self, data):
        if self.cfg.progressive:
            return super().real_batch(data)
        b = data.next()
        return b.x, b.y

    def level(self) -> float:
        return super().level() if self.cfg.progressive else 0.0

    # -- pitches ---------------------------------------------------------------------------------------------------
    def fake_labels(self, n: int):
        if self.pitch_probs is None:
            return super().fake_labels(n)
        gen = self.noise.generator if self.noise is not None else None
        dev = gen.device if gen is not None else next(self.generator.parameters()).device
        y = torch.multinomial(self.pitch_probs.to(dev), n * self.world_size, replacement=True, generator=gen)
        return y[self.noise.rank::self.world_size] if self.noise is not None and self.world_size > 1 else y

    def d_objective(self, real, y, fake, fake_y):
        """WGAN source loss + w_d·CE(pitch head on reals) (+ on fakes with aux_on_fakes; + −log p(generated) on
        fakes with aux_fake_class)."""
        if self.cfg.aux_on_fakes:
            return ACGAN.d_objective(self, real, y, fake, fake_y)
        D = self.discriminator
        real_s, real_h = D.forward_with_features(real)
        fake_s, fake_h = D.forward_with_features(fake)
        if self.cfg.aux_fake_class:
            aux = pitch_or_generated_ce(D.classify(real_h).float(), y) \
                + F.softplus(torch.logsumexp(D.classify(fake_h).float(), 1)).mean()
        else:
            aux = F.cross_entropy(D.classify(real_h), y)
        return self.d_cost(real_s, fake_s) + self.cfg.aux_weight_d * aux, real_s

    def g_objective(self, fake, fake_y, real, y):
        if not self.cfg.aux_fake_class:
            return super().g_objective(fake, fake_y, real, y)
        s, h = self.discriminator.forward_with_features(fake)
        return self.g_cost(s) + self.cfg.aux_weight_g * pitch_or_generated_ce(self.discriminator.classify(h).float(),
                                                                              fake_y)

    def preview(self, generator, inputs):
        """Sample grids show channel 0 (log magnitude) of spectrograms, frequency upwards, time to the right; for
        waveforms, their log-magnitude spectrogram."""
        x, nrow = super().preview(generator, inputs)
        if x.shape[2] == 1:  # waveforms
            from ..audio.spectral import STFTSettings, log_magnitude

            s = STFTSettings(n_frames=max(4, x.shape[-1] // 64))
            mag = log_magnitude(x.reshape(len(x), -1).float(), s)
            x = ((mag + 13.8) / 17.8 * 2 - 1).clamp(-1, 1)[:, None]
        return x[:, :1].transpose(2, 3).flip(2), nrow


def pitch_or_generated_ce(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(K+1)-way cross-entropy of class y when a K+1-th logit, "generated", is fixed at 0:
    −ℓ_y + log(1 + Σ_k exp ℓ_k), averaged over the batch."""
    zero = logits.new_zeros(len(logits), 1)
    return F.cross_entropy(torch.cat([logits, zero], 1), y)


METHODS.register("gansynth", GANSynthConfig)(GANSynth)
