"""Issue 21 (GANSynth does not follow pitch): the auxiliary-classifier path of G is checked end to end, and the
pitch-accuracy metric's dependence on a coherent IF channel is pinned (benchmarks/gansynth_pitch_probe.py)."""
import os
import sys

import pytest
import torch
import torch.nn.functional as F

from ganforge.config import load_config
from ganforge.data import build_dataset
from ganforge.methods import build_method
from ganforge.methods.base import Noise

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["data.n=50", "generator.channels=16", "generator.channel_base=512", "generator.z_dim=16",
        "discriminator.channels=16", "discriminator.channel_base=512",
        "method.aux_fake_class=false"]  # the paper's pitch head (the preset adds a "generated" class)


def _method():
    torch.manual_seed(0)
    cfg = load_config("gansynth-notes", TINY)
    ds = build_dataset(cfg.data)
    m = build_method(cfg, ds.info)
    m.noise = Noise(1, torch.device("cpu"))
    return m, ds


def test_generator_pitch_loss_is_ten_ce_of_the_asked_pitch_and_reaches_only_its_one_hot_inputs():
    m, _ = _method()
    G, D = m.generator, m.discriminator
    y = torch.tensor([0, 3, 3, 7, 24, 0, 12, 7])
    fake = G(m.sample_z(8), y)
    s, h = D.forward_with_features(fake)
    ce = F.cross_entropy(D.classify(h), y)
    loss = m.g_objective(fake, y, None, None)
    assert float(loss.detach()) == pytest.approx(float((-s.mean() + 10 * ce).detach()), rel=1e-5)
    G.zero_grad()
    (10 * ce).backward()
    onehot_grad = G.dense.weight.grad[:, G.z_dim:].abs().sum(0)
    asked = torch.zeros(G.num_classes, dtype=torch.bool)
    asked[y] = True
    assert (onehot_grad[asked] > 0).all() and (onehot_grad[~asked] == 0).all()


def test_generator_steps_lower_the_pitch_loss_on_new_latents_and_leave_d_alone():
    """G's update with only the pitch term (source cost zeroed) lowers D's pitch cross-entropy on held-out
    latents: the sign, the weight and the path to G's parameters are right; D is not touched by G's step."""
    m, _ = _method()
    m.g_cost = lambda scores: 0 * scores.mean()
    G, D = m.generator, m.discriminator
    with torch.no_grad():
        D.aux.weight.mul_(20)  # a pitch head with spread logits, as a trained one has (at init they are ~uniform)
    d_before = [p.detach().clone() for p in D.parameters()]
    z = torch.randn(32, G.z_dim, generator=torch.Generator().manual_seed(5))
    y = torch.arange(32) % G.num_classes

    def ce():
        with torch.no_grad():
            return float(F.cross_entropy(D.classify(D.forward_with_features(G(z, y))[1]), y))

    before = ce()
    for _ in range(8):
        m.g_step(8)
    assert ce() < before - 1.0
    assert all(torch.equal(a, b) for a, b in zip(d_before, D.parameters()))


def test_d_pitch_head_learns_from_reals_only():
    """The official D loss: the pitch cross-entropy on reals only (aux_on_fakes false): the gradient that reaches
    the fakes does not change with the pitch weight."""
    m, ds = _method()
    real, y = ds.x[:8], ds.y[:8]
    with torch.no_grad():
        fake0 = m.generator(m.sample_z(8), y)
    grads = []
    for w in (10.0, 0.0):
        m.cfg.aux_weight_d = w
        fake = fake0.clone().requires_grad_(True)
        loss, _ = m.d_objective(real, y, fake, y)
        loss.backward()
        grads.append(fake.grad)
    assert grads[0].abs().sum() > 0 and torch.equal(grads[0], grads[1])


