"""GANSynth's networks (Engel et al. 2019, "GANSynth: Adversarial Neural Audio Synthesis", ICLR 2019, §3 and App.
B; official magenta `gansynth/lib/networks.py`) and the WaveGAN waveform baseline they are compared with (Donahue,
McAuley, Puckette, "Adversarial Audio Synthesis", ICLR 2019, §3 and Table 3).

GANSynth = ProGAN's networks (models/progan.py: pixel norm, equalised learning rate, minibatch stddev, fade-in)
on a rectangular spectrogram "image" T × F: it grows from a 2 × 4 base (the paper: 2 × 16) by ×2 in both axes, so
one level = one octave of ProGAN's ladder; the one-hot pitch is concatenated to the (pixel-normalised) latent;
the output goes through tanh (`to_rgb_activation='tanh'`); D has, beside its score, a pitch-classification head
on its last hidden features (the AC-GAN auxiliary classifier the paper adds).

`onehot_scale` (departure, off at 1.0 = the paper): the value of the pitch one-hot. Beside a pixel-normalised z
of norm √z_dim, a one-hot of value 1 moves G's output about a third as much as a new z, and with the equalised
learning rate (weights ~N(0, 1) scaled by gain/√fan_in, Adam steps of ~lr on them) the input layer needs many
thousands of steps to amplify it: in CPU-sized runs D learnt to name the pitch of reals while G's pitch loss
stayed above log 25. The gansynth-notes preset uses √z_dim, so pitch and z carry equal input energy.

WaveGAN (small): z ⊕ one-hot pitch → dense → 16 samples × C channels → four ×4 transposed 1-D convolutions
(kernel 25, stride 4, ReLU, tanh output) → L = 4096 samples; D mirrors it with stride-4 kernel-25 convolutions,
LeakyReLU 0.2 and phase shuffle (n = 2), then a score and a pitch head. No batch norm (WGAN-GP).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..nn.equalized import EqualLinear
from ..nn.norms import pixel_norm
from ..registry import DISCRIMINATORS, GENERATORS
from .base import Discriminator, Generator, dataset_classes
from .progan import ProGANDiscriminator, ProGANGenerator, lrelu


@dataclass
class GANSynthGeneratorConfig:
    name: str = "gansynth"
    z_dim: int = 128  # the paper: 256
    channels: int = 64  # widest layer (the paper: fmap_max 256)
    channel_base: int = 512  # nf(width) = min(channel_base / width, channels) (the paper: fmap_base 4096)
    onehot_scale: float = 1.0  # the pitch one-hot's value (1: the paper); see GANSynthGenerator


@dataclass
class GANSynthDiscriminatorConfig:
    name: str = "gansynth"
    channels: int = 64
    channel_base: int = 512
    mbstd_group: int = 4


def spec_shape(info) -> tuple:
    """C × T × F of spectrogram data, T = F / 2^j (so that both axes halve together down to a 2·… × 4 base)."""
    if not getattr(info, "is_audio", False) or len(info.shape) != 3 or info.shape[1] == 1:
        raise ConfigError("gansynth networks need spectrogram notes (data: notes or audio-folder with a spectral "
                          f"representation); this dataset yields shape {tuple(info.shape)}")
    c, t, f = info.shape
    if f % t or t * 4 < f:
        raise ConfigError(f"gansynth networks need F a multiple of T with T ≥ F / 4, got T × F = {t} × {f}")
    return c, t, f


class GANSynthGenerator(ProGANGenerator):
    def __init__(self, out_shape, num_classes: int, z_dim: int = 128, channels: int = 64, channel_base: int = 512,
                 onehot_scale: float = 1.0):
        c, t, f = out_shape
        super().__init__((c, f, f), z_dim + num_classes, channels, channel_base)  # the ladder of the width F
        self.z_dim, self.num_classes, self.out_shape = z_dim, num_classes, tuple(out_shape)
        self.base = (4 * t // f, 4)
        self.dense = EqualLinear(z_dim + num_classes, self.widths[0] * self.base[0] * 4, gain=2 ** 0.5 / 4)
        self.onehot_scale = float(onehot_scale)

    def block(self, k: int, x: torch.Tensor) -> torch.Tensor:
        if k == 0:
            x = pixel_norm(lrelu(self.dense(x).view(-1, self.widths[0], *self.base)))
            return pixel_norm(lrelu(self.conv4(x)))
        return super().block(k, x)

    def forward(self, z: torch.Tensor, y=None) -> torch.Tensor:
        if self.num_classes:
            if y is None:
                raise ConfigError("this GANSynth generator is pitch-conditional: pass pitch classes y")
            z = torch.cat([pixel_norm(z), F.one_hot(y, self.num_classes).to(z.dtype) * self.onehot_scale], 1)
        else:
            z = pixel_norm(z)
        return torch.tanh(super().forward(z))  # ProGAN's growing ladder over this class's block 0


class GANSynthDiscriminator(ProGANDiscriminator):
    def __init__(self, in_shape, num_classes: int, channels: int = 64, channel_base: int = 512, mbstd_group: int = 4):
        c, t, f = in_shape
        super().__init__((c, f, f), channels, channel_base, mbstd_group)
        w0 = self.dense.weight.shape[0]
        self.base = (4 * t // f, 4)
        self.dense = EqualLinear(w0 * self.base[0] * 4, w0)
        self.aux = EqualLinear(w0, num_classes, gain=1.0) if num_classes else None

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        """Pitch logits from the last hidden features (the auxiliary classifier)."""
        return self.aux(features)


def phase_shuffle(x: torch.Tensor, n: int) -> torch.Tensor:
    """WaveGAN's phase shuffle (§3.3): shift each sample's activations by a random k ∈ [−n, n], reflect-padded."""
    k = int(torch.randint(-n, n + 1, ())) if n else 0
    if k > 0:
        return F.pad(x, (k, 0), mode="reflect")[..., :x.shape[-1]]
    if k < 0:
        return F.pad(x, (0, -k), mode="reflect")[..., -k:]
    return x


@dataclass
class WaveGANGeneratorConfig:
    name: str = "wavegan"
    z_dim: int = 128
    channels: int = 64  # after the dense layer; halved by each upsampling stage


@dataclass
class WaveGANDiscriminatorConfig:
    name: str = "wavegan"
    channels: int = 64
    phase_shuffle: int = 2


def wave_length(info) -> int:
    if not getattr(info, "is_audio", False) or tuple(info.shape[:2]) != (1, 1):
        raise ConfigError("wavegan networks need waveform notes (data.representation: wave); this dataset yields "
                          f"shape {tuple(info.shape)}")
    length = info.shape[2]
    if length % 256 or length < 1024:
        raise ConfigError(f"wavegan needs a note length that is a multiple of 256 samples, got {length}")
    return length


class WaveGANGenerator(Generator):
    def __init__(self, length: int, num_classes: int, z_dim: int = 128, channels: int = 64):
        super().__init__()
        self.z_dim, self.num_classes, self.out_shape = z_dim, num_classes, (1, 1, length)
        self.c0, self.l0 = channels, length // 256
        self.dense = nn.Linear(z_dim + num_classes, channels * self.l0)
        ch = [channels, channels // 2, channels // 4, channels // 8, 1]
        self.ups = nn.ModuleList([nn.ConvTranspose1d(ch[i], ch[i + 1], 25, 4, padding=11, output_padding=1)
                                  for i in range(4)])

    def forward(self, z: torch.Tensor, y=None) -> torch.Tensor:
        if self.num_classes:
            z = torch.cat([z, F.one_hot(y, self.num_classes).to(z.dtype)], 1)
        x = F.relu(self.dense(z).view(-1, self.c0, self.l0))
        for i, up in enumerate(self.ups):
            x = up(x)
            x = torch.tanh(x) if i == len(self.ups) - 1 else F.relu(x)
        return x[:, :, None, :]

    def feature_layers(self):
        return {f"up{i}": m for i, m in enumerate(self.ups[:-1])}


class WaveGANDiscriminator(Discriminator):
    def __init__(self, length: int, num_classes: int, channels: int = 64, shuffle: int = 2):
        super().__init__()
        ch = [1, channels // 8, channels // 4, channels // 2, channels]
        self.convs = nn.ModuleList([nn.Conv1d(ch[i], ch[i + 1], 25, 4, padding=11) for i in range(4)])
        self.shuffle = shuffle
        self.out = nn.Linear(channels * (length // 256), 1)
        self.aux = nn.Linear(channels * (length // 256), num_classes) if num_classes else None

    def forward_with_features(self, x: torch.Tensor, y=None):
        h = x.reshape(x.shape[0], 1, -1)
        for i, conv in enumerate(self.convs):
            h = F.leaky_relu(conv(h), 0.2)
            if i < len(self.convs) - 1 and self.training:
                h = phase_shuffle(h, self.shuffle)
        feats = h.flatten(1)
        return self.out(feats).squeeze(1), feats

    def forward(self, x: torch.Tensor, y=None) -> torch.Tensor:
        return self.forward_with_features(x, y)[0]

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        return self.aux(features)


@GENERATORS.register("gansynth", GANSynthGeneratorConfig)
def build_gansynth_generator(cfg: GANSynthGeneratorConfig, info) -> GANSynthGenerator:
    return GANSynthGenerator(spec_shape(info), dataset_classes(info, "gansynth"), cfg.z_dim, cfg.channels,
                             cfg.channel_base, cfg.onehot_scale)


@DISCRIMINATORS.register("gansynth", GANSynthDiscriminatorConfig)
def build_gansynth_discriminator(cfg: GANSynthDiscriminatorConfig, info) -> GANSynthDiscriminator:
    return GANSynthDiscriminator(spec_shape(info), dataset_classes(info, "gansynth"), cfg.channels,
                                 cfg.channel_base, cfg.mbstd_group)


@GENERATORS.register("wavegan", WaveGANGeneratorConfig)
def build_wavegan_generator(cfg: WaveGANGeneratorConfig, info) -> WaveGANGenerator:
    return WaveGANGenerator(wave_length(info), dataset_classes(info, "wavegan"), cfg.z_dim, cfg.channels)


@DISCRIMINATORS.register("wavegan", WaveGANDiscriminatorConfig)
def build_wavegan_discriminator(cfg: WaveGANDiscriminatorConfig, info) -> WaveGANDiscriminator:
    return WaveGANDiscriminator(wave_length(info), dataset_classes(info, "wavegan"), cfg.channels,
                                cfg.phase_shuffle)
