"""SRGAN (Ledig et al. 2017): sub-pixel layout, the long skip, the D layout, the two stages and their switch,
exact resume across the stage boundary, SRResNet-MSE learning, and a CLI run of every SR preset."""
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganforge.cli import main
from ganforge.config import load_config
from ganforge.data import build_dataset
from ganforge.data.base import BatchStream, DataInfo
from ganforge.errors import ConfigError
from ganforge.methods import build_method
from ganforge.models.srresnet import SRGANDiscriminator, SRResNet, SubPixelUp
from ganforge.train import Trainer

TINY = ["data.n=64", "data.hr_size=16", "generator.channels=8", "generator.blocks=1", "discriminator.channels=4",
        "discriminator.dense=16", "train.batch_size=8", "train.progress=false", "train.threads=1",
        "train.log_every=1", "train.sample_every=100", "train.checkpoint_every=100", "train.n_samples=8",
        "train.eval_every=0", "train.tensorboard=false"]


def tiny(steps=6, pretrain=3, *extra):
    return load_config("srgan-photos", TINY + [f"train.steps={steps}", f"method.pretrain_steps={pretrain}", *extra])


def test_sub_pixel_convolution_layout_by_hand():
    """Conv channel 4k + 2i + j becomes pixel (2y + i, 2x + j) of channel k (Shi et al. 2016)."""
    up = SubPixelUp(1)
    with torch.no_grad():
        up.conv.weight.zero_()
        up.conv.bias.zero_()
        up.conv.weight[:, 0, 1, 1] = torch.tensor([1.0, 2.0, 3.0, 4.0])  # centre taps: channel m = (m + 1)·x
        up.act.weight.fill_(1.0)  # PReLU slope 1: the identity
    x = torch.tensor([[[[1.0, 10.0], [100.0, 1000.0]]]])
    expected = torch.tensor([[1, 2, 10, 20], [3, 4, 30, 40], [100, 200, 1000, 2000], [300, 400, 3000, 4000]],
                            dtype=torch.float32)
    assert torch.equal(up(x)[0, 0], expected)


def test_generator_upscales_by_4_and_the_long_skip_passes_the_first_features():
    g = SRResNet((3, 8, 8), (3, 32, 32), channels=8, blocks=2).eval()
    assert len(g.upsample) == 2 and len(SRResNet((3, 8, 8), (3, 16, 16), 8, 1).upsample) == 1
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        before = g(x)
        g.trunk_out[1].weight.zero_()  # the trunk's last BN outputs 0: only the long skip carries anything
        g.trunk_out[1].bias.zero_()
        out = g(x)
        assert out.shape == (2, 3, 32, 32)
        assert torch.allclose(out, g.tail(g.upsample(g.head(x))), atol=1e-6)
        assert not torch.allclose(before, out, atol=1e-3)
        # any input size works (fully convolutional): what `ganforge upscale` relies on
        assert g(torch.randn(1, 3, 5, 7)).shape == (1, 3, 20, 28)


def test_discriminator_layout_of_the_paper():
    d = SRGANDiscriminator((3, 96, 96), channels=64, dense=1024)
    convs = [m for m in d.features if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256, 512, 512]
    assert [c.stride[0] for c in convs] == [1, 2, 1, 2, 1, 2, 1, 2]
    assert not isinstance(d.features[1], nn.BatchNorm2d)  # no BN after the first conv
    assert d.hidden[1].in_features == 512 * 6 * 6 and d.hidden[1].out_features == 1024
    with pytest.raises(ConfigError, match="multiple of 16"):
        SRGANDiscriminator((3, 24, 24))


def test_non_sr_data_is_a_config_error():
    cfg = load_config("srgan-photos")
    with pytest.raises(ConfigError, match="super-resolution data"):
        build_method(cfg, DataInfo(shape=(3, 32, 32)))


