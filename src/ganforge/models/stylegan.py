"""StyleGAN (Karras, Laine & Aila 2019, "A Style-Based Generator Architecture for Generative Adversarial Networks",
CVPR 2019; official conventions in reference/papers-details.md §1.1-1.5).

Mapping f: pixel-normalised z → 8 equalized-lr dense layers with lr multiplier 0.01 and leaky ReLU (the last one
too) → w. Synthesis g: a learned constant 4×4 input (initialised to ones); per resolution two layers, the first of
each block above 4² being nearest ×2 → conv3×3 → [1,2,1] blur; each layer ends with the epilogue noise (per-layer
N(0,1) image × learned per-channel weight, init 0) → bias → lrelu → instance norm → style modulation
x·(1 + s) + b with (s, b) = A_i(w_i); toRGB per resolution (1×1, gain 1, linear; no tanh). The noise images are
fresh draws in training, each layer's fixed image in eval mode (the official ``randomize_noise=False``; see
`nn.noise`), or explicit ones from `make_noise` with a seeded generator: sampling is a function of z alone.

Around them (`StyleGANGenerator`): the tracked average w̄ ← 0.995·w̄ + 0.005·mean(w) in training; style-mixing
regularisation (training, p = 0.9: a second z, one crossover point per minibatch drawn from [1, active layers),
layers before it take w₁, after it w₂); truncation in W at sampling (w' = w̄ + ψ(w − w̄) for layers < cutoff).
The discriminator is ProGAN's with StyleGAN's downsampling: blur → conv → 2×2 downscale → bias → lrelu
(`stylegan` discriminator, `D_basic`; reference/papers-details.md §1.4).

``modulation="demod"`` swaps AdaIN for StyleGAN2's modulated convolution with weight demodulation (Karras et al.
2020, §2.2; `nn.modulated`) inside the same layout: every layer, the one on the constant included, is a modulated
3×3 conv → noise → bias → lrelu·√2, and toRGB is a modulated 1×1 conv without demodulation reading the w of its
level's last layer. The rest (mapping, constant, noise, mixing, w̄, truncation, progressive levels) is unchanged.

``w_standardize=True`` (not in the paper; default off) returns w standardised by its mean and RMS spread measured at
initialisation (`MappingNetwork`): at this project's CPU budgets the mapping (lr ×0.01) barely moves, and the part of
w that every z shares delays the generator's way out of its early collapse onto one shape (on MNIST by about 1,000
iterations, with lower recall after it; measured in docs/features.md).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..nn.blur import Blur
from ..nn.equalized import SQRT2, EqualConv2d, EqualLinear
from ..nn.modulated import ModulatedConv2d
from ..nn.noise import NoiseInjection
from ..nn.norms import pixel_norm
from ..nn.style import AdaIN
from ..registry import DISCRIMINATORS, GENERATORS
from .base import Generator, image_shape
from .progan import ProGANDiscriminator, ProGANDiscriminatorConfig, blend, lrelu, nf
from .progressive import Progressive, resize_to


MODULATIONS = ("adain", "demod")


@dataclass
class StyleGANGeneratorConfig:
    name: str = "stylegan"
    z_dim: int = 128
    w_dim: int = 128
    mapping_layers: int = 8
    mapping_lr_mul: float = 0.01
    channels: int = 128
    channel_base: int = 2048
    style_mixing: float = 0.9  # probability of a mixed minibatch in training
    w_avg_beta: float = 0.995
    truncation_psi: float = 1.0  # applied when sampling (eval mode); 1 = off
    truncation_cutoff: int = 8  # layers < cutoff are truncated (0 = all layers)
    const_init: str = "ones"  # the learned constant's init: ones (StyleGAN v1 code) | normal (StyleGAN2 code)
    modulation: str = "adain"  # adain (StyleGAN v1) | demod (StyleGAN2's modulated conv with weight demodulation)
    w_standardize: bool = False  # w ← (w − μ₀) / σ₀, measured at initialisation (not in the paper; see MappingNetwork)

    def validate(self):
        if self.const_init not in ("ones", "normal"):
            raise ConfigError(f"generator.const_init must be ones or normal, got {self.const_init!r}")
        if self.modulation not in MODULATIONS:
            raise ConfigError(f"generator.modulation must be one of {', '.join(MODULATIONS)}, got {self.modulation!r}")


@dataclass
class StyleGANDiscriminatorConfig(ProGANDiscriminatorConfig):
    name: str = "stylegan"


class MappingNetwork(nn.Module):
    """z → w. With ``standardize``, w is returned as (w − μ₀) / σ₀, where μ₀ (per dimension) and σ₀ (the RMS spread
    around μ₀) are measured once, at construction, on 4,096 z from a fixed seed, and kept as buffers (so a loaded
    checkpoint maps z exactly as the trained one did). A deep random leaky-ReLU network maps every z into a narrow
    cone (the mean cosine of two w is 0.74 after 8 layers at 128 dimensions, 0 for z), and at lr ×0.01 it barely
    moves in a short run; standardising removes the part of w that every z shares. Not in the paper (default off)."""

    def __init__(self, z_dim: int, w_dim: int, layers: int = 8, lr_mul: float = 0.01, standardize: bool = False):
        super().__init__()
        dims = [z_dim] + [w_dim] * layers
        self.layers = nn.ModuleList([EqualLinear(a, b, lr_mul=lr_mul) for a, b in zip(dims[:-1], dims[1:])])
        self.standardize = standardize
        if standardize:
            with torch.no_grad():
                w = self.raw(torch.randn(4096, z_dim, generator=torch.Generator().manual_seed(0)))
            self.register_buffer("w_mu", w.mean(0))
            self.register_buffer("w_sd", (w - w.mean(0)).pow(2).mean().sqrt())

    def raw(self, z: torch.Tensor) -> torch.Tensor:
        x = pixel_norm(z)
        for layer in self.layers:
            x = lrelu(layer(x))
        return x

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        w = self.raw(z)
        return (w - self.w_mu) / self.w_sd if self.standardize else w


class StyleLayer(nn.Module):
    """[up ×2 → ] [conv3×3 → ] [blur → ] noise → bias → lrelu → AdaIN(w) (v1), or with ``modulation="demod"``:
    [up ×2 → ] modulated conv3×3(w) → [blur → ] noise → bias → lrelu·√2 (StyleGAN2's layer in v1's layout: the
    style enters through the weights, no instance norm; the gain √2 keeps unit variance, as StyleGAN2's bias_act)."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int, resolution: int, conv: bool = True, up: bool = False,
                 noise_seed: int = 0, modulation: str = "adain"):
        super().__init__()
        self.up, self.demod = up, modulation == "demod"
        if self.demod:
            self.conv = ModulatedConv2d(in_ch, out_ch, 3, w_dim)
        else:
            self.conv = EqualConv2d(in_ch, out_ch, 3, bias=False) if conv else None
            self.adain = AdaIN(w_dim, out_ch)
        self.blur = Blur() if up else None
        self.noise = NoiseInjection(out_ch, resolution, seed=noise_seed)
        self.bias = nn.Parameter(torch.zeros(out_ch))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        if self.demod:
            x = self.conv(x, w)
        elif self.conv is not None:
            x = self.conv(x)
        if self.blur is not None:
            x = self.blur(x)
        x = lrelu(self.noise(x, noise) + self.bias.view(1, -1, 1, 1))
        return x * SQRT2 if self.demod else self.adain(x, w)


