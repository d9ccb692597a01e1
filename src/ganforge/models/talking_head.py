"""The networks of few-shot talking heads (Zakharov, Shysheya, Burkov & Lempitsky, "Few-Shot Adversarial Learning of
Realistic Neural Talking Head Models", ICCV 2019, §3.2 and §3.3 "Network architecture"), small enough for a CPU.

* **Embedder** E(x, y): a frame and its rasterised landmarks, concatenated (6 channels) → residual down-sampling
  blocks (BigGAN-style, spectral norm) with a self-attention block at the middle resolution → ReLU → conv1 →
  global *sum* pooling → an embedding of `embed_dim` (512 in the paper). The few-shot embedding ê is the mean over
  K frames. No ReLU after the last conv: with one, L_MCH (80·|W_i − ê_i|, W_i small at the start) drove every
  unit of ê to zero within 20 steps in our runs, and dead ReLUs never recover (ê then carries no identity).
* **Generator** G(y, ψ): landmarks only as spatial input → down-sampling residual blocks with instance norm →
  residual blocks → up-sampling residual blocks → ReLU → conv → tanh. Every normalisation of the residual and
  up-sampling blocks is **AdaIN**: instance norm without affine parameters, then ``(1 + γ)·h + β`` per channel,
  with (γ, β) sliced from ψ. In the meta-learning stage ψ̂ = P·ê (P a learnt matrix, §3.2 "ψ̂_i = P ê_i"); in
  fine-tuning ψ' is a free parameter initialised to P·ê_NEW (§3.4). The ``1 +`` makes ψ = 0 plain instance norm
  (a choice made here: the paper does not say how the scale is parametrised).
* **Discriminator** D(x, y, i): V(x, y), a residual down-net like the embedder's (self-attention, ReLU, sum
  pooling), and the projection realism score ``r = V(x, y)ᵀ (W_i + w_0) + b`` with W the per-video matrix
  (N_videos × embed_dim), §3.2 Eq. 5. Fine-tuning replaces W_i + w_0 by one vector w' (§3.4).

All convolutional and linear layers carry spectral normalisation ("We use spectral normalization for all
convolutional and fully connected layers in all the networks", §3.3), except P, W, w_0 and b, which are the
embedding matrices whose values fine-tuning copies.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..registry import DISCRIMINATORS, GENERATORS
from .base import Discriminator, Generator
from .biggan_layers import DBlock, SelfAttention, sn_conv


@dataclass
class TalkingHeadGeneratorConfig:
    name: str = "talking-head"
    channels: int = 32  # width at full resolution; doubles at each down-sampling
    n_down: int = 2  # down-sampling blocks of G (and the depth of its up path)
    n_res: int = 2  # residual AdaIN blocks at the bottom of G
    embed_dim: int = 128  # the paper's 512
    embedder_channels: int = 32
    attention: bool = True  # self-attention in E, G and D at the lowest resolution above 4² (paper: yes)


@dataclass
class TalkingHeadDiscriminatorConfig:
    name: str = "talking-head"
    channels: int = 32
    embed_dim: int = 128  # must equal the generator's
    attention: bool = True


class AdaIN(nn.Module):
    """Instance norm without affine parameters, then (1 + γ)·h + β per sample and channel (γ, β from ψ)."""

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels
        self.norm = nn.InstanceNorm2d(channels, affine=False, eps=1e-5)

    def forward(self, h: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        gamma, beta = params[:, : self.channels], params[:, self.channels :]
        return self.norm(h) * (1 + gamma[:, :, None, None]) + beta[:, :, None, None]


class DownIN(nn.Module):
    """G's down-sampling residual block with (affine) instance norm: IN → ReLU → conv3 → IN → ReLU → conv3 → pool,
    shortcut conv1 → pool."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.n1, self.n2 = nn.InstanceNorm2d(c_in, affine=True), nn.InstanceNorm2d(c_out, affine=True)
        self.c1, self.c2, self.skip = sn_conv(c_in, c_out), sn_conv(c_out, c_out), sn_conv(c_in, c_out, 1)

    def forward(self, x):
        h = self.c2(F.relu(self.n2(self.c1(F.relu(self.n1(x))))))
        return F.avg_pool2d(h, 2) + F.avg_pool2d(self.skip(x), 2)


