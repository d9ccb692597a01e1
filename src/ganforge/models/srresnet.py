"""SRResNet generator and SRGAN discriminator (Ledig et al., "Photo-Realistic Single Image Super-Resolution Using
a Generative Adversarial Network", CVPR 2017, §2.2 and Figure 4).

Generator (SRResNet): Conv9×9 c + PReLU; B residual blocks [Conv3×3 c → BN → PReLU → Conv3×3 c → BN, + skip];
Conv3×3 c → BN, + the long skip from after the first convolution; log2(scale) × [Conv3×3 4c → PixelShuffle(2)
→ PReLU] (sub-pixel convolution, Shi et al. CVPR 2016); Conv9×9 → 3. The paper uses c = 64, B = 16 and ×4. The
output layer is linear (the paper's figure shows none; images are compared in [-1, 1]).

Discriminator: Conv3×3 c s1 + LeakyReLU 0.2; 7 blocks Conv3×3-BN-LeakyReLU with (channels, stride) = (c,2), (2c,1),
(2c,2), (4c,1), (4c,2), (8c,1), (8c,2); Dense `dense` → LeakyReLU 0.2 → Dense 1 (a logit: the sigmoid lives in the
loss). The paper uses c = 64 and dense 1024; `channels` / `dense` shrink it for CPU runs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import ConfigError
from ..registry import DISCRIMINATORS, GENERATORS
from .base import Discriminator, Translator


def sr_shapes(info):
    """(LR shape, HR shape, scale) of super-resolution data; ConfigError for anything else."""
    if not info.two_domain or not info.is_image:
        raise ConfigError("srresnet / srgan networks need super-resolution data (a Batch.target image), e.g. "
                          "sr-photos or sr-shapes")
    (c, h, w), (c2, h2, w2) = tuple(info.shape), tuple(info.target_shape)
    scale = h2 // h
    if h2 != scale * h or w2 != scale * w or scale < 2 or scale & (scale - 1):
        raise ConfigError(f"srresnet needs a target that is a power-of-two multiple (≥ 2) of the input in size, "
                          f"got {info.shape} -> {info.target_shape}")
    return (c, h, w), (c2, h2, w2), scale


@dataclass
class SRResNetConfig:
    name: str = "srresnet"
    channels: int = 64  # c: feature maps of the trunk (64 in the paper)
    blocks: int = 16  # B residual blocks (16 in the paper)

    def validate(self):
        if self.channels < 1 or self.blocks < 0:
            raise ConfigError(f"generator.channels must be ≥ 1 and generator.blocks ≥ 0, got {self.channels}, "
                              f"{self.blocks}")


class ResidualBlock(nn.Module):
    """Conv3×3 → BN → PReLU → Conv3×3 → BN, plus the identity (He et al. 2016, as modified by Gross & Wilber:
    no ReLU after the addition)."""

    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1), nn.BatchNorm2d(c), nn.PReLU(c),
                                  nn.Conv2d(c, c, 3, 1, 1), nn.BatchNorm2d(c))

    def forward(self, x):
        return x + self.body(x)


class SubPixelUp(nn.Module):
    """×2 sub-pixel convolution: Conv3×3 c → 4c, PixelShuffle(2) (channel 4k + 2i + j of the conv output becomes
    pixel (2y + i, 2x + j) of channel k), PReLU."""

    def __init__(self, c: int):
        super().__init__()
        self.conv = nn.Conv2d(c, 4 * c, 3, 1, 1)
        self.shuffle = nn.PixelShuffle(2)
        self.act = nn.PReLU(c)

    def forward(self, x):
        return self.act(self.shuffle(self.conv(x)))


class SRResNet(Translator):
    """The SRGAN generator: maps an LR image (in_shape) to an HR image `scale` times larger (out_shape)."""

    def __init__(self, in_shape, out_shape, channels: int = 64, blocks: int = 16):
        super().__init__()
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        self.scale = out_shape[1] // in_shape[1]
        c = channels
        self.head = nn.Sequential(nn.Conv2d(in_shape[0], c, 9, 1, 4), nn.PReLU(c))
        self.blocks = nn.Sequential(*[ResidualBlock(c) for _ in range(blocks)])
        self.trunk_out = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1), nn.BatchNorm2d(c))
        self.upsample = nn.Sequential(*[SubPixelUp(c) for _ in range(int(math.log2(self.scale)))])
        self.tail = nn.Conv2d(c, out_shape[0], 9, 1, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first = self.head(x)
        trunk = self.trunk_out(self.blocks(first)) + first  # the long skip
        return self.tail(self.upsample(trunk))

    def feature_layers(self):
        layers = {f"block{i + 1}": b for i, b in enumerate(self.blocks)}
        layers.update({f"up{i + 1}": u for i, u in enumerate(self.upsample)})
        return layers


@GENERATORS.register("srresnet", SRResNetConfig)
def build_srresnet(cfg: SRResNetConfig, info) -> SRResNet:
    lr_shape, hr_shape, _ = sr_shapes(info)
    return SRResNet(lr_shape, hr_shape, cfg.channels, cfg.blocks)


@dataclass
class SRGANDiscriminatorConfig:
    name: str = "srgan"
    channels: int = 64  # c: the first layer's feature maps (64 in the paper); later blocks use 2c, 4c, 8c
    dense: int = 1024  # width of the hidden dense layer (1024 in the paper)

    def validate(self):
        if self.channels < 1 or self.dense < 1:
            raise ConfigError(f"discriminator.channels and discriminator.dense must be ≥ 1, got {self.channels}, "
                              f"{self.dense}")


BLOCKS = ((1, 2), (2, 1), (2, 2), (4, 1), (4, 2), (8, 1), (8, 2))  # (width multiple of c, stride)


class SRGANDiscriminator(Discriminator):
    """The SRGAN discriminator on HR images (Figure 4, bottom); one logit per image."""

    def __init__(self, in_shape, channels: int = 64, dense: int = 1024):
        super().__init__()
        c_in, h, w = in_shape
        if h % 16 or w % 16:
            raise ConfigError(f"the srgan discriminator halves the image 4 times: its side must be a multiple of 16, "
                              f"got {h}×{w}")
        layers = [nn.Conv2d(c_in, channels, 3, 1, 1), nn.LeakyReLU(0.2, True)]
        width = channels
        for mult, stride in BLOCKS:
            layers += [nn.Conv2d(width, mult * channels, 3, stride, 1), nn.BatchNorm2d(mult * channels),
                       nn.LeakyReLU(0.2, True)]
            width = mult * channels
        self.features = nn.Sequential(*layers)
        self.hidden = nn.Sequential(nn.Flatten(), nn.Linear(width * (h // 16) * (w // 16), dense),
                                    nn.LeakyReLU(0.2, True))
        self.out = nn.Linear(dense, 1)

    def forward_with_features(self, x: torch.Tensor, y=None):
        h = self.hidden(self.features(x))
        return self.out(h).view(-1), h

    def forward(self, x: torch.Tensor, y=None) -> torch.Tensor:
        return self.forward_with_features(x)[0]


@DISCRIMINATORS.register("srgan", SRGANDiscriminatorConfig)
def build_srgan_discriminator(cfg: SRGANDiscriminatorConfig, info) -> SRGANDiscriminator:
    _, hr_shape, _ = sr_shapes(info)
    return SRGANDiscriminator(hr_shape, cfg.channels, cfg.dense)
