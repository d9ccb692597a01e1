"""Classifier confidence of samples: the share a task classifier assigns to one class with high probability.

A sample a classifier recognises with probability ≥ τ is *legible* in the sense of the "MNIST score" line of work
(Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016, §4: a good sample has a confident
label distribution p(y|x); the Inception Score rewards the same property on average). Reported as a share, with
the class histogram of the confident samples, so that a collapsed generator drawing one crisp digit is visible
as a high share over few classes.
"""
from __future__ import annotations

from typing import Dict

import torch


def confident_share(logits: torch.Tensor, threshold: float = 0.9) -> float:
    """Share of rows of N×K `logits` whose largest softmax probability is ≥ `threshold`."""
    if logits.dim() != 2 or len(logits) == 0:
        raise ValueError(f"expected non-empty N×K logits, got shape {tuple(logits.shape)}")
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must lie in (0, 1], got {threshold}")
    p = torch.softmax(logits.double(), dim=1).amax(dim=1)
    return float((p >= threshold).double().mean())


def confident_classes(logits: torch.Tensor, threshold: float = 0.9) -> Dict[int, int]:
    """{class: number of rows predicted as that class with probability ≥ `threshold`}."""
    p = torch.softmax(logits.double(), dim=1)
    conf, cls = p.max(dim=1)
    picked = cls[conf >= threshold]
    return {int(k): int((picked == k).sum()) for k in range(logits.shape[1])}
