"""CycleGAN (Zhu et al. 2017): ResNet generator, loss terms by hand, the constant-then-linear lr schedule and its
exact resume, the identity-channel check, a tiny training that learns, and the presets from the command line."""
import subprocess
import sys

import pytest
import torch
from torch import nn

from ganforge.config import load_config
from ganforge.data import DataInfo
from ganforge.errors import ConfigError
from ganforge.methods import build_method
from ganforge.methods.cyclegan import CycleGAN, CycleGANConfig
from ganforge.models.resnet_translator import ResnetBlock, ResnetTranslator
from ganforge.train import Trainer


def tiny(preset="cyclegan-digits", *extra, steps=8):
    return load_config(preset, [
        "generator.channels=4", "generator.n_blocks=1", "discriminator.channels=4", "train.batch_size=2",
        f"train.steps={steps}", "train.log_every=1", "train.sample_every=100", "train.checkpoint_every=100",
        "train.n_samples=4", "train.progress=false", "train.eval_every=0", "train.threads=1",
        "method.pool_size=3", *extra])


# -- the generator --------------------------------------------------------------------------------------------------
def test_resnet_translator_matches_the_official_layout():
    g = ResnetTranslator((3, 32, 32), (3, 32, 32), channels=64, n_down=2, n_blocks=9)
    # official resnet_9blocks (ngf 64, 3 -> 3): 11,378,179 parameters
    assert sum(p.numel() for p in g.parameters()) == 11_378_179
    convs = [m for m in g.model if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert [c.kernel_size[0] for c in convs] == [7, 3, 3, 3, 3, 7]
    assert [c.stride[0] for c in convs] == [1, 2, 2, 2, 2, 1]
    assert all(c.bias is not None for c in convs)  # instance norm: use_bias
    bn = ResnetTranslator((3, 32, 32), (3, 32, 32), channels=8, n_blocks=1, norm="batch")
    assert [c.bias is None for c in bn.modules() if isinstance(c, nn.Conv2d)] == [True] * 5 + [False]
    inorm = [m for m in g.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert inorm and not any(m.affine or m.track_running_stats for m in inorm)
    assert isinstance(g.model[-1], nn.Tanh) and isinstance(g.model[-3], nn.ReflectionPad2d)


def test_resnet_block_is_a_residual_and_body_is_the_features_before_the_output():
    block = ResnetBlock(4)
    for p in block.parameters():
        nn.init.zeros_(p)
    x = torch.randn(2, 4, 6, 6)
    assert torch.equal(block(x), x)  # zero residual branch: the block is the identity
    g = ResnetTranslator((1, 32, 32), (3, 32, 32), channels=8, n_down=4, n_blocks=2)  # pix2pixHD's G1 layout
    x = torch.randn(2, 1, 32, 32)
    feats = g.features(x)
    assert feats.shape == (2, 8, 32, 32)
    assert torch.allclose(g.model[-1](g.model[-2](g.model[-3](feats))), g(x))
    with pytest.raises(ConfigError):
        ResnetTranslator((1, 20, 20), (3, 20, 20), n_down=3)


# -- losses by hand ---------------------------------------------------------------------------------------------------
class Shift(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.w = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return x + self.c + 0 * self.w


def _hand_method(**cfg):
    c = CycleGANConfig(**cfg)
    d_b, d_a = Shift(0.0), Shift(0.0)  # D(x) = x: the "patch scores" are the pixels
    return CycleGAN(c, Shift(0.25), Shift(-0.5), d_b, d_a, total_steps=10)


def test_loss_terms_by_hand():
    a, b = torch.zeros(1, 1, 2, 2), torch.full((1, 1, 2, 2), 0.5)
    out = _hand_method().generator_losses(a, b)
    # G(a) = 0.25, F(b) = 0; LSGAN G terms (0.25 − 1)² + (0 − 1)²
    assert out["gan"].item() == pytest.approx(0.5625 + 1.0)
    # forward cycle F(G(a)) = −0.25 vs a = 0: 10·0.25; backward G(F(b)) = 0.25 vs b = 0.5: 10·0.25
    assert out["cycle_a"].item() == pytest.approx(2.5)
    assert out["cycle_b"].item() == pytest.approx(2.5)
    # identity 0.5·10·|G(b) − b| + 0.5·10·|F(a) − a| = 5·0.25 + 5·0.5
    assert out["identity"].item() == pytest.approx(3.75)
    m = _hand_method()
    # D_B: ½[(D(b) − 1)² + D(G(a))²] = ½[0.25 + 0.0625]
    assert m.discriminator_loss(m.discriminator, b, out["fake_b"]).item() == pytest.approx(0.15625)
    # the ablation switches: GAN + forward cycle keeps only λ_A terms (official identity weights use λ_A / λ_B)
    fwd = _hand_method(cycle_backward=0.0).generator_losses(a, b)
    assert fwd["cycle_b"].item() == 0 and fwd["identity"].item() == pytest.approx(2.5)
    alone = _hand_method(gan_weight=0.0).generator_losses(a, b)
    assert alone["gan"].item() == 0 and alone["cycle_a"].item() == pytest.approx(2.5)


def test_identity_needs_equal_channel_counts():
    info = DataInfo(shape=(1, 32, 32), target_shape=(3, 32, 32), paired=False)
    with pytest.raises(ConfigError, match="identity"):
        build_method(tiny("cyclegan-digits", "method.identity=0.5"), info)
    build_method(tiny("cyclegan-digits", "method.identity=0"), info)  # fine without it
    with pytest.raises(ConfigError, match="two-domain"):
        build_method(tiny("cyclegan-digits"), DataInfo(shape=(1, 32, 32)))


# -- the learning-rate schedule -----------------------------------------------------------------------------------
def test_lr_factor_at_its_boundaries():
    m = _hand_method(decay_start_step=4)  # T = 10, c = 4: the official rule 1 − (k + 1 − c)/(T − c + 1)
    assert [m.lr_factor(k) for k in range(4)] == [1.0] * 4
    assert m.lr_factor(4) == pytest.approx(6 / 7)
    assert m.lr_factor(9) == pytest.approx(1 / 7)
    assert m.lr_factor(10) == 0.0
    half = _hand_method()  # decay_start 0.5 of 10 steps
    assert half.lr_factor(4) == 1.0 and half.lr_factor(5) == pytest.approx(1 - 1 / 6)
    constant = _hand_method(decay_start=1.0)
    assert all(constant.lr_factor(k) == 1.0 for k in range(10))


def _state(trainer):
    m = trainer.method
    out = {f"{n}.{k}": v.clone() for n, net in m.networks().items() for k, v in net.state_dict().items()}
    for name, opt in m.optimizers().items():
        for i, s in opt.state_dict()["state"].items():
            out.update({f"opt.{name}.{i}.{k}": v.clone() for k, v in s.items() if torch.is_tensor(v)})
        out[f"lr.{name}"] = torch.tensor([g["lr"] for g in opt.param_groups])
    for k, p in m.pools.items():
        out[f"pool.{k}"] = p.images[: p.count].clone()
    return out


def test_resume_in_the_decay_phase_is_bitwise(tmp_path):
    cfg = tiny("cyclegan-digits", "data.n=32", "method.decay_start_step=3")
    straight = Trainer(cfg, run_dir=str(tmp_path / "a"))
    straight.fit()
    assert straight.method.optimizers()["g"].param_groups[0]["lr"] == pytest.approx(2e-4 * (1 - 5 / 6))

    interrupted = Trainer(cfg, run_dir=str(tmp_path / "b"))
    step = interrupted.method.step

    def step_then_stop(data, progress):
        out = step(data, progress)
        if interrupted.step == 4:  # stops after 5 iterations, two of them with a decayed lr
            interrupted.stop.request("test")
        return out

    interrupted.method.step = step_then_stop
    assert interrupted.fit().step == 5
    resumed = Trainer(cfg, run_dir=str(tmp_path / "b"), resume=True)
    assert resumed.method.iters == 5 and len(resumed.method.pools["b"]) == 3
    resumed.fit()
    a, b = _state(straight), _state(resumed)
    assert a.keys() == b.keys()
    assert [k for k in a if not torch.equal(a[k], b[k])] == []


# -- it learns ------------------------------------------------------------------------------------------------------
def test_tiny_training_lowers_the_cycle_error(tmp_path):
    cfg = tiny("cyclegan-digits", "data.n=64", "generator.channels=8", "train.batch_size=4", steps=40)
    trainer = Trainer(cfg, run_dir=str(tmp_path))
    batch = trainer.dataset.get(torch.arange(32))
    m = trainer.method

    @torch.no_grad()
    def cycle_error():
        return ((m.generator_ba(m.generator(batch.x)) - batch.x).abs().mean().item(),
                (m.generator(m.generator_ba(batch.target)) - batch.target).abs().mean().item())

    before = cycle_error()
    trainer.fit()
    after = cycle_error()
    assert after[0] < 0.6 * before[0] and after[1] < 0.6 * before[1], (before, after)


# -- presets from the command line ----------------------------------------------------------------------------------
@pytest.mark.parametrize("preset", ["cyclegan-digits", "cyclegan-shapes-labels"])
def test_preset_cli_run(tmp_path, preset):
    """A few steps of each preset as a user runs it (resume is covered bitwise above, in process)."""
    args = ["data.n=16", "generator.channels=4", "generator.n_blocks=1", "discriminator.channels=4",
            "train.batch_size=2", "train.steps=2", "train.sample_every=2", "train.checkpoint_every=2",
            "train.progress=false", "train.eval_every=0", "train.threads=1"]
    run = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "ganforge", "train", preset, "--out", str(run), *args],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert (run / "samples" / "latest.png").is_file() and (run / "checkpoints" / "step-000002").is_dir()
    with pytest.raises(ConfigError, match="method.identity"):
        load_config(preset, ["method.identity=-1"])
