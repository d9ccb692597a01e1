"""DCGAN generator and discriminator (Radford, Metz, Chintala 2016, "Unsupervised Representation Learning with
Deep Convolutional Generative Adversarial Networks", §3 guidelines and §4 training details).

Guidelines followed: strided convolutions instead of pooling, fractionally-strided convolutions in G; batch norm
in G and D except G's output layer and D's input layer; no fully connected hidden layers; ReLU in G with a tanh
output; LeakyReLU(0.2) in D; weights N(0, 0.02). Works at any power-of-two resolution ≥ 8 (32² and 64² here):
G starts from 4×4 with `channels·2^(n-1)` maps and doubles the size n = log2(R/4) times.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from ..errors import ConfigError
from ..registry import DISCRIMINATORS, GENERATORS
from .base import Discriminator, Generator, dataset_classes, image_shape, normal_init


@dataclass
class DCGANGeneratorConfig:
    name: str = "dcgan"
    z_dim: int = 100
    channels: int = 64  # feature maps of the last hidden layer (ngf)
    max_channels: int = 1024
    conditional: bool = False  # cGAN: the one-hot label is concatenated to z (Mirza & Osindero 2014)
    batchnorm: bool = True  # False: no normalisation in G (the WGAN-GP "no BN" experiment)


CONDITIONING = ("none", "concat", "projection")


@dataclass
class DCGANDiscriminatorConfig:
    name: str = "dcgan"
    channels: int = 64  # feature maps of the first layer (ndf)
    max_channels: int = 1024
    # none | concat (one-hot label maps concatenated to the image: cGAN) | projection (Miyato & Koyama 2018)
    conditional: str = "none"
    aux_classifier: bool = False  # AC-GAN: a second head predicting the class (Odena et al. 2017)
    batchnorm: bool = True  # False for WGAN-GP critics (the penalty is per sample: no batch coupling)
    spectral_norm: bool = False  # every layer W / σ(W): SN-GAN's "standard CNN" D (Miyato et al. 2018, Table 3)

    def validate(self):
        if self.conditional not in CONDITIONING:
            raise ConfigError(f"discriminator.conditional must be one of {CONDITIONING}, got {self.conditional!r}")


def _num_ups(resolution: int) -> int:
    n = int(round(math.log2(resolution / 4)))
    if resolution < 8 or 4 * 2**n != resolution:
        raise ConfigError(f"DCGAN needs a power-of-two resolution ≥ 8, got {resolution}")
    return n


def _norm(width: int, batchnorm: bool) -> nn.Module:
    return nn.BatchNorm2d(width) if batchnorm else nn.Identity()


def _one_hot(y: torch.Tensor, num_classes: int, like: torch.Tensor) -> torch.Tensor:
    if y is None:
        raise ValueError("this model is class-conditional: pass the labels y")
    return F.one_hot(y.long(), num_classes).to(like.dtype)


class DCGANGenerator(Generator):
    """DCGAN generator; with `num_classes` > 0 the one-hot label is concatenated to z (cGAN, Mirza & Osindero
    2014, §4.1). Without `batchnorm` every BatchNorm is dropped (biases take their place)."""

    def __init__(self, out_shape, z_dim: int = 100, channels: int = 64, max_channels: int = 1024,
                 num_classes: int = 0, batchnorm: bool = True):
        super().__init__()
        c_out, res, _ = out_shape
        self.z_dim, self.out_shape, self.num_classes = z_dim, tuple(out_shape), num_classes
        n = _num_ups(res)
        widths = [min(channels * 2 ** (n - 1 - i), max_channels) for i in range(n)]  # 4x4 ... R/2 x R/2
        bias = not batchnorm
        layers = [nn.ConvTranspose2d(z_dim + num_classes, widths[0], 4, 1, 0, bias=bias), _norm(widths[0], batchnorm),
                  nn.ReLU(True)]
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.ConvTranspose2d(a, b, 4, 2, 1, bias=bias), _norm(b, batchnorm), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(widths[-1], c_out, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        normal_init(self)

    def forward(self, z: torch.Tensor, y=None) -> torch.Tensor:
        if self.num_classes:
            z = torch.cat([z, _one_hot(y, self.num_classes, z)], dim=1)
        return self.net(z.view(z.shape[0], -1, 1, 1))

    def feature_layers(self):
        relus = [m for m in self.net if isinstance(m, nn.ReLU)]
        return {f"layer{i + 1}": m for i, m in enumerate(relus)}


class DCGANDiscriminator(Discriminator):
    """DCGAN discriminator. Class conditioning (`num_classes` > 0): "concat" appends one-hot label maps to the
    image channels (cGAN); "projection" adds ⟨embed(y), Σ_hw φ(x)⟩ to the logit (Miyato & Koyama, "cGANs with
    Projection Discriminator", ICLR 2018, Eq. 3). `aux_classes` > 0 adds AC-GAN's class head on the same
    features (Odena et al., "Conditional Image Synthesis with Auxiliary Classifier GANs", ICML 2017, §3):
    `classify(features)` gives its logits."""

    def __init__(self, in_shape, channels: int = 64, max_channels: int = 1024, num_classes: int = 0,
                 conditional: str = "none", aux_classes: int = 0, batchnorm: bool = True,
                 spectral_norm: bool = False):
        super().__init__()
        c_in, res, _ = in_shape
        n = _num_ups(res)
        self.num_classes = num_classes if conditional != "none" else 0
        self.conditional = conditional if self.num_classes else "none"
        widths = [min(channels * 2**i, max_channels) for i in range(n)]  # R/2 ... 4x4
        extra = self.num_classes if self.conditional == "concat" else 0
        bias = not batchnorm
        layers = [nn.Conv2d(c_in + extra, widths[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(a, b, 4, 2, 1, bias=bias), _norm(b, batchnorm), nn.LeakyReLU(0.2, True)]
        self.features = nn.Sequential(*layers)
        self.out = nn.Conv2d(widths[-1], 1, 4, 1, 0, bias=False)
        self.embed = nn.Embedding(self.num_classes, widths[-1]) if self.conditional == "projection" else None
        self.aux = nn.Conv2d(widths[-1], aux_classes, 4, 1, 0) if aux_classes else None
        normal_init(self)
        if spectral_norm:  # after the init: the parametrisation keeps the N(0, 0.02) weights as its original
            for m in [*self.features, self.out, self.embed, self.aux]:
                if isinstance(m, (nn.Conv2d, nn.Embedding)):
                    _spectral_norm(m, n_power_iterations=1, eps=1e-12)

    def forward_with_features(self, x: torch.Tensor, y=None):
        if self.conditional == "concat":
            maps = _one_hot(y, self.num_classes, x)[:, :, None, None].expand(-1, -1, *x.shape[-2:])
            x = torch.cat([x, maps], dim=1)
        h = self.features(x)
        logits = self.out(h).flatten()
        if self.conditional == "projection":
            logits = logits + (self.embed(y) * h.sum(dim=(2, 3))).sum(dim=1)
        return logits, h

    def forward(self, x: torch.Tensor, y=None) -> torch.Tensor:
        return self.forward_with_features(x, y)[0]

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        """AC-GAN class logits (N×K) from `forward_with_features`' features."""
        if self.aux is None:
            raise ValueError("this discriminator has no auxiliary classifier (discriminator.aux_classifier=true)")
        return self.aux(features).flatten(1)




@GENERATORS.register("dcgan", DCGANGeneratorConfig)
def build_dcgan_generator(cfg: DCGANGeneratorConfig, info) -> DCGANGenerator:
    k = dataset_classes(info, "generator.conditional") if cfg.conditional else 0
    return DCGANGenerator(image_shape(info, "DCGAN"), cfg.z_dim, cfg.channels, cfg.max_channels, k, cfg.batchnorm)


@DISCRIMINATORS.register("dcgan", DCGANDiscriminatorConfig)
def build_dcgan_discriminator(cfg: DCGANDiscriminatorConfig, info) -> DCGANDiscriminator:
    k = dataset_classes(info, "a conditional discriminator") if cfg.conditional != "none" or cfg.aux_classifier else 0
    return DCGANDiscriminator(image_shape(info, "DCGAN"), cfg.channels, cfg.max_channels, k, cfg.conditional,
                              k if cfg.aux_classifier else 0, cfg.batchnorm, cfg.spectral_norm)
