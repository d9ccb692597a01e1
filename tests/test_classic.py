"""The classic GAN family's objectives and tricks, checked against closed forms and invariants (WGAN, WGAN-GP,
R1, LSGAN, hinge, one-sided label smoothing, historical averaging, cGAN, projection D, AC-GAN)."""
import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganforge.config import load_config
from ganforge.errors import ConfigError
from ganforge.losses import (d_loss_bce, d_loss_bce_smoothed, d_loss_hinge, d_loss_least_squares,
                             g_loss_least_squares, gradient_penalty, r1_penalty)
from ganforge.methods.acgan import ACGAN, ACGANConfig
from ganforge.methods.base import Noise
from ganforge.methods.standard import HistoricalAverage
from ganforge.models.dcgan import DCGANDiscriminator, DCGANGenerator
from ganforge.train import Trainer


class Linear(nn.Module):
    """A linear critic f(x) = w·x + b: ∇f = w everywhere."""

    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x, y=None):
        return x.flatten(1) @ self.w.flatten() + 0.3


def test_gradient_penalty_of_a_linear_critic_is_per_sample():
    w = torch.randn(3, 4, 4)
    real, fake = torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4)
    expected = (w.norm() - 1) ** 2  # the norm over all 48 values of a sample, not per pixel or channel
    assert gradient_penalty(Linear(w), real, fake).item() == pytest.approx(expected.item(), rel=1e-5)
    per_pixel = ((w.norm(dim=0) - 1) ** 2).mean()  # the known trap gives another value
    assert abs(per_pixel - expected) > 0.1
    # Differentiable in the critic's weights (it is a loss term): ∂/∂w (‖w‖ − 1)² = 2(‖w‖ − 1) w / ‖w‖.
    critic = Linear(w.clone())
    gradient_penalty(critic, real, fake).backward()
    assert torch.allclose(critic.w.grad, 2 * (w.norm() - 1) * w / w.norm(), atol=1e-5)


def test_gradient_penalty_interpolates_between_pairs():
    """f(x) = ½‖x‖² has ∇f(x̂) = x̂: the penalty reveals where x̂ lies; with real = fake it must be that point."""
    quad = lambda x, y=None: 0.5 * (x.flatten(1) ** 2).sum(1)  # noqa: E731
    x = torch.randn(6, 10)
    norms = x.norm(dim=1)
    assert gradient_penalty(quad, x, x).item() == pytest.approx(((norms - 1) ** 2).mean().item(), rel=1e-5)
    g = torch.Generator().manual_seed(3)
    u = torch.rand(6, 1, generator=torch.Generator().manual_seed(3))
    fake = torch.randn(6, 10)
    expected = (((x + u * (fake - x)).norm(dim=1) - 1) ** 2).mean()
    assert gradient_penalty(quad, x, fake, generator=g).item() == pytest.approx(expected.item(), rel=1e-5)


def test_r1_of_a_linear_critic():
    w = torch.randn(2, 3, 3)
    assert r1_penalty(Linear(w), torch.randn(4, 2, 3, 3)).item() == pytest.approx((w**2).sum().item(), rel=1e-5)


def test_least_squares_hinge_and_label_smoothing_closed_forms():
    real, fake = torch.tensor([0.2, 1.4]), torch.tensor([-0.5, 0.7])
    assert d_loss_least_squares(real, fake, a=0.0, b=1.0).item() == pytest.approx(
        0.5 * (0.64 + 0.16) / 2 + 0.5 * (0.25 + 0.49) / 2)
    assert g_loss_least_squares(fake, c=1.0).item() == pytest.approx(0.5 * (2.25 + 0.09) / 2)
    assert d_loss_hinge(real, fake).item() == pytest.approx((0.8 + 0.0) / 2 + (0.5 + 1.7) / 2)
    # One-sided smoothing changes only the real side: the fake term and its gradient are untouched...
    r, f = real.clone().requires_grad_(), fake.clone().requires_grad_()
    (gr_s, gf_s) = torch.autograd.grad(d_loss_bce_smoothed(r, f, 0.9), (r, f))
    (gr, gf) = torch.autograd.grad(d_loss_bce(r, f), (r, f))
    assert torch.equal(gf_s, gf) and not torch.allclose(gr_s, gr)
    # ...and the optimal D on a real sample becomes α = 0.9 instead of 1 (the gradient vanishes at σ(l) = α).
    at_alpha = torch.full((1,), math.log(0.9 / 0.1), requires_grad=True)
    (g,) = torch.autograd.grad(d_loss_bce_smoothed(at_alpha, torch.zeros(1), 0.9), at_alpha)
    assert abs(g.item()) < 1e-6


