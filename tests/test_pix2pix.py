"""pix2pix (Isola et al., CVPR 2017): the U-Net's wiring and dropout, the objective GAN + λ·L1 by hand, the loss
ablation switches, conditioning of the PatchGAN, learning, exact resume, and the presets from the CLI."""
import copy
import dataclasses
import os

import pytest
import torch
import torch.nn.functional as F

from ganforge.config import load_config
from ganforge.data import build_dataset
from ganforge.data.base import DataInfo
from ganforge.errors import ConfigError
from ganforge.methods.pix2pix import Pix2Pix, Pix2PixConfig
from ganforge.models import unet
from ganforge.models.unet import UnetConfig, UnetGenerator, build_unet
from ganforge.train import Trainer

TINY = ["data.n=64", "generator.ngf=8", "discriminator.channels=8", "train.batch_size=8", "train.progress=false",
        "train.tensorboard=false", "train.log_every=1", "train.sample_every=100", "train.checkpoint_every=100",
        "train.eval_every=0", "train.threads=1"]


def tiny(preset="pix2pix-shapes-labels", *extra, **train):
    return load_config(preset, TINY + list(extra) + [f"train.{k}={v}" for k, v in train.items()])


# -- U-Net ---------------------------------------------------------------------------------------------------------
def test_unet_depth_from_image_size_and_skip_channel_counts():
    info = DataInfo(shape=(1, 64, 64), target_shape=(3, 64, 64), paired=True)
    g = build_unet(UnetConfig(ngf=4), info)
    assert g.num_downs == 6  # 64 -> 1×1 bottleneck
    assert build_unet(UnetConfig(ngf=4), DataInfo((3, 32, 32), target_shape=(3, 32, 32))).num_downs == 5
    levels = g.levels()
    # encoder widths ngf·(1, 2, 4, 8, 8, 8); every decoder but the innermost reads twice its level's width (skip)
    assert [b.down[-1].out_channels if isinstance(b.down[-1], torch.nn.Conv2d) else b.down[-2].out_channels
            for b in levels] == [4, 8, 16, 32, 32, 32]
    ups = [next(m for m in b.up if isinstance(m, torch.nn.ConvTranspose2d)) for b in levels]
    assert [u.in_channels for u in ups] == [8, 16, 32, 64, 64, 32]
    assert ups[0].out_channels == 3 and levels[0].down[0].in_channels == 1
    with pytest.raises(ConfigError):
        build_unet(UnetConfig(num_downs=6), DataInfo((3, 32, 48), target_shape=(3, 32, 48)))


def test_unet_skips_carry_the_input_past_a_zeroed_bottleneck():
    torch.manual_seed(0)
    g = UnetGenerator((3, 32, 32), (3, 32, 32), ngf=4, dropout=False).eval()
    inner = g.levels()[-1]
    inner.up.register_forward_hook(lambda m, i, o: torch.zeros_like(o))  # cut the bottleneck path
    a, b = torch.randn(1, 3, 32, 32), torch.randn(1, 3, 32, 32)
    assert (g(a) - g(b)).abs().max() > 1e-3  # still input-dependent: only the skips can carry it
    # the first skip is the outermost encoder's features: level 1 returns concat(LReLU(conv(a)), up(...))
    seen = {}
    g.levels()[1].register_forward_hook(lambda m, i, o: seen.update(out=o.detach().clone()))
    g(a)
    enc = F.leaky_relu(g.levels()[0].down[0](a), 0.2)
    assert seen["out"].shape[1] == 2 * 4
    assert torch.allclose(seen["out"][:, :4], enc, atol=1e-6)


def test_dropout_stays_on_in_eval_only_with_test_dropout():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 32, 32)
    on = UnetGenerator((3, 32, 32), (3, 32, 32), ngf=4, test_dropout=True).eval()
    assert sum(isinstance(m, unet.TestTimeDropout) for m in on.modules()) == 3
    assert not torch.equal(on(x), on(x))
    off = UnetGenerator((3, 32, 32), (3, 32, 32), ngf=4, test_dropout=False).eval()
    assert torch.equal(off(x), off(x))
    off.train()
    assert not torch.equal(off(x), off(x))


