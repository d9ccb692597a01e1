"""DiscoGAN's networks (Kim, Cha, Kim, Lee, Kim, "Learning to Discover Cross-Domain Relations with Generative
Adversarial Networks", ICML 2017, §3 and §4; official SKTBrain/DiscoGAN `discogan/model.py`), and MLP versions
for the 2-D toy experiment (§4.1).

Image generator (official `Generator`, `extra_layers=False`): an encoder-decoder without skips —
Conv4×4 s2 in→64 + LReLU 0.2 (no BN), then ×2 channels per Conv4×4 s2 with BN + LReLU down to 4×4
(64² images: 64, 128, 256, 512), then ConvT4×4 s2 halving the channels with BN + ReLU, and a last ConvT4×4 s2
to the output channels. Every convolution has `bias=False`. The official output is a **sigmoid** because its
loader scales images to [0, 1]; ganforge's images live in [−1, 1], so ours is a **tanh** — the same squashing,
shifted and scaled (tanh(x) = 2·sigmoid(2x) − 1), so the network and its losses keep their meaning.

Image discriminator (official `Discriminator`): Conv4×4 s2 in→64 + LReLU (no BN), then ×2 channels per
Conv4×4 s2 with BN + LReLU down to 4×4, then Conv4×4 s1 → 1. The official applies a sigmoid and returns
`(prob, [relu2, relu3, relu4])`; ours returns the logit (the method uses BCE on logits, the same loss computed
stably) and, from `forward_with_features`, the activations of every hidden layer after the first — the features
that the official feature-matching loss compares.

Resolution: any power of two ≥ 8; the number of stride-2 levels is log2(R/4) (4 at 64², as the paper's).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Tuple

import torch
from torch import nn

from ..errors import ConfigError
from ..registry import DISCRIMINATORS, GENERATORS
from .base import Discriminator, Translator, normal_init


def _levels(resolution: int) -> int:
    n = int(round(math.log2(resolution / 4)))
    if resolution < 8 or 4 * 2**n != resolution:
        raise ConfigError(f"DiscoGAN's networks need a power-of-two resolution ≥ 8, got {resolution}")
    return n


class _FeatureStackD(Discriminator):
    """A discriminator as `first`, then `hidden` layers whose outputs are its features (DiscoGAN's feature
    matching reads them), then `out`: the logit (N)."""

    def forward_with_features(self, x: torch.Tensor, y=None) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        h = self.first(x)
        feats = []
        for layer in self.hidden:
            h = layer(h)
            feats.append(h)
        return self.out(h).flatten(), feats

    def forward(self, x: torch.Tensor, y=None) -> torch.Tensor:
        return self.forward_with_features(x)[0]


class DiscoGANGenerator(Translator):
    """DiscoGAN's encoder-decoder generator (official `Generator`); tanh output (see the module docstring)."""

    def __init__(self, in_shape, out_shape, channels: int = 64, max_channels: int = 512):
        super().__init__()
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        if tuple(in_shape[1:]) != tuple(out_shape[1:]):
            raise ConfigError(f"the DiscoGAN generator keeps the image size: {tuple(in_shape)} vs {tuple(out_shape)}")
        n = _levels(in_shape[1])
        widths = [min(channels * 2**i, max_channels) for i in range(n)]  # R/2 ... 4×4
        enc: List[nn.Module] = [nn.Conv2d(in_shape[0], widths[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        for a, b in zip(widths[:-1], widths[1:]):
            enc += [nn.Conv2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.LeakyReLU(0.2, True)]
        dec: List[nn.Module] = []
        for a, b in zip(widths[::-1][:-1], widths[::-1][1:]):
            dec += [nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU(True)]
        dec += [nn.ConvTranspose2d(widths[0], out_shape[0], 4, 2, 1, bias=False), nn.Tanh()]
        self.encoder, self.decoder = nn.Sequential(*enc), nn.Sequential(*dec)
        normal_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    def feature_layers(self):
        return {"bottleneck": self.encoder[-1]}


class DiscoGANDiscriminator(_FeatureStackD):
    """DiscoGAN's discriminator (official `Discriminator`): one logit per image, and the hidden activations after
    the first layer for feature matching."""

    def __init__(self, in_shape, channels: int = 64, max_channels: int = 512):
        super().__init__()
        n = _levels(in_shape[1])
        widths = [min(channels * 2**i, max_channels) for i in range(n)]
        self.first = nn.Sequential(nn.Conv2d(in_shape[0], widths[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True))
        self.hidden = nn.ModuleList(
            nn.Sequential(nn.Conv2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.LeakyReLU(0.2, True))
            for a, b in zip(widths[:-1], widths[1:]))
        self.out = nn.Conv2d(widths[-1], 1, 4, 1, 0, bias=False)
        normal_init(self)


# -- the 2-D toy (paper §4.1; no official code) -----------------------------------------------------------------------
class DiscoGANMLPGenerator(Translator):
    """Point-to-point MLP translator for the toy domains: `depth` hidden layers of `width` units with batch norm
    and ReLU (the image generator's choices), a linear output (the points are not bounded)."""

    def __init__(self, dim: int = 2, width: int = 128, depth: int = 3, batchnorm: bool = True):
        super().__init__()
        self.in_shape = self.out_shape = (dim,)
        layers: List[nn.Module] = []
        a = dim
        for _ in range(depth):
            layers += [nn.Linear(a, width, bias=not batchnorm)]
            layers += [nn.BatchNorm1d(width)] if batchnorm else []
            layers += [nn.ReLU(True)]
            a = width
        layers += [nn.Linear(a, dim)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class DiscoGANMLPDiscriminator(_FeatureStackD):
    """MLP discriminator for the toy domains: `depth` hidden layers (LReLU 0.2; batch norm after the first, as the
    image D), one logit; the hidden activations after the first are its features for feature matching."""

    def __init__(self, dim: int = 2, width: int = 128, depth: int = 3, batchnorm: bool = True):
        super().__init__()
        self.first = nn.Sequential(nn.Linear(dim, width), nn.LeakyReLU(0.2, True))
        self.hidden = nn.ModuleList(
            nn.Sequential(nn.Linear(width, width, bias=not batchnorm),
                          nn.BatchNorm1d(width) if batchnorm else nn.Identity(), nn.LeakyReLU(0.2, True))
            for _ in range(depth - 1))
        self.out = nn.Linear(width, 1)


# -- registration ---------------------------------------------------------------------------------------------------
@dataclass
class DiscoGANGeneratorConfig:
    name: str = "discogan"
    channels: int = 64  # maps of the first layer; ×2 per level
    max_channels: int = 512


@dataclass
class DiscoGANDiscriminatorConfig:
    name: str = "discogan"
    channels: int = 64
    max_channels: int = 512


@dataclass
class DiscoGANMLPConfig:
    name: str = "discogan-mlp"
    width: int = 128
    depth: int = 3
    batchnorm: bool = True

    def validate(self):
        if self.width < 1 or self.depth < 1:
            raise ConfigError(f"width and depth must be ≥ 1, got {self.width}, {self.depth}")


def _image_shapes(info) -> Tuple[tuple, tuple]:
    if not (info.is_image and len(info.target_shape) == 3):
        raise ConfigError("the discogan networks need two-domain image data (for the 2-D toy use discogan-mlp)")
    return tuple(info.shape), tuple(info.target_shape)


def _point_dim(info) -> int:
    if len(info.shape) != 1 or tuple(info.target_shape) != tuple(info.shape):
        raise ConfigError(f"discogan-mlp needs two-domain point data of one dimension (e.g. toy-domains), got "
                          f"{tuple(info.shape)} -> {tuple(info.target_shape)}")
    return info.shape[0]


@GENERATORS.register("discogan", DiscoGANGeneratorConfig)
def build_discogan_generator(cfg: DiscoGANGeneratorConfig, info) -> DiscoGANGenerator:
    a, b = _image_shapes(info)
    return DiscoGANGenerator(a, b, cfg.channels, cfg.max_channels)


@DISCRIMINATORS.register("discogan", DiscoGANDiscriminatorConfig)
def build_discogan_discriminator(cfg: DiscoGANDiscriminatorConfig, info) -> DiscoGANDiscriminator:
    return DiscoGANDiscriminator(_image_shapes(info)[1], cfg.channels, cfg.max_channels)  # judges domain B


@GENERATORS.register("discogan-mlp", DiscoGANMLPConfig)
def build_discogan_mlp_generator(cfg: DiscoGANMLPConfig, info) -> DiscoGANMLPGenerator:
    return DiscoGANMLPGenerator(_point_dim(info), cfg.width, cfg.depth, cfg.batchnorm)


@DISCRIMINATORS.register("discogan-mlp", DiscoGANMLPConfig)
def build_discogan_mlp_discriminator(cfg: DiscoGANMLPConfig, info) -> DiscoGANMLPDiscriminator:
    return DiscoGANMLPDiscriminator(_point_dim(info), cfg.width, cfg.depth, cfg.batchnorm)