def test_historical_average_is_the_running_mean_of_parameters():
    net = nn.Linear(3, 1)
    history = HistoricalAverage(net)
    seen = [net.weight.detach().clone()]
    for _ in range(4):
        with torch.no_grad():
            net.weight.add_(torch.randn_like(net.weight))
        seen.append(net.weight.detach().clone())
        history.update()
    mean = torch.stack(seen).mean(0)
    assert torch.allclose(history.mean[0], mean, atol=1e-6)
    assert history.penalty().item() == pytest.approx(((net.weight - mean) ** 2).sum().item()
                                                     + ((net.bias - history.mean[1]) ** 2).sum().item(), rel=1e-5)


def test_wgan_clips_every_critic_weight_and_warms_up(tmp_path):
    cfg = load_config("wgan-mnist", ["generator.channels=8", "discriminator.channels=8", "train.batch_size=16",
                                     "train.steps=2", "train.progress=false", "train.eval_every=0"])
    trainer = Trainer(cfg, run_dir=str(tmp_path))
    trainer.fit()
    params = list(trainer.method.discriminator.parameters())
    assert max(p.abs().max().item() for p in params) <= 0.01 + 1e-9  # BatchNorm's gains included
    assert trainer.method.d_steps == 200  # 100 critic updates for each of the first 25 generator updates
    trainer.method.g_steps = 30
    assert trainer.method.critic_steps() == 5
    trainer.method.g_steps = 500
    assert trainer.method.critic_steps() == 100


def test_conditional_networks_use_the_label():
    torch.manual_seed(0)
    g = DCGANGenerator((1, 32, 32), z_dim=8, channels=8, num_classes=10)  # training mode: batch statistics
    z = torch.randn(4, 8)
    a, b = g(z, torch.zeros(4, dtype=torch.long)), g(z, torch.ones(4, dtype=torch.long))
    assert (a - b).abs().mean() > 0.05 * a.abs().mean()
    with pytest.raises(ValueError, match="pass the labels"):
        g(z)
    # Projection D (Miyato & Koyama 2018, Eq. 3): logit = ψ(φ(x)) + embed(y)·Σ_hw φ(x).
    d = DCGANDiscriminator((1, 32, 32), channels=8, num_classes=10, conditional="projection").eval()
    x, y = torch.randn(4, 1, 32, 32), torch.tensor([0, 3, 3, 9])
    logits, h = d.forward_with_features(x, y)
    unconditional = d.out(h).flatten()
    assert torch.allclose(logits, unconditional + (d.embed(y) * h.sum((2, 3))).sum(1), atol=1e-5)
    assert (d(x, y) - d(x, (y + 1) % 10)).abs().max() > 1e-4


def test_acgan_class_head_learns_the_digits(tmp_path):
    """A few AC-GAN updates already teach D's auxiliary head the real labels (its CE falls well below log 10)."""
    cfg = load_config("acgan-mnist", ["generator.channels=8", "discriminator.channels=8", "train.batch_size=32",
                                      "train.steps=60", "train.progress=false", "train.eval_every=0",
                                      "train.checkpoint_every=60", "train.sample_every=60", "train.threads=1"])
    trainer = Trainer(cfg, run_dir=str(tmp_path))
    batch = trainer.dataset.get(torch.arange(512))
    d = trainer.method.discriminator

    def real_ce():
        d.eval()
        with torch.no_grad():
            ce = F.cross_entropy(d.classify(d.forward_with_features(batch.x)[1]), batch.y).item()
        d.train()
        return ce

    before = real_ce()
    trainer.fit()
    assert before > 2.0 and real_ce() < 1.0, (before, real_ce())


def _acgan(**cfg):
    """A small AC-GAN (same initial networks and noise stream for every `cfg`) and a record of G's calls."""
    torch.manual_seed(0)
    g = DCGANGenerator((1, 32, 32), z_dim=8, channels=8, num_classes=10)
    d = DCGANDiscriminator((1, 32, 32), channels=8, aux_classes=10)
    method = ACGAN(ACGANConfig(**cfg), g, d)
    method.noise = Noise(0, "cpu")
    calls = []  # (labels, samples) of every generator forward
    g.register_forward_hook(lambda module, args, out: calls.append((args[1], out.detach())))
    return method, calls


