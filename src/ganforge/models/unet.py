"""U-Net generator of pix2pix (Isola, Zhu, Zhou, Efros, "Image-to-Image Translation with Conditional Adversarial
Networks", CVPR 2017, §2.2.1 and App. 6.1.1; the official `UnetGenerator` / `UnetSkipConnectionBlock` of
pytorch-CycleGAN-and-pix2pix and `defineG_unet` of phillipi/pix2pix).

An encoder-decoder with skip connections between mirrored layers: the output of encoder layer i is concatenated
to the input of decoder layer n − i, so low-level information (edges, positions) can shortcut the bottleneck.

* Encoder ("C" blocks, App. 6.1.1): LeakyReLU(0.2) → Conv 4×4 stride 2 → norm. The outermost encoder conv has no
  activation before it and no norm after it; the innermost has no norm (its 1×1 bottleneck would be a batch of
  single pixels).
* Decoder: ReLU → ConvTranspose 4×4 stride 2 → norm (→ Dropout(0.5) in the `dropout_blocks` decoder blocks next to
  the innermost, the innermost excluded: 3 as the official port, which at 256² are the 4², 8² and 16² layers — and
  also at 32² with `num_downs` 5). The outermost: ReLU → ConvTranspose → Tanh.
* Widths: ngf·2^i capped at 8·ngf at encoder level i; `num_downs` defaults to log2(size) so the bottleneck is 1×1
  (5 at 32², 6 at 64², 8 at 256² — the paper's U-Net-256).

**Noise**: the paper gives G no z; its randomness is dropout, "applied at both training and test time" (§2.1).
With `test_dropout: true` (the default, as the paper and the official `test.lua`) dropout stays active when the
network is in eval mode; `false` gives a deterministic translator in eval mode. Norm layers follow eval mode
either way (running statistics).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..registry import GENERATORS
from .base import Translator, normal_init

NORMS = ("batch", "instance", "none")


def _norm(kind: str, width: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(width)
    if kind == "instance":
        return nn.InstanceNorm2d(width, affine=False, track_running_stats=False)
    return nn.Identity()


class TestTimeDropout(nn.Module):
    """Dropout that stays on in eval mode when `at_test` is set (pix2pix's noise source, §2.1)."""

    def __init__(self, p: float = 0.5, at_test: bool = True):
        super().__init__()
        self.p, self.at_test = p, at_test

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(x, self.p, training=self.training or self.at_test)

    def extra_repr(self) -> str:
        return f"p={self.p}, at_test={self.at_test}"


class UnetBlock(nn.Module):
    """One level of the U-Net: down (conv) → the inner levels → up (transposed conv), and for every level but the
    outermost, the skip: output = concat(input, up(...)) (official `UnetSkipConnectionBlock`)."""

    def __init__(self, outer_nc: int, inner_nc: int, input_nc: Optional[int] = None, inner: Optional[nn.Module] = None,
                 outermost: bool = False, innermost: bool = False, norm: str = "batch", dropout: bool = False,
                 test_dropout: bool = True):
        super().__init__()
        self.outermost = outermost
        input_nc = outer_nc if input_nc is None else input_nc
        bias = norm != "batch"
        downconv = nn.Conv2d(input_nc, inner_nc, 4, 2, 1, bias=bias)
        if outermost:
            down = [downconv]
            up = [nn.ReLU(True), nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, 2, 1), nn.Tanh()]
        elif innermost:
            down = [nn.LeakyReLU(0.2, True), downconv]
            up = [nn.ReLU(True), nn.ConvTranspose2d(inner_nc, outer_nc, 4, 2, 1, bias=bias), _norm(norm, outer_nc)]
        else:
            down = [nn.LeakyReLU(0.2, True), downconv, _norm(norm, inner_nc)]
            up = [nn.ReLU(True), nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, 2, 1, bias=bias), _norm(norm, outer_nc)]
            if dropout:
                up.append(TestTimeDropout(0.5, test_dropout))
        self.down = nn.Sequential(*down)
        self.inner = inner if inner is not None else nn.Identity()
        self.up = nn.Sequential(*up)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # As the official code (Lua and PyTorch), the in-place LeakyReLU at the start of `down` rewrites x, so the
        # skip carries LReLU(x); the parent's decoder starts with a ReLU, and ReLU(LReLU(x)) = ReLU(x), so this
        # is the same network as a copying skip, without the copy.
        h = self.up(self.inner(self.down(x)))
        return h if self.outermost else torch.cat([x, h], dim=1)


