"""BigGAN's layers (Brock, Donahue, Simonyan, "Large Scale GAN Training for High Fidelity Natural Image Synthesis",
ICLR 2019, §3 and App. B), as in the authors' BigGAN-PyTorch `layers.py` (reference/papers-details.md §3.2-3.3):
conditional batch norm fed by linear layers, the residual up- and down-blocks and the SA-GAN self-attention block.

Spectral normalisation is PyTorch's parametrisation (one power iteration per forward in training mode only,
gradients through W, u and v constant); every weight is orthogonally initialised *before* it is wrapped (the
official `G_init=D_init='ortho'`), so the power iteration starts from the initial weights.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

BN_EPS = 1e-5  # BigGAN-PyTorch `BN_eps` default
SN_EPS = 1e-8  # BigGAN-PyTorch parser default `SN_eps`


def sn(module: nn.Module) -> nn.Module:
    """Orthogonal initialisation (`init.orthogonal_`, biases 0), then spectral normalisation W / σ(W)."""
    nn.init.orthogonal_(module.weight)
    if getattr(module, "bias", None) is not None:
        nn.init.zeros_(module.bias)
    return spectral_norm(module, n_power_iterations=1, eps=SN_EPS)


def sn_conv(c_in: int, c_out: int, kernel: int = 3, bias: bool = True) -> nn.Conv2d:
    return sn(nn.Conv2d(c_in, c_out, kernel, 1, kernel // 2, bias=bias))


class ConditionalBatchNorm(nn.Module):
    """BigGAN's conditional BN (`layers.ccbn`; §3 "shared embedding … linearly projected to each layer's gains and
    biases"): BN without affine parameters, then a gain 1 + W_γ·c and a bias W_β·c, per sample, from the
    conditioning vector c (the shared class embedding, with this block's z chunk under hierarchical z). W_γ and W_β
    are SN linear layers without bias. Without a shared embedding, c is the class index and W_γ, W_β are plain
    per-class embeddings (the official `which_embedding` for unshared G). The inner normalisation is an
    `nn.BatchNorm2d`, so under torchrun train/distributed.py converts it to cross-replica BN (the paper's
    synchronised statistics; nn/cross_replica_bn.py, on CPUs too) unchanged."""

    def __init__(self, num_features: int, cond_dim: int, num_classes: int = 0):
        super().__init__()
        self.bn = nn.BatchNorm2d(num_features, eps=BN_EPS, momentum=0.1, affine=False)
        if num_classes:  # unshared: c is the class index
            self.gain, self.bias = nn.Embedding(num_classes, num_features), nn.Embedding(num_classes, num_features)
            nn.init.orthogonal_(self.gain.weight)
            nn.init.orthogonal_(self.bias.weight)
        else:
            self.gain = sn(nn.Linear(cond_dim, num_features, bias=False))
            self.bias = sn(nn.Linear(cond_dim, num_features, bias=False))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        gain = 1 + self.gain(c)  # the `1 +`: a zero W·c leaves plain BN (the compare_gan #54 trap)
        return self.bn(x) * gain[:, :, None, None] + self.bias(c)[:, :, None, None]


class GBlock(nn.Module):
    """Generator block (`layers.GBlock`, Fig. 15b): ReLU(ccbn1(x, c)) → nearest ×2 → conv3 → ReLU(ccbn2(·, c)) →
    conv3, plus the shortcut nearest ×2 → conv1 (always learnable: every G block upsamples)."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int, num_classes: int = 0):
        super().__init__()
        self.bn1 = ConditionalBatchNorm(c_in, cond_dim, num_classes)
        self.conv1 = sn_conv(c_in, c_out)
        self.bn2 = ConditionalBatchNorm(c_out, cond_dim, num_classes)
        self.conv2 = sn_conv(c_out, c_out)
        self.shortcut = sn_conv(c_in, c_out, 1)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x, c)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h), c)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class DBlock(nn.Module):
    """Discriminator block (`layers.DBlock`, wide: hidden width = output width; Fig. 15c): [ReLU] → conv3 → ReLU →
    conv3 [→ avgpool2]. The first block has no pre-activation and its shortcut pools first, then convolves
    (avgpool → conv1); the others convolve, then pool. The shortcut conv exists when the width changes or the block
    downsamples."""

    def __init__(self, c_in: int, c_out: int, downsample: bool, preactivation: bool):
        super().__init__()
        self.downsample, self.preactivation = downsample, preactivation
        self.conv1 = sn_conv(c_in, c_out)
        self.conv2 = sn_conv(c_out, c_out)
        self.shortcut = sn_conv(c_in, c_out, 1) if (c_in != c_out or downsample) else None

    def _shortcut(self, x: torch.Tensor) -> torch.Tensor:
        pool = (lambda t: F.avg_pool2d(t, 2)) if self.downsample else (lambda t: t)
        conv = self.shortcut if self.shortcut is not None else (lambda t: t)
        return pool(conv(x)) if self.preactivation else conv(pool(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(F.relu(self.conv1(F.relu(x) if self.preactivation else x)))
        if self.downsample:
            h = F.avg_pool2d(h, 2)
        return h + self._shortcut(x)


class SelfAttention(nn.Module):
    """The SA-GAN self-attention block as BigGAN-PyTorch's `layers.Attention` implements it (Zhang et al. 2019;
    Brock et al. 2019, App. B): θ = conv1(x) to C/8, φ = maxpool2(conv1(x)) to C/8, g = maxpool2(conv1(x)) to C/2;
    β = softmax over the pooled positions of θᵀφ; o = conv1(g βᵀ) back to C; out = x + γ·o with a learned scalar γ
    initialised to 0 (so the block starts as the identity). All four convs are SN and bias-free."""

    def __init__(self, channels: int):
        super().__init__()
        self.theta = sn_conv(channels, channels // 8, 1, bias=False)
        self.phi = sn_conv(channels, channels // 8, 1, bias=False)
        self.g = sn_conv(channels, channels // 2, 1, bias=False)
        self.o = sn_conv(channels // 2, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor, c: Optional[torch.Tensor] = None) -> torch.Tensor:
        n, ch, h, w = x.shape
        theta = self.theta(x).flatten(2)  # N × C/8 × HW
        phi = F.max_pool2d(self.phi(x), 2).flatten(2)  # N × C/8 × HW/4
        g = F.max_pool2d(self.g(x), 2).flatten(2)  # N × C/2 × HW/4
        beta = F.softmax(torch.bmm(theta.transpose(1, 2), phi), dim=-1)  # N × HW × HW/4
        o = self.o(torch.bmm(g, beta.transpose(1, 2)).view(n, ch // 2, h, w))
        return x + self.gamma * o
