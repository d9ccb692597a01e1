"""SN-GAN (Miyato et al., "Spectral Normalization for GANs", ICLR 2018) and the projection discriminator (Miyato &
Koyama, "cGANs with Projection Discriminator", ICLR 2018): the ResNet models of models/resnet.py."""

import pytest
import torch
from torch import nn

from ganforge.errors import ConfigError
from ganforge.models.resnet import (ConditionalBatchNorm2d, ResNetDiscriminator, ResNetGenerator,
                                    largest_singular_values, spectral_layers)

torch.set_num_threads(1)


def _train_d(d, steps, lr=2e-3, y=None):
    """A few hinge-loss updates of D on fixed random 'real' / 'fake' batches: the weights move, σ(W) drifts."""
    torch.manual_seed(1)
    real, fake = torch.randn(8, 1, 32, 32), torch.randn(8, 1, 32, 32) * 0.5
    opt = torch.optim.Adam(d.parameters(), lr=lr, betas=(0.0, 0.9))
    for _ in range(steps):
        loss = torch.relu(1 - d(real, y)).mean() + torch.relu(1 + d(fake, y)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


def test_every_normalised_weight_has_spectral_norm_one_after_training_forwards():
    torch.manual_seed(0)
    d = ResNetDiscriminator((1, 32, 32), channels=8, num_classes=10, conditional="projection").train()
    layers = dict(spectral_layers(d))
    # Every conv, the linear head and the projection embedding are normalised (10 convs + linear + embedding at 32²).
    n_weighted = sum(isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding)) for m in d.modules())
    assert len(layers) == n_weighted == 12
    y = torch.arange(8) % 10
    _train_d(d, 20, y=y)
    # Each D update moved the weights after the power iteration ran; now let the persistent u catch up.
    stale = largest_singular_values(d)
    x = torch.randn(8, 1, 32, 32)
    with torch.no_grad():
        for _ in range(10):
            d(x, y)
    sigma = largest_singular_values(d)
    assert set(sigma) == set(layers)
    for name, s in sigma.items():
        assert s == pytest.approx(1.0, abs=0.05), name
    # The raw weights are far from unit spectral norm: the 1 comes from the normalisation, not the init.
    raw = [torch.linalg.matrix_norm(m.parametrizations.weight.original.detach().flatten(1), ord=2).item()
           for m in layers.values()]
    assert max(abs(r - 1) for r in raw) > 0.3
    # One iteration per forward tracks the moving weights: σ stayed near 1 even right after the updates.
    assert max(abs(s - 1) for s in stale.values()) < 0.15


def test_spectral_norm_switch_off_leaves_the_weights_unnormalised():
    torch.manual_seed(0)
    d = ResNetDiscriminator((1, 32, 32), channels=8, spectral_norm=False)
    assert not list(spectral_layers(d))
    sigma = largest_singular_values(d)
    assert len(sigma) == 11 and max(abs(s - 1) for s in sigma.values()) > 0.3  # Glorot init: σ ≠ 1


def test_power_iteration_runs_in_training_mode_only():
    torch.manual_seed(0)
    d = ResNetDiscriminator((1, 32, 32), channels=8)
    _train_d(d, 5)  # weights moved since the last power iteration: one more would change u
    us = lambda: [m.parametrizations.weight[0]._u.clone() for _, m in spectral_layers(d)]  # noqa: E731
    x = torch.randn(4, 1, 32, 32)
    d.eval()
    u0 = us()
    out1, out2 = d(x), d(x)
    assert all(torch.equal(a, b) for a, b in zip(u0, us()))  # eval: u is frozen (the trap: updating it)
    assert torch.equal(out1, out2)  # and the output deterministic
    d.train()
    d(x)
    u1 = us()
    assert any(not torch.allclose(a, b, atol=1e-7) for a, b in zip(u0, u1))  # train: one iteration per forward
    assert not torch.equal(d.eval()(x), out1)  # and σ̃ moved with it


def test_projection_adds_embed_y_dot_pooled_features_to_the_logit():
    torch.manual_seed(0)
    d = ResNetDiscriminator((1, 32, 32), channels=8, num_classes=10, conditional="projection").eval()
    x = torch.randn(6, 1, 32, 32)
    y1, y2 = torch.tensor([0, 1, 2, 3, 4, 5]), torch.tensor([9, 8, 7, 6, 5, 5])
    logits, h = d.forward_with_features(x, y1)
    assert logits.shape == (6,) and h.shape == (6, 8)
    # ψ(φ(x)) + ⟨V_y, φ(x)⟩, with V the spectrally normalised embedding: W / σ̃ rebuilt from the stored u, v.
    sn = d.embed.parametrizations.weight[0]
    w = d.embed.parametrizations.weight.original
    v_y = (w / torch.dot(sn._u, w @ sn._v))[y1]
    unconditional = h @ d.linear.weight.flatten()
    assert torch.allclose(logits, unconditional + (v_y * h).sum(1), atol=1e-5)
    # Only the projection term depends on y: φ(x) does not, and a different label changes the logit.
    logits2, h2 = d.forward_with_features(x, y2)
    assert torch.equal(h, h2)
    assert (logits - logits2)[:5].abs().min() > 1e-4 and (logits - logits2)[5].abs() < 1e-6  # y=5 in both
    with pytest.raises(ValueError, match="labels"):
        d(x)


def test_conditional_bn_starts_as_plain_bn_and_its_gain_depends_on_the_class():
    torch.manual_seed(0)
    cbn, bn = ConditionalBatchNorm2d(4, num_classes=3), nn.BatchNorm2d(4, eps=2e-5)
    x, y = torch.randn(6, 4, 5, 5) * 3 + 1, torch.tensor([0, 1, 2, 0, 1, 2])
    assert torch.allclose(cbn(x, y), bn(x), atol=1e-5)  # gain 1, bias 0 at init (not a zero gain)
    with torch.no_grad():
        cbn.gain.weight[1] = 2.0
    out = cbn(x, y)
    assert torch.allclose(out[1], 2 * bn(x)[1], atol=1e-5) and torch.allclose(out[0], bn(x)[0], atol=1e-5)


@pytest.mark.parametrize("shape", [(1, 32, 32), (3, 32, 32), (3, 16, 16), (1, 64, 64)])
def test_shapes_and_layout(shape):
    torch.manual_seed(0)
    g = ResNetGenerator(shape, z_dim=16, channels=8, num_classes=10)
    d = ResNetDiscriminator(shape, channels=8, num_classes=10, conditional="projection")
    y = torch.arange(4)
    x = g(torch.randn(4, 16), y)
    assert x.shape == (4, *shape) and x.abs().max() <= 1 and g.out_shape == shape
    assert d(x, y).shape == (4,)
    n_up = {16: 2, 32: 3, 64: 4}[shape[1]]
    assert len(g.blocks) == n_up and list(g.feature_layers()) == [f"block{i + 1}" for i in range(n_up)] + ["out"]
    # D ends at 8×8 before the sum pool, whatever the resolution; at 32² exactly as snresnet_32: 4 blocks.
    assert d.blocks(x).shape[-1] == 8
    if shape[1] == 32:
        assert [getattr(b, "downsample", True) for b in d.blocks] == [True, True, False, False]
    with pytest.raises(ValueError, match="labels"):
        g(torch.randn(2, 16))


def test_rejects_bad_resolutions():
    with pytest.raises(ConfigError, match="power-of-two"):
        ResNetGenerator((1, 28, 28))
    with pytest.raises(ConfigError, match="power-of-two"):
        ResNetDiscriminator((1, 8, 8))