def _method_and_stream(cfg):
    torch.manual_seed(0)
    ds = build_dataset(cfg.data)
    return build_method(cfg, ds.info), BatchStream(ds, cfg.train.batch_size, seed=0)


def test_stage_switch_at_pretrain_steps():
    cfg = tiny(6, 3)
    m, stream = _method_and_stream(cfg)
    d0 = {k: v.clone() for k, v in m.discriminator.state_dict().items()}
    for i in range(3):
        assert m.stage == "srresnet"
        out = m.step(stream, 0.0)
        assert set(out) == {"mse", "stage"}
    assert m.d_steps == 0 and all(torch.equal(v, m.discriminator.state_dict()[k]) for k, v in d0.items())
    assert m.stage == "srgan"
    out = m.step(stream, 0.5)
    assert m.d_steps == 1 and not torch.equal(d0["out.weight"], m.discriminator.state_dict()["out.weight"])
    g_loss = out["content"] + 1e-3 * out["adversarial"]
    assert torch.allclose(out["g_loss"], g_loss) and out["adversarial"] > 0


def test_adversarial_term_moves_the_generator():
    """From identical states, a stage-2 step with adv_weight 1e-3 and one with 0 update G differently."""
    outs = []
    for w in ("1.0e-3", "0"):
        m, stream = _method_and_stream(tiny(4, 0, f"method.adv_weight={w}", "method.content=mse"))
        m.step(stream, 0.0)
        outs.append(m.generator.tail.weight.detach().clone())
    assert not torch.equal(*outs)


def test_lr_drops_tenfold_halfway_through_stage_2():
    m, _ = _method_and_stream(tiny(30, 10))
    assert m.decay_at() == 20
    for g_steps, lr in ((10, 1e-4), (19, 1e-4), (20, 1e-5), (29, 1e-5)):
        m.g_steps = g_steps
        assert m.stage2_lr() == pytest.approx(lr)


def test_content_features_loss_is_zero_on_hr_and_grows_with_blur():
    m, stream = _method_and_stream(tiny(4, 0, "method.content=features"))
    hr = stream.next().target
    blurred = F.interpolate(F.avg_pool2d(hr, 4), scale_factor=4, mode="nearest")
    assert m.content_loss(hr, hr) == 0
    assert m.content_loss(blurred, hr) > 0.01


def _weights(trainer):
    state = {f"g.{k}": v.clone() for k, v in trainer.method.generator.state_dict().items()}
    state.update({f"d.{k}": v.clone() for k, v in trainer.method.discriminator.state_dict().items()})
    return state


def test_resume_across_the_stage_boundary_equals_uninterrupted(tmp_path):
    extra = ("method.content=features", "method.decay_step=5")  # the same schedule in all three configs
    straight = Trainer(tiny(6, 3, *extra), run_dir=str(tmp_path / "a"))
    straight.fit()
    Trainer(tiny(2, 3, *extra), run_dir=str(tmp_path / "b")).fit()  # stops in stage 1
    Trainer(tiny(4, 3, *extra), run_dir=str(tmp_path / "b"), resume=True).fit()  # crosses the boundary, stops in 2
    resumed = Trainer(tiny(6, 3, *extra), run_dir=str(tmp_path / "b"), resume=True)
    assert resumed.method.stage == "srgan" and resumed.method.g_steps == 4 and resumed.method.d_steps == 1
    resumed.fit()
    a, b = _weights(straight), _weights(resumed)
    assert [k for k in a if not torch.equal(a[k], b[k])] == []
    assert resumed.method.d_steps == straight.method.d_steps == 3
    other = Trainer(tiny(6, 3, *extra, "train.seed=1"), run_dir=str(tmp_path / "c"))
    other.fit()
    assert not torch.equal(_weights(other)["g.tail.weight"], a["g.tail.weight"])


