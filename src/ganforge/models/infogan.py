"""InfoGAN generator and discriminator with its Q head (Chen, Duan, Houthooft, Schulman, Sutskever, Abbeel,
"InfoGAN: Interpretable Representation Learning by Information Maximizing Generative Adversarial Nets",
NeurIPS 2016, §5 and Appendix C.1 — the MNIST networks of the official code, `openai/InfoGAN`).

The generator's input is structured: `z = [noise (U(−1, 1)^noise_dim), one-hot c1 (categorical), c2.. (U(−1, 1))]`,
in this order. `z_dim` is the total width, and `sample_z` draws the whole structured input, so every generic tool
(`ganforge sample`, evaluation, `ganforge.load(run).sample()`) samples from the right prior unchanged; `make_input`
builds inputs with chosen codes and `split_input` takes them apart.

Networks (Appendix C.1, official `regularized_gan.py`, "mnist"), at any resolution R divisible by 4 (28 as in the
paper, 32 for MNIST-5k here):

* G: fc 1024 BN ReLU → fc (R/4)²·2c BN ReLU → deconv c 4×4 s2 BN ReLU → deconv C_out 4×4 s2 → tanh;
* D: conv c 4×4 s2 lrelu → conv 2c 4×4 s2 BN lrelu → fc 1024 BN lrelu (the shared body: "features") → fc 1,
  leaky ReLU slope 0.01 (the official `leaky_rectify`);
* Q: on D's features, fc 128 BN lrelu → K categorical logits and the means of the continuous codes (Q's
  Gaussian has a fixed standard deviation 1, as in the official MNIST launcher).

with c = 64 by default (the paper's widths). Q lives inside the discriminator module, so it is checkpointed, moved to
the device and synchronised under data parallelism together with D's body, which it shares (paper §5: "Q and D
share all convolutional layers"). The official MNIST model outputs Bernoulli pixel means in [0, 1]; ours outputs
tanh images in [−1, 1] like every ganforge generator.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..registry import DISCRIMINATORS, GENERATORS
from .base import Discriminator, Generator, normal_init


@dataclass
class InfoGANGeneratorConfig:
    name: str = "infogan"
    noise_dim: int = 62  # incompressible noise z, U(−1, 1) (official MNIST launcher)
    categorical: int = 10  # K of the categorical code c1; 0 = none
    continuous: int = 2  # number of continuous codes c2, c3, ... ~ U(−1, 1)
    hidden: int = 1024  # width of the first fully connected layer
    channels: int = 64  # maps of the last deconv layer (the one before it has 2×)

    def validate(self):
        _check_codes(self.noise_dim, self.categorical, self.continuous, "generator")
        if self.hidden < 1 or self.channels < 1:
            raise ConfigError(f"generator.hidden and generator.channels must be ≥ 1, got {self.hidden}, "
                              f"{self.channels}")


@dataclass
class InfoGANDiscriminatorConfig:
    name: str = "infogan"
    channels: int = 64  # maps of the first conv layer (the second has 2×)
    hidden: int = 1024  # width of D's last hidden layer (the features Q reads)
    q_hidden: int = 128  # width of Q's hidden layer
    slope: float = 0.01  # leaky ReLU slope (the official code's `leaky_rectify` default)
    categorical: int = 10  # must equal generator.categorical
    continuous: int = 2  # must equal generator.continuous

    def validate(self):
        _check_codes(1, self.categorical, self.continuous, "discriminator")
        if min(self.channels, self.hidden, self.q_hidden) < 1:
            raise ConfigError("discriminator.channels, hidden and q_hidden must be ≥ 1")


def _check_codes(noise_dim: int, categorical: int, continuous: int, section: str) -> None:
    if noise_dim < 0 or continuous < 0 or categorical < 0 or categorical == 1:
        raise ConfigError(f"{section}: noise_dim and continuous must be ≥ 0 and categorical 0 or ≥ 2, got "
                          f"{noise_dim}, {continuous}, {categorical}")
    if categorical == 0 and continuous == 0:
        raise ConfigError(f"{section}: InfoGAN needs at least one latent code (categorical or continuous)")


def _quarter(resolution: int) -> int:
    if resolution < 4 or resolution % 4:
        raise ConfigError(f"the InfoGAN networks need a resolution divisible by 4, got {resolution}")
    return resolution // 4


class InfoGANGenerator(Generator):
    """InfoGAN's MNIST generator on the structured input [noise, one-hot c1, continuous codes] (Chen et al. 2016,
    §5 and Appendix C.1)."""

    def __init__(self, out_shape, noise_dim: int = 62, categorical: int = 10, continuous: int = 2,
                 hidden: int = 1024, channels: int = 64):
        super().__init__()
        c_out, res, _ = out_shape
        self.side = _quarter(res)
        self.noise_dim, self.categorical, self.continuous = noise_dim, categorical, continuous
        self.z_dim = noise_dim + categorical + continuous
        self.out_shape = tuple(out_shape)
        self.wide = 2 * channels
        self.fc = nn.Sequential(
            nn.Linear(self.z_dim, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(True),
            nn.Linear(hidden, self.wide * self.side**2, bias=False), nn.BatchNorm1d(self.wide * self.side**2),
            nn.ReLU(True))
        self.conv = nn.Sequential(
            nn.ConvTranspose2d(self.wide, channels, 4, 2, 1, bias=False), nn.BatchNorm2d(channels), nn.ReLU(True),
            nn.ConvTranspose2d(channels, c_out, 4, 2, 1), nn.Tanh())
        normal_init(self)

    # -- the structured latent input ---------------------------------------------------------------------------------
    def make_input(self, noise: torch.Tensor, categorical: Optional[torch.Tensor] = None,
                   continuous: Optional[torch.Tensor] = None) -> torch.Tensor:
        """[noise (N×noise_dim), one_hot(categorical (N,) int), continuous (N×continuous)] -> z (N×z_dim)."""
        parts = [noise]
        if self.categorical:
            if categorical is None:
                raise ValueError("this generator has a categorical code: pass its values (N,) in 0..K-1")
            parts.append(F.one_hot(categorical.long().to(noise.device), self.categorical).to(noise.dtype))
        if self.continuous:
            if continuous is None:
                raise ValueError(f"this generator has {self.continuous} continuous codes: pass them (N×"
                                 f"{self.continuous})")
            parts.append(continuous.to(noise))
        z = torch.cat(parts, dim=1)
        if z.shape[1] != self.z_dim:
            raise ValueError(f"inputs make {z.shape[1]} latent dims, this generator takes {self.z_dim}")
        return z

    def split_input(self, z: torch.Tensor) -> Tuple[torch.Tensor, Optional[torch.Tensor], torch.Tensor]:
        """z -> (noise, categorical index (N,) or None, continuous codes): the inverse of `make_input`."""
        a, b = self.noise_dim, self.noise_dim + self.categorical
        cat = z[:, a:b].argmax(1) if self.categorical else None
        return z[:, :a], cat, z[:, b:]

    def sample_z(self, n: int, generator: Optional[torch.Generator] = None, device=None) -> torch.Tensor:
        """n structured inputs from the prior: noise U(−1, 1), c1 uniform over K, continuous codes U(−1, 1)."""
        device = device if device is not None else next(self.parameters()).device
        at = "cpu" if generator is not None else device
        noise = torch.rand(n, self.noise_dim, generator=generator, device=at) * 2 - 1
        cat = torch.randint(0, self.categorical, (n,), generator=generator, device=at) if self.categorical else None
        cont = torch.rand(n, self.continuous, generator=generator, device=at) * 2 - 1
        return self.make_input(noise, cat, cont).to(device)

    def forward(self, z: torch.Tensor, y=None) -> torch.Tensor:
        h = self.fc(z.flatten(1))
        return self.conv(h.view(-1, self.wide, self.side, self.side))

    def feature_layers(self):
        relus = [m for m in (*self.fc, *self.conv) if isinstance(m, nn.ReLU)]
        return {f"layer{i + 1}": m for i, m in enumerate(relus)}


class InfoGANDiscriminator(Discriminator):
    """InfoGAN's MNIST discriminator with the Q head on its last hidden layer (Chen et al. 2016, §5 and
    Appendix C.1). `q(features)` gives (categorical logits N×K, continuous means N×M) of Q(c|x)."""

    def __init__(self, in_shape, channels: int = 64, hidden: int = 1024, q_hidden: int = 128,
                 categorical: int = 10, continuous: int = 2, slope: float = 0.01):
        super().__init__()
        c_in, res, _ = in_shape
        side = _quarter(res)
        self.categorical, self.continuous = categorical, continuous
        self.body = nn.Sequential(
            nn.Conv2d(c_in, channels, 4, 2, 1), nn.LeakyReLU(slope, True),
            nn.Conv2d(channels, 2 * channels, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * channels),
            nn.LeakyReLU(slope, True), nn.Flatten(),
            nn.Linear(2 * channels * side**2, hidden, bias=False), nn.BatchNorm1d(hidden), nn.LeakyReLU(slope, True))
        self.out = nn.Linear(hidden, 1)
        self.q_head = nn.Sequential(
            nn.Linear(hidden, q_hidden, bias=False), nn.BatchNorm1d(q_hidden), nn.LeakyReLU(slope, True),
            nn.Linear(q_hidden, categorical + continuous))
        normal_init(self)

    def forward_with_features(self, x: torch.Tensor, y=None):
        h = self.body(x)
        return self.out(h).flatten(), h

    def forward(self, x: torch.Tensor, y=None) -> torch.Tensor:
        return self.forward_with_features(x)[0]

    def q(self, features: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Q(c|x) from `forward_with_features`' features: (categorical logits N×K, continuous means N×M)."""
        out = self.q_head(features)
        return out[:, : self.categorical], out[:, self.categorical:]


def _image_shape(info):
    if not info.is_image:
        raise ConfigError(f"InfoGAN models need image data (C×H×W), this dataset yields shape {info.shape}")
    return info.shape


@GENERATORS.register("infogan", InfoGANGeneratorConfig)
def build_infogan_generator(cfg: InfoGANGeneratorConfig, info) -> InfoGANGenerator:
    return InfoGANGenerator(_image_shape(info), cfg.noise_dim, cfg.categorical, cfg.continuous, cfg.hidden,
                            cfg.channels)


@DISCRIMINATORS.register("infogan", InfoGANDiscriminatorConfig)
def build_infogan_discriminator(cfg: InfoGANDiscriminatorConfig, info) -> InfoGANDiscriminator:
    return InfoGANDiscriminator(_image_shape(info), cfg.channels, cfg.hidden, cfg.q_hidden, cfg.categorical,
                                cfg.continuous, cfg.slope)
