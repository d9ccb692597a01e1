"""InfoGAN (Chen et al. 2016): the mutual-information lower bound, the structured latent input, determinism and
resume, who trains Q, and a short training run in which Q learns to recover the categorical code."""
import math

import pytest
import torch

from ganforge.config import load_config
from ganforge.errors import ConfigError
from ganforge.methods.base import Noise
from ganforge.methods.infogan import categorical_mi_lower_bound, gaussian_mi_lower_bound
from ganforge.models.infogan import InfoGANDiscriminator, InfoGANGenerator

TINY = ["generator.hidden=128", "generator.channels=8", "discriminator.hidden=256", "discriminator.channels=8",
        "discriminator.q_hidden=128", "train.batch_size=32", "train.progress=false", "train.eval_every=0",
        "train.log_every=1", "train.sample_every=1000", "train.n_samples=16", "train.tensorboard=false"]


def tiny_config(*extra):
    return load_config("infogan-mnist", TINY + list(extra))


# -- (a) the lower bound L_I = H(c) + E[log Q(c|x)] --------------------------------------------------------------
def test_categorical_bound_is_log_k_for_perfect_q_and_zero_for_uniform_q():
    torch.manual_seed(0)
    c = torch.randint(0, 10, (256,))
    perfect = 60.0 * torch.nn.functional.one_hot(c, 10).float()
    assert categorical_mi_lower_bound(perfect, c).item() == pytest.approx(math.log(10), abs=1e-6)
    assert categorical_mi_lower_bound(torch.zeros(256, 10), c).item() == pytest.approx(0.0, abs=1e-6)
    # Any other Q scores strictly lower than the perfect one: log K is the maximum.
    for _ in range(5):
        assert categorical_mi_lower_bound(torch.randn(256, 10) * 3, c).item() < math.log(10) - 0.1


def test_gaussian_bound_matches_closed_form_and_torch_distributions():
    torch.manual_seed(0)
    c = torch.rand(512, 2) * 2 - 1
    closed = 2 * (math.log(2.0) - 0.5 * math.log(2 * math.pi))  # M·(H(U(−1,1)) − ½ log 2π)
    assert gaussian_mi_lower_bound(c.clone(), c).item() == pytest.approx(closed, abs=1e-6)
    means = c + 0.3 * torch.randn(512, 2)
    expected = torch.distributions.Uniform(-1.0, 1.0).entropy() * 2 + \
        torch.distributions.Normal(means, 1.0).log_prob(c).sum(1).mean()
    got = gaussian_mi_lower_bound(means, c)
    assert got.item() == pytest.approx(expected.item(), abs=1e-5)
    assert got.item() < closed


# -- (b) the structured input ------------------------------------------------------------------------------------
def test_sample_z_is_structured_and_seeded():
    G = InfoGANGenerator((1, 32, 32), noise_dim=62, categorical=10, continuous=2, hidden=32, channels=4)
    assert G.z_dim == 74
    z = G.sample_z(500, generator=torch.Generator().manual_seed(3))
    assert torch.equal(z, G.sample_z(500, generator=torch.Generator().manual_seed(3)))
    assert not torch.equal(z, G.sample_z(500, generator=torch.Generator().manual_seed(4)))
    noise, cat, cont = G.split_input(z)
    assert noise.shape == (500, 62) and cont.shape == (500, 2)
    assert noise.abs().max() <= 1 and cont.abs().max() <= 1 and noise.min() < -0.9 and noise.max() > 0.9
    assert torch.equal(z[:, 62:72].sum(1), torch.ones(500))  # one-hot
    assert set(cat.tolist()) == set(range(10))
    assert torch.equal(G.make_input(noise, cat, cont), z)
    assert G(z[:4]).shape == (4, 1, 32, 32)


def test_method_codes_come_from_the_seeded_stream():
    from ganforge.methods import build_method
    from ganforge.data import build_dataset

    cfg = tiny_config()
    info = build_dataset(cfg.data).info

    def draw(seed):
        m = build_method(cfg, info)
        m.noise = Noise(seed, "cpu")
        return m.sample_codes(64)

    a, b, c = draw(7), draw(7), draw(8)
    for x, y in zip(a, b):
        assert torch.equal(x, y)
    assert not torch.equal(a[0], c[0])
    assert torch.equal(a[0][:, 62:72].argmax(1), a[1]) and torch.equal(a[0][:, 72:], a[2])


def test_mismatched_q_head_is_a_config_error():
    with pytest.raises(ConfigError, match="Q head"):
        from ganforge.methods import build_method
        from ganforge.data import build_dataset

        cfg = tiny_config("discriminator.categorical=8")
        build_method(cfg, build_dataset(cfg.data).info)


