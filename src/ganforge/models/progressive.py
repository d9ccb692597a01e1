"""Progressive growing (Karras et al. 2018, "Progressive Growing of GANs", §2 and App. A): networks hold blocks
for every resolution 4², 8², …, R² and a `level` in [0, L]: level k means resolution 4·2^k is active, and a
fractional level k + α fades in resolution 4·2^(k+1) with weight α (the new block's output blended with the
previous resolution's, upsampled). The level is part of the module's state (`get_extra_state`), so checkpoints
resume mid-fade and a loaded generator draws at the level it was trained to. Images enter and leave at the full
resolution R: outputs are nearest-upsampled to R, inputs are average-pooled to the active resolution.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def num_levels(resolution: int) -> int:
    """L such that 4·2^L = resolution (a power of two ≥ 4)."""
    lvl = math.log2(resolution) - 2
    if resolution < 4 or lvl != int(lvl):
        raise ValueError(f"progressive networks need a power-of-two resolution ≥ 4, got {resolution}")
    return int(lvl)


def resize_to(x: torch.Tensor, size: int) -> torch.Tensor:
    """Nearest upsampling or 2×2-box downsampling (ProGAN's upscale2d / downscale2d) to size × size."""
    s = x.shape[-1]
    if s == size:
        return x
    if s < size:
        return F.interpolate(x, scale_factor=size // s, mode="nearest")
    return F.avg_pool2d(x, s // size)


def fade_images(x: torch.Tensor, level: float) -> torch.Tensor:
    """Reals as the networks see them at `level` (ProGAN's process_reals): pooled to the active resolution and,
    during a fade, blended with their own lower-resolution version, x ← lerp(up(down(x)), x, α); returned at the
    input's size."""
    full = x.shape[-1]
    k = int(math.floor(level))
    alpha = level - k
    res = 4 * 2 ** (k + (1 if alpha > 0 else 0))
    y = resize_to(x, min(res, full))
    if alpha > 0:
        y = torch.lerp(resize_to(resize_to(y, res // 2), res), y, alpha)
    return resize_to(y, full)


class Progressive(nn.Module):
    """Holds the level (a Python float, saved through the module's extra state)."""

    def __init__(self, resolution: int):
        super().__init__()
        self.max_level = num_levels(resolution)
        self.resolution = resolution
        self.level = float(self.max_level)  # fully grown unless a progressive method says otherwise

    def set_level(self, level: float) -> None:
        if not 0 <= level <= self.max_level:
            raise ValueError(f"level must lie in [0, {self.max_level}], got {level}")
        self.level = float(level)

    def stage(self):
        """(k, α): the stable level and the weight of the level being faded in (0 when none)."""
        k = min(int(math.floor(self.level)), self.max_level)
        return k, self.level - k

    def get_extra_state(self):
        return {"level": self.level}

    def set_extra_state(self, state) -> None:
        self.level = float(state["level"])
