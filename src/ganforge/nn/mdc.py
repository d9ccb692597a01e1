"""Multiscale dilated convolution (Brock, Lim, Ritchie, Weston, "Neural Photo Editing with Introspective Adversarial
Networks", ICLR 2017, §3.2 "Multiscale Dilated Convolution Blocks"; official `layers.py` MDCL / MDBLOCK).

One 3×3 filter bank W (out × in × 3 × 3) is applied at several dilations and the results are summed, each output
channel weighted by a learnt coefficient per scale (all initialised to 1 / number of scales, i.e. a mean at start).
The base dilation 1 is always present; `scales` lists the others, where 0 stands for a 1×1 convolution with the
spatial mean of W. So with scales (0, 2, 3) one layer sees 7×7 pixels with 3·9 − 2 = 25 distinct taps for the
parameters of one 3×3 convolution (plus 3·out coefficients). There is no bias: the block normalises after it.

`MDCBlock` is the official MDBLOCK, a pre-activation residual block: y = act(BN(x + MDC(act(BN(MDC(act(BN(x)))))))).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class MDCConv(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, scales: Sequence[int] = (0, 2)):
        super().__init__()
        scales = tuple(int(s) for s in scales)
        if any(s < 0 for s in scales) or 1 in scales or len(set(scales)) != len(scales):
            raise ValueError(f"MDC scales are distinct dilations ≥ 2 or 0 (the 1×1 mean); 1 is built in, got {scales}")
        self.scales = (1,) + scales
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, 3, 3) * 0.02)  # official N(0, 0.02)
        self.coeffs = nn.Parameter(torch.full((len(self.scales), out_ch), 1.0 / len(self.scales)))

    def kernels(self):
        """(dilation, kernel) pairs: dilation 0 means the 1×1 mean kernel."""
        out = []
        for k, s in enumerate(self.scales):
            c = self.coeffs[k].view(-1, 1, 1, 1)
            out.append((s, c * (self.weight.mean(dim=(2, 3), keepdim=True) if s == 0 else self.weight)))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = 0
        for s, kernel in self.kernels():
            y = y + (F.conv2d(x, kernel) if s == 0 else F.conv2d(x, kernel, padding=s, dilation=s))
        return y

    @property
    def receptive_field(self) -> int:
        return 2 * max(self.scales) + 1


class MDCBlock(nn.Module):
    """Pre-activation residual MDC block (official MDBLOCK), channels kept; ReLU by default."""

    def __init__(self, channels: int, scales: Sequence[int] = (0, 2), act: nn.Module = None):
        super().__init__()
        self.bn0, self.bn1, self.bn2 = nn.BatchNorm2d(channels), nn.BatchNorm2d(channels), nn.BatchNorm2d(channels)
        self.conv1, self.conv2 = MDCConv(channels, channels, scales), MDCConv(channels, channels, scales)
        self.act = act if act is not None else nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(self.act(self.bn0(x)))
        h = self.conv2(self.act(self.bn1(h)))
        return self.act(self.bn2(x + h))