def test_q_is_updated_with_d_and_g_gets_the_information_gradient():
    from ganforge.methods.infogan import InfoGAN, InfoGANConfig

    torch.manual_seed(0)
    G = InfoGANGenerator((1, 16, 16), noise_dim=8, categorical=4, continuous=1, hidden=16, channels=4)
    D = InfoGANDiscriminator((1, 16, 16), channels=4, hidden=16, q_hidden=8, categorical=4, continuous=1)
    m = InfoGAN(InfoGANConfig(), G, D)
    m.noise = Noise(0, "cpu")
    q0 = [p.detach().clone() for p in D.q_head.parameters()]
    g0 = [p.detach().clone() for p in G.parameters()]
    m.d_step(torch.rand(8, 1, 16, 16) * 2 - 1)
    assert all(not torch.equal(a, b) for a, b in zip(q0, D.q_head.parameters()))  # Q moved with D ...
    assert all(torch.equal(a, b) for a, b in zip(g0, G.parameters()))  # ... and G did not
    # The information term reaches G: with λ = 0 its gradient differs.
    grads = {}
    for lam in (0.0, 1.0):
        m.cfg.lambda_cat = m.cfg.lambda_cont = lam
        m.noise = Noise(1, "cpu")
        m.g_step(8)
        grads[lam] = torch.cat([p.grad.flatten() for p in G.parameters()])
    assert (grads[0.0] - grads[1.0]).abs().max() > 1e-6


def test_q_learns_only_from_the_information_term_and_g_update_leaves_d_and_q_alone():
    """Official `InfoGANTrainer`: Q's variables are in D's list, so Q moves only with D's loss, and there only
    through −λ·L_I (the GAN terms do not involve Q); G's optimiser holds G's variables alone."""
    from ganforge.methods.infogan import InfoGAN, InfoGANConfig

    torch.manual_seed(0)
    G = InfoGANGenerator((1, 16, 16), noise_dim=8, categorical=4, continuous=1, hidden=16, channels=4)
    D = InfoGANDiscriminator((1, 16, 16), channels=4, hidden=16, q_hidden=8, categorical=4, continuous=1)
    m = InfoGAN(InfoGANConfig(lambda_cat=0.0, lambda_cont=0.0), G, D)
    m.noise = Noise(0, "cpu")
    m.d_step(torch.rand(8, 1, 16, 16) * 2 - 1)
    # λ = 0: D's loss is the plain GAN loss, which gives Q's head no gradient (none or exactly zero).
    assert all(p.grad is None or not p.grad.any() for p in D.q_head.parameters())
    assert all(p.grad is not None and p.grad.any() for p in D.out.parameters())
    m.cfg.lambda_cat = m.cfg.lambda_cont = 1.0
    m.d_step(torch.rand(8, 1, 16, 16) * 2 - 1)
    assert all(p.grad is not None and p.grad.any() for p in D.q_head.parameters())
    d0 = [p.detach().clone() for p in D.parameters()]
    m.g_step(8)
    assert all(torch.equal(a, b) for a, b in zip(d0, D.parameters()))  # neither D's body nor Q moved


def test_resume_is_bitwise_and_loaded_run_samples(tmp_path):
    import ganforge
    from ganforge.train import Trainer

    full = Trainer(tiny_config("train.steps=4", "train.checkpoint_every=2"), run_dir=str(tmp_path / "full")).fit()
    Trainer(tiny_config("train.steps=2", "train.checkpoint_every=2"), run_dir=str(tmp_path / "half")).fit()
    Trainer(tiny_config("train.steps=4", "train.checkpoint_every=2"), run_dir=str(tmp_path / "half"),
            resume=True).fit()
    a, b = ganforge.load(full.run_dir), ganforge.load(str(tmp_path / "half"))
    for (name, p), q in zip(a.generator.state_dict().items(), b.generator.state_dict().values()):
        assert torch.equal(p, q), name
    x = a.sample(6, seed=1)
    assert x.shape == (6, 1, 32, 32) and torch.equal(x, a.sample(6, seed=1))


# -- (c) Q learns to read the categorical code -------------------------------------------------------------------
def test_short_training_raises_the_categorical_information(tmp_path):
    import json

    from ganforge.train import Trainer

    Trainer(tiny_config("train.steps=150"), run_dir=str(tmp_path / "run")).fit()
    rows = [json.loads(line) for line in open(tmp_path / "run" / "metrics.jsonl") if '"mi_cat"' in line]
    first = sum(r["mi_cat"] for r in rows[:10]) / 10
    last = sum(r["mi_cat"] for r in rows[-20:]) / 20
    # Q starts at the uniform guess (L_I ≈ 0) and recovers most of log 10 ≈ 2.30 nats within 150 steps. Measured
    # (1 thread, seeds 0-2): first 10 steps ≈ 0.01-0.02, steps 130-150 ≈ 1.65-1.72, ~25 s.
    assert first < 0.3, first
    assert 1.4 < last <= math.log(10), last
