"""E-GAN (Wang et al. 2019): mutations, fitness sign, selection, children's private optimiser state, the shared-work
shortcuts against their direct definitions, and resume."""
import copy
import json
import math

import pytest
import torch
from torch import nn

from ganforge.config import load_config
from ganforge.errors import ConfigError
from ganforge.losses import g_loss_least_squares_prob, g_loss_minimax, g_loss_nonsaturating
from ganforge.methods.base import Noise
from ganforge.methods.egan import EGANConfig, EvolutionaryGAN, adam_update, select, selection_frequency
from ganforge.methods.standard import StandardConfig, StandardGAN
from ganforge.models.mlp import MLPDiscriminator, MLPGenerator
from ganforge.train import Trainer


def _nets(seed=0, hidden=16):
    torch.manual_seed(seed)
    return MLPGenerator((2,), z_dim=2, hidden=hidden, layers=2), MLPDiscriminator((2,), hidden=hidden, layers=2)


def _egan(**kw):
    g, d = _nets()
    m = EvolutionaryGAN(EGANConfig(**kw), g, d)
    m.noise = Noise(0, "cpu")
    return m


def test_mutation_costs_equal_their_closed_forms():
    d = torch.tensor([-2.0, 0.0, 1.5])
    p = torch.sigmoid(d)
    assert torch.allclose(g_loss_minimax(d), torch.log(1 - p).mean())  # E log(1 − D(G(z)))
    assert torch.allclose(g_loss_nonsaturating(d), -torch.log(p).mean())  # −E log D(G(z))
    assert torch.allclose(g_loss_least_squares_prob(d), ((p - 1) ** 2).mean())  # on D's probability, not logit


def test_adam_update_matches_torch_adam_over_steps():
    torch.manual_seed(0)
    p = nn.Parameter(torch.randn(7))
    opt = torch.optim.Adam([p], lr=1e-2, betas=(0.5, 0.99))
    theta, m, v = p.detach().clone(), torch.zeros(7), torch.zeros(7)
    for step in range(1, 4):
        g = torch.randn(7)
        p.grad = g.clone()
        opt.step()
        theta, m, v = adam_update(theta, g, m, v, step, 1e-2, (0.5, 0.99), 1e-8)
    assert torch.allclose(theta, p.detach(), atol=1e-6)
    assert torch.allclose(m, opt.state[p]["exp_avg"], atol=1e-7)


def test_children_have_private_optimiser_state():
    m = _egan()
    z = torch.randn(8, 2)
    m.adopt(torch.tensor([0]), *m.vary(z)[:4])  # one step, so the parent has non-zero moments
    pop = m.pop()
    parent = [t.clone() for t in (pop.theta, pop.exp_avg, pop.exp_avg_sq)]
    thetas, ms, vs, buffers, _ = m.vary(torch.randn(8, 2))
    # Making children left the parent's weights and moments untouched ...
    for before, now in zip(parent, (pop.theta, pop.exp_avg, pop.exp_avg_sq)):
        assert torch.equal(before, now)
    # ... the three children's moments differ (each took its own gradient from the parent's moments) ...
    assert not torch.allclose(ms[0], ms[1]) and not torch.allclose(ms[1], ms[2])
    # ... and writing into one child's state does not reach the parent or a sibling.
    ms[0].add_(1.0)
    assert torch.equal(pop.exp_avg, parent[1]) and not torch.equal(ms[0], ms[1])


class ConstGen(nn.Module):
    """G(z) = c: every sample at one point (for closed-form fitness)."""
    z_dim, num_classes = 2, 0

    def __init__(self):
        super().__init__()
        self.c = nn.Parameter(torch.zeros(2))

    def forward(self, z, y=None):
        return self.c.expand(len(z), 2)


class LinearD(nn.Module):
    num_classes = 0

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 1)
        nn.init.zeros_(self.lin.weight), nn.init.zeros_(self.lin.bias)

    def forward(self, x, y=None):
        return self.lin(x).squeeze(1)


def test_fitness_terms_closed_form_and_diversity_sign():
    """With a zero linear D, l = 0: ∇_w L_D = ½(mean fake − mean real), ∇_b L_D = 0, so F_d = −log(½‖μ_f − μ_r‖)
    and F_q = σ(0) = ½. The child whose samples match the data's mean leaves D the flatter loss and must get the
    larger diversity score (the paper's sign; the PyTorch port had it reversed until 2020)."""
    m = EvolutionaryGAN(EGANConfig(gamma=1.0), ConstGen(), LinearD())
    real = torch.randn(64, 2) + torch.tensor([1.0, -2.0])
    mu_r = real.mean(0)
    near, far = mu_r + torch.tensor([0.05, 0.0]), mu_r + torch.tensor([3.0, 0.0])
    fq, fd, _, _, _ = m.evaluate(torch.stack([near, far]), [], torch.zeros(32, 2), real)  # no buffers
    assert torch.allclose(fq, torch.full((2,), 0.5))
    for c, f in zip((near, far), fd):
        assert f.item() == pytest.approx(-math.log(0.5 * (c - mu_r).norm().item()), rel=1e-5)
    assert fd[0] > fd[1]


