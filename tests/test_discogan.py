"""DiscoGAN (Kim et al. 2017): the official losses by hand, D every third iteration, the curriculum switch, the
model_arch baselines, exact resume, the toy domains, a tiny training that learns, and the presets from the CLI."""
import subprocess
import sys

import pytest
import torch
from torch import nn

from ganforge.config import load_config
from ganforge.data import build_dataset
from ganforge.data.toy_domains import assign_modes, centers
from ganforge.methods.discogan import DiscoGAN, DiscoGANConfig, fm_loss
from ganforge.models.discogan import DiscoGANDiscriminator, DiscoGANGenerator
from ganforge.train import Trainer


def toy(*extra, steps=9):
    return load_config("discogan-toy", [
        "data.n=512", "generator.width=16", "discriminator.width=16", "train.batch_size=32", f"train.steps={steps}",
        "train.log_every=1", "train.sample_every=100", "train.checkpoint_every=100", "train.progress=false",
        "train.threads=1", *extra])


# -- networks -------------------------------------------------------------------------------------------------------
def test_image_networks_follow_the_official_layout():
    g = DiscoGANGenerator((3, 64, 64), (3, 64, 64))
    convs = [m for m in g.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert [(c.in_channels, c.out_channels) for c in convs] == [
        (3, 64), (64, 128), (128, 256), (256, 512), (512, 256), (256, 128), (128, 64), (64, 3)]
    assert all(c.bias is None for c in convs)  # official: bias=False everywhere
    assert not any(isinstance(m, nn.BatchNorm2d) for m in g.encoder[:2])  # no BN after the first conv
    x = torch.randn(2, 3, 64, 64)
    assert g.encoder(x).shape == (2, 512, 4, 4)
    assert g(x).abs().max() <= 1  # tanh (official sigmoid on [0, 1] images)
    d = DiscoGANDiscriminator((3, 64, 64))
    logits, feats = d.forward_with_features(x)
    assert logits.shape == (2,)
    assert [f.shape[1:] for f in feats] == [(128, 16, 16), (256, 8, 8), (512, 4, 4)]  # relu2, relu3, relu4


# -- losses by hand -------------------------------------------------------------------------------------------------
class Affine(nn.Module):
    def __init__(self, scale, shift):
        super().__init__()
        self.scale, self.shift = scale, shift
        self.w = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return x * self.scale + self.shift + 0 * self.w


class MeanD(nn.Module):
    """logit = mean of the point's coordinates; one 'feature' layer = the points themselves."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(()))

    def forward_with_features(self, x, y=None):
        return x.mean(1) + 0 * self.w, [x]


def test_fm_loss_is_the_squared_difference_of_batch_means():
    real = [torch.tensor([[0.0, 2.0], [2.0, 2.0]]), torch.ones(2, 3)]
    fake = [torch.tensor([[1.0, 0.0], [1.0, 0.0]]), torch.ones(2, 3)]
    # layer 1: means (1, 2) vs (1, 0): squared diffs (0, 4), mean 2; layer 2: 0
    assert fm_loss(real, fake).item() == pytest.approx(2.0)


def test_total_losses_by_hand():
    a, b = torch.zeros(2, 2), torch.ones(2, 2)
    # G_AB(x) = x + 1 -> AB = 1; G_BA(x) = 2x -> BA = 2, ABA = 2 (recon_A = 4), BAB = 3 (recon_B = 4)
    m = DiscoGAN(DiscoGANConfig(), Affine(1.0, 1.0), Affine(2.0, 0.0), MeanD(), MeanD(), total_steps=10)
    out = m.losses(a, b, rate=0.5)
    sp = torch.nn.functional.softplus
    assert out["recon_a"].item() == pytest.approx(4.0) and out["recon_b"].item() == pytest.approx(4.0)
    # D_B on real b (logit 1) and fake AB (logit 1): dis = ½·softplus(−1) + ½·softplus(1); gen = softplus(−1)
    assert out["dis_b"].item() == pytest.approx(0.5 * sp(torch.tensor(-1.0)) + 0.5 * sp(torch.tensor(1.0)))
    assert out["gan_b"].item() == pytest.approx(sp(torch.tensor(-1.0)).item())
    assert out["fm_b"].item() == pytest.approx(0.0)  # AB's batch mean equals b's
    # D_A: real a (logit 0), fake BA (logit 2); FM: means 0 vs 2 -> 4
    assert out["fm_a"].item() == pytest.approx(4.0)
    gen_b = sp(torch.tensor(-1.0)).item()
    gen_a = sp(torch.tensor(-2.0)).item()
    expected = (0.1 * gen_b + 0.9 * 0.0) * 0.5 + 4.0 * 0.5 + (0.1 * gen_a + 0.9 * 4.0) * 0.5 + 4.0 * 0.5
    assert out["gen"].item() == pytest.approx(expected)
    recon = DiscoGAN(DiscoGANConfig(model_arch="recongan"), Affine(1.0, 1.0), Affine(2.0, 0.0), MeanD(), MeanD(),
                     10).losses(a, b, rate=0.01)
    assert recon["gen"].item() == pytest.approx(0.1 * gen_b * 0.99 + 4.0 * 0.01)
    assert recon["dis"].item() == pytest.approx(out["dis_b"].item())
    gan = DiscoGAN(DiscoGANConfig(model_arch="gan"), Affine(1.0, 1.0), Affine(2.0, 0.0), MeanD(), MeanD(),
                   10).losses(a, b, rate=0.5)
    assert gan["gen"].item() == pytest.approx(0.1 * gen_b)


def test_curriculum_switch_scales_with_the_run():
    m = DiscoGAN(DiscoGANConfig(curriculum=0.2), nn.Identity(), nn.Identity(), MeanD(), MeanD(), total_steps=50)
    assert [m.rate(k) for k in (0, 9, 10, 49)] == [0.01, 0.01, 0.5, 0.5]
    m.cfg.curriculum_steps = 3
    assert [m.rate(k) for k in (2, 3)] == [0.01, 0.5]


# -- the update schedule --------------------------------------------------------------------------------------------
def _params(module):
    return torch.cat([p.detach().flatten().clone() for p in module.parameters()])


def test_discriminators_update_only_every_third_iteration(tmp_path):
    trainer = Trainer(toy(steps=1), run_dir=str(tmp_path))
    m = trainer.method
    data = trainer.data_stream()
    changed = []
    for k in range(6):
        d0, g0 = _params(m.discriminator), _params(m.generator)
        da0, gb0 = _params(m.discriminator_a), _params(m.generator_ba)
        m.step(data, k / 6)
        d_moved = not torch.equal(d0, _params(m.discriminator)) and not torch.equal(da0, _params(m.discriminator_a))
        g_moved = not torch.equal(g0, _params(m.generator)) and not torch.equal(gb0, _params(m.generator_ba))
        changed.append((d_moved, g_moved))
    assert changed == [(True, False), (False, True), (False, True)] * 2
    assert (m.d_steps, m.g_steps, m.iters) == (2, 4, 6)


def test_resume_is_bitwise(tmp_path):
    cfg = toy("method.curriculum_steps=4", steps=9)
    straight = Trainer(cfg, run_dir=str(tmp_path / "a"))
    straight.fit()
    first = Trainer(cfg, run_dir=str(tmp_path / "b"))
    step = first.method.step

    def step_then_stop(data, progress):
        out = step(data, progress)
        if first.step == 4:
            first.stop.request("test")
        return out

    first.method.step = step_then_stop
    assert first.fit().step == 5
    resumed = Trainer(cfg, run_dir=str(tmp_path / "b"), resume=True)
    assert resumed.method.iters == 5
    resumed.fit()
    for name, net in straight.method.networks().items():
        other = resumed.method.networks()[name].state_dict()
        assert all(torch.equal(v, other[k]) for k, v in net.state_dict().items()), name
    assert (resumed.method.g_steps, resumed.method.d_steps) == (6, 3)


# -- the toy domains and a tiny training ------------------------------------------------------------------------------
def test_toy_domains_modes_and_assignment():
    data = build_dataset(load_config("discogan-toy", ["data.n=2000"]).data)
    assert data.info.target_shape == (2,) and not data.info.paired and not data.info.two_domain
    batch = data.get(torch.arange(2000))
    assert torch.equal(assign_modes(batch.x, "a"), batch.attrs["mode"])
    assert torch.equal(assign_modes(batch.target, "b"), batch.attrs["target_mode"])
    assert set(batch.attrs["mode"].tolist()) == set(range(5)) and set(batch.attrs["target_mode"].tolist()) == \
        set(range(10))
    assert assign_modes(torch.zeros(1, 2), "b").item() == -1  # the centre is far from every mode
    assert len(centers("a")) == 5 and len(centers("b")) == 10


def test_tiny_training_lowers_the_reconstruction_error(tmp_path):
    trainer = Trainer(toy("method.curriculum_steps=0", "method.lr=1e-3", "generator.batchnorm=true", steps=150), run_dir=str(tmp_path))
    m = trainer.method
    batch = trainer.dataset.get(torch.arange(512))

    @torch.no_grad()
    def recon():
        m.train(False)
        err = ((m.generator_ba(m.generator(batch.x)) - batch.x) ** 2).mean().item()
        m.train(True)
        return err

    before = recon()
    trainer.fit()
    assert recon() < 0.4 * before  # measured: 0.53 -> 0.10 (eval-mode batch norm)


# -- presets from the command line -----------------------------------------------------------------------------------
@pytest.mark.parametrize("preset,extra", [
    ("discogan-toy", ["data.n=64", "generator.width=8", "discriminator.width=8", "train.batch_size=16"]),
    ("discogan-digits", ["data.n=16", "generator.channels=4", "discriminator.channels=4", "train.batch_size=4"])])
def test_preset_cli_run(tmp_path, preset, extra):
    run = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "ganforge", "train", preset, "--out", str(run), *extra,
                        "train.steps=3", "train.sample_every=3", "train.checkpoint_every=3", "train.progress=false",
                        "train.eval_every=0", "train.threads=1"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert (run / "samples" / "latest.png").is_file() and (run / "checkpoints" / "step-000003").is_dir()
    if preset == "discogan-toy":  # translated points have no sample-quality protocol: one line, no traceback
        r = subprocess.run([sys.executable, "-m", "ganforge", "eval", str(run), "--n", "16"], capture_output=True,
                           text=True, timeout=120)
        assert r.returncode != 0 and "Traceback" not in r.stderr and "2-D points" in r.stderr, r.stderr
