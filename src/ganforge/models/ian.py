"""The Introspective Adversarial Network (Brock, Lim, Ritchie, Weston, "Neural Photo Editing with Introspective
Adversarial Networks", ICLR 2017, §3; official `IAN.py` / `IAN_simple.py`), scaled to 32² on a CPU.

* `IANDiscriminator`: one convolutional body shared by the discriminator and the encoder ("introspective").
  Body: 5×5 stride-2 convolutions (widths c, 2c, 4c, … down to 4×4), LeakyReLU 0.2, BatchNorm from the second.
  Encoder head: FC (BN, ReLU) → μ and log σ of q(z|x), each through its own BatchNorm as the official
  `mu_bnorm` / `ls_bnorm` (IAN.py and IAN_simple.py alike). That BN is what keeps the code informative: it holds
  each dimension of μ at the batch variance γ² (γ starts at 1), so the KL term, which is averaged over 100
  dimensions against a pixel loss averaged over every pixel, cannot squeeze μ to a constant before the decoder
  learns to read it (without it the code collapses and every digit reconstructs as the same blurry mean digit).
  Discriminator head: global average pool of the last body layer → minibatch discrimination (Salimans et al.
  2016) → a dense 3-way classifier over (real, reconstruction, sample) — the ternary adversarial loss
  (methods/ian.py). `forward` keeps ganforge's one-logit contract with log p(real) − log(1 − p(real));
  `ternary_logits` gives the three.
  The official IAF/MADE step on z is left out (IAN_simple has no IAF either); `latent_bn: false` drops the
  μ / log σ BatchNorm (the ablation that shows the collapse).
* `IANGenerator`, the decoder: FC → 4×4 maps → 5×5 stride-2 transposed convolutions with an MDC block
  (nn/mdc.py, scales (0, 2)) after each but the last, BN + ReLU, tanh output. The RGB-Beta output layers of the
  full model are left out (as in IAN_simple).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CheckpointError, ConfigError
from ..nn.mdc import MDCBlock
from ..registry import DISCRIMINATORS, GENERATORS
from .base import Discriminator, Generator, image_shape, normal_init
from .improved import MinibatchDiscrimination

REAL, RECONSTRUCTION, SAMPLE = 0, 1, 2  # the ternary classes (official p1, p2, p3)


def _levels(resolution: int) -> int:
    n = int(round(math.log2(resolution / 4)))
    if resolution < 8 or 4 * 2**n != resolution:
        raise ConfigError(f"IAN needs a power-of-two resolution ≥ 8, got {resolution}")
    return n


@dataclass
class IANGeneratorConfig:
    name: str = "ian"
    z_dim: int = 100
    channels: int = 32  # width of the last hidden layer; ×2 per level down to 4×4
    max_channels: int = 512
    mdc_scales: Tuple[int, ...] = (0, 2)  # dilations of the MDC blocks besides 1 (0 = the 1×1 mean); [] = no MDC


@dataclass
class IANDiscriminatorConfig:
    name: str = "ian"
    z_dim: int = 100  # the encoder's code width: must equal generator.z_dim
    channels: int = 32
    max_channels: int = 512
    encoder_hidden: int = 256  # official FC 1000 at 64²
    mbd_kernels: int = 50  # minibatch discrimination kernels (official 500); 0 = none
    mbd_kernel_dim: int = 5
    latent_bn: bool = True  # official: BatchNorm on the μ and log σ outputs (mu_bnorm, ls_bnorm)


def _up(cin: int, cout: int) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(cin, cout, 5, 2, padding=2, output_padding=1, bias=False)


class IANGenerator(Generator):
    def __init__(self, out_shape, z_dim: int = 100, channels: int = 32, max_channels: int = 512,
                 mdc_scales=(0, 2)):
        super().__init__()
        c_out, res, _ = out_shape
        self.z_dim, self.out_shape, self.num_classes = z_dim, tuple(out_shape), 0
        n = _levels(res)
        widths = [min(channels * 2 ** (n - 1 - i), max_channels) for i in range(n)]  # 4×4 … R/2
        self.base = widths[0]
        self.fc = nn.Linear(z_dim, widths[0] * 16, bias=False)
        self.bn0 = nn.BatchNorm1d(widths[0] * 16)
        blocks: List[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:]):
            blocks += [_up(a, b), nn.BatchNorm2d(b), nn.ReLU()]
            if mdc_scales:
                blocks.append(MDCBlock(b, mdc_scales))
        self.body = nn.Sequential(*blocks)
        self.out = nn.ConvTranspose2d(widths[-1], c_out, 5, 2, padding=2, output_padding=1)
        normal_init(self)

    def forward(self, z: torch.Tensor, y=None) -> torch.Tensor:
        h = F.relu(self.bn0(self.fc(z))).view(len(z), self.base, 4, 4)
        return torch.tanh(self.out(self.body(h)))

    def feature_layers(self):
        return {f"layer{i + 1}": m for i, m in enumerate(m for m in self.body if isinstance(m, (nn.ReLU, MDCBlock)))}


class IANEncoderHead(nn.Module):
    """Body features -> (μ, log σ) of q(z|x)."""

    def __init__(self, in_features: int, hidden: int, z_dim: int, latent_bn: bool = True):
        super().__init__()
        self.fc = nn.Linear(in_features, hidden, bias=False)
        self.bn = nn.BatchNorm1d(hidden)
        self.mu, self.log_sigma = nn.Linear(hidden, z_dim), nn.Linear(hidden, z_dim)
        self.mu_bn = nn.BatchNorm1d(z_dim) if latent_bn else nn.Identity()
        self.ls_bn = nn.BatchNorm1d(z_dim) if latent_bn else nn.Identity()

    def forward(self, h: torch.Tensor):
        e = F.relu(self.bn(self.fc(h.flatten(1))))
        return self.mu_bn(self.mu(e)), self.ls_bn(self.log_sigma(e))


class IANDiscriminator(Discriminator):
    def __init__(self, in_shape, z_dim: int, channels: int = 32, max_channels: int = 512, encoder_hidden: int = 256,
                 mbd_kernels: int = 50, mbd_kernel_dim: int = 5, latent_bn: bool = True):
        super().__init__()
        c_in, res, _ = in_shape
        n = _levels(res)
        widths = [min(channels * 2**i, max_channels) for i in range(n)]
        layers, cin = [], c_in
        for i, w in enumerate(widths):
            conv = nn.Conv2d(cin, w, 5, 2, padding=2, bias=i == 0)
            layers.append(nn.Sequential(conv, nn.BatchNorm2d(w) if i else nn.Identity(), nn.LeakyReLU(0.2)))
            cin = w
        self.body = nn.ModuleList(layers)
        self.encoder = IANEncoderHead(widths[-1] * 16, encoder_hidden, z_dim, latent_bn)
        self.mbd = MinibatchDiscrimination(widths[-1], mbd_kernels, mbd_kernel_dim) if mbd_kernels else None
        self.judge = nn.Linear(widths[-1] + mbd_kernels, 3)
        self.z_dim = z_dim
        normal_init(self)

    def load_state_dict(self, state_dict, strict: bool = True, **kw):
        """As nn.Module's, with a one-line error for a checkpoint saved before the μ / log σ BatchNorm existed."""
        if strict and isinstance(self.encoder.mu_bn, nn.BatchNorm1d) and "encoder.mu_bn.weight" not in state_dict:
            raise CheckpointError("this IAN checkpoint predates the encoder's μ / log σ BatchNorm (its codes "
                                  "collapse, issue 20): retrain the run, or load it with discriminator.latent_bn=false")
        return super().load_state_dict(state_dict, strict=strict, **kw)

    def discriminator_parameters(self):
        """The body and the discriminator head: what the adversarial D loss trains (not the encoder head)."""
        heads = [self.judge] + ([self.mbd] if self.mbd is not None else [])
        return [p for m in [self.body, *heads] for p in m.parameters()]

    def body_features(self, x: torch.Tensor) -> List[torch.Tensor]:
        """The output of every body layer (the feature-wise reconstruction loss compares these)."""
        out, h = [], x
        for layer in self.body:
            h = layer(h)
            out.append(h)
        return out

    def judge_features(self, h: torch.Tensor) -> torch.Tensor:
        f = h.mean(dim=(2, 3))
        return self.mbd(f) if self.mbd is not None else f

    def ternary_from_features(self, h: torch.Tensor) -> torch.Tensor:
        return self.judge(self.judge_features(h))

    def ternary_logits(self, x: torch.Tensor) -> torch.Tensor:
        """N×3 logits over (real, reconstruction, sample)."""
        return self.ternary_from_features(self.body_features(x)[-1])

    def encode(self, x: torch.Tensor):
        """(μ, log σ) of q(z|x), each N×z_dim."""
        return self.encoder(self.body_features(x)[-1])

    def encode_mean(self, x: torch.Tensor) -> torch.Tensor:
        """μ: the code of x (the inference the Neural Photo Editor uses)."""
        return self.encode(x)[0]

    def forward_with_features(self, x: torch.Tensor, y=None):
        h = self.body_features(x)[-1]
        t = self.ternary_from_features(h)
        real = t[:, REAL] - torch.logsumexp(t[:, 1:], dim=1)  # log p(real) − log(1 − p(real))
        return real, h.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor, y=None) -> torch.Tensor:
        return self.forward_with_features(x, y)[0]


@GENERATORS.register("ian", IANGeneratorConfig)
def build_ian_generator(cfg: IANGeneratorConfig, info) -> IANGenerator:
    return IANGenerator(image_shape(info, "IAN"), cfg.z_dim, cfg.channels, cfg.max_channels, tuple(cfg.mdc_scales))


@DISCRIMINATORS.register("ian", IANDiscriminatorConfig)
def build_ian_discriminator(cfg: IANDiscriminatorConfig, info) -> IANDiscriminator:
    return IANDiscriminator(image_shape(info, "IAN"), cfg.z_dim, cfg.channels, cfg.max_channels, cfg.encoder_hidden,
                            cfg.mbd_kernels, cfg.mbd_kernel_dim, cfg.latent_bn)