def test_selection_keeps_the_fittest_and_ties_keep_the_earlier():
    f = torch.tensor([0.1, 0.7, 0.3, 0.7, -1.0, 0.5])
    assert select(f, 1).tolist() == [1]
    assert select(f, 3).tolist() == [1, 3, 5]
    torch.manual_seed(0)
    for _ in range(20):
        f = torch.randn(9)
        assert set(select(f, 4).tolist()) == set(f.argsort(descending=True)[:4].tolist())


def test_population_adopts_the_selected_children():
    m = _egan(population=2)
    thetas, ms, vs, buffers, _ = m.vary(torch.randn(8, 2))
    assert len(thetas) == 6  # λ = μ · 3
    keep = torch.tensor([4, 1])
    m.adopt(keep, thetas, ms, vs, buffers)
    assert torch.equal(m.pop().theta, thetas[keep]) and torch.equal(m.pop().exp_avg_sq, vs[keep])
    flat = torch.cat([p.detach().reshape(-1) for p in m.generator.parameters()])
    assert torch.equal(flat, thetas[4])  # the generator module holds the fittest
    assert m.selected.tolist() == [0, 2, 0]  # children 1 and 4: parent 0's and parent 1's minimax child


def test_heuristic_only_population_of_one_is_the_standard_generator_step():
    """μ = 1 with the heuristic mutation alone: the child equals a standard non-saturating G step (torch Adam)
    from the same weights and z, over two steps (so the carried Adam moments are checked too)."""
    m = _egan(mutations=("heuristic",), lr_g=1e-3)
    g, d = _nets()
    std = StandardGAN(StandardConfig(g_loss="nonsaturating", lr_g=1e-3, betas=(0.5, 0.999)), g, d)
    for _ in range(2):
        z = torch.randn(16, 2)
        std.sample_z = lambda n, generator=None, z=z: z
        std.g_step(16)
        m.adopt(torch.tensor([0]), *m.vary(z)[:4])
        for a, b in zip(m.generator.parameters(), std.generator.parameters()):
            assert torch.allclose(a, b, atol=1e-6)
    assert not torch.allclose(next(m.generator.parameters()), next(_nets()[0].parameters()))


class Stream:
    def __init__(self, seed=0):
        self.g = torch.Generator().manual_seed(seed)

    def next(self):
        from ganforge.data.batch import Batch

        return Batch(x=torch.randn(32, 2, generator=self.g) * 0.5 + 1.0)


def test_reused_discriminator_gradient_equals_a_direct_discriminator_step():
    """The shortcut (D's first update reuses the gradient measured for F_d) gives the same networks as computing
    that update afresh."""
    fast, slow = _egan(), _egan()
    slow.reuse_d_gradient = False
    for _ in range(3):
        logs_fast, logs_slow = fast.step(Stream(), 0.0), slow.step(Stream(), 0.0)
    for a, b in zip(list(fast.discriminator.parameters()) + list(fast.generator.parameters()),
                    list(slow.discriminator.parameters()) + list(slow.generator.parameters())):
        assert torch.allclose(a, b, atol=1e-6)
    assert logs_fast["d_loss"].item() == pytest.approx(logs_slow["d_loss"].item(), rel=1e-5)
    assert fast.d_steps == 3 and fast.g_steps == 3


class BNGen(nn.Module):
    """A generator with BatchNorm running statistics."""
    z_dim, num_classes = 2, 0

    def __init__(self):
        super().__init__()
        self.fc, self.bn, self.out = nn.Linear(2, 8), nn.BatchNorm1d(8), nn.Linear(8, 2)

    def forward(self, z, y=None):
        return self.out(torch.relu(self.bn(self.fc(z))))


def test_generator_batchnorm_statistics_are_the_selected_childs_own():
    """As in the official port, which keeps each candidate's whole state_dict: after a step the generator's running
    statistics are its parent's, advanced by the mutation forward (parent weights, mutation codes) and by the
    survivor's evaluation forward (its weights, evaluation codes) — not by the discarded children's forwards.
    Replayed here on an independent copy over two steps, so the survivor's statistics are also carried on."""
    torch.manual_seed(0)
    m = EvolutionaryGAN(EGANConfig(eval_size=64), BNGen(), MLPDiscriminator((2,), hidden=16, layers=2))
    m.noise = Noise(0, "cpu")
    replay, expected = Noise(0, "cpu"), copy.deepcopy(m.generator).train()
    data = Stream()
    for _ in range(2):
        parent = [p.detach().clone() for p in m.generator.parameters()]
        m.step(data, 0.0)
        z, z_eval = replay.normal(32, 2), replay.normal(64, 2)  # the step's two draws, in order
        with torch.no_grad():
            for weights, codes in ((parent, z), (list(m.generator.parameters()), z_eval)):
                for p, w in zip(expected.parameters(), weights):
                    p.copy_(w)
                expected(codes)
    for name, buf in expected.named_buffers():
        assert torch.allclose(dict(m.generator.named_buffers())[name], buf, atol=1e-6), name
    assert int(m.generator.bn.num_batches_tracked) == 4  # two forwards per step


