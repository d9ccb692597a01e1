"""SN-GAN's ResNet generator and discriminator (Miyato, Kataoka, Koyama, Yoshida, "Spectral Normalization for
Generative Adversarial Networks", ICLR 2018, §3 and App. B.4 "ResNet architectures"), with the projection
discriminator of Miyato & Koyama, "cGANs with Projection Discriminator", ICLR 2018 (Eq. 3, Fig. 14).

The layout follows the official `sngan_projection` code (`gen_models/resnet_32.py`, `dis_models/snresnet_32.py`,
their `resblocks.py`; see reference/papers-details.md §5.11):

* G `resnet_32`: z → linear → 4×4×ch → n up-blocks (BN-ReLU-up2-conv3-BN-ReLU-conv3, shortcut up2-conv1) →
  BN-ReLU-conv3-tanh, with n = log2(R/4) (3 at 32²). Class-conditional G uses categorical conditional BN.
* D `snresnet_32`: OptimizedBlock (conv3-ReLU-conv3-avgpool, shortcut avgpool-conv1) → blocks
  (ReLU-conv3-ReLU-conv3[-avgpool], shortcut conv1[-avgpool]) → ReLU → global *sum* pool → linear (no bias).
  At 32² two blocks downsample in total (32 → 16 → 8) and two more keep 8×8; other power-of-two resolutions ≥ 16
  add or drop downsampling blocks so the last two blocks always run at 8×8 (our extension; the official 64² and
  128² discriminators also widen their channels, this one keeps `channels` constant).
* Spectral normalisation: every conv, linear and embedding of D is wrapped in PyTorch's
  `torch.nn.utils.parametrizations.spectral_norm` — one power iteration per forward *in training mode only*
  (§2.1, Algorithm 1), weights reshaped to (out, in·kh·kw), the gradient flowing through W with u, v constant,
  eps 1e-12: the same algorithm as the official Chainer `max_singular_value` (PyTorch's ends each iteration on v,
  Chainer's on u, and PyTorch warms u up with 15 iterations at wrapping time, Chainer starts from a random u).
  G is not normalised (as in the paper).
* Initialisation as in the official code: Glorot-uniform with gain √2 for the residual 3×3 convs, gain 1 for
  shortcuts, G's input linear and output conv, D's linear and embedding; biases 0.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Iterator, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm as _torch_spectral_norm

from ..errors import ConfigError
from ..registry import DISCRIMINATORS, GENERATORS
from .base import Discriminator, Generator, dataset_classes, image_shape

BN_EPS = 2e-5  # Chainer's BatchNormalization default, used by the official code (PyTorch's is 1e-5)


@dataclass
class ResNetGeneratorConfig:
    name: str = "resnet"
    z_dim: int = 128
    channels: int = 64  # width of every block (the paper's CIFAR-10 G uses 256)
    conditional: bool = False  # categorical conditional BN in every block (Miyato & Koyama 2018, §4)


D_CONDITIONING = ("none", "projection")


@dataclass
class ResNetDiscriminatorConfig:
    name: str = "resnet"
    channels: int = 64  # width of every block (the paper's CIFAR-10 D uses 128)
    spectral_norm: bool = True  # False: the same D without any normalisation (the SN ablation)
    conditional: str = "none"  # none | projection (Miyato & Koyama 2018, Eq. 3)

    def validate(self):
        if self.conditional not in D_CONDITIONING:
            raise ConfigError(f"discriminator.conditional must be one of {D_CONDITIONING}, got {self.conditional!r}")
        if self.channels < 1:
            raise ConfigError(f"discriminator.channels must be ≥ 1, got {self.channels}")


def _log2_resolution(resolution: int) -> int:
    n = int(round(math.log2(resolution))) if resolution > 0 else 0
    if resolution < 16 or 2**n != resolution:
        raise ConfigError(f"the SN-GAN ResNet needs a power-of-two resolution ≥ 16, got {resolution}")
    return n


def _glorot(module: nn.Module, gain: float = 1.0) -> nn.Module:
    """Glorot-uniform weights and zero biases, as the official code's `GlorotUniform(gain)` initialisers."""
    nn.init.xavier_uniform_(module.weight, gain=gain)
    if getattr(module, "bias", None) is not None:
        nn.init.zeros_(module.bias)
    return module


def _sn(module: nn.Module, enabled: bool) -> nn.Module:
    """Spectral normalisation W / σ(W) (Miyato et al. 2018, Eq. 8) with one power iteration per training forward."""
    return _torch_spectral_norm(module, n_power_iterations=1, eps=1e-12) if enabled else module


def spectral_layers(module: nn.Module) -> Iterator[Tuple[str, nn.Module]]:
    """(name, layer) for every layer of `module` whose weight is spectrally normalised."""
    for name, m in module.named_modules():
        if parametrize.is_parametrized(m, "weight"):
            yield name, m