@pytest.mark.slow
def test_srresnet_mse_training_reduces_held_out_mse():
    """A few seconds of pixel-MSE training: held-out MSE falls to a fifth of the start's and heads towards
    bicubic ×4 (beating bicubic takes minutes: benchmarks/claims/srgan.py measures it)."""
    cfg = load_config("srresnet-photos", ["generator.channels=16", "generator.blocks=2", "data.n=2000"])
    torch.manual_seed(0)
    m, stream = _method_and_stream(cfg)
    test = build_dataset(type(cfg.data)(n=256, split="test"))
    batch = test.get(torch.arange(256))
    bicubic = F.mse_loss(F.interpolate(batch.x, scale_factor=4, mode="bicubic", align_corners=False).clamp(-1, 1),
                         batch.target).item()

    def held_out():
        m.generator.eval()
        with torch.no_grad():
            mse = F.mse_loss(m.generator(batch.x).clamp(-1, 1), batch.target).item()
        m.generator.train()
        return mse

    start = held_out()
    for _ in range(150):
        m.step(stream, 0.0)
    end = held_out()
    assert end < 0.2 * start and end < 10 * bicubic, (start, end, bicubic)


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["srgan-photos", "srresnet-photos", "srgan-shapes"])
def test_presets_train_through_the_cli(preset, tmp_path):
    out = tmp_path / "run"
    stages = [] if preset.startswith("srresnet") else ["method.pretrain_steps=2"]
    assert main(["train", preset, "--out", str(out), "train.steps=4", *stages, "data.n=64", "train.log_every=2",
                 "train.batch_size=8", "train.progress=false", "train.threads=1", "train.sample_every=4",
                 "train.checkpoint_every=4", "train.n_samples=8", "train.tensorboard=false"]) == 0
    records = [json.loads(line) for line in open(out / "metrics.jsonl")]
    assert records[-1]["g_steps"] == 4
    assert records[-1]["d_steps"] == (2 if preset != "srresnet-photos" else 0)
    assert (out / "samples" / "latest.png").exists()
    if preset == "srgan-photos":  # `ganforge upscale` on the run: any input size comes out 4× larger
        from PIL import Image

        Image.fromarray(torch.randint(0, 255, (10, 14, 3), dtype=torch.uint8).numpy()).save(tmp_path / "in.png")
        assert main(["upscale", str(out), "--input", str(tmp_path / "in.png"), "--out", str(tmp_path / "up")]) == 0
        assert Image.open(tmp_path / "up" / "in.png").size == (56, 40)
        # in 4×4 tiles with enough context the picture is the same, up to a rounding of one grey level
        assert main(["upscale", str(out), "--input", str(tmp_path / "in.png"), "--out", str(tmp_path / "tiles"),
                     "--tile", "4", "--overlap", "16"]) == 0
        whole, tiles = (torch.from_numpy(np.asarray(Image.open(tmp_path / d / "in.png"))).int() for d in ("up", "tiles"))
        assert (whole - tiles).abs().max() <= 1


def test_tiled_upscaling_equals_the_whole_image_with_enough_context():
    """utils/tiles.py: cores partition the image, each sees `overlap` pixels around it; with overlap ≥ the
    receptive-field radius (SRResNet with 1 block: 4 + 2 + 1 + 2 = 9 LR pixels) the result is the whole-image one;
    with no context the seams differ."""
    from ganforge.utils.tiles import tiled

    torch.manual_seed(0)
    g = SRResNet((3, 8, 8), (3, 32, 32), channels=8, blocks=1).eval()
    x = torch.rand(2, 3, 37, 29) * 2 - 1
    with torch.no_grad():
        whole = g(x)
        exact = tiled(g, x, tile=8, overlap=10)
        seams = tiled(g, x, tile=8, overlap=0)
    assert exact.shape == whole.shape == (2, 3, 148, 116)
    assert torch.allclose(exact, whole, atol=1e-5)
    assert (seams - whole).abs().max() > 1e-3
