"""Progressive growing (Karras et al. 2018): the schedule, continuous fade-in of G, D and the reals, Adam reset at
stage changes, and resume mid-fade."""
import pytest
import torch
import torch.nn.functional as F

from ganforge.config import load_config
from ganforge.errors import ConfigError
from ganforge.methods.progressive import level_at
from ganforge.models.progan import ProGANDiscriminator, ProGANGenerator, blend
from ganforge.models.progressive import fade_images
from ganforge.models.stylegan import StyleGANGenerator
from ganforge.train import Trainer


def test_schedule_levels():
    # stabilize 10, fade 10, start at level 1 of 3
    assert [level_at(i, 1, 3, 10, 10) for i in (0, 9, 10, 15, 20, 29, 30, 35, 40, 1000)] == \
        [1.0, 1.0, 1.0, 1.5, 2.0, 2.0, 2.0, 2.5, 3.0, 3.0]


@pytest.mark.parametrize("make", [lambda: ProGANGenerator((1, 32, 32), z_dim=16, channels=16, channel_base=128),
                                  lambda: StyleGANGenerator((1, 32, 32), z_dim=16, w_dim=16, mapping_layers=2,
                                                            channels=16, channel_base=128, style_mixing=0.0)])
def test_fade_in_is_continuous_and_starts_from_the_upsampled_lower_resolution(make):
    torch.manual_seed(0)
    g = make().eval()
    z = torch.randn(4, 16)
    net = g.synthesis_net if hasattr(g, "synthesis_net") else g
    noise = g.make_noise(4) if hasattr(g, "make_noise") else None
    run = (lambda: g.synthesis(g.broadcast(g.mapping(z)), noise)) if noise is not None else (lambda: g(z))
    for k in (0, 1, 2):
        net.set_level(k)
        stable = run()
        assert torch.allclose(stable, F.interpolate(F.avg_pool2d(stable, 2 ** (3 - k)), scale_factor=2 ** (3 - k)),
                              atol=1e-6)  # drawn at 4·2^k, shown at full size
        net.set_level(k + 1e-7)  # α → 0: the blend equals the lower resolution's output
        assert torch.allclose(run(), stable, atol=1e-5)
        net.set_level(k + 1 - 1e-7)  # α → 1: the new resolution's output
        nxt = run()
        net.set_level(k + 1)
        assert torch.allclose(nxt, run(), atol=1e-5)
    low, high = torch.randn(2, 1, 4, 4), torch.randn(2, 1, 8, 8)
    assert torch.equal(blend(low, high, 0.0), F.interpolate(low, scale_factor=2))


def test_discriminator_and_reals_fade_continuously():
    torch.manual_seed(0)
    d = ProGANDiscriminator((1, 32, 32), channels=16, channel_base=128).eval()
    x = torch.randn(8, 1, 32, 32)
    for k in (0, 1, 2):
        d.set_level(k)
        a = d(x)
        d.set_level(k + 1e-7)
        assert torch.allclose(d(x), a, atol=1e-4)
        assert torch.allclose(fade_images(x, k + 1e-7), fade_images(x, k), atol=1e-5)
        d.set_level(k + 1 - 1e-7)
        b = d(x)
        d.set_level(k + 1)
        assert torch.allclose(d(x), b, atol=1e-4)
    # stable level k: reals are the 4·2^k box-downsampled images, shown at full size
    assert torch.allclose(fade_images(x, 1), F.interpolate(F.avg_pool2d(x, 4), scale_factor=4))


def _cfg(steps, **method):
    over = [f"train.steps={steps}", "train.batch_size=8", "train.progress=false", "train.log_every=1",
            "train.checkpoint_every=3", "train.sample_every=3", "train.eval_every=0", "generator.channels=16",
            "discriminator.channels=16", "generator.channel_base=128", "discriminator.channel_base=128",
            "method.start_level=0", "method.stabilize=8", "method.fade=32", "method.batch_multipliers=[1]",
            "train.ema=0.9"]
    return load_config("progan-mnist", over + [f"method.{k}={v}" for k, v in method.items()])


def test_stage_changes_reset_adam_and_resume_mid_fade_equals_uninterrupted(tmp_path):
    straight = Trainer(_cfg(7), run_dir=str(tmp_path / "a"))
    phases = []
    data = straight.data_stream()
    nonfinite = torch.zeros((), dtype=torch.bool)
    for _ in range(7):
        straight.iteration(data, nonfinite)
        m = straight.method
        steps = m.optimizers()["d"].state[m.discriminator.out.weight]["step"].item()
        if not phases or m.phase != phases[-1][0]:
            phases.append((m.phase, steps))
    # 8 images per iteration, stabilize 8, fade 32: level 0 (2 iterations), fade 0 → 1 (4), level 1 (...)
    assert phases == [((0, 0), 1), ((0, 1), 1), ((1, 1), 1)]  # fresh Adam at the start and end of the fade
    assert straight.method.level() == 1.25 and straight.ema.shadow.level == straight.method.generator.level

    first = Trainer(_cfg(3), run_dir=str(tmp_path / "b"))
    first.fit()
    assert 0 < first.method.level() < 1  # the checkpoint is mid-fade
    resumed = Trainer(_cfg(7), run_dir=str(tmp_path / "b"), resume=True)
    assert resumed.method.generator.level == first.method.generator.level
    resumed.fit()
    for a, b in zip(straight.method.generator.state_dict().values(), resumed.method.generator.state_dict().values()):
        assert torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b
    assert straight.method.images == resumed.method.images == 56


def test_progressive_method_refuses_fixed_resolution_networks():
    from ganforge.methods.progressive import ProgressiveConfig, ProgressiveGAN
    from ganforge.models.dcgan import DCGANGenerator

    d = ProGANDiscriminator((1, 32, 32), channels=16, channel_base=128)
    with pytest.raises(ConfigError, match="progressive networks"):
        ProgressiveGAN(ProgressiveConfig(), DCGANGenerator((1, 32, 32), 16, 8), d)
    with pytest.raises(ConfigError, match="start_level"):
        ProgressiveGAN(ProgressiveConfig(start_level=4), ProGANGenerator((1, 32, 32), 16, 16, 128), d)
    with pytest.raises(ConfigError):
        ProgressiveConfig(fade=0).validate()
