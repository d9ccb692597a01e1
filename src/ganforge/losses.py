"""GAN objectives on discriminator logits.

Goodfellow et al. 2014, "Generative Adversarial Nets": D maximises E[log D(x)] + E[log(1 − D(G(z)))] (Eq. 1);
G minimises E[log(1 − D(G(z)))] — the *minimax* cost — or, as §3 recommends because that cost saturates when D
confidently rejects early samples, maximises E[log D(G(z))] — the *non-saturating* ("heuristic") cost.
With D(x) = sigmoid(l): log D = −softplus(−l) and log(1 − D) = −softplus(l), computed stably from logits.
"""
from __future__ import annotations

from typing import Callable, Dict

import torch
import torch.nn.functional as F


def d_loss_bce(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Discriminator loss of the GAN game: −E[log D(x)] − E[log(1 − D(G(z)))]."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def g_loss_minimax(fake_logits: torch.Tensor) -> torch.Tensor:
    """Minimax generator cost E[log(1 − D(G(z)))] (Goodfellow et al. 2014, Eq. 1), to be minimised."""
    return -F.softplus(fake_logits).mean()


def g_loss_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating ("heuristic") generator cost −E[log D(G(z))] (Goodfellow et al. 2014, §3)."""
    return F.softplus(-fake_logits).mean()


G_LOSSES: Dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "minimax": g_loss_minimax,
    "nonsaturating": g_loss_nonsaturating,
}
D_LOSSES: Dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {"bce": d_loss_bce}
