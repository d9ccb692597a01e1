"""Equalized learning rate (Karras et al. 2018, "Progressive Growing of GANs", §4.1; StyleGAN's lr multiplier,
Karras et al. 2019, App. C).

The stored parameter is drawn from N(0, 1/lr_mul²) and scaled at run time by c = lr_mul · gain / √fan_in, so the
weight actually used is N(0, gain²/fan_in) (He's initialisation) at every step. With an adaptive optimiser such as
Adam, whose step size is invariant to the gradient's scale, every layer then learns at the same speed
(the effective weight moves by ≈ lr · c per step), and `lr_mul` is a per-layer learning-rate multiplier
(0.01 for StyleGAN's mapping network). Biases are stored unscaled-by-fan-in and multiplied by lr_mul.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

SQRT2 = math.sqrt(2.0)


class EqualLinear(nn.Module):
    def __init__(self, in_features: int, out_features: int, bias: bool = True, gain: float = SQRT2,
                 lr_mul: float = 1.0, bias_init: float = 0.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_mul)) if bias else None
        self.scale = lr_mul * gain / math.sqrt(in_features)
        self.lr_mul = lr_mul

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = self.bias * self.lr_mul if self.bias is not None else None
        return F.linear(x, self.weight * self.scale, bias)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[1]} → {self.weight.shape[0]}, scale={self.scale:.4g}, lr_mul={self.lr_mul}"


class EqualConv2d(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = None,
                 bias: bool = True, gain: float = SQRT2, lr_mul: float = 1.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size) / lr_mul)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.scale = lr_mul * gain / math.sqrt(in_channels * kernel_size * kernel_size)
        self.lr_mul, self.stride = lr_mul, stride
        self.padding = kernel_size // 2 if padding is None else padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = self.bias * self.lr_mul if self.bias is not None else None
        return F.conv2d(x, self.weight * self.scale, bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        o, i, k, _ = self.weight.shape
        return f"{i} → {o}, k={k}, stride={self.stride}, scale={self.scale:.4g}, lr_mul={self.lr_mul}"