def test_evaluation_batch_is_the_official_max():
    """Samples per child = max(⌈batch · n_D / μ⌉, eval_size) (the PyTorch port's egan_model.py): at least enough
    survivor samples for D's n_D batches, rounded up, never fewer than eval_size. Measured as the codes a step
    draws for the evaluation."""
    for d_steps, population, eval_size in ((1, 3, 0), (3, 2, 0), (3, 1, 16), (1, 1, 100)):
        m = _egan(d_steps=d_steps, population=population, eval_size=eval_size)
        drawn = []
        draw = m.sample_z
        m.sample_z = lambda n, generator=None: drawn.append(n) or draw(n)
        m.step(Stream(), 0.0)
        assert drawn[1] == max(math.ceil(32 * d_steps / population), eval_size), (d_steps, population, eval_size)


def test_selection_frequency_from_cumulative_counts():
    recs = [{"step": 10, "selected/heuristic": 7, "selected/minimax": 3},
            {"step": 10, "eval/fid": 1.0},
            {"step": 30, "selected/heuristic": 9, "selected/minimax": 21}]
    steps, freq = selection_frequency(recs, ("heuristic", "minimax"))
    assert steps == [10, 30]
    assert freq == {"heuristic": [0.7, 0.1], "minimax": [0.3, 0.9]}


def test_bad_configs_are_refused():
    for bad in ({"mutations": ("heuristic", "wasserstein")}, {"mutations": ()}, {"population": 0},
                {"mutations": ("minimax", "minimax")}):
        with pytest.raises(ConfigError):
            EGANConfig(**bad).validate()
    with pytest.raises(ConfigError, match="method.mutations"):
        load_config("egan-ring8", ["method.mutations=[heuristic,bogus]"])


def _egan_cfg(steps):
    return load_config("egan-ring8", [f"train.steps={steps}", "generator.hidden=16", "discriminator.hidden=16",
                                      "train.progress=false", "train.log_every=2", "train.checkpoint_every=4",
                                      "train.sample_every=4", "train.eval_every=0", "method.population=2"])


def test_resume_mid_run_equals_uninterrupted(tmp_path):
    straight = Trainer(_egan_cfg(8), run_dir=str(tmp_path / "a"))
    straight.fit()
    Trainer(_egan_cfg(4), run_dir=str(tmp_path / "b")).fit()
    resumed = Trainer(_egan_cfg(8), run_dir=str(tmp_path / "b"), resume=True)
    resumed.fit()
    a, b = straight.method, resumed.method
    assert torch.equal(a.pop().theta, b.pop().theta) and torch.equal(a.pop().exp_avg_sq, b.pop().exp_avg_sq)
    assert torch.equal(a.selected, b.selected) and a.selected.sum() == 16  # μ = 2 survivors × 8 iterations
    for p, q in zip(a.discriminator.parameters(), b.discriminator.parameters()):
        assert torch.equal(p, q)
    assert (tmp_path / "b" / "mutations.png").stat().st_size > 0


@pytest.mark.parametrize("preset", ["egan-ring8", "egan-grid25"])
def test_toy_preset_through_the_cli_moves_towards_the_data(preset, tmp_path):
    """A short CLI run of each toy preset: every iteration selects one survivor (counts add up), the selection
    figure is written, and the samples' distribution moves towards the mixture (per-coordinate 1-D W1)."""
    from ganforge import api
    from ganforge.cli import main

    steps = 150
    overrides = [f"train.steps={steps}", "train.progress=false", "train.eval_every=0", "train.log_every=25",
                 f"train.checkpoint_every={steps}", f"train.sample_every={steps}", "train.tensorboard=false",
                 "train.threads=1"]
    start = Trainer(load_config(preset, overrides), run_dir=str(tmp_path / "start"))
    real = start.dataset.get(torch.arange(2000)).x

    def w1(g):  # mean over the two coordinates of the 1-D Wasserstein-1 distance to 2,000 real points
        with torch.no_grad():
            x = g(g.sample_z(2000, generator=torch.Generator().manual_seed(5)))
        return (x.sort(0).values - real.sort(0).values).abs().mean().item()

    d0 = w1(start.method.generator)
    assert main(["train", preset, "--out", str(tmp_path / "run"), *overrides]) == 0
    last = [json.loads(line) for line in open(tmp_path / "run" / "metrics.jsonl")][-1]
    assert sum(last[f"selected/{m}"] for m in ("heuristic", "minimax", "least_squares")) == steps
    assert (tmp_path / "run" / "mutations.png").stat().st_size > 0
    d1 = w1(api.load(str(tmp_path / "run")).generator)
    assert d1 < 0.7 * d0, (d0, d1)
