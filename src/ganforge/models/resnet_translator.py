"""The ResNet image-to-image generator of CycleGAN (Zhu, Park, Isola, Efros, "Unpaired Image-to-Image Translation
using Cycle-Consistent Adversarial Networks", ICCV 2017, §4 and Appendix 7.2; official `ResnetGenerator` of
junyanz/pytorch-CycleGAN-and-pix2pix), after Johnson et al. 2016. The same class is pix2pixHD's global generator
G1 (Wang et al., CVPR 2018, §3.2: 4 downsamplings, 9 blocks), whose local enhancer drops the last three layers:
`body()` is everything before them.

Layout (`c7s1-k`, `dk`, `Rk`, `uk` of the paper's appendix), for `channels` = ngf and `n_down` = 2:

    ReflPad3, Conv7×7 ngf, norm, ReLU                                   c7s1-64
    n_down × [Conv3×3 s2 p1 (×2 channels), norm, ReLU]                  d128, d256
    n_blocks × ResnetBlock: x + (ReflPad1 Conv3×3 norm ReLU [Dropout 0.5] ReflPad1 Conv3×3 norm)(x)
    n_down × [ConvT3×3 s2 p1 output_padding 1 (/2 channels), norm, ReLU]   u128, u64
    ReflPad3, Conv7×7 → out channels, Tanh                              c7s1-3

Normalisation "instance" is InstanceNorm2d without affine parameters and without running statistics (the official
`get_norm_layer('instance')`), "batch" is BatchNorm2d. Convolutions carry a bias exactly when the norm is not batch
norm (the official `use_bias = norm_layer == nn.InstanceNorm2d`); the output convolution always has one. Weights
are N(0, 0.02) (official `init_weights('normal', 0.02)`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

from ..errors import ConfigError
from ..registry import GENERATORS
from .base import Translator, image_shape, normal_init

NORMS = ("instance", "batch", "none")
PADDINGS = ("reflect", "replicate", "zero")


def norm_layer(kind: str, width: int) -> nn.Module:
    """instance (no affine, no running stats, as the official code), batch, or none."""
    if kind == "instance":
        return nn.InstanceNorm2d(width, affine=False, track_running_stats=False)
    if kind == "batch":
        return nn.BatchNorm2d(width)
    return nn.Identity()


def _pad(kind: str, size: int):
    """(padding module or None, the conv's own padding) for `kind` reflect | replicate | zero."""
    if kind == "reflect":
        return nn.ReflectionPad2d(size), 0
    if kind == "replicate":
        return nn.ReplicationPad2d(size), 0
    return None, size


class ResnetBlock(nn.Module):
    """x + conv_block(x), conv_block = pad, Conv3×3, norm, ReLU, [Dropout(0.5)], pad, Conv3×3, norm (He et al.
    2016 as used by Johnson et al. and CycleGAN's official `ResnetBlock`)."""

    def __init__(self, width: int, norm: str = "instance", padding: str = "reflect", dropout: bool = False,
                 bias: bool = True):
        super().__init__()
        layers = []
        for i in range(2):
            pad, p = _pad(padding, 1)
            layers += [pad] if pad is not None else []
            layers += [nn.Conv2d(width, width, 3, padding=p, bias=bias), norm_layer(norm, width)]
            if i == 0:
                layers += [nn.ReLU(True)] + ([nn.Dropout(0.5)] if dropout else [])
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetTranslator(Translator):
    """CycleGAN's ResNet generator (see the module docstring); `model` is one Sequential whose last three layers
    (ReflPad3, Conv7×7, Tanh) are the output layer, so pix2pixHD's local enhancer can take `body()`.

    Args: in_shape / out_shape (C, H, W) of the source and target domain (same H, W); channels = ngf; n_down
    downsamplings (H and W must be divisible by 2^n_down); n_blocks residual blocks; norm instance | batch | none;
    padding (inside the residual blocks) reflect | replicate | zero; dropout in the blocks (off for CycleGAN);
    bias None = the official rule (no bias before batch norm), or True / False for every hidden convolution.
    """

    def __init__(self, in_shape, out_shape, channels: int = 64, n_down: int = 2, n_blocks: int = 9,
                 norm: str = "instance", padding: str = "reflect", dropout: bool = False,
                 bias: Optional[bool] = None):
        super().__init__()
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        if tuple(in_shape[1:]) != tuple(out_shape[1:]):
            raise ConfigError(f"the ResNet translator keeps the image size: input {tuple(in_shape)} and output "
                              f"{tuple(out_shape)} differ in height/width")
        h, w = in_shape[1:]
        if h % 2**n_down or w % 2**n_down or min(h, w) // 2**n_down < 2:
            raise ConfigError(f"generator.n_down={n_down} needs height and width divisible by {2 ** n_down} and "
                              f"at least {2 ** (n_down + 1)}, got {h}×{w}")
        use_bias = (norm != "batch") if bias is None else bool(bias)
        self.n_down, self.n_blocks, self.channels = n_down, n_blocks, channels
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(in_shape[0], channels, 7, bias=use_bias),
                  norm_layer(norm, channels), nn.ReLU(True)]
        for i in range(n_down):
            a = channels * 2**i
            layers += [nn.Conv2d(a, 2 * a, 3, stride=2, padding=1, bias=use_bias), norm_layer(norm, 2 * a),
                       nn.ReLU(True)]
        width = channels * 2**n_down
        layers += [ResnetBlock(width, norm, padding, dropout, use_bias) for _ in range(n_blocks)]
        for i in range(n_down):
            a = channels * 2 ** (n_down - i)
            layers += [nn.ConvTranspose2d(a, a // 2, 3, stride=2, padding=1, output_padding=1, bias=use_bias),
                       norm_layer(norm, a // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(channels, out_shape[0], 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        normal_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def body(self) -> nn.Sequential:
        """Every layer but the output layer (ReflPad3, Conv7×7, Tanh): the ngf-channel full-resolution feature
        map that pix2pixHD's local enhancer adds to its own (the modules are shared, not copied)."""
        return self.model[:-3]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The ngf × H × W feature map before the output layer."""
        return self.body()(x)

    def blocks(self):
        return [m for m in self.model if isinstance(m, ResnetBlock)]

    def feature_layers(self):
        return {f"block{i + 1}": m for i, m in enumerate(self.blocks())}


@dataclass
class ResnetTranslatorConfig:
    name: str = "resnet-translator"
    channels: int = 64  # ngf: maps of the first layer; ×2 per downsampling
    n_down: int = 2  # stride-2 downsamplings (2 in CycleGAN, 4 in pix2pixHD's global generator)
    n_blocks: int = 9  # residual blocks (9 at 256², 6 at 128² in CycleGAN)
    norm: str = "instance"  # instance | batch | none
    padding: str = "reflect"  # inside the residual blocks: reflect | replicate | zero
    dropout: bool = False  # Dropout(0.5) in the residual blocks (off for CycleGAN, as the official default)
    bias: str = "auto"  # auto (the official rule: no bias before batch norm) | on | off

    def validate(self):
        if self.norm not in NORMS:
            raise ConfigError(f"generator.norm must be one of {NORMS}, got {self.norm!r}")
        if self.padding not in PADDINGS:
            raise ConfigError(f"generator.padding must be one of {PADDINGS}, got {self.padding!r}")
        if self.bias not in ("auto", "on", "off"):
            raise ConfigError(f"generator.bias must be auto, on or off, got {self.bias!r}")
        if self.channels < 1 or self.n_down < 0 or self.n_blocks < 0:
            raise ConfigError(f"generator.channels must be ≥ 1, n_down and n_blocks ≥ 0, got {self.channels}, "
                              f"{self.n_down}, {self.n_blocks}")


@GENERATORS.register("resnet-translator", ResnetTranslatorConfig)
def build_resnet_translator(cfg: ResnetTranslatorConfig, info) -> ResnetTranslator:
    """A → B: from the dataset's `x` shape to its `target` shape."""
    in_shape = image_shape(info, "the ResNet translator")
    if len(info.target_shape) != 3:
        raise ConfigError("the ResNet translator needs two-domain image data (a dataset with a target image)")
    bias = None if cfg.bias == "auto" else cfg.bias == "on"
    return ResnetTranslator(in_shape, info.target_shape, cfg.channels, cfg.n_down, cfg.n_blocks, cfg.norm,
                            cfg.padding, cfg.dropout, bias)
