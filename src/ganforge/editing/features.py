"""The reconstruction loss of projection: pixels plus deep features (iGAN, Zhu et al. ECCV 2016, §3.1, Eq. 2).

iGAN measures `mean((x − G(z))²) + 0.002·mean((C(x) − C(G(z)))²)` with C = AlexNet's conv4 (ImageNet weights).
Nothing may be downloaded here, so C is one of ganforge's shipped evaluator networks (metrics/evaluator.py): the
output of the third conv–BN–ReLU block of its trunk (64 maps at half resolution, the "conv4" of a 4-block net),
taken without the evaluator's 8-bit quantisation so that gradients flow. Grey generators use the MNIST-5k
evaluator, colour ones the shapes evaluator; images with other channel counts are converted (grey repeated,
colour averaged) by the evaluator's own preprocessing. Our features are O(1) in size where AlexNet's conv4 values
are O(10), so the default feature weight is 0.1 rather than 0.002 (both terms then move the loss by similar
amounts); it is a parameter.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

FEATURE_WEIGHT = 0.1
FEATURE_BLOCKS = 3  # conv–BN–ReLU blocks of the evaluator trunk used as C


class FeatureNet(nn.Module):
    """The first `blocks` blocks of a shipped evaluator's trunk, frozen, in eval mode."""

    def __init__(self, evaluator, blocks: int = FEATURE_BLOCKS):
        super().__init__()
        self.evaluator = evaluator
        self.trunk = nn.Sequential(*list(evaluator.trunk)[: 3 * blocks])
        self.requires_grad_(False).eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(self.evaluator.preprocess(x))


def default_feature_net(channels: int, device="cpu") -> FeatureNet:
    """The shipped evaluator matching the image channels (1: mnist5k, otherwise shapes), unquantised."""
    from ..metrics.evaluator import load_evaluator

    name = "mnist5k" if channels == 1 else "shapes"
    return FeatureNet(load_evaluator(name, device=device, quantize=False)).to(device)


def reconstruction_loss(fake: torch.Tensor, target: torch.Tensor, features: Optional[nn.Module] = None,
                        feature_weight: float = FEATURE_WEIGHT, target_features: Optional[torch.Tensor] = None
                        ) -> torch.Tensor:
    """Per-sample loss (N,): mean squared pixel error + feature_weight · mean squared feature error."""
    loss = ((fake - target) ** 2).flatten(1).mean(1)
    if features is not None and feature_weight > 0:
        tf = features(target) if target_features is None else target_features
        loss = loss + feature_weight * ((features(fake) - tf) ** 2).flatten(1).mean(1)
    return loss


def pixel_error(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-sample mean squared pixel error (N,), images in [-1, 1]: the reconstruction error that is reported."""
    return ((a.float() - b.float()) ** 2).flatten(1).mean(1)