class AdaBlock(nn.Module):
    """Residual block with AdaIN, optionally up-sampling ×2 (nearest): AdaIN → ReLU → [up] → conv3 → AdaIN → ReLU →
    conv3, shortcut [up →] conv1 when the width changes or the block up-samples."""

    def __init__(self, c_in: int, c_out: int, up: bool):
        super().__init__()
        self.up = up
        self.a1, self.a2 = AdaIN(c_in), AdaIN(c_out)
        self.c1, self.c2 = sn_conv(c_in, c_out), sn_conv(c_out, c_out)
        self.skip = sn_conv(c_in, c_out, 1) if (up or c_in != c_out) else None

    @property
    def n_params(self) -> int:
        return 2 * (self.a1.channels + self.a2.channels)

    def forward(self, x, psi):
        p1, p2 = psi[:, : 2 * self.a1.channels], psi[:, 2 * self.a1.channels :]
        h = F.relu(self.a1(x, p1))
        if self.up:
            h, x = F.interpolate(h, scale_factor=2.0), F.interpolate(x, scale_factor=2.0)
        h = self.c2(F.relu(self.a2(self.c1(h), p2)))
        return h + (self.skip(x) if self.skip is not None else x)


def _down_net(c_in: int, channels: int, n_down: int, attention: bool, resolution: int) -> Tuple[nn.ModuleList, int]:
    """BigGAN-style D blocks (first without pre-activation), doubling width, SA after the block that reaches the
    lowest resolution above 4²; returns (blocks, output width)."""
    blocks, c, res = nn.ModuleList(), channels, resolution
    widths = [channels * 2 ** min(i, 3) for i in range(n_down)]
    prev = c_in
    for i, w in enumerate(widths):
        blocks.append(DBlock(prev, w, downsample=True, preactivation=i > 0))
        res //= 2
        if attention and res == max(8, resolution // 2 ** (n_down - 1)) and not any(
                isinstance(b, SelfAttention) for b in blocks):
            blocks.append(SelfAttention(w))
        prev = w
    return blocks, prev


def _n_down(resolution: int) -> int:
    """Down-samplings of E and D: to 4×4."""
    n = 0
    while resolution > 4:
        resolution //= 2
        n += 1
    return n


class Embedder(nn.Module):
    """E(x, y) → embedding (N × embed_dim); `average` gives ê over K frames (paper §3.2, Eq. 1)."""

    def __init__(self, resolution: int, channels: int = 32, embed_dim: int = 128, attention: bool = True):
        super().__init__()
        self.blocks, width = _down_net(6, channels, _n_down(resolution), attention, resolution)
        self.out = sn_conv(width, embed_dim, 1)
        self.embed_dim = embed_dim

    def forward(self, frames: torch.Tensor, landmarks: torch.Tensor) -> torch.Tensor:
        h = torch.cat([frames, landmarks], 1)
        for b in self.blocks:
            h = b(h)
        return self.out(F.relu(h)).sum(dim=(2, 3))  # global sum pooling (no ReLU after the last conv: see above)

    def average(self, frames: torch.Tensor, landmarks: torch.Tensor) -> torch.Tensor:
        """ê for each of B episodes of K frames: frames, landmarks B×K×3×H×W → B × embed_dim (mean over K)."""
        b, k = frames.shape[:2]
        e = self(frames.flatten(0, 1), landmarks.flatten(0, 1))
        return e.view(b, k, -1).mean(1)


