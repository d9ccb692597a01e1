import math

import torch

from ganforge.losses import d_loss_bce, g_loss_minimax, g_loss_nonsaturating


def test_losses_match_the_log_probabilities_of_the_gan_game():
    real = torch.tensor([2.0, -1.0, 0.5])
    fake = torch.tensor([-3.0, 0.0, 1.5])
    d_real, d_fake = torch.sigmoid(real), torch.sigmoid(fake)
    expected_d = -(torch.log(d_real).mean() + torch.log(1 - d_fake).mean())
    assert torch.allclose(d_loss_bce(real, fake), expected_d, atol=1e-6)
    assert torch.allclose(g_loss_minimax(fake), torch.log(1 - d_fake).mean(), atol=1e-6)
    assert torch.allclose(g_loss_nonsaturating(fake), -torch.log(d_fake).mean(), atol=1e-6)
    # At D's equilibrium (D = 1/2 everywhere) the discriminator loss is 2·log 2.
    assert math.isclose(d_loss_bce(torch.zeros(4), torch.zeros(4)).item(), 2 * math.log(2), rel_tol=1e-6)


def test_losses_stay_finite_for_extreme_logits():
    logits = torch.tensor([-200.0, 200.0])
    for value in (d_loss_bce(logits, logits), g_loss_minimax(logits), g_loss_nonsaturating(logits)):
        assert torch.isfinite(value)


def test_nonsaturating_cost_keeps_the_generator_gradient_when_d_rejects_fakes():
    """Goodfellow et al. 2014 §3: early on D rejects samples with high confidence, log(1 − D(G(z))) saturates,
    and −log D(G(z)) gives the generator a strong gradient instead."""
    confident_reject = torch.full((8,), -10.0, requires_grad=True)  # D(G(z)) ≈ 4.5e-5
    (g_mm,) = torch.autograd.grad(g_loss_minimax(confident_reject), confident_reject)
    (g_ns,) = torch.autograd.grad(g_loss_nonsaturating(confident_reject), confident_reject)
    # Both push the logit up (negative gradient of the loss), but the minimax push is vanishingly small.
    assert (g_mm < 0).all() and (g_ns < 0).all()
    assert g_mm.abs().max() < 1e-5
    assert (g_ns.abs() / g_mm.abs()).min() > 1e4
    # When D is fooled (D(G(z)) ≈ 1) the situation reverses: that is where the minimax cost is steep.
    fooled = torch.full((8,), 10.0, requires_grad=True)
    (g_mm2,) = torch.autograd.grad(g_loss_minimax(fooled), fooled)
    (g_ns2,) = torch.autograd.grad(g_loss_nonsaturating(fooled), fooled)
    assert g_mm2.abs().min() > 1e4 * g_ns2.abs().max()
