import json
import os

import pytest
import torch

from ganforge.errors import CheckpointError, GanforgeError, TrainingDiverged
from ganforge.train import Trainer
from ganforge.train.checkpoint import load_entry, latest_checkpoint
from conftest import tiny_config


def _weights(trainer):
    state = {f"g.{k}": v.clone() for k, v in trainer.method.generator.state_dict().items()}
    state.update({f"d.{k}": v.clone() for k, v in trainer.method.discriminator.state_dict().items()})
    if trainer.ema is not None:
        state.update({f"ema.{k}": v.clone() for k, v in trainer.ema.state_dict().items()})
    return state


def _assert_bitwise_equal(a, b):
    assert a.keys() == b.keys()
    diffs = [k for k in a if not torch.equal(a[k], b[k])]
    assert not diffs, f"tensors differ after resume: {diffs[:5]}"


def test_resume_equals_uninterrupted_bitwise(tmp_path):
    cfg = tiny_config(steps=8, ema=0.9)
    straight = Trainer(cfg, run_dir=str(tmp_path / "a"))
    straight.fit()

    first = Trainer(tiny_config(steps=4, ema=0.9), run_dir=str(tmp_path / "b"))
    first.fit()
    resumed = Trainer(cfg, run_dir=str(tmp_path / "b"), resume=True)
    assert resumed.step == 4
    resumed.fit()
    _assert_bitwise_equal(_weights(straight), _weights(resumed))
    # Counters and optimiser moments continue too, and the log has no duplicated steps.
    assert resumed.counters() == straight.counters()
    steps = [json.loads(line)["step"] for line in open(tmp_path / "b" / "metrics.jsonl")]
    assert steps == sorted(set(steps)) and steps[-1] == 8
    # A run with a different seed really is different (the equality above is not vacuous).
    other = Trainer(tiny_config(steps=8, ema=0.9, seed=1), run_dir=str(tmp_path / "c"))
    other.fit()
    assert not torch.equal(_weights(other)["g.net.0.weight"], _weights(straight)["g.net.0.weight"])


def test_stop_request_checkpoints_mid_run_and_resume_matches(tmp_path):
    cfg = tiny_config(steps=7, checkpoint_every=100)
    straight = Trainer(cfg, run_dir=str(tmp_path / "a"))
    straight.fit()

    interrupted = Trainer(cfg, run_dir=str(tmp_path / "b"))
    step = interrupted.method.step

    def step_then_ctrl_c(data, progress):
        out = step(data, progress)
        if interrupted.step == 2:  # the counter is incremented after this call: we stop after 3 iterations
            interrupted.stop.request("test")
        return out

    interrupted.method.step = step_then_ctrl_c
    result = interrupted.fit()
    assert result.interrupted and result.step == 3
    assert latest_checkpoint(str(tmp_path / "b" / "checkpoints")).endswith("step-000003")
    resumed = Trainer(cfg, run_dir=str(tmp_path / "b"), resume=True)
    resumed.fit()
    _assert_bitwise_equal(_weights(straight), _weights(resumed))


def test_counters_are_kept_separately(tmp_path):
    cfg = tiny_config(steps=3)
    cfg.method.d_steps = 2
    trainer = Trainer(cfg, run_dir=str(tmp_path))
    trainer.fit()
    assert trainer.counters() == {"step": 3, "g_steps": 3, "d_steps": 6, "images_seen": 6 * 16}
    rec = [json.loads(line) for line in open(tmp_path / "metrics.jsonl")][-1]
    assert (rec["g_steps"], rec["d_steps"], rec["images_seen"]) == (3, 6, 96)
    assert rec["img_per_s"] > 0 and {"d_loss", "g_loss"} <= rec.keys()


def test_nonfinite_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    trainer = Trainer(tiny_config(steps=12), run_dir=str(tmp_path))
    step = trainer.method.step

    def poisoned(data, progress):
        out = step(data, progress)
        if trainer.step >= 5:
            with torch.no_grad():
                for p in trainer.method.generator.parameters():
                    p.fill_(float("nan"))
            out["g_loss"] = torch.tensor(float("nan"))
        return out

    trainer.method.step = poisoned
    with pytest.raises(TrainingDiverged, match="NaN or infinite.*step-000004"):
        trainer.fit()
    ckpt = latest_checkpoint(str(tmp_path / "checkpoints"))
    assert ckpt.endswith("step-000004")
    weights = load_entry(ckpt, "generator")
    assert all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())


def test_existing_run_is_not_overwritten_silently(tmp_path):
    Trainer(tiny_config(steps=2, checkpoint_every=2), run_dir=str(tmp_path)).fit()
    with pytest.raises(GanforgeError, match="--resume"):
        Trainer(tiny_config(steps=2), run_dir=str(tmp_path))
    with pytest.raises(CheckpointError, match="nothing to resume"):
        Trainer(tiny_config(steps=2), run_dir=str(tmp_path / "empty"), resume=True)


def test_resume_with_another_model_is_refused(tmp_path):
    Trainer(tiny_config(steps=2, checkpoint_every=2), run_dir=str(tmp_path)).fit()
    cfg = tiny_config(steps=4)
    cfg.generator.channels = 12
    with pytest.raises(CheckpointError, match="does not fit"):
        Trainer(cfg, run_dir=str(tmp_path), resume=True)


def test_run_directory_layout(tmp_path):
    Trainer(tiny_config(steps=4), run_dir=str(tmp_path)).fit()
    assert os.path.isfile(tmp_path / "config.yaml")
    assert os.path.isfile(tmp_path / "loss.png") and os.path.isfile(tmp_path / "samples" / "step-000004.png")
    ckpt = tmp_path / "checkpoints" / "step-000004"
    assert sorted(os.listdir(ckpt)) == ["discriminator.safetensors", "generator.safetensors", "noise.safetensors",
                                        "optim.safetensors", "state.json"]
    meta = json.loads((ckpt / "state.json").read_text())
    assert meta["counters"] == {"step": 4, "g_steps": 4, "d_steps": 4, "images_seen": 64}
    assert meta["data_info"]["shape"] == [1, 32, 32]


def test_top_level_train_still_trains_after_its_subpackage_is_imported(tmp_path):
    """`ganforge.train` names the facade and the subpackage; importing the latter must not break the former."""
    import ganforge
    import ganforge.train.trainer  # noqa: F401  (binds the subpackage on `ganforge`)

    result = ganforge.train(tiny_config(steps=3), run_dir=str(tmp_path / "run"))
    assert result.step == 3 and os.path.isfile(os.path.join(result.checkpoint, "state.json"))