class ModulatedToRGB(nn.Module):
    """StyleGAN2's toRGB: a 1×1 modulated convolution without demodulation, plus a bias; linear."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int):
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(out_ch))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.conv(x, w) + self.bias.view(1, -1, 1, 1)


def style_layers(widths: List[int], w_dim: int, modulation: str = "adain") -> List[StyleLayer]:
    """Two layers per resolution 4·2^k (widths[k] channels): at 4² the constant's epilogue (a modulated conv with
    ``demod``, which has no other place for the style) and a conv, above it an upsampling conv and a conv. Layer i's
    fixed eval-mode noise is drawn with seed i."""
    layers = []
    for k, ch in enumerate(widths):
        res = 4 * 2 ** k
        layers += [StyleLayer(widths[max(k - 1, 0)], ch, w_dim, res, conv=k > 0, up=k > 0, noise_seed=2 * k,
                              modulation=modulation),
                   StyleLayer(ch, ch, w_dim, res, noise_seed=2 * k + 1, modulation=modulation)]
    return layers


class SynthesisNetwork(Progressive):
    def __init__(self, out_shape, w_dim: int, channels: int = 128, channel_base: int = 2048,
                 const_init: str = "ones", modulation: str = "adain"):
        c, res, _ = out_shape
        super().__init__(res)
        w = [nf(4 * 2 ** k, channel_base, channels) for k in range(self.max_level + 1)]
        # A constant of ones is spatially flat: the first instance norm then turns the (tiny) first-layer noise
        # into the whole 4×4 pattern until the constant has learned structure; N(0, 1) starts with structure.
        init = torch.ones if const_init == "ones" else torch.randn
        self.const = nn.Parameter(init(1, w[0], 4, 4))
        self.layers = nn.ModuleList(style_layers(w, w_dim, modulation))
        self.to_rgb = nn.ModuleList([ModulatedToRGB(w[k], c, w_dim) if modulation == "demod" else
                                     EqualConv2d(w[k], c, 1, gain=1.0) for k in range(self.max_level + 1)])
        self.num_ws = len(self.layers)

    def block(self, k: int, x, ws, noise):
        for i in (2 * k, 2 * k + 1):
            x = self.layers[i](x, ws[:, i], None if noise is None else noise[i])
        return x

    def forward(self, ws: torch.Tensor, noise: Optional[List[torch.Tensor]] = None) -> torch.Tensor:
        k, alpha = self.stage()
        x = self.input(ws)
        for i in range(k + 1):
            x = self.block(i, x, ws, noise)
        img = self.rgb(k, x, ws)
        if alpha > 0:
            img = blend(img, self.rgb(k + 1, self.block(k + 1, x, ws, noise), ws), alpha)
        return resize_to(img, self.resolution)

    def input(self, ws: torch.Tensor) -> torch.Tensor:
        """The 4×4 input of the first layer: the learned constant, the same for every sample."""
        return self.const.expand(ws.shape[0], -1, -1, -1)

    def rgb(self, k: int, x, ws):
        """Level k's toRGB (the modulated one reads the w of that level's last layer)."""
        to_rgb = self.to_rgb[k]
        return to_rgb(x, ws[:, 2 * k + 1]) if isinstance(to_rgb, ModulatedToRGB) else to_rgb(x)


class StyleGANGenerator(Generator):
    def __init__(self, out_shape, z_dim: int = 128, w_dim: int = 128, mapping_layers: int = 8,
                 mapping_lr_mul: float = 0.01, channels: int = 128, channel_base: int = 2048,
                 style_mixing: float = 0.9, w_avg_beta: float = 0.995, truncation_psi: float = 1.0,
                 truncation_cutoff: int = 8, const_init: str = "ones", modulation: str = "adain",
                 w_standardize: bool = False):
        super().__init__()
        self.z_dim, self.w_dim, self.out_shape = z_dim, w_dim, tuple(out_shape)
        self.mapping_net = MappingNetwork(z_dim, w_dim, mapping_layers, mapping_lr_mul, w_standardize)
        self.synthesis_net = SynthesisNetwork(out_shape, w_dim, channels, channel_base, const_init, modulation)
        self.register_buffer("w_avg", torch.zeros(w_dim))
        self.style_mixing, self.w_avg_beta = style_mixing, w_avg_beta
        self.truncation_psi, self.truncation_cutoff = truncation_psi, truncation_cutoff

    # -- the style-based interface (PPL, separability, mixing and truncation tools use it) ----------------------
    @property
    def num_ws(self) -> int:
        return self.synthesis_net.num_ws

    def mapping(self, z: torch.Tensor, y=None) -> torch.Tensor:
        """z (N × z_dim) → w (N × w_dim)."""
        return self.mapping_net(z)

    def broadcast(self, w: torch.Tensor) -> torch.Tensor:
        return w.unsqueeze(1).expand(-1, self.num_ws, -1)

    def synthesis(self, ws: torch.Tensor, noise: Optional[List[torch.Tensor]] = None) -> torch.Tensor:
        """ws (N × num_ws × w_dim) → images; `noise` a list from `make_noise` (None: fresh noise per layer in
        training, each layer's fixed noise in eval mode)."""
        return self.synthesis_net(ws, noise)

    def make_noise(self, n: int, generator: Optional[torch.Generator] = None) -> List[torch.Tensor]:
        """One N(0, 1) image N×1×H×W per layer (H = that layer's resolution), from `generator` when given (on the
        CPU, so a seed gives the same noise on every device), else from the global RNG."""
        dev = self.w_avg.device
        sizes = [4 * 2 ** (i // 2) for i in range(self.num_ws)]
        return [torch.randn(n, 1, s, s, generator=generator, device="cpu" if generator is not None else dev).to(dev)
                for s in sizes]

    def truncate(self, ws: torch.Tensor, psi: float, cutoff: Optional[int] = None) -> torch.Tensor:
        """w' = w̄ + ψ(w − w̄) on layers < cutoff (all layers when cutoff is 0 or None)."""
        cutoff = cutoff or self.num_ws
        coefs = torch.ones(self.num_ws, 1, device=ws.device, dtype=ws.dtype)
        coefs[:cutoff] = psi
        return self.w_avg + coefs * (ws - self.w_avg)

    @staticmethod
    def mix(ws1: torch.Tensor, ws2: torch.Tensor, cutoff: int) -> torch.Tensor:
        """Layers < cutoff from ws1, the others from ws2."""
        layer = torch.arange(ws1.shape[1], device=ws1.device).view(1, -1, 1)
        return torch.where(layer < cutoff, ws1, ws2)

    def active_layers(self) -> int:
        return 2 * (math.ceil(self.synthesis_net.level) + 1)

    # -- the Generator contract --------------------------------------------------------------------------------------
    def forward(self, z: torch.Tensor, y=None) -> torch.Tensor:
        w = self.mapping(z)
        ws = self.broadcast(w)
        if self.training:
            with torch.no_grad():
                self.w_avg.lerp_(w.detach().float().mean(0), 1 - self.w_avg_beta)
            if self.style_mixing > 0 and float(torch.rand(())) < self.style_mixing:  # CPU draw: no device sync
                cur = self.active_layers()
                cutoff = int(torch.randint(1, cur, ())) if cur > 1 else cur
                ws = self.mix(ws, self.broadcast(self.mapping(torch.randn_like(z))), cutoff)
        elif self.truncation_psi != 1.0:
            ws = self.truncate(ws, self.truncation_psi, self.truncation_cutoff)
        return self.synthesis(ws)

    def set_level(self, level: float) -> None:
        self.synthesis_net.set_level(level)

    def feature_layers(self):
        return {f"layer{i}_{4 * 2 ** (i // 2)}": m for i, m in enumerate(self.synthesis_net.layers)}


@GENERATORS.register("stylegan", StyleGANGeneratorConfig)
def build_stylegan_generator(cfg: StyleGANGeneratorConfig, info) -> StyleGANGenerator:
    return StyleGANGenerator(image_shape(info, "stylegan"), cfg.z_dim, cfg.w_dim, cfg.mapping_layers,
                             cfg.mapping_lr_mul, cfg.channels, cfg.channel_base, cfg.style_mixing, cfg.w_avg_beta,
                             cfg.truncation_psi, cfg.truncation_cutoff, cfg.const_init, cfg.modulation,
                             cfg.w_standardize)


@DISCRIMINATORS.register("stylegan", StyleGANDiscriminatorConfig)
def build_stylegan_discriminator(cfg: StyleGANDiscriminatorConfig, info) -> ProGANDiscriminator:
    return ProGANDiscriminator(image_shape(info, "stylegan"), cfg.channels, cfg.channel_base, cfg.mbstd_group,
                               blur=True)
