""""Standing statistics" for batch norm at sampling time (Brock, Donahue, Simonyan, ICLR 2019, BigGAN, App. C.1 /
BigGAN-PyTorch `utils.accumulate_standing_stats`): instead of the running averages kept during training, each BN
layer's mean and variance are recomputed as the plain average over many forward passes of G with its BN layers in
training mode, on the latents that sampling will use (e.g. truncated ones, one set of statistics per truncation).
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn


def batchnorms(module: nn.Module):
    """The BN layers of `module` that keep running statistics (BatchNorm2d, SyncBatchNorm, …)."""
    return [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]


@torch.no_grad()
def standing_statistics(module: nn.Module, draw: Callable[[int], Sequence], batches: int = 16) -> nn.Module:
    """Replace the running mean / variance of every BN layer of `module` by their average over `batches` forward
    passes `module(*draw(i))`, i = 0 … batches−1. Only the BN layers run in training mode (batch statistics),
    everything else stays in eval mode, so e.g. spectral normalisation's power iteration does not move; the BN
    layers' momentum and every module's mode are restored afterwards. Returns `module` (changed in place)."""
    norms = batchnorms(module)
    if not norms or batches < 1:
        return module
    modes = {m: m.training for m in module.modules()}
    momenta = [m.momentum for m in norms]
    module.eval()
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average: after k passes, the mean of the k batch statistics
        m.train()
    try:
        for i in range(batches):
            module(*draw(i))
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        for m, training in modes.items():
            m.training = training
    return module
