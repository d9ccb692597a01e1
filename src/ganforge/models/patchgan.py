"""PatchGAN discriminator (Isola, Zhu, Zhou, Efros, "Image-to-Image Translation with Conditional Adversarial
Networks", CVPR 2017, §2.2.2 "Markovian discriminator (PatchGAN)" and §4.4; the official `NLayerDiscriminator` of
pytorch-CycleGAN-and-pix2pix / `defineD_n_layers` of phillipi/pix2pix).

Architecture with `n_layers` = n ≥ 1 (kernel 4, padding p, LeakyReLU 0.2):

* Conv(in → ndf, stride 2) + LReLU — no normalisation on the first layer;
* n − 1 × [Conv(stride 2), channels ×2 capped at 8·ndf, norm, LReLU];
* Conv(stride 1), channels ×2 capped at 8·ndf, norm, LReLU;
* Conv(stride 1) → 1 channel: the logits.

The output is **one logit per patch**, an N×1×H'×W' map (never a probability, never pooled): each logit judges
the input patch in its receptive field, `receptive_field(n_layers)` pixels wide: 1 (n = 0, the paper's
"PixelGAN": 1×1 convolutions only), 16 (n = 1), 34 (n = 2), 70 (n = 3, the default "70×70 PatchGAN"), 142 (n = 4),
286 (n = 5, the paper's "ImageGAN" at 256²). Losses average over the map (the official code applies the
criterion to the whole map). `global_patch: true` is the "full image" variant for small images: the map is
averaged over space before the loss, a single logit per image that sees the whole image (use it with an
n_layers whose receptive field covers the image, or any n — the averaging makes the judgement image-wide).

Conditioning (pix2pix's cGAN, §2.1): with `conditional: true` D sees concat(A, B) along channels, so its input has
C_A + C_B channels (taken from the data: `info.shape` and `info.target_shape`); otherwise it sees B alone (C_B).
The pix2pix method sets `conditional` from its own `method.conditional`.

`padding` defaults to 1 (pix2pix); pix2pixHD uses padding 2 (`ceil((4 − 1) / 2)`), which makes each map a little
larger and is why it is a parameter. `forward_with_features` returns every layer's output (pix2pixHD's
discriminator feature matching needs all of them).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Tuple

import torch
from torch import nn

from ..config import NONNEG
from ..errors import ConfigError
from ..registry import DISCRIMINATORS
from .base import Discriminator, normal_init

NORMS = ("batch", "instance", "none")


def receptive_field(n_layers: int, kernel: int = 4) -> int:
    """Receptive field (pixels, one side) of one output logit of a PatchGAN with `n_layers` stride-2 layers.

    Walking back from the output: the two stride-1 convs add (k − 1) each at stride 2^n, each stride-2 conv i adds
    (k − 1)·2^i. n = 0 is the 1×1 PixelGAN (all 1×1 convolutions): 1. Padding does not change the field.
    """
    if n_layers < 0:
        raise ValueError("n_layers must be ≥ 0")
    if n_layers == 0:
        return 1
    rf = 1 + 2 * (kernel - 1)  # the two stride-1 convs, at the output's scale
    for _ in range(n_layers):
        rf = (rf - 1) * 2 + kernel  # one stride-2 conv before them: r_in = s·(r_out − 1) + k
    return rf


def _norm_layer(kind: str, width: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(width)
    if kind == "instance":
        return nn.InstanceNorm2d(width, affine=False, track_running_stats=False)  # official instance norm
    return nn.Identity()


@dataclass
class PatchGANConfig:
    name: str = "patchgan"
    channels: int = 64  # ndf
    n_layers: int = field(default=3, metadata={"bound": NONNEG})  # 3: 70×70; 0: 1×1 PixelGAN; 1: 16×16
    norm: str = "batch"  # batch | instance | none
    conditional: bool = False  # D sees concat(A, B) (pix2pix's cGAN); set by the pix2pix method
    kernel: int = 4
    padding: int = 1  # pix2pix 1; pix2pixHD 2
    global_patch: bool = False  # the "full image" variant: average the patch map to one logit per image

    def validate(self):
        if self.norm not in NORMS:
            raise ConfigError(f"discriminator.norm must be one of {NORMS}, got {self.norm!r}")
        if self.n_layers < 0 or self.n_layers > 8:
            raise ConfigError(f"discriminator.n_layers must be in 0..8, got {self.n_layers}")
        if self.channels < 1 or self.kernel < 1 or self.padding < 0:
            raise ConfigError("discriminator.channels and kernel must be ≥ 1 and padding ≥ 0")


class PatchGANDiscriminator(Discriminator):
    """The (conditional) PatchGAN of pix2pix (Isola et al., CVPR 2017, §2.2.2): a fully convolutional net whose
    N×1×H'×W' output holds one real/fake logit per overlapping patch of `receptive_field(n_layers)` pixels.

    `forward(b, a=None)`: `b` is the image judged (domain B), `a` its condition (domain A), concatenated before the
    first layer when the discriminator is conditional.
    """

    def __init__(self, in_channels: int, channels: int = 64, n_layers: int = 3, norm: str = "batch",
                 kernel: int = 4, padding: int = 1, conditional: bool = False, global_patch: bool = False):
        super().__init__()
        self.in_channels, self.n_layers, self.conditional = in_channels, n_layers, conditional
        self.global_patch = global_patch
        use_bias = norm != "batch"  # official: no bias before BatchNorm (its β replaces it)
        blocks: List[nn.Module] = []
        if n_layers == 0:  # PixelGAN (official `PixelDiscriminator`): 1×1 convs, ndf then 2·ndf with norm
            blocks.append(nn.Sequential(nn.Conv2d(in_channels, channels, 1), nn.LeakyReLU(0.2, True)))
            blocks.append(nn.Sequential(nn.Conv2d(channels, 2 * channels, 1, bias=use_bias),
                                        _norm_layer(norm, 2 * channels), nn.LeakyReLU(0.2, True)))
            blocks.append(nn.Sequential(nn.Conv2d(2 * channels, 1, 1, bias=use_bias)))
        else:
            k, p = kernel, padding
            blocks.append(nn.Sequential(nn.Conv2d(in_channels, channels, k, 2, p), nn.LeakyReLU(0.2, True)))
            mult = 1
            for n in range(1, n_layers):
                prev, mult = mult, min(2**n, 8)
                blocks.append(nn.Sequential(nn.Conv2d(channels * prev, channels * mult, k, 2, p, bias=use_bias),
                                            _norm_layer(norm, channels * mult), nn.LeakyReLU(0.2, True)))
            prev, mult = mult, min(2**n_layers, 8)
            blocks.append(nn.Sequential(nn.Conv2d(channels * prev, channels * mult, k, 1, p, bias=use_bias),
                                        _norm_layer(norm, channels * mult), nn.LeakyReLU(0.2, True)))
            blocks.append(nn.Sequential(nn.Conv2d(channels * mult, 1, k, 1, p)))
        self.blocks = nn.ModuleList(blocks)
        normal_init(self)

    @property
    def receptive_field(self) -> int:
        return receptive_field(self.n_layers, self.blocks[0][0].kernel_size[0])

    def _input(self, b: torch.Tensor, a=None) -> torch.Tensor:
        if self.conditional:
            if a is None:
                raise ValueError("this PatchGAN is conditional: pass the input image a (D sees concat(a, b))")
            b = torch.cat([a, b], dim=1)
        return b

    def forward_with_features(self, b: torch.Tensor, a=None) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        """(logit map N×1×H'×W', [every block's output, the last one being the logit map]). The logit map is
        averaged to N×1×1×1 with `global_patch`."""
        h = self._input(b, a)
        feats = []
        for block in self.blocks:
            h = block(h)
            feats.append(h)
        if self.global_patch:
            h = h.mean(dim=(2, 3), keepdim=True)
        return h, feats

    def forward(self, b: torch.Tensor, a=None) -> torch.Tensor:
        h = self._input(b, a)
        for block in self.blocks:
            h = block(h)
        return h.mean(dim=(2, 3), keepdim=True) if self.global_patch else h


def patchgan_in_channels(info, conditional: bool) -> int:
    """C_B (the judged image: the data's target, or its images for one-domain data), plus C_A when conditional."""
    if info.two_domain:
        c_b = info.target_shape[0]
    elif info.is_image:
        c_b = info.shape[0]
    else:
        raise ConfigError(f"the PatchGAN needs image data (C×H×W), this dataset yields shape {info.shape}")
    if conditional:
        if not info.two_domain:
            raise ConfigError("discriminator.conditional needs two-domain data (an input image and its target)")
        if tuple(info.shape[1:]) != tuple(info.target_shape[1:]):
            raise ConfigError(f"a conditional PatchGAN needs input and target of one size, got {info.shape} and "
                              f"{info.target_shape}")
        return info.shape[0] + c_b
    return c_b


@DISCRIMINATORS.register("patchgan", PatchGANConfig)
def build_patchgan(cfg: PatchGANConfig, info) -> PatchGANDiscriminator:
    return PatchGANDiscriminator(patchgan_in_channels(info, cfg.conditional), cfg.channels, cfg.n_layers, cfg.norm,
                                 cfg.kernel, cfg.padding, cfg.conditional, cfg.global_patch)
