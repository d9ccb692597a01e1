"""Encoder, decoder and the AdaIN style-transfer network (Huang & Belongie, "Arbitrary Style Transfer in Real-time
with Adaptive Instance Normalization", ICCV 2017, §6).

* Encoder f: the first layers of a VGG-like stack — 3×3 convolutions with ReLU, 2×2 max pooling between stages —
  ending at the first ReLU of its last stage (relu4_1 for VGG-19). Its *taps* are the first ReLU of every stage
  (relu1_1, relu2_1, relu3_1, relu4_1): the style loss compares their statistics, and the last one is where AdaIN
  is applied. The layer indices equal torchvision's ``vgg19().features`` so its weights load unchanged.
* Decoder g: the encoder mirrored — every convolution reversed, pooling replaced by nearest-neighbour upsampling,
  ReLU after every convolution but the last, no normalisation layers (§6.1: "we use nearest up-sampling … and
  reflection padding in both f and g"; instance/batch norm in the decoder hurt).
* t = AdaIN(f(c), f(s)); output T(c, s, α) = g((1 − α)·f(c) + α·t) (Eq. 14, the content-style trade-off).
* Loss L = L_c + λ·L_s (Eq. 11) with L_c = ‖f(g(t)) − t‖² (Eq. 12: against the AdaIN target t, not the content
  image's features) and L_s = Σ_i ‖μ(φ_i(g(t))) − μ(φ_i(s))‖² + ‖σ(φ_i(g(t))) − σ(φ_i(s))‖² (Eq. 13). As in the
  authors' released code the norms are mean squared errors; λ = 10 is their default style weight.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Dict, List, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.adain import adain, channel_mean_std

VGG19_STAGES = [[64, 64], [128, 128], [256, 256, 256, 256], [512]]  # conv1_1 … relu4_1
SMALL_STAGES = [[16, 16], [32, 32], [64]]  # the default encoder trained by scripts/train_stylizer.py
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class StylizerConfig:
    """Architecture of an encoder/decoder pair. `stages` lists the conv widths of each encoder stage; `input_mean`
    / `input_std` normalise [0, 1] RGB before the encoder (ImageNet statistics for VGG-19; 0.5 / 0.5, i.e. the
    [-1, 1] images as they are, for the small encoder)."""

    name: str = "small"
    stages: List[List[int]] = field(default_factory=lambda: [list(s) for s in SMALL_STAGES])
    in_channels: int = 3
    input_mean: Sequence[float] = (0.5, 0.5, 0.5)
    input_std: Sequence[float] = (0.5, 0.5, 0.5)

    @property
    def downsample(self) -> int:
        """Images must have sides divisible by this (2 ** number of poolings)."""
        return 2 ** (len(self.stages) - 1)

    def to_json(self) -> dict:
        d = asdict(self)
        d["input_mean"], d["input_std"] = list(self.input_mean), list(self.input_std)
        return d

    @staticmethod
    def from_json(d: dict) -> "StylizerConfig":
        return StylizerConfig(**d)

    @staticmethod
    def vgg19() -> "StylizerConfig":
        return StylizerConfig("vgg19", [list(s) for s in VGG19_STAGES], 3, IMAGENET_MEAN, IMAGENET_STD)


def _conv(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1, padding_mode="reflect")


class Encoder(nn.Module):
    """conv3×3-ReLU stages with max pooling between them; `forward` returns the taps (first ReLU per stage)."""

    def __init__(self, config: StylizerConfig):
        super().__init__()
        self.config = config
        layers: List[nn.Module] = []
        self.tap_indices: List[int] = []
        cin = config.in_channels
        for s, widths in enumerate(config.stages):
            if s > 0:
                layers.append(nn.MaxPool2d(2, 2))
            for j, cout in enumerate(widths):
                layers += [_conv(cin, cout), nn.ReLU()]
                if j == 0:
                    self.tap_indices.append(len(layers) - 1)
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor(config.input_mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(config.input_std).view(1, -1, 1, 1), persistent=False)

    @property
    def out_channels(self) -> int:
        return int(self.config.stages[-1][-1])

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        """Images N×3×H×W in [-1, 1] -> [relu1_1, relu2_1, …] features; the last one is AdaIN's input."""
        h = ((x + 1) / 2 - self.mean) / self.std
        taps = []
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if i in self.tap_indices:
                taps.append(h)
        return taps


class Decoder(nn.Module):
    """The encoder mirrored: reversed convolutions with ReLU (none after the last), nearest 2× upsampling where the
    encoder pools. Output: images in (about) [-1, 1]; callers clamp for display."""

    def __init__(self, config: StylizerConfig):
        super().__init__()
        self.config = config
        convs = []  # (cin, cout) of the encoder, with None for a pooling
        cin = config.in_channels
        for s, widths in enumerate(config.stages):
            if s > 0:
                convs.append(None)
            for cout in widths:
                convs.append((cin, cout))
                cin = cout
        layers: List[nn.Module] = []
        for k, item in enumerate(reversed(convs)):
            if item is None:
                layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
                continue
            layers.append(_conv(item[1], item[0]))
            if k < len(convs) - 1:
                layers.append(nn.ReLU())
        self.layers = nn.Sequential(*layers)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.layers(t)


class StyleTransferNet(nn.Module):
    """Encoder f (frozen) -> AdaIN -> decoder g (Huang & Belongie 2017, Fig. 2)."""

    def __init__(self, config: StylizerConfig):
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
        self.encoder.requires_grad_(False)

    def target(self, content: torch.Tensor, style: torch.Tensor, alpha: float = 1.0):
        """(t, style taps): t = (1 − α)·f(c) + α·AdaIN(f(c), f(s)) (Eq. 14), the decoder's input."""
        if not 0.0 <= float(alpha) <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        fc = self.encoder(content)[-1]
        fs = self.encoder(style)
        t = adain(fc, fs[-1])
        if alpha != 1.0:
            t = alpha * t + (1 - alpha) * fc
        return t, fs

    def forward(self, content: torch.Tensor, style: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
        return self.decoder(self.target(content, style, alpha)[0])

    def loss(self, content: torch.Tensor, style: torch.Tensor, style_weight: float = 10.0) -> Dict[str, torch.Tensor]:
        """{"loss": L_c + λ·L_s, "content": L_c, "style": L_s, "output": g(t)} (Eqs. 11-13, α = 1)."""
        with torch.no_grad():
            t, fs = self.target(content, style)
        out = self.decoder(t)
        fo = self.encoder(out)
        loss_c = F.mse_loss(fo[-1], t)
        loss_s = style_loss(fo, fs)
        return {"loss": loss_c + style_weight * loss_s, "content": loss_c, "style": loss_s, "output": out}

    @torch.no_grad()
    def style_distance(self, images: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """L_s between the encoder statistics of `images` and of `style` (Eq. 13): how far apart their styles are
        as this encoder sees them."""
        return style_loss(self.encoder(images), self.encoder(style))


def style_loss(feats: Sequence[torch.Tensor], style_feats: Sequence[torch.Tensor]) -> torch.Tensor:
    """Σ_i MSE(μ(φ_i(x)), μ(φ_i(s))) + MSE(σ(φ_i(x)), σ(φ_i(s))) over the encoder taps (Eq. 13); a single style
    (batch 1) is broadcast over the batch."""
    total = feats[0].new_zeros(())
    for a, b in zip(feats, style_feats):
        (ma, sa), (mb, sb) = channel_mean_std(a), channel_mean_std(b)
        total = total + F.mse_loss(ma, mb.expand_as(ma)) + F.mse_loss(sa, sb.expand_as(sa))
    return total
