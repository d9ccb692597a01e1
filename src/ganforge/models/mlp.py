"""Multilayer-perceptron generator and discriminator (Goodfellow et al. 2014, "Generative Adversarial Nets", §5).

Used for the 2-D toy mixtures and for flattened images (e.g. 8×8 digits).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..registry import DISCRIMINATORS, GENERATORS
from .base import Discriminator, Generator


@dataclass
class MLPGeneratorConfig:
    name: str = "mlp"
    z_dim: int = 2
    hidden: int = 128
    layers: int = 3  # hidden layers


@dataclass
class MLPDiscriminatorConfig:
    name: str = "mlp"
    hidden: int = 128
    layers: int = 3


class MLPGenerator(Generator):
    def __init__(self, out_shape, z_dim: int = 2, hidden: int = 128, layers: int = 3):
        super().__init__()
        self.z_dim, self.out_shape = z_dim, tuple(out_shape)
        dims = [z_dim] + [hidden] * layers
        blocks = []
        for a, b in zip(dims[:-1], dims[1:]):
            blocks += [nn.Linear(a, b), nn.ReLU()]
        self.body = nn.Sequential(*blocks)
        self.out = nn.Linear(dims[-1], math.prod(self.out_shape))
        # Images live in [-1, 1]; points are unbounded.
        self.squash = nn.Tanh() if len(self.out_shape) == 3 else nn.Identity()

    def forward(self, z: torch.Tensor, y=None) -> torch.Tensor:
        h = self.body(z)
        return self.squash(self.out(h)).view(z.shape[0], *self.out_shape)

    def feature_layers(self):
        return {f"fc{i}": m for i, m in enumerate(self.body) if isinstance(m, nn.ReLU)}


class MLPDiscriminator(Discriminator):
    def __init__(self, in_shape, hidden: int = 128, layers: int = 3):
        super().__init__()
        dims = [math.prod(in_shape)] + [hidden] * layers
        blocks = []
        for a, b in zip(dims[:-1], dims[1:]):
            blocks += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*blocks)
        self.out = nn.Linear(dims[-1], 1)

    def forward_with_features(self, x: torch.Tensor, y=None):
        h = self.body(x.flatten(1))
        return self.out(h).squeeze(1), h

    def forward(self, x: torch.Tensor, y=None) -> torch.Tensor:
        return self.forward_with_features(x, y)[0]


@GENERATORS.register("mlp", MLPGeneratorConfig)
def build_mlp_generator(cfg: MLPGeneratorConfig, info) -> MLPGenerator:
    return MLPGenerator(info.shape, cfg.z_dim, cfg.hidden, cfg.layers)


@DISCRIMINATORS.register("mlp", MLPDiscriminatorConfig)
def build_mlp_discriminator(cfg: MLPDiscriminatorConfig, info) -> MLPDiscriminator:
    return MLPDiscriminator(info.shape, cfg.hidden, cfg.layers)