@pytest.mark.slow
def test_shipped_pitch_accuracy_needs_coherent_if_but_magnitude_readout_does_not():
    """Why PA stays low while D's pitch head is fooled: real notes with their IF-Mel IF channel replaced by noise
    keep their pitch for a magnitude-only readout but the shipped classifier (log magnitude + IF) drops near
    chance — generated notes with the right harmonics and incoherent phase score low on `pa`."""
    sys.path.insert(0, os.path.join(REPO, "benchmarks"))
    from gansynth_pitch_probe import MagnitudeReadout, shipped_accuracy

    from ganforge.audio.spectral import STFTSettings, from_model, to_model
    from ganforge.data.audio import NotesConfig, note_waves
    from ganforge.metrics.audio import load_pitch_classifier

    torch.manual_seed(0)
    s, net, mag = STFTSettings(), load_pitch_classifier(), MagnitudeReadout(n=500, steps=300)
    w, midi, _, _ = note_waves(NotesConfig(seed=1, n=100))
    y = midi - NotesConfig.min_pitch
    x = to_model(w, s, "if-mel")
    clean = from_model(x, s, "if-mel")
    x[:, 1] = torch.rand_like(x[:, 1]) * 2 - 1
    noisy = from_model(x, s, "if-mel")
    assert shipped_accuracy(net, clean, y) > 0.8 and mag.accuracy(clean, y) > 0.9
    assert shipped_accuracy(net, noisy, y) < 0.4 < 0.8 < mag.accuracy(noisy, y)


def test_generated_class_cross_entropy_is_the_k_plus_one_softmax_with_a_zero_logit():
    from ganforge.methods.gansynth import pitch_or_generated_ce

    logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 0.0, 0.0]])
    y = torch.tensor([0, 2])
    p0 = torch.exp(torch.tensor(2.0)) / (1 + torch.exp(torch.tensor([2.0, -1.0, 0.5])).sum())
    p1 = torch.tensor(1 / 4)
    expected = -(torch.log(p0) + torch.log(p1)) / 2
    assert float(pitch_or_generated_ce(logits, y)) == pytest.approx(float(expected), rel=1e-6)


def test_generated_class_head_is_trained_to_name_fakes_generated_and_g_to_escape_it():
    """With aux_fake_class, D's pitch term on fakes is −log p(generated) = softplus(logsumexp ℓ): it rises as the
    head names a fake by any pitch; G's pitch term is the (K+1)-way CE of the asked pitch."""
    from ganforge.methods.gansynth import pitch_or_generated_ce

    m, ds = _method()
    m.cfg.aux_fake_class = True
    G, D = m.generator, m.discriminator
    real, y = ds.x[:8], ds.y[:8]
    with torch.no_grad():
        fake = G(m.sample_z(8), y)
        real_s, real_h = D.forward_with_features(real)
        fake_s, fake_h = D.forward_with_features(fake)
        loss, _ = m.d_objective(real, y, fake, y)
        aux = pitch_or_generated_ce(D.classify(real_h), y) + F.softplus(torch.logsumexp(D.classify(fake_h), 1)).mean()
        assert float(loss) == pytest.approx(float(fake_s.mean() - real_s.mean() + 10 * aux), rel=1e-5)
        g_loss = m.g_objective(fake, y, None, None)
        assert float(g_loss) == pytest.approx(float(-fake_s.mean() + 10 * pitch_or_generated_ce(D.classify(fake_h), y)),
                                              rel=1e-5)
        # a head that names every fake by some pitch pays more on fakes than one that calls them generated
        D.aux.weight.mul_(0)
        D.aux.bias.fill_(-5.0)
        low, _ = m.d_objective(real, y, fake, y)
        D.aux.bias.fill_(5.0)
        high, _ = m.d_objective(real, y, fake, y)
    assert float(high) > float(low)


def test_generated_class_and_aux_on_fakes_cannot_be_combined():
    from ganforge.errors import ConfigError

    with pytest.raises(ConfigError, match="exclude each other"):
        load_config("gansynth-notes", TINY + ["method.aux_on_fakes=true", "method.aux_fake_class=true"])
