"""ProGAN generator and discriminator (Karras et al. 2018, "Progressive Growing of GANs for Improved Quality,
Stability, and Variation", ICLR 2018, Table 2 and App. A; official TF code conventions in
reference/papers-details.md §2.1).

G: pixel-normalised z → dense to 4×4 (gain √2/4) → lrelu, PN → conv3×3 → lrelu, PN; then per resolution: nearest
×2 → conv3×3 → lrelu, PN → conv3×3 → lrelu, PN; toRGB = 1×1 conv (gain 1, linear) per resolution. D mirrors it:
fromRGB 1×1 → lrelu; per resolution conv3×3 → lrelu → conv3×3 → lrelu → 2×2 average pool; at 4×4 minibatch
stddev → conv3×3 → lrelu → dense → lrelu → dense 1 (gain 1). All layers use the equalized learning rate.
Channels: nf(res) = min(channel_base / res, channels). With `blur` D low-pass filters before each downsampling
conv and downscales before the activation (StyleGAN's D, Karras et al. 2019; see `ProGANDiscriminator.block`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.blur import Blur
from ..nn.equalized import EqualConv2d, EqualLinear
from ..nn.mbstd import MinibatchStdDev
from ..nn.norms import pixel_norm
from ..registry import DISCRIMINATORS, GENERATORS
from .base import Discriminator, Generator, image_shape
from .progressive import Progressive, resize_to


@dataclass
class ProGANGeneratorConfig:
    name: str = "progan"
    z_dim: int = 128
    channels: int = 128  # the widest layer (the paper: 512)
    # nf(res) = min(channel_base / res, channels). The paper's ladder (official fmap_base 8192 / 2^(log2 res − 1):
    # 512 up to 32², 16 at 1024²) is channel_base 16384 with channels 512.
    channel_base: int = 2048


@dataclass
class ProGANDiscriminatorConfig:
    name: str = "progan"
    channels: int = 128
    channel_base: int = 2048
    mbstd_group: int = 4


def nf(res: int, base: int, cap: int) -> int:
    return max(1, min(base // res, cap))


def lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2)


class ProGANGenerator(Generator, Progressive):
    def __init__(self, out_shape, z_dim: int = 128, channels: int = 128, channel_base: int = 2048):
        c, res, _ = out_shape
        Progressive.__init__(self, res)
        self.z_dim, self.out_shape = z_dim, tuple(out_shape)
        w = [nf(4 * 2 ** k, channel_base, channels) for k in range(self.max_level + 1)]
        self.dense = EqualLinear(z_dim, w[0] * 16, gain=math.sqrt(2) / 4)
        self.conv4 = EqualConv2d(w[0], w[0], 3)
        self.blocks = nn.ModuleList([nn.ModuleList([EqualConv2d(w[k - 1], w[k], 3), EqualConv2d(w[k], w[k], 3)])
                                     for k in range(1, self.max_level + 1)])
        self.to_rgb = nn.ModuleList([EqualConv2d(w[k], c, 1, gain=1.0) for k in range(self.max_level + 1)])
        self.widths = w

    def block(self, k: int, x: torch.Tensor) -> torch.Tensor:
        if k == 0:
            x = pixel_norm(lrelu(self.dense(pixel_norm(x)).view(-1, self.widths[0], 4, 4)))
            return pixel_norm(lrelu(self.conv4(x)))
        conv_a, conv_b = self.blocks[k - 1]
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        return pixel_norm(lrelu(conv_b(pixel_norm(lrelu(conv_a(x))))))

    def forward(self, z: torch.Tensor, y=None) -> torch.Tensor:
        k, alpha = self.stage()
        x = z
        for i in range(k + 1):
            x = self.block(i, x)
        img = self.to_rgb[k](x)
        if alpha > 0:
            img = blend(img, self.to_rgb[k + 1](self.block(k + 1, x)), alpha)
        return resize_to(img, self.resolution)

    def feature_layers(self):
        return {f"b{4 * 2 ** k}": m for k, m in enumerate(self.to_rgb)}  # toRGB inputs = each block's output


def blend(low: torch.Tensor, high: torch.Tensor, alpha: float) -> torch.Tensor:
    """The fade-in: lerp(upsampled lower-resolution output, new output, α)."""
    return torch.lerp(F.interpolate(low, scale_factor=2, mode="nearest"), high, alpha)


class ProGANDiscriminator(Discriminator, Progressive):
    def __init__(self, in_shape, channels: int = 128, channel_base: int = 2048, mbstd_group: int = 4,
                 blur: bool = False):
        c, res, _ = in_shape
        Progressive.__init__(self, res)
        w = [nf(4 * 2 ** k, channel_base, channels) for k in range(self.max_level + 1)]
        self.from_rgb = nn.ModuleList([EqualConv2d(c, w[k], 1) for k in range(self.max_level + 1)])
        self.blocks = nn.ModuleList([nn.ModuleList([EqualConv2d(w[k], w[k], 3), EqualConv2d(w[k], w[k - 1], 3)])
                                     for k in range(1, self.max_level + 1)])
        self.blur = Blur() if blur else None
        self.mbstd = MinibatchStdDev(mbstd_group)
        self.conv4 = EqualConv2d(w[0] + 1, w[0], 3)
        self.dense = EqualLinear(w[0] * 16, w[0])
        self.out = EqualLinear(w[0], 1, gain=1.0)

    def block(self, k: int, x: torch.Tensor) -> torch.Tensor:
        """ProGAN (paper Table 2; official `D_paper` with fused_scale=False): conv → lrelu → conv → lrelu → 2×2
        average pool. With blur, StyleGAN's `D_basic` (networks_stylegan.py, reference/papers-details.md §1.4):
        conv → lrelu, then blur → conv → 2×2 box downscale → bias → lrelu (its fused stride-2 4×4 conv for inputs
        ≥ 128² is the same map). The pool commutes with adding conv_b's bias, not with the lrelu."""
        conv_a, conv_b = self.blocks[k - 1]
        x = lrelu(conv_a(x))
        if self.blur is None:
            return F.avg_pool2d(lrelu(conv_b(x)), 2)
        return lrelu(F.avg_pool2d(conv_b(self.blur(x)), 2))

    def forward_with_features(self, x: torch.Tensor, y=None):
        k, alpha = self.stage()
        if alpha > 0:
            top = resize_to(x, 4 * 2 ** (k + 1))
            h = torch.lerp(lrelu(self.from_rgb[k](F.avg_pool2d(top, 2))),
                           self.block(k + 1, lrelu(self.from_rgb[k + 1](top))), alpha)
        else:
            h = lrelu(self.from_rgb[k](resize_to(x, 4 * 2 ** k)))
        for i in range(k, 0, -1):
            h = self.block(i, h)
        h = lrelu(self.conv4(self.mbstd(h)))
        feats = lrelu(self.dense(h.flatten(1)))
        return self.out(feats).squeeze(1), feats

    def forward(self, x: torch.Tensor, y=None) -> torch.Tensor:
        return self.forward_with_features(x, y)[0]


@GENERATORS.register("progan", ProGANGeneratorConfig)
def build_progan_generator(cfg: ProGANGeneratorConfig, info) -> ProGANGenerator:
    return ProGANGenerator(image_shape(info, "progan"), cfg.z_dim, cfg.channels, cfg.channel_base)


@DISCRIMINATORS.register("progan", ProGANDiscriminatorConfig)
def build_progan_discriminator(cfg: ProGANDiscriminatorConfig, info) -> ProGANDiscriminator:
    return ProGANDiscriminator(image_shape(info, "progan"), cfg.channels, cfg.channel_base, cfg.mbstd_group)