class TalkingHeadGenerator(Generator):
    """G(landmarks, ψ) with ψ = P·ê (meta-learning) or a given ψ (fine-tuning)."""

    z_dim = 0

    def __init__(self, resolution: int, channels: int = 32, n_down: int = 2, n_res: int = 2, embed_dim: int = 128,
                 attention: bool = True):
        super().__init__()
        self.out_shape = (3, resolution, resolution)
        widths = [channels * 2 ** min(i, 3) for i in range(n_down + 1)]
        self.stem = sn_conv(3, channels)
        self.down = nn.ModuleList(DownIN(widths[i], widths[i + 1]) for i in range(n_down))
        self.attn = SelfAttention(widths[-1]) if attention else None
        self.res = nn.ModuleList(AdaBlock(widths[-1], widths[-1], up=False) for _ in range(n_res))
        self.ups = nn.ModuleList(AdaBlock(widths[i + 1], widths[i], up=True) for i in reversed(range(n_down)))
        self.out_norm = AdaIN(channels)
        self.to_rgb = sn_conv(channels, 3)
        self.n_psi = sum(b.n_params for b in [*self.res, *self.ups]) + 2 * channels
        self.project = nn.Linear(embed_dim, self.n_psi, bias=False)  # P
        nn.init.normal_(self.project.weight, std=0.02)
        self.embed_dim = embed_dim

    def psi(self, e: torch.Tensor) -> torch.Tensor:
        """ψ̂ = P·ê: all AdaIN scales and biases (N × n_psi) from embeddings (N × embed_dim)."""
        return self.project(e)

    def forward(self, landmarks: torch.Tensor, e: Optional[torch.Tensor] = None,
                psi: Optional[torch.Tensor] = None) -> torch.Tensor:
        if psi is None:
            if e is None:
                raise ValueError("the talking-head generator needs an embedding e or AdaIN parameters psi")
            psi = self.psi(e)
        if psi.shape[0] == 1 and landmarks.shape[0] > 1:
            psi = psi.expand(landmarks.shape[0], -1)
        h = self.stem(landmarks)
        for b in self.down:
            h = b(h)
        if self.attn is not None:
            h = self.attn(h)
        i = 0
        for b in [*self.res, *self.ups]:
            h = b(h, psi[:, i : i + b.n_params])
            i += b.n_params
        h = F.relu(self.out_norm(h, psi[:, i:]))
        return torch.tanh(self.to_rgb(h))

    def feature_layers(self):
        return {f"res{i}": b for i, b in enumerate(self.res)}


class TalkingHeadDiscriminator(Discriminator):
    """r = V(x, y)ᵀ(W_i + w_0) + b, with V's block outputs returned for feature matching."""

    def __init__(self, resolution: int, n_videos: int, channels: int = 32, embed_dim: int = 128,
                 attention: bool = True):
        super().__init__()
        self.blocks, width = _down_net(6, channels, _n_down(resolution), attention, resolution)
        self.out = sn_conv(width, embed_dim, 1)
        self.W = nn.Parameter(torch.randn(max(n_videos, 1), embed_dim) * 0.02)  # per-video vectors (rows)
        self.w0 = nn.Parameter(torch.zeros(embed_dim))
        self.b = nn.Parameter(torch.zeros(()))
        self.embed_dim = embed_dim

    def features(self, x: torch.Tensor, landmarks: torch.Tensor) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        """(V(x, y) N × embed_dim, the activations after each block)."""
        h, feats = torch.cat([x, landmarks], 1), []
        for blk in self.blocks:
            h = blk(h)
            feats.append(h)
        return F.relu(self.out(F.relu(h))).sum(dim=(2, 3)), feats

    def score(self, v: torch.Tensor, video: Optional[torch.Tensor] = None,
              w: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Realism r (N): vᵀ(W_i + w_0) + b for video ids, or vᵀw + b for a given vector w (fine-tuning)."""
        vec = w[None] if w is not None else self.W[video] + self.w0
        return (v * vec).sum(1) + self.b

    def forward(self, x, landmarks, video=None, w=None) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        v, feats = self.features(x, landmarks)
        return self.score(v, video, w), feats


@GENERATORS.register("talking-head", TalkingHeadGeneratorConfig)
def build_generator(cfg: TalkingHeadGeneratorConfig, info) -> TalkingHeadGenerator:
    res = _resolution(info)
    return TalkingHeadGenerator(res, cfg.channels, cfg.n_down, cfg.n_res, cfg.embed_dim, cfg.attention)


def build_embedder(cfg: TalkingHeadGeneratorConfig, info) -> Embedder:
    return Embedder(_resolution(info), cfg.embedder_channels, cfg.embed_dim, cfg.attention)


@DISCRIMINATORS.register("talking-head", TalkingHeadDiscriminatorConfig)
def build_discriminator(cfg: TalkingHeadDiscriminatorConfig, info) -> TalkingHeadDiscriminator:
    return TalkingHeadDiscriminator(_resolution(info), info.num_classes, cfg.channels, cfg.embed_dim, cfg.attention)


def _resolution(info) -> int:
    if len(info.shape) != 3 or info.shape[0] != 3 or info.shape[1] != info.shape[2] or tuple(info.target_shape) != \
            tuple(info.shape):
        raise ConfigError("the talking-head networks need RGB frames with landmark images of the same size "
                          f"(data: talking-heads), got frames {tuple(info.shape)}, landmarks "
                          f"{tuple(info.target_shape)}")
    return int(info.shape[1])