def _acgan_batch():
    gen = torch.Generator().manual_seed(1)
    return torch.rand(8, 1, 32, 32, generator=gen) * 2 - 1, torch.arange(8) % 10


def _input_grad(d, x):
    """∇_x Σ D(x), from scratch (train mode, as in the step)."""
    x = x.clone().requires_grad_(True)
    return torch.autograd.grad(d(x).sum(), x)[0].flatten(1)


def test_acgan_discriminator_pays_gradient_penalty_r1_and_drift():
    """AC-GAN's D loss = source + class losses + the configured regulariser, each measured here on a copy of the
    initial D: WGAN-GP λ·E(‖∇D(x̂)‖ − 1)², R1 γ/2·E‖∇D(x)‖², drift ε·E D(x)²."""
    real, y = _acgan_batch()
    plain, calls = _acgan()
    d0 = copy.deepcopy(plain.discriminator)
    base = plain.d_step(real, y)
    fake = calls[0][1]

    with_gp = _acgan(gp_weight=10.0)[0]
    torch.manual_seed(7)  # the interpolation weights u come from the global stream
    gp = with_gp.d_step(real, y)
    torch.manual_seed(7)
    u = torch.rand(8, 1, 1, 1)
    expected_gp = ((_input_grad(d0, real + u * (fake - real)).norm(dim=1) - 1) ** 2).mean()
    assert (gp - base).item() == pytest.approx(10.0 * expected_gp.item(), rel=1e-4)

    r1 = _acgan(r1_gamma=4.0)[0].d_step(real, y)
    assert (r1 - base).item() == pytest.approx(2.0 * _input_grad(d0, real).pow(2).sum(1).mean().item(), rel=1e-4)

    drift = _acgan(drift=0.01)[0].d_step(real, y)
    with torch.no_grad():
        expected_drift = 0.01 * (d0(real) ** 2).mean()
    assert (drift - base).item() == pytest.approx(expected_drift.item(), rel=1e-4)


def test_acgan_players_pay_the_historical_average():
    """Salimans et al. 2016 §3.3: the penalty is 0 at the first update (the mean is θ0), and at the second
    w·‖θ1 − (θ0 + θ1)/2‖² = w/4·‖θ1 − θ0‖² for D and G alike."""
    real, y = _acgan_batch()
    for name, step in (("discriminator", lambda m: m.d_step(real, y)), ("generator", lambda m: m.g_step(8))):
        plain, hist = _acgan()[0], _acgan(historical_averaging=50.0)[0]
        theta0 = [p.detach().clone() for p in getattr(plain, name).parameters()]
        assert step(hist).item() == pytest.approx(step(plain).item(), rel=1e-6)
        theta1 = list(getattr(plain, name).parameters())
        gap = sum(((b - a) ** 2).sum() for a, b in zip(theta0, theta1)).item()
        assert gap > 0
        assert (step(hist) - step(plain)).item() == pytest.approx(50.0 / 4 * gap, rel=1e-3)


def test_acgan_generator_with_feature_matching_keeps_its_class_loss():
    """feature_matching replaces G's source cost by the feature gap; the class term stays:
    loss = ‖E f(x) − E f(G(z, c))‖² + w_g·CE(class head(f(G(z, c))), c)."""
    real, y = _acgan_batch()
    method, calls = _acgan(feature_matching=True, aux_weight_g=0.5)
    d0 = copy.deepcopy(method.discriminator)
    loss = method.g_step(8, real, y)
    labels, fake = calls[0]
    with torch.no_grad():
        f_real = d0.forward_with_features(real)[1].flatten(1).mean(0)
        h = d0.forward_with_features(fake)[1]
        expected = ((f_real - h.flatten(1).mean(0)) ** 2).sum() + 0.5 * F.cross_entropy(d0.classify(h), labels)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-4)


