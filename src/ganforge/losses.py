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


# -- other adversarial objectives ----------------------------------------------------------------------------------
def d_loss_wasserstein(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """WGAN critic loss E[f(G(z))] − E[f(x)], minimised (Arjovsky et al. 2017, Algorithm 1: the critic maximises
    E[f(x)] − E[f(G(z))], an estimate of the Wasserstein-1 distance when f is 1-Lipschitz)."""
    return fake_scores.mean() - real_scores.mean()


def g_loss_wasserstein(fake_scores: torch.Tensor) -> torch.Tensor:
    """WGAN generator loss −E[f(G(z))] (Arjovsky et al. 2017, Algorithm 1); also the hinge-GAN generator loss
    (Lim & Ye 2017; Miyato et al. 2018)."""
    return -fake_scores.mean()


def d_loss_hinge(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Hinge discriminator loss E[max(0, 1 − D(x))] + E[max(0, 1 + D(G(z)))] (Lim & Ye 2017, "Geometric GAN";
    used by SN-GAN, Miyato et al. 2018, and BigGAN)."""
    return F.relu(1.0 - real_scores).mean() + F.relu(1.0 + fake_scores).mean()


LSGAN_01 = (0.0, 1.0, 1.0)  # a, b, c of the 0-1 coding (Mao et al. 2017, §3.2.2)
LSGAN_PEARSON = (-1.0, 1.0, 0.0)  # b − c = 1, b − a = 2: the objective minimises the Pearson χ² divergence


def d_loss_least_squares(real_scores: torch.Tensor, fake_scores: torch.Tensor, a: float = 0.0,
                         b: float = 1.0) -> torch.Tensor:
    """LSGAN discriminator loss ½E[(D(x) − b)²] + ½E[(D(G(z)) − a)²] (Mao et al. 2017, Eq. 2)."""
    return 0.5 * ((real_scores - b) ** 2).mean() + 0.5 * ((fake_scores - a) ** 2).mean()


def g_loss_least_squares(fake_scores: torch.Tensor, c: float = 1.0) -> torch.Tensor:
    """LSGAN generator loss ½E[(D(G(z)) − c)²] (Mao et al. 2017, Eq. 2)."""
    return 0.5 * ((fake_scores - c) ** 2).mean()


def g_loss_least_squares_prob(fake_logits: torch.Tensor) -> torch.Tensor:
    """Least-squares generator cost on D's probability, E[(D(G(z)) − 1)²] with D = σ(logit): E-GAN's third mutation
    (Wang et al. 2019, §3.2; the official code applies it to the sigmoid output, not to the logit)."""
    return ((torch.sigmoid(fake_logits) - 1.0) ** 2).mean()


def d_loss_bce_smoothed(real_logits: torch.Tensor, fake_logits: torch.Tensor, real_target: float = 0.9):
    """One-sided label smoothing (Salimans et al. 2016, §3.4): real targets become α (e.g. 0.9), fake targets stay
    0 — smoothing the fake side too would reinforce the generator's mistakes where p_data is 0."""
    return (real_target * F.softplus(-real_logits) + (1.0 - real_target) * F.softplus(real_logits)).mean() \
        + F.softplus(fake_logits).mean()


D_LOSSES.update({"wasserstein": d_loss_wasserstein, "hinge": d_loss_hinge, "least_squares": d_loss_least_squares})
G_LOSSES.update({"wasserstein": g_loss_wasserstein, "hinge": g_loss_wasserstein,
                 "least_squares": g_loss_least_squares})


# -- penalties (computed in float32 even under autocast) ---------------------------------------------------------
def _scores_and_input_grad(discriminator, x: torch.Tensor, y=None):
    x = x.detach().float().requires_grad_(True)
    with torch.autocast(device_type=x.device.type, enabled=False):
        scores = discriminator(x, y)
        (grad,) = torch.autograd.grad(scores.sum(), x, create_graph=True)
    return scores, grad


def gradient_penalty(discriminator, real: torch.Tensor, fake: torch.Tensor, y=None,
                     generator: torch.Generator = None) -> torch.Tensor:
    """WGAN-GP penalty E[(‖∇_x̂ D(x̂)‖₂ − 1)²] at x̂ = x + u·(G(z) − x), one u ~ U(0, 1) per sample, the norm taken
    over all of a sample's values (Gulrajani et al. 2017, Algorithm 1; not per pixel — a known trap). Multiply by
    λ (10 in the paper)."""
    u = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device, generator=generator)
    x_hat = real.detach().float() + u * (fake.detach().float() - real.detach().float())
    _, grad = _scores_and_input_grad(discriminator, x_hat, y)
    return ((grad.flatten(1).norm(2, dim=1) - 1.0) ** 2).mean()


def r1_penalty(discriminator, real: torch.Tensor, y=None) -> torch.Tensor:
    """R1 regulariser E[‖∇_x D(x)‖²] on real data (Mescheder, Geiger, Nowozin 2018, "Which Training Methods for
    GANs do actually Converge?", Eq. 9); the loss adds γ/2 times it (γ = 10 in StyleGAN)."""
    _, grad = _scores_and_input_grad(discriminator, real, y)
    return grad.flatten(1).pow(2).sum(dim=1).mean()