def default_num_downs(size: int) -> int:
    return int(round(math.log2(size)))


class UnetGenerator(Translator):
    """pix2pix's U-Net translator (Isola et al., CVPR 2017, §2.2.1 / App. 6.1.1): `num_downs` stride-2 levels
    with skip connections between mirrored encoder and decoder layers; dropout as the noise source."""

    def __init__(self, in_shape, out_shape, ngf: int = 64, num_downs: int = 0, norm: str = "batch",
                 dropout: bool = True, dropout_blocks: int = 3, test_dropout: bool = True):
        super().__init__()
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        c_in, h, w = in_shape
        c_out = out_shape[0]
        n = num_downs or default_num_downs(min(h, w))
        self.num_downs, self.test_dropout = n, test_dropout
        widths = [ngf * min(2**i, 8) for i in range(n)]  # encoder level i's output channels
        # innermost level n-1 first, wrapping outwards; level i (0 < i < n-1) gets dropout when it is one of the
        # `dropout_blocks` levels next to the innermost
        block = UnetBlock(widths[n - 2], widths[n - 1], innermost=True, norm=norm)
        for i in range(n - 2, 0, -1):
            drop = dropout and (n - 1 - i) <= dropout_blocks
            block = UnetBlock(widths[i - 1], widths[i], inner=block, norm=norm, dropout=drop,
                              test_dropout=test_dropout)
        self.model = UnetBlock(c_out, widths[0], input_nc=c_in, inner=block, outermost=True, norm=norm)
        normal_init(self)

    def levels(self):
        """The U-Net's blocks, outermost first."""
        block, out = self.model, []
        while isinstance(block, UnetBlock):
            out.append(block)
            block = block.inner
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def feature_layers(self) -> Dict[str, nn.Module]:
        """Each level's decoder output (innermost = `up1`)."""
        return {f"up{i + 1}": b.up for i, b in enumerate(reversed(self.levels()[1:]))}


@dataclass
class UnetConfig:
    name: str = "unet"
    ngf: int = 64
    num_downs: int = 0  # 0: log2(image size), a 1×1 bottleneck (5 at 32², 6 at 64², 8 at 256²)
    norm: str = "batch"  # batch | instance | none
    dropout: bool = True  # Dropout(0.5) in the decoder blocks next to the innermost (official use_dropout)
    dropout_blocks: int = 3
    test_dropout: bool = True  # the paper: dropout stays on at test time (eval mode)

    def validate(self):
        if self.norm not in NORMS:
            raise ConfigError(f"generator.norm must be one of {NORMS}, got {self.norm!r}")
        if self.ngf < 1 or self.num_downs < 0 or self.dropout_blocks < 0:
            raise ConfigError("generator.ngf must be ≥ 1, num_downs and dropout_blocks ≥ 0")
        if self.num_downs == 1:
            raise ConfigError("generator.num_downs must be ≥ 2 (an outermost and an innermost level)")


@GENERATORS.register("unet", UnetConfig)
def build_unet(cfg: UnetConfig, info) -> UnetGenerator:
    if not info.two_domain:
        raise ConfigError("the unet generator translates images: it needs two-domain data (input and target)")
    (_, h, w), (_, th, tw) = info.shape, info.target_shape
    if (h, w) != (th, tw):
        raise ConfigError(f"the unet generator keeps the image size: input {info.shape} vs target {info.target_shape}")
    n = cfg.num_downs or default_num_downs(min(h, w))
    if n < 2 or h % 2**n or w % 2**n:
        raise ConfigError(f"the unet generator needs an image size divisible by 2^num_downs = {2**n}, got {h}×{w}")
    return UnetGenerator(info.shape, info.target_shape, cfg.ngf, n, cfg.norm, cfg.dropout, cfg.dropout_blocks,
                         cfg.test_dropout)