def weight_matrix(layer: nn.Module) -> torch.Tensor:
    """The weight a layer applies, as the matrix SN normalises: (out, in·kh·kw) (Miyato et al. 2018, §2.1)."""
    return layer.weight.detach().flatten(1)


@torch.no_grad()
def largest_singular_values(module: nn.Module) -> Dict[str, float]:
    """The exact largest singular value σ(W) of the weight each conv / linear / embedding layer of `module` applies
    (W / σ̃ for a spectrally normalised layer, σ̃ its power-iteration estimate), by SVD. The weights are read in
    eval mode so that no power iteration runs; each module's train/eval mode is restored afterwards."""
    modes = {m: m.training for m in module.modules()}
    module.eval()
    try:
        return {name: torch.linalg.matrix_norm(weight_matrix(m).double(), ord=2).item()
                for name, m in module.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding))}
    finally:
        for m, training in modes.items():
            m.training = training


class ConditionalBatchNorm2d(nn.Module):
    """Categorical conditional batch norm (de Vries et al. 2017; Miyato & Koyama 2018, §4): BN without affine, then
    a per-class gain γ_y and bias β_y. The gains are initialised to 1 and the biases to 0 (official
    `CategoricalConditionalBatchNormalization`), so that at initialisation it is plain BN — the trap to avoid is a
    gain that starts at 0 (a γ(y) without the `1 +` and zero-initialised)."""

    def __init__(self, num_features: int, num_classes: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(num_features, eps=BN_EPS, momentum=0.1, affine=False)
        self.gain = nn.Embedding(num_classes, num_features)
        self.bias = nn.Embedding(num_classes, num_features)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.bn(x) * self.gain(y)[:, :, None, None] + self.bias(y)[:, :, None, None]


class GBlock(nn.Module):
    """Generator residual block (Miyato et al. 2018, App. B.4, Fig. 8a; official `gen_models/resblocks.Block`):
    BN-ReLU-upsample×2 (nearest)-conv3-BN-ReLU-conv3, plus the shortcut upsample×2-conv1."""

    def __init__(self, c_in: int, c_out: int, num_classes: int = 0):
        super().__init__()
        self.bn1 = ConditionalBatchNorm2d(c_in, num_classes) if num_classes else nn.BatchNorm2d(c_in, eps=BN_EPS)
        self.bn2 = ConditionalBatchNorm2d(c_out, num_classes) if num_classes else nn.BatchNorm2d(c_out, eps=BN_EPS)
        self.conv1 = _glorot(nn.Conv2d(c_in, c_out, 3, 1, 1), math.sqrt(2))
        self.conv2 = _glorot(nn.Conv2d(c_out, c_out, 3, 1, 1), math.sqrt(2))
        self.shortcut = _glorot(nn.Conv2d(c_in, c_out, 1, 1, 0))

    def _bn(self, bn: nn.Module, h: torch.Tensor, y) -> torch.Tensor:
        return bn(h, y) if isinstance(bn, ConditionalBatchNorm2d) else bn(h)

    def forward(self, x: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        h = F.interpolate(F.relu(self._bn(self.bn1, x, y)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self._bn(self.bn2, self.conv1(h), y)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class ResNetGenerator(Generator):
    """SN-GAN's ResNet generator (Miyato et al. 2018, Table 4 / official `resnet_32`): z ~ N(0, I) → linear to
    4×4×ch → log2(R/4) up-blocks → BN-ReLU-conv3-tanh. With `num_classes` > 0 every block's BN is categorical
    conditional BN (Miyato & Koyama 2018, §4), as in the official conditional generator."""

    def __init__(self, out_shape, z_dim: int = 128, channels: int = 64, num_classes: int = 0):
        super().__init__()
        c_out, res, _ = out_shape
        self.z_dim, self.out_shape, self.num_classes, self.channels = z_dim, tuple(out_shape), num_classes, channels
        n_up = _log2_resolution(res) - 2
        self.linear = _glorot(nn.Linear(z_dim, 4 * 4 * channels))
        self.blocks = nn.ModuleList(GBlock(channels, channels, num_classes) for _ in range(n_up))
        self.bn = nn.BatchNorm2d(channels, eps=BN_EPS)
        self.relu = nn.ReLU()
        self.to_image = _glorot(nn.Conv2d(channels, c_out, 3, 1, 1))

    def forward(self, z: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.num_classes and y is None:
            raise ValueError("this generator is class-conditional: pass the labels y")
        h = self.linear(z).view(z.shape[0], self.channels, 4, 4)
        for block in self.blocks:
            h = block(h, y.long() if self.num_classes else None)
        return torch.tanh(self.to_image(self.relu(self.bn(h))))

    def feature_layers(self) -> Dict[str, nn.Module]:
        layers = {f"block{i + 1}": b for i, b in enumerate(self.blocks)}
        layers["out"] = self.relu  # the last hidden maps, BN-ReLU'd, before the output conv
        return layers


class OptimizedDBlock(nn.Module):
    """D's first block (official `dis_models/resblocks.OptimizedBlock`; Miyato et al. 2018, App. B.4): no
    pre-activation on the image; conv3-ReLU-conv3-avgpool2, shortcut avgpool2-conv1."""

    def __init__(self, c_in: int, c_out: int, sn: bool):
        super().__init__()
        self.conv1 = _sn(_glorot(nn.Conv2d(c_in, c_out, 3, 1, 1), math.sqrt(2)), sn)
        self.conv2 = _sn(_glorot(nn.Conv2d(c_out, c_out, 3, 1, 1), math.sqrt(2)), sn)
        self.shortcut = _sn(_glorot(nn.Conv2d(c_in, c_out, 1, 1, 0)), sn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.avg_pool2d(self.conv2(F.relu(self.conv1(x))), 2)
        return h + self.shortcut(F.avg_pool2d(x, 2))


class DBlock(nn.Module):
    """D residual block (official `dis_models/resblocks.Block`; Miyato et al. 2018, Fig. 8b): ReLU-conv3-ReLU-conv3
    [-avgpool2], with a learnable shortcut conv1[-avgpool2] when downsampling or changing width."""

    def __init__(self, c_in: int, c_out: int, downsample: bool, sn: bool):
        super().__init__()
        self.downsample = downsample
        self.conv1 = _sn(_glorot(nn.Conv2d(c_in, c_in, 3, 1, 1), math.sqrt(2)), sn)
        self.conv2 = _sn(_glorot(nn.Conv2d(c_in, c_out, 3, 1, 1), math.sqrt(2)), sn)
        learnable = downsample or c_in != c_out
        self.shortcut = _sn(_glorot(nn.Conv2d(c_in, c_out, 1, 1, 0)), sn) if learnable else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(F.relu(self.conv1(F.relu(x))))
        s = self.shortcut(x) if self.shortcut is not None else x
        if self.downsample:
            h, s = F.avg_pool2d(h, 2), F.avg_pool2d(s, 2)
        return h + s


class ResNetDiscriminator(Discriminator):
    """SN-GAN's ResNet discriminator (Miyato et al. 2018, Table 5 / official `snresnet_32`), every conv, linear and
    embedding spectrally normalised when `spectral_norm`. φ(x) = Σ_hw ReLU(blocks(x)) (global sum pooling); the
    logit is ψ(φ(x)) = w·φ(x), plus ⟨V_y, φ(x)⟩ with projection conditioning (Miyato & Koyama 2018, Eq. 3), V an
    (SN) embedding. `forward_with_features` returns (logits, φ(x)) with φ(x) N×C."""

    def __init__(self, in_shape, channels: int = 64, num_classes: int = 0, conditional: str = "none",
                 spectral_norm: bool = True):
        super().__init__()
        c_in, res, _ = in_shape
        n_down = _log2_resolution(res) - 3  # to 8×8; the optimized block is the first downsampling
        self.num_classes = num_classes if conditional == "projection" else 0
        self.conditional = "projection" if self.num_classes else "none"
        sn = spectral_norm
        blocks = [OptimizedDBlock(c_in, channels, sn)]
        blocks += [DBlock(channels, channels, True, sn) for _ in range(n_down - 1)]
        blocks += [DBlock(channels, channels, False, sn) for _ in range(2)]
        self.blocks = nn.Sequential(*blocks)
        self.linear = _sn(_glorot(nn.Linear(channels, 1, bias=False)), sn)
        self.embed = _sn(_glorot(nn.Embedding(self.num_classes, channels)), sn) if self.num_classes else None

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """φ(x): the globally sum-pooled ReLU of the last block, N×C."""
        return F.relu(self.blocks(x)).sum(dim=(2, 3))

    def forward_with_features(self, x: torch.Tensor, y=None):
        h = self.features(x)
        logits = self.linear(h).flatten()
        if self.embed is not None:
            if y is None:
                raise ValueError("this discriminator is class-conditional (projection): pass the labels y")
            logits = logits + (self.embed(y.long()) * h).sum(dim=1)
        return logits, h

    def forward(self, x: torch.Tensor, y=None) -> torch.Tensor:
        return self.forward_with_features(x, y)[0]




@GENERATORS.register("resnet", ResNetGeneratorConfig)
def build_resnet_generator(cfg: ResNetGeneratorConfig, info) -> ResNetGenerator:
    k = dataset_classes(info, "generator.conditional") if cfg.conditional else 0
    return ResNetGenerator(image_shape(info, "ResNet"), cfg.z_dim, cfg.channels, k)


@DISCRIMINATORS.register("resnet", ResNetDiscriminatorConfig)
def build_resnet_discriminator(cfg: ResNetDiscriminatorConfig, info) -> ResNetDiscriminator:
    k = dataset_classes(info, "a projection discriminator") if cfg.conditional != "none" else 0
    return ResNetDiscriminator(image_shape(info, "ResNet"), cfg.channels, k, cfg.conditional, cfg.spectral_norm)
