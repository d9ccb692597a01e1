"""train.precision, train.channels_last and train.compile on CPU (bf16 and fp16 autocast both run on CPUs)."""
import pytest
import torch
from torch import nn

from ganforge.config import load_config
from ganforge.train import Trainer
from ganforge.train.checkpoint import load_entry
from conftest import tiny_config


def _conv_output_dtypes(trainer):
    """Output dtypes of every convolution during training (sample grids are drawn in eval mode, in fp32)."""
    seen = set()

    def hook(mod, inp, out):
        if mod.training:
            seen.add(out.dtype)

    for net in trainer.method.networks().values():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                m.register_forward_hook(hook)
    return seen


@pytest.mark.parametrize("precision, dtype", [("bf16", torch.bfloat16), ("fp16", torch.float16)])
def test_autocast_runs_convolutions_in_low_precision_with_fp32_master_weights(tmp_path, precision, dtype):
    trainer = Trainer(tiny_config(steps=3, precision=precision), run_dir=str(tmp_path))
    seen = _conv_output_dtypes(trainer)
    trainer.fit()
    assert seen == {dtype}
    params = [p for net in trainer.method.networks().values() for p in net.parameters()]
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in params)
    if precision == "fp16":
        assert set(trainer.method.scalers) == {"g", "d"}
    else:
        assert trainer.method.scalers == {}


def test_fp16_loss_scaling_skips_overflowing_steps_and_is_checkpointed(tmp_path):
    trainer = Trainer(tiny_config(steps=2, precision="fp16"), run_dir=str(tmp_path))
    trainer.fit()
    scaler = trainer.method.scalers["g"]
    scale_before = scaler.get_scale()
    weights_before = [p.clone() for p in trainer.method.generator.parameters()]
    overflow = trainer.method.generator.net[0].weight.sum() * torch.tensor(float("inf"))
    trainer.method.update(overflow, "g")  # an inf gradient: the step is skipped and the scale backs off
    assert all(torch.equal(a, b) for a, b in zip(weights_before, trainer.method.generator.parameters()))
    assert scaler.get_scale() == scale_before * 0.5
    saved = load_entry(trainer.last_checkpoint, "scalers")
    assert saved["g"]["scale"] == scale_before


def test_channels_last_matches_the_default_layout(tmp_path):
    a = Trainer(tiny_config(steps=3), run_dir=str(tmp_path / "a"))
    start = [p.detach().clone() for p in a.method.generator.parameters()]
    a.fit()
    b = Trainer(tiny_config(steps=3, channels_last="true"), run_dir=str(tmp_path / "b"))
    b.fit()
    conv = b.method.discriminator.features[2].weight  # 8 input channels: the layouts differ
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    # Adam divides by sqrt(v): a summation-order difference on a near-zero gradient can move one weight by up to
    # lr per step, so compare each tensor's difference with how far training moved it (a layout bug gives ~1).
    for pa, pb, p0 in zip(a.method.generator.parameters(), b.method.generator.parameters(), start):
        moved = (pa - p0).norm()
        assert moved > 0 and (pa - pb).norm() <= 0.02 * moved


def test_compile_matches_eager(tmp_path):
    overrides = ["train.steps=4", "train.progress=false", "data.n=2000", "train.log_every=1"]
    eager = Trainer(load_config("gan-ring8", overrides), run_dir=str(tmp_path / "a"))
    eager.fit()
    compiled = Trainer(load_config("gan-ring8", overrides + ["train.compile=true"]), run_dir=str(tmp_path / "b"))
    compiled.fit()
    assert compiled.method.generator._compiled_call_impl is not None
    for pa, pb in zip(eager.method.generator.parameters(), compiled.method.generator.parameters()):
        assert torch.allclose(pa, pb, atol=1e-5)
    # Compiled networks save under the plain parameter names: the checkpoint loads into an eager model.
    assert load_entry(compiled.last_checkpoint, "generator").keys() == eager.method.generator.state_dict().keys()