# -- the objective ---------------------------------------------------------------------------------------------------
class OneBatch:
    def __init__(self, batch):
        self.batch = batch

    def next(self):
        return self.batch


def method_and_batch(*extra, preset="pix2pix-shapes-labels"):
    cfg = tiny(preset, "generator.dropout=false", *extra)
    data = build_dataset(cfg.data)
    method = Pix2Pix.from_config(cfg, data.info)
    torch.manual_seed(0)
    return method, data.get(torch.arange(4))


def test_one_step_is_d_then_g_with_the_papers_losses_by_hand():
    method, batch = method_and_batch()
    g0, d0 = copy.deepcopy(method.generator), copy.deepcopy(method.discriminator)
    logs = method.step(OneBatch(batch), 0.0)
    a, b = batch.x, batch.target
    with torch.no_grad():
        fake = g0(a)
        # D: ½[−log σ(D(a, b)) − log(1 − σ(D(a, G(a))))], averaged over patches, with D before its update
        d_hand = 0.5 * (F.softplus(-d0(b, a)).mean() + F.softplus(d0(fake, a)).mean())
        # G: −log σ(D'(a, G(a))) with the updated D', plus 100·mean|G(a) − b|, with G before its update
        gan = F.softplus(-method.discriminator(fake, a)).mean()
        g_hand = gan + 100 * (fake - b).abs().mean()
    assert logs["d_loss"].item() == pytest.approx(d_hand.item(), rel=1e-5)
    assert logs["g_loss"].item() == pytest.approx(g_hand.item(), rel=1e-5)
    assert logs["g_gan"].item() == pytest.approx(gan.item(), rel=1e-5)
    assert method.g_steps == method.d_steps == 1


def test_without_gan_the_loss_is_pure_l1_and_d_is_frozen():
    method, batch = method_and_batch("method.gan=false")
    g0, d0 = copy.deepcopy(method.generator), copy.deepcopy(method.discriminator.state_dict())
    logs = method.step(OneBatch(batch), 0.0)
    with torch.no_grad():
        l1 = (g0(batch.x) - batch.target).abs().mean()
    assert logs["g_loss"].item() == pytest.approx(100 * l1.item(), rel=1e-5)
    assert "d_loss" not in logs and method.d_steps == 0
    assert all(torch.equal(v, method.discriminator.state_dict()[k]) for k, v in d0.items())
    assert any(not torch.equal(p, q) for p, q in zip(g0.parameters(), method.generator.parameters()))


def test_without_l1_the_loss_is_the_gan_term():
    method, batch = method_and_batch("method.l1=false")
    logs = method.step(OneBatch(batch), 0.0)
    assert logs["g_loss"].item() == pytest.approx(logs["g_gan"].item(), rel=1e-6) and "g_l1" not in logs


@pytest.mark.parametrize("conditional,channels", [(True, 1 + 3), (False, 3)])
def test_conditional_d_sees_concat_of_input_and_target(conditional, channels):
    # shapes-edges: A has 1 channel, B 3, so concat(A, B) = 4 differs from concat(B, B) = 6 and from B = 3
    method, batch = method_and_batch(f"method.conditional={str(conditional).lower()}",
                                     preset="pix2pix-shapes-edges")
    first = method.discriminator.blocks[0][0]
    assert first.in_channels == channels
    seen = []
    first.register_forward_hook(lambda m, i, o: seen.append(i[0]))
    method.step(OneBatch(batch), 0.0)
    assert len(seen) == 3 and all(s.shape[1] == channels for s in seen)  # D real, D fake, G
    if conditional:
        assert torch.equal(seen[1][:, :1], batch.x)  # the real pair (A, B): A first, as the official cat
        assert torch.equal(seen[1][:, 1:], batch.target)


