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


def _listing(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def test_an_error_before_training_leaves_no_half_made_run_and_never_loses_one(tmp_path, monkeypatch):
    from ganforge.errors import DataError
    from ganforge.train import trainer as trainer_mod

    with pytest.raises(DataError, match="larger than the dataset"):
        Trainer(tiny_config(batch_size=6000), run_dir=str(tmp_path / "new"))  # mnist5k holds 5000
    assert not os.path.exists(tmp_path / "new")
    old = tmp_path / "old"
    Trainer(tiny_config(steps=2, checkpoint_every=2), run_dir=str(old)).fit()
    kept = _listing(old)
    with pytest.raises(DataError, match="larger than the dataset"):  # --overwrite with a bad value
        Trainer(tiny_config(batch_size=6000), run_dir=str(old), overwrite=True)
    assert _listing(old) == kept and latest_checkpoint(str(old / "checkpoints")).endswith("step-000002")
    (tmp_path / "mine").mkdir()  # a folder the user made: only what the failed start added is removed
    (tmp_path / "mine" / "notes.txt").write_text("keep me")

    def disk_full(cfg, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(trainer_mod, "save_config", disk_full)  # a failure after the folder is set up
    with pytest.raises(OSError):
        Trainer(tiny_config(steps=2), run_dir=str(tmp_path / "mine"))
    assert _listing(tmp_path / "mine") == ["notes.txt"]


def test_a_config_edited_in_python_meets_the_same_bounds(tmp_path):
    from ganforge.errors import ConfigError

    cfg = tiny_config(steps=2)
    cfg.method.lr_g = -1.0  # loading would have refused it; Adam would fail with a traceback later
    with pytest.raises(ConfigError, match=r"^method.lr_g must be > 0, got -1.0$"):
        Trainer(cfg, run_dir=str(tmp_path / "run"))
    assert not os.path.exists(tmp_path / "run")


def test_resume_of_a_run_stopped_before_its_first_checkpoint_starts_from_step_0(tmp_path, caplog):
    import logging

    run = tmp_path / "run"
    Trainer(tiny_config(steps=6, checkpoint_every=100), run_dir=str(run))  # killed before its first checkpoint
    with open(run / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"step": 2, "d_loss": 1.0}) + "\n")
    with caplog.at_level(logging.WARNING, logger="ganforge.train.trainer"):
        resumed = Trainer(tiny_config(steps=4, checkpoint_every=100), run_dir=str(run), resume=True)
    assert resumed.step == 0 and any("step 0" in r.getMessage() for r in caplog.records)
    resumed.fit()
    steps = [json.loads(line)["step"] for line in open(run / "metrics.jsonl")]
    assert steps == [2, 4]  # the killed attempt's records are gone, none duplicated
    assert latest_checkpoint(str(run / "checkpoints")).endswith("step-000004")


def test_start_and_resume_clear_stale_temporaries_and_survive_a_dangling_latest(tmp_path, caplog):
    import logging
    import shutil

    run = tmp_path / "run"
    Trainer(tiny_config(steps=8, checkpoint_every=4), run_dir=str(run)).fit()
    ckpts = run / "checkpoints"
    (ckpts / ".tmp-step-000012-4242").mkdir()  # a kill during a later checkpoint write
    (ckpts / ".tmp-step-000012-4242" / "generator.safetensors").write_bytes(b"partial")
    shutil.rmtree(ckpts / "step-000008")  # and LATEST names a checkpoint that is gone
    with caplog.at_level(logging.WARNING, logger="ganforge.train.checkpoint"):
        resumed = Trainer(tiny_config(steps=10, checkpoint_every=4), run_dir=str(run), resume=True)
    assert resumed.step == 4 and any("step-000004" in r.getMessage() for r in caplog.records)
    assert sorted(os.listdir(ckpts)) == ["LATEST", "step-000004"]
    resumed.fit()
    assert latest_checkpoint(str(ckpts)).endswith("step-000010")


def test_progress_in_a_log_is_a_line_per_ten_percent(tmp_path, capsys):
    from ganforge.config import load_config

    cfg = load_config("gan-ring8", ["train.steps=20", "train.progress=true", "train.log_every=20",
                                    "train.sample_every=20", "train.checkpoint_every=20", "train.eval_every=0"])
    Trainer(cfg, run_dir=str(tmp_path)).fit()
    err = capsys.readouterr().err  # pytest's capture is not a terminal, like a log file
    lines = [line for line in err.splitlines() if "/20" in line]
    assert "\r" not in err and len(lines) == 10
    assert lines[-1].startswith("gan-ring8: 100% 20/20 it")


def test_score_axes_are_logarithmic_where_a_score_spans_decades():
    from ganforge.train.logger import y_scale

    assert y_scale([310.0, 95.0, 31.0, 12.5]) == "log"  # FID falling over decades
    assert y_scale([0.21, 0.004, 0.0012]) == "log"  # KID likewise
    assert y_scale([42.0, 35.0, 30.0]) == "linear"  # within one decade
    assert y_scale([0.02, 0.004, -0.001]) == "linear"  # unbiased KID below 0: no log axis
    assert y_scale([0.01, 0.35, 0.72], bounded=True) == "linear"  # precision in [0, 1] stays linear
    assert y_scale([float("nan"), 100.0, 5.0]) == "log" and y_scale([7.0]) == "linear"


def test_scores_plot_uses_the_chosen_scales_and_labels_its_axes(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    from ganforge.train.logger import plot_scores

    rows = [{"step": s, "images_seen": 64 * s, "eval/fid": fid, "eval/precision": p, "eval/recall": r,
             "eval_protocol_key": "abc123", "eval_protocol": {"extractor": "mnist5k", "n_fake": 2000}}
            for s, fid, p, r in ((500, 280.0, 0.02, 0.01), (1000, 60.0, 0.4, 0.2), (1500, 14.0, 0.7, 0.5))]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    saved = []
    monkeypatch.setattr(Figure, "savefig", lambda fig, *a, **k: saved.append(fig))
    assert plot_scores(str(tmp_path / "metrics.jsonl"), str(tmp_path / "scores.png"))
    panels = {ax.get_title(): ax for ax in saved[0].axes if ax.get_title()}
    assert panels["fid"].get_yscale() == "log" and panels["precision / recall"].get_yscale() == "linear"
    assert "FID" in panels["fid"].get_ylabel() and panels["fid"].get_xlabel() == "iteration"
    assert [c.get_xlabel() for c in panels["fid"].child_axes] == ["images seen"]  # the second x axis
