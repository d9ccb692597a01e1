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
from torch import nn

from ..errors import ConfigError
from ..registry import DISCRIMINATORS, GENERATORS
from .base import Discriminator, Generator, normal_init


@dataclass
class DCGANGeneratorConfig:
    name: str = "dcgan"
    z_dim: int = 100
    channels: int = 64  # feature maps of the last hidden layer (ngf)
    max_channels: int = 1024


@dataclass
class DCGANDiscriminatorConfig:
    name: str = "dcgan"
    channels: int = 64  # feature maps of the first layer (ndf)
    max_channels: int = 1024


def _num_ups(resolution: int) -> int:
    n = int(round(math.log2(resolution / 4)))
    if resolution < 8 or 4 * 2**n != resolution:
        raise ConfigError(f"DCGAN needs a power-of-two resolution ≥ 8, got {resolution}")
    return n


class DCGANGenerator(Generator):
    def __init__(self, out_shape, z_dim: int = 100, channels: int = 64, max_channels: int = 1024):
        super().__init__()
        c_out, res, _ = out_shape
        self.z_dim, self.out_shape = z_dim, tuple(out_shape)
        n = _num_ups(res)
        widths = [min(channels * 2 ** (n - 1 - i), max_channels) for i in range(n)]  # 4x4 ... R/2 x R/2
        layers = [nn.ConvTranspose2d(z_dim, widths[0], 4, 1, 0, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU(True)]
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(widths[-1], c_out, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        normal_init(self)

    def forward(self, z: torch.Tensor, y=None) -> torch.Tensor:
        return self.net(z.view(z.shape[0], self.z_dim, 1, 1))

    def feature_layers(self):
        relus = [m for m in self.net if isinstance(m, nn.ReLU)]
        return {f"layer{i + 1}": m for i, m in enumerate(relus)}


class DCGANDiscriminator(Discriminator):
    def __init__(self, in_shape, channels: int = 64, max_channels: int = 1024):
        super().__init__()
        c_in, res, _ = in_shape
        n = _num_ups(res)
        widths = [min(channels * 2**i, max_channels) for i in range(n)]  # R/2 ... 4x4
        layers = [nn.Conv2d(c_in, widths[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.LeakyReLU(0.2, True)]
        self.features = nn.Sequential(*layers)
        self.out = nn.Conv2d(widths[-1], 1, 4, 1, 0, bias=False)
        normal_init(self)

    def forward(self, x: torch.Tensor, y=None) -> torch.Tensor:
        return self.out(self.features(x)).flatten()


def _image_shape(info):
    if not info.is_image:
        raise ConfigError(f"DCGAN models need image data (C×H×W), this dataset yields shape {info.shape}")
    return info.shape


@GENERATORS.register("dcgan", DCGANGeneratorConfig)
def build_dcgan_generator(cfg: DCGANGeneratorConfig, info) -> DCGANGenerator:
    return DCGANGenerator(_image_shape(info), cfg.z_dim, cfg.channels, cfg.max_channels)


@DISCRIMINATORS.register("dcgan", DCGANDiscriminatorConfig)
def build_dcgan_discriminator(cfg: DCGANDiscriminatorConfig, info) -> DCGANDiscriminator:
    return DCGANDiscriminator(_image_shape(info), cfg.channels, cfg.max_channels)