def test_neither_gan_nor_l1_is_a_config_error():
    with pytest.raises(ConfigError, match="at least one"):
        Pix2PixConfig(gan=False, l1=False).validate()
    with pytest.raises(ConfigError):
        load_config("pix2pix-shapes-labels", ["method.gan=false", "method.l1=false"])
    from ganforge.models.dcgan import DCGANDiscriminatorConfig

    cfg = tiny("pix2pix-shapes-labels")
    cfg.discriminator = DCGANDiscriminatorConfig()  # class-conditional DCGAN D: cannot take the input image
    with pytest.raises(ConfigError, match="patchgan"):
        Pix2Pix.from_config(cfg, build_dataset(cfg.data).info)


# -- training --------------------------------------------------------------------------------------------------------
def test_tiny_training_brings_translations_closer_to_targets():
    # Scenes are random given their labels (object colour, background), so L1 to them has a high floor; here the
    # target is a fixed function of the label map (channels rotated and dimmed), which a U-Net can learn.
    torch.set_num_threads(1)
    method, _ = method_and_batch("generator.dropout=true")
    data = build_dataset(tiny().data)
    g = torch.Generator().manual_seed(0)

    def batch(idx):
        b = data.get(idx)
        return dataclasses.replace(b, target=0.8 * b.x[:, [2, 0, 1]])

    held = batch(torch.arange(48, 64))

    def l1():
        method.generator.eval()
        with torch.no_grad():
            out = (method.generator(held.x) - held.target).abs().mean().item()
        method.generator.train()
        return out

    before = l1()
    for _ in range(60):
        logs = method.step(OneBatch(batch(torch.randint(0, 48, (8,), generator=g))), 0.0)
    after = l1()
    assert after < 0.7 * before, (before, after)
    assert logs["g_l1"].item() < 0.7 * before, logs


def weights(trainer):
    m = trainer.method
    state = {f"g.{k}": v.clone() for k, v in m.generator.state_dict().items()}
    state.update({f"d.{k}": v.clone() for k, v in m.discriminator.state_dict().items()})
    return state


def test_resume_after_interruption_equals_uninterrupted_bitwise(tmp_path):
    torch.set_num_threads(1)
    straight = Trainer(tiny(steps=6, checkpoint_every=3), run_dir=str(tmp_path / "a"))
    straight.fit()
    first = Trainer(tiny(steps=3, checkpoint_every=3), run_dir=str(tmp_path / "b"))
    first.fit()
    resumed = Trainer(tiny(steps=6, checkpoint_every=3), run_dir=str(tmp_path / "b"), resume=True)
    assert resumed.step == 3
    resumed.fit()
    a, b = weights(straight), weights(resumed)
    assert a.keys() == b.keys()
    assert [k for k in a if not torch.equal(a[k], b[k])] == []
    assert resumed.method.g_steps == resumed.method.d_steps == 6
    # not vacuous: dropout noise (the global RNG) matters, another seed ends elsewhere
    other = Trainer(tiny(steps=6, seed=1), run_dir=str(tmp_path / "c"))
    other.fit()
    assert not torch.equal(weights(other)["g.model.down.0.weight"], a["g.model.down.0.weight"])


@pytest.mark.parametrize("preset", ["pix2pix-shapes-labels", "pix2pix-shapes-edges"])
def test_preset_runs_from_the_cli_and_writes_samples(tmp_path, preset):
    from ganforge.cli import main

    out = str(tmp_path / "run")
    assert main(["train", preset, "--out", out, "train.steps=2", "data.n=32", "train.batch_size=4",
                 "train.progress=false", "train.tensorboard=false", "train.threads=1", "train.eval_every=0"]) == 0
    assert os.path.exists(os.path.join(out, "samples", "step-000002.png"))
