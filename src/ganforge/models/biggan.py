"""BigGAN's generator and discriminator (Brock, Donahue, Simonyan, "Large Scale GAN Training for High Fidelity
Natural Image Synthesis", ICLR 2019, §3, §3.1, App. B), laid out as the authors' BigGAN-PyTorch `BigGAN.py`
(reference/papers-details.md §3.2-3.3) at 32², 64² and 128²:

* G: z split into `n_blocks + 1` equal chunks (hierarchical latent, "skip-z"); chunk 0 → SN linear → 4×4 maps;
  block i is conditioned on c_i = [shared(y), chunk i+1] (the shared class embedding, not spectrally normalised:
  "SN on G's embedding seems to randomly cripple G"), which conditional BN projects to gains 1 + W_γ·c and biases
  W_β·c; blocks BN-ReLU-up-conv-BN-ReLU-conv at widths in→out [4,4,4]→[4,4,4]·ch (32²), [16,16,8,4]→[16,8,4,2]·ch
  (64²), [16,16,8,4,2]→[16,8,4,2,1]·ch (128²); self-attention after the block that outputs `attention`²;
  output BN-ReLU-SNconv3-tanh.
* D: wide residual blocks, widths [4,4,4,4]·ch with downsampling [yes, yes, no, no] (32²), [1,2,4,8,16]·ch (64²),
  [1,2,4,8,16,16]·ch (128²), downsampling in all but the last; self-attention after the first block that outputs
  `attention`² (the official table labels every 32² D block "16", so its `D_attn=16` puts attention after all
  four; here the label is the block's true output size); ReLU → global *sum* pooling → h; projection logit
  `linear(h) + ⟨embed(y), h⟩` (Miyato & Koyama 2018) with an SN embedding.
* Spectral normalisation on every conv, linear and embedding of G and D except G's shared embedding; orthogonal
  initialisation everywhere (`G_init = D_init = 'ortho'`).

Both networks are class-conditional only: on unlabelled data they raise a ConfigError (there is no unconditional
mode; for unconditional ResNet GANs use the `resnet` networks).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..registry import DISCRIMINATORS, GENERATORS
from .base import Discriminator, Generator, dataset_classes, image_shape
from .biggan_layers import BN_EPS, DBlock, GBlock, SelfAttention, sn, sn_conv

# Widths as multiples of ch (BigGAN-PyTorch `G_arch` / `D_arch`); G blocks each double the size from 4×4.
G_ARCH = {32: ([4, 4, 4], [4, 4, 4]), 64: ([16, 16, 8, 4], [16, 8, 4, 2]), 128: ([16, 16, 8, 4, 2], [16, 8, 4, 2, 1])}
D_ARCH = {32: ([4, 4, 4, 4], [True, True, False, False]), 64: ([1, 2, 4, 8, 16], [True] * 4 + [False]),
          128: ([1, 2, 4, 8, 16, 16], [True] * 5 + [False])}


@dataclass
class BigGANGeneratorConfig:
    name: str = "biggan"
    z_dim: int = 120  # the paper's 128² G; split into n_blocks + 1 equal chunks under hierarchical z
    channels: int = 64  # ch, the width multiplier (the paper's 128² model: 96)
    shared_dim: int = 128  # width of the shared class embedding
    shared_embedding: bool = True  # False: per-layer class embeddings for the BN gains and biases (Table 1 row 2)
    hierarchical: bool = True  # skip-z: one z chunk per block (needs the shared embedding)
    attention: int = 64  # resolution after whose block the self-attention block sits; 0 = none

    def validate(self):
        for key in ("z_dim", "channels", "shared_dim"):
            if getattr(self, key) < 1:
                raise ConfigError(f"generator.{key} must be ≥ 1, got {getattr(self, key)}")
        if self.hierarchical and not self.shared_embedding:
            raise ConfigError("generator.hierarchical needs generator.shared_embedding: each block's conditioning "
                              "vector is [shared embedding, z chunk]")


@dataclass
class BigGANDiscriminatorConfig:
    name: str = "biggan"
    channels: int = 64  # ch, the width multiplier
    attention: int = 64  # resolution after whose first block the self-attention block sits; 0 = none

    def validate(self):
        if self.channels < 1:
            raise ConfigError(f"discriminator.channels must be ≥ 1, got {self.channels}")


def _arch(table: dict, resolution: int, what: str):
    if resolution not in table:
        raise ConfigError(f"the BigGAN {what} is defined at {', '.join(f'{r}²' for r in table)} (the official "
                          f"architecture tables), got {resolution}²")
    return table[resolution]


def _attention_index(attention: int, resolutions: List[int], widths: List[int], what: str) -> int:
    """The index of the first block that outputs `attention`² (−1 for none), checked."""
    if not attention:
        return -1
    if attention not in resolutions:
        raise ConfigError(f"{what}.attention must be 0 (none) or a block output resolution of this "
                          f"{what}: {sorted(set(resolutions))}, got {attention}")
    index = resolutions.index(attention)
    if widths[index] % 8:
        raise ConfigError(f"{what}.attention needs a width divisible by 8 at {attention}² (θ and φ have C/8 "
                          f"channels), got {widths[index]}")
    return index


class BigGANGenerator(Generator):
    """BigGAN's generator (see the module docstring). `forward(z, y)` takes N×z_dim codes and N class indices;
    `conditioning(z, y)` returns the input chunk and every block's conditioning vector."""

    truncation_trick = "resample"  # `ganforge truncate`: ψ is the threshold beyond which z values are re-drawn

    def __init__(self, out_shape, num_classes: int, z_dim: int = 120, channels: int = 64, shared_dim: int = 128,
                 shared_embedding: bool = True, hierarchical: bool = True, attention: int = 64):
        super().__init__()
        c_img, res, _ = out_shape
        widths_in, widths_out = (list(map(lambda m: m * channels, ws)) for ws in _arch(G_ARCH, res, "generator"))
        resolutions = [8 * 2**i for i in range(len(widths_in))]
        self.attention_after = _attention_index(attention, resolutions, widths_out, "generator")
        self.z_dim, self.out_shape, self.num_classes = z_dim, tuple(out_shape), num_classes
        self.hierarchical = hierarchical
        n_slots = len(widths_in) + 1 if hierarchical else 1
        if z_dim % n_slots:
            raise ConfigError(f"generator.z_dim {z_dim} must split into {n_slots} equal chunks (hierarchical z: "
                              f"one for the input, one per block), e.g. {n_slots * max(1, z_dim // n_slots)}")
        self.chunk = z_dim // n_slots if hierarchical else 0
        self.shared = nn.Embedding(num_classes, shared_dim) if shared_embedding else None  # no SN (official)
        if self.shared is not None:
            nn.init.orthogonal_(self.shared.weight)
        cond_dim = shared_dim + self.chunk
        self.linear = sn(nn.Linear(z_dim // n_slots, widths_in[0] * 16))
        self.blocks = nn.ModuleList(GBlock(i, o, cond_dim, 0 if shared_embedding else num_classes)
                                    for i, o in zip(widths_in, widths_out))
        self.attention = SelfAttention(widths_out[self.attention_after]) if attention else None
        self.bn = nn.BatchNorm2d(widths_out[-1], eps=BN_EPS)
        self.relu = nn.ReLU()
        self.to_image = sn_conv(widths_out[-1], c_img)

    def conditioning(self, z: torch.Tensor, y: torch.Tensor):
        """(the input chunk, [c_1 … c_n]): with hierarchical z, c_i = [shared(y), z chunk i]; without, the whole z
        is the input and every c_i is shared(y) (or the class index y itself for per-layer embeddings)."""
        y = y.long()
        cls = self.shared(y) if self.shared is not None else y
        if not self.hierarchical:
            return z, [cls] * len(self.blocks)
        chunks = torch.split(z, self.chunk, dim=1)
        return chunks[0], [torch.cat([cls, zc.to(cls.dtype)], dim=1) for zc in chunks[1:]]

    def forward(self, z: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        if y is None:
            raise ValueError("BigGAN's generator is class-conditional: pass the labels y")
        z0, conds = self.conditioning(z, y)
        h = self.linear(z0).view(z.shape[0], -1, 4, 4)
        for i, (block, c) in enumerate(zip(self.blocks, conds)):
            h = block(h, c)
            if i == self.attention_after:
                h = self.attention(h)
        return torch.tanh(self.to_image(self.relu(self.bn(h))))

    def feature_layers(self) -> Dict[str, nn.Module]:
        layers = {f"block{i + 1}": b for i, b in enumerate(self.blocks)}
        if self.attention is not None:
            layers["attention"] = self.attention
        layers["out"] = self.relu
        return layers

    def ortho_skip(self) -> List[nn.Parameter]:
        """Parameters BigGAN's orthogonal regularisation leaves out: the shared embedding (`utils.ortho`'s
        blacklist in the official train_fns)."""
        return list(self.shared.parameters()) if self.shared is not None else []


class BigGANDiscriminator(Discriminator):
    """BigGAN's projection discriminator (see the module docstring). `forward_with_features` returns (logits, h),
    h the N×C globally sum-pooled ReLU features."""

    def __init__(self, in_shape, num_classes: int, channels: int = 64, attention: int = 64):
        super().__init__()
        c_img, res, _ = in_shape
        mults, downs = _arch(D_ARCH, res, "discriminator")
        widths = [m * channels for m in mults]
        resolutions, r = [], res
        for d in downs:
            r = r // 2 if d else r
            resolutions.append(r)
        self.attention_after = _attention_index(attention, resolutions, widths, "discriminator")
        self.num_classes = num_classes
        self.blocks = nn.ModuleList(DBlock(c_in, c_out, d, preactivation=i > 0)
                                    for i, (c_in, c_out, d) in enumerate(zip([c_img] + widths[:-1], widths, downs)))
        self.attention = SelfAttention(widths[self.attention_after]) if attention else None
        self.linear = sn(nn.Linear(widths[-1], 1))
        self.embed = sn(nn.Embedding(num_classes, widths[-1]))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i == self.attention_after:
                h = self.attention(h)
        return F.relu(h).sum(dim=(2, 3))

    def forward_with_features(self, x: torch.Tensor, y=None):
        if y is None:
            raise ValueError("BigGAN's discriminator is class-conditional (projection): pass the labels y")
        h = self.features(x)
        return self.linear(h).flatten() + (self.embed(y.long()) * h).sum(dim=1), h

    def forward(self, x: torch.Tensor, y=None) -> torch.Tensor:
        return self.forward_with_features(x, y)[0]


@GENERATORS.register("biggan", BigGANGeneratorConfig)
def build_biggan_generator(cfg: BigGANGeneratorConfig, info) -> BigGANGenerator:
    k = dataset_classes(info, "the BigGAN generator (class-conditional)")
    return BigGANGenerator(image_shape(info, "BigGAN"), k, cfg.z_dim, cfg.channels, cfg.shared_dim,
                           cfg.shared_embedding, cfg.hierarchical, cfg.attention)


@DISCRIMINATORS.register("biggan", BigGANDiscriminatorConfig)
def build_biggan_discriminator(cfg: BigGANDiscriminatorConfig, info) -> BigGANDiscriminator:
    k = dataset_classes(info, "the BigGAN discriminator (projection)")
    return BigGANDiscriminator(image_shape(info, "BigGAN"), k, cfg.channels, cfg.attention)
