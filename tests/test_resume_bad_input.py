"""What a resume does with what it finds on disk (session 22's bad-input audit): step folders past 999,999, the
config's learning rate after a divergence, a stranger's checkpoint, damaged state, non-finite weights, a run
already past the asked-for steps; config.yaml and metrics.jsonl are replaced all at once."""
import json
import os

import pytest
import torch

from ganforge.errors import CheckpointError, ConfigError
from ganforge.train import Trainer
from ganforge.train.checkpoint import latest_checkpoint, save_checkpoint
from conftest import tiny_config


def test_step_folders_past_999999_are_ordered_by_number_when_pruning_and_falling_back(tmp_path):
    root = str(tmp_path)
    for step in (999_998, 999_999, 1_000_000, 1_000_001):
        save_checkpoint(root, step, {"g": {"w": torch.full((1,), float(step))}}, {}, keep_last=2)
    assert sorted(d for d in os.listdir(root) if d.startswith("step-")) == ["step-1000000", "step-1000001"]
    os.remove(os.path.join(root, "LATEST"))  # the fallback must pick the newest by number too
    assert latest_checkpoint(root).endswith("step-1000001")


def _first_generator_weight(trainer):
    return next(trainer.method.generator.parameters()).detach().clone()


def test_a_resume_follows_the_configs_learning_rate(tmp_path):
    Trainer(tiny_config(steps=4), run_dir=str(tmp_path / "a")).fit()
    os.system(f"cp -r {tmp_path / 'a'} {tmp_path / 'b'}")
    same = Trainer(tiny_config(steps=6), run_dir=str(tmp_path / "a"), resume=True)
    start = _first_generator_weight(same)
    same.fit()
    slow_cfg = tiny_config(steps=6)
    slow_cfg.method.lr_g = slow_cfg.method.lr_g * 1e-6
    slow = Trainer(slow_cfg, run_dir=str(tmp_path / "b"), resume=True)
    assert all(g["lr"] == slow_cfg.method.lr_g for g in slow.method.optimizers()["g"].param_groups)
    assert all(g["lr"] == tiny_config().method.lr_d for g in slow.method.optimizers()["d"].param_groups)
    slow.fit()
    moved_same = (_first_generator_weight(same) - start).abs().max().item()
    moved_slow = (_first_generator_weight(slow) - start).abs().max().item()
    assert moved_slow < 1e-3 * moved_same  # two steps at a millionth of the rate barely move G


def test_a_strangers_checkpoint_is_refused_even_when_its_shapes_fit(tmp_path):
    Trainer(tiny_config(steps=2, checkpoint_every=2), run_dir=str(tmp_path / "mine")).fit()
    ckpt = latest_checkpoint(str(tmp_path / "mine" / "checkpoints"))
    meta = json.load(open(os.path.join(ckpt, "state.json")))
    meta["config"]["data"]["name"] = "digits"
    json.dump(meta, open(os.path.join(ckpt, "state.json"), "w"))
    with pytest.raises(CheckpointError, match="another run .*data 'digits'"):
        Trainer(tiny_config(steps=4), run_dir=str(tmp_path / "mine"), resume=True)


@pytest.mark.parametrize("edit", [
    lambda m: m.update(version="x"),
    lambda m: m.update(files=[1, 2]),
    lambda m: m.pop("state"),
    lambda m: m["state"].pop("trainer"),
    lambda m: m.update(step=-5),
    lambda m: m.update(step=10**9),
])
def test_a_damaged_state_json_is_one_checkpoint_error(tmp_path, edit):
    Trainer(tiny_config(steps=2, checkpoint_every=2), run_dir=str(tmp_path)).fit()
    ckpt = latest_checkpoint(str(tmp_path / "checkpoints"))
    path = os.path.join(ckpt, "state.json")
    meta = json.load(open(path))
    edit(meta)
    json.dump(meta, open(path, "w"))
    with pytest.raises(CheckpointError):
        Trainer(tiny_config(steps=4), run_dir=str(tmp_path), resume=True)


def test_non_finite_weights_in_a_checkpoint_are_refused_on_resume(tmp_path):
    from safetensors.torch import load_file, save_file

    Trainer(tiny_config(steps=2, checkpoint_every=2), run_dir=str(tmp_path)).fit()
    ckpt = latest_checkpoint(str(tmp_path / "checkpoints"))
    file = os.path.join(ckpt, "generator.safetensors")
    tensors = load_file(file)
    key = next(k for k, v in tensors.items() if v.is_floating_point())
    tensors[key] = torch.full_like(tensors[key], float("nan"))
    save_file(tensors, file)
    with pytest.raises(CheckpointError, match="non-finite generator"):
        Trainer(tiny_config(steps=4), run_dir=str(tmp_path), resume=True)


def test_resume_past_the_asked_for_steps_is_refused_before_the_config_is_rewritten(tmp_path):
    Trainer(tiny_config(steps=4), run_dir=str(tmp_path)).fit()
    before = open(tmp_path / "config.yaml").read()
    with pytest.raises(ConfigError, match="already at step 4.*train.steps=2"):
        Trainer(tiny_config(steps=2), run_dir=str(tmp_path), resume=True)
    assert open(tmp_path / "config.yaml").read() == before


def test_config_yaml_survives_a_full_disk(tmp_path, monkeypatch):
    import ganforge.utils.safeio as safeio

    Trainer(tiny_config(steps=2, checkpoint_every=2), run_dir=str(tmp_path)).fit()
    before = open(tmp_path / "config.yaml").read()

    def full(path, data):
        with open(path, "wb") as f:
            f.write(data[: len(data) // 2])  # what a full disk leaves
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safeio, "fsync_write", full)
    with pytest.raises(OSError):
        Trainer(tiny_config(steps=4), run_dir=str(tmp_path), resume=True)
    assert open(tmp_path / "config.yaml").read() == before
    assert not [n for n in os.listdir(tmp_path) if ".tmp-" in n]


def test_a_run_being_trained_by_another_process_is_refused_in_one_line(tmp_path):
    import subprocess
    import sys
    import time

    run = tmp_path / "run"
    Trainer(tiny_config(steps=2, checkpoint_every=2), run_dir=str(run)).fit()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(run)!r}, os.O_RDONLY); fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('held', flush=True); time.sleep(60)")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"  # what a training ganforge process holds
        r = subprocess.run([sys.executable, "-m", "ganforge", "train", "--resume", str(run), "train.steps=4"],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 2 and "being trained by another ganforge process" in r.stderr
        assert r.stderr.strip().count("\n") == 0
        assert latest_checkpoint(str(run / "checkpoints")).endswith("step-000002")  # untouched
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    resumed = Trainer(tiny_config(steps=4), run_dir=str(run), resume=True)  # free again: and one process may
    again = Trainer(tiny_config(steps=4), run_dir=str(run), resume=True)  # hold several Trainers on one run
    resumed.fit()
    assert again.step == 2 and resumed.step == 4