def test_feature_matching_generator_loss_is_the_mean_feature_gap_and_closes_it(tmp_path):
    """Salimans et al. 2016 §3.1: G minimises ||E f(x) − E f(G(z))||² over D's last hidden features f; with D held
    fixed, a few G updates shrink that gap."""
    cfg = load_config("dcgan-improved-mnist", ["generator.channels=8", "discriminator.channels=8",
                                               "train.batch_size=32", "train.progress=false", "train.eval_every=0"])
    method = Trainer(cfg, run_dir=str(tmp_path)).method
    G, D = method.generator, method.discriminator
    real = Trainer(cfg, run_dir=str(tmp_path / "b")).dataset.get(torch.arange(32)).x

    def gap(seed):
        with torch.no_grad():
            fr = D.forward_with_features(real)[1].flatten(1).mean(0)
            ff = D.forward_with_features(G(G.sample_z(32, generator=torch.Generator().manual_seed(seed))))[1]
            return ((fr - ff.flatten(1).mean(0)) ** 2).sum().item()

    d_before = [p.detach().clone() for p in D.parameters()]
    draw = method.sample_z
    z = draw(32)
    method.sample_z = lambda n: z[:n]  # the loss below must use these codes
    with torch.no_grad():
        fr = D.forward_with_features(real)[1].flatten(1).mean(0)
        expected = ((fr - D.forward_with_features(G(z))[1].flatten(1).mean(0)) ** 2).sum().item()
    loss = method.g_step(32, real).item()
    assert loss == pytest.approx(expected, rel=1e-4)
    before = gap(1)
    method.sample_z = draw
    for _ in range(60):
        method.g_step(32, real)
    assert all(torch.equal(a, b) for a, b in zip(d_before, D.parameters()))  # G steps leave D alone
    g1 = gap(1)
    assert g1 < 0.6 * before, (before, g1)  # measured on codes it never trained on


def test_lazy_r1_pays_k_times_the_penalty_on_every_kth_discriminator_step():
    """Lazy regularisation (StyleGAN2 App. B): with r1_every = k, D steps 0, k, 2k … add k·γ/2·E‖∇D(x)‖² and the
    steps between add nothing — the same penalty on average at 1/k of its cost."""
    real, y = _acgan_batch()
    gamma, k = 4.0, 3
    plain, lazy = _acgan()[0], _acgan(r1_gamma=gamma, r1_every=k)[0]
    for step in range(2 * k):
        d_now = copy.deepcopy(lazy.discriminator)
        plain.discriminator.load_state_dict(d_now.state_dict())
        torch.manual_seed(step)
        base = plain.d_step(real, y)
        torch.manual_seed(step)
        got = lazy.d_step(real, y)
        penalty = k * gamma / 2 * _input_grad(d_now, real).pow(2).sum(1).mean().item() if step % k == 0 else 0.0
        assert (got - base).item() == pytest.approx(penalty, rel=1e-4, abs=1e-6), step


def test_spectrally_normalised_dcgan_discriminator_has_unit_spectral_norm_layers():
    """discriminator.spectral_norm: every conv of the DCGAN D is W/σ(W); after power iterations in training mode
    the largest singular value of each effective weight (reshaped to out × rest) is 1; without it, not."""
    torch.manual_seed(0)
    d = DCGANDiscriminator((3, 32, 32), channels=8, batchnorm=False, spectral_norm=True).train()
    plain = DCGANDiscriminator((3, 32, 32), channels=8, batchnorm=False).train()
    x = torch.randn(4, 3, 32, 32)
    for _ in range(30):  # power iterations run once per training forward
        d(x)
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 4
    for m in convs:
        assert torch.linalg.matrix_norm(m.weight.flatten(1), ord=2).item() == pytest.approx(1.0, abs=1e-2)
    sigmas = [torch.linalg.matrix_norm(m.weight.flatten(1), ord=2).item() for m in plain.modules()
              if isinstance(m, nn.Conv2d)]
    assert all(abs(s - 1.0) > 0.05 for s in sigmas), sigmas
    with pytest.raises(ConfigError, match="dcgan-improved"):
        load_config("dcgan-mnist", ["discriminator.name=dcgan-improved", "discriminator.spectral_norm=true"])


def test_conditional_sample_grid_has_one_class_per_column(tmp_path):
    """A class-conditional run's grid: n rounded up to whole rows of K, column j drawn with class j."""
    cfg = load_config("cgan-mnist", ["generator.channels=8", "discriminator.channels=8", "train.batch_size=8",
                                     "train.n_samples=16", "train.progress=false", "train.eval_every=0"])
    trainer = Trainer(cfg, run_dir=str(tmp_path / "run"))
    g = trainer.method.generator.eval()
    z = trainer.fixed_z
    assert len(z) == 20  # 16 rounded up to two rows of 10 classes
    grid, nrow = trainer.method.preview(g, z)
    assert nrow == 10
    with torch.no_grad():
        column3 = g(z[3::10], torch.full((2,), 3))
    assert torch.equal(grid[3::10], column3)
    other = g(z[3::10], torch.full((2,), 4)).detach()
    assert not torch.allclose(grid[3::10], other)  # the label matters, so the check above could fail
