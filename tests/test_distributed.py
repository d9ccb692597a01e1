"""Data parallelism with torchrun on CPU (gloo): 2 ranks with global batch B equal 1 process with batch B."""
import json
import os
import shutil
import subprocess
import sys

import torch

from ganforge.train.checkpoint import load_entry, latest_checkpoint

COMMON = ["train.steps=6", "train.batch_size=64", "train.progress=false", "train.log_every=2",
          "train.sample_every=3", "train.checkpoint_every=3", "data.n=4000", "train.threads=1",
          "train.eval_every=3", "train.eval_n=1001"]


def _train(out, nproc, *extra, resume=False, preset="gan-ring8", common=COMMON):
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"] \
        if nproc > 1 else [sys.executable]
    args = ["--resume", str(out)] if resume else [preset, "--out", str(out)]
    r = subprocess.run([*launcher, "-m", "ganforge", "train", *args, *common, *extra], capture_output=True,
                       text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    return r


def _latest_state(run):
    return json.load(open(os.path.join(latest_checkpoint(str(run / "checkpoints")), "state.json")))


def _weights(run):
    ckpt = latest_checkpoint(str(run / "checkpoints"))
    return {f"{e}.{k}": v for e in ("generator", "discriminator", "ema") for k, v in load_entry(ckpt, e).items()}


def _assert_close(a, b, atol=1e-4):  # float summation order differs; Adam amplifies it slightly
    assert a.keys() == b.keys()
    worst = max((x - b[k]).abs().max().item() for k, x in a.items())
    assert worst < atol, worst


def test_two_ranks_match_one_process_and_resume_on_one_rank(tmp_path):
    _train(tmp_path / "one", 1)
    _train(tmp_path / "two", 2)
    _assert_close(_weights(tmp_path / "one"), _weights(tmp_path / "two"))

    # Rank 0 alone wrote the run directory: one record per logged step, one writer of checkpoints.
    records = [json.loads(line) for line in open(tmp_path / "two" / "metrics.jsonl")]
    assert [r["step"] for r in records if "eval_protocol" not in r] == [2, 4, 6]
    # Evaluation: each rank generated its share of the 1001 samples; rank 0 gathered them and logged once.
    evals = {n: [r for r in map(json.loads, open(tmp_path / n / "metrics.jsonl")) if "eval_protocol" in r]
             for n in ("one", "two")}
    assert [r["step"] for r in evals["two"]] == [3, 6] and evals["two"][-1]["eval_protocol"]["n_fake"] == 1001
    for a, b in zip(evals["one"], evals["two"]):
        assert a["eval_protocol_key"] == b["eval_protocol_key"]
        assert abs(a["eval/high_quality"] - b["eval/high_quality"]) <= 2 / 1001
    state = json.load(open(tmp_path / "two" / "checkpoints" / "step-000006" / "state.json"))
    assert state["world_size"] == 2 and state["counters"]["images_seen"] == 6 * 64
    assert sorted(os.listdir(tmp_path / "two" / "samples")) == ["latest.png", "step-000003.png", "step-000006.png"]

    # A 2-rank checkpoint resumes on 1 rank and continues exactly like the 1-process run (rank 0's RNG streams
    # continue; the log says such a resume is not bitwise in general).
    r = _train(tmp_path / "two", 1, "train.steps=9", resume=True)
    assert "not bitwise" in r.stderr
    _train(tmp_path / "one", 1, "train.steps=9", resume=True)
    _assert_close(_weights(tmp_path / "one"), _weights(tmp_path / "two"))
    # ... and the equality is not vacuous: training moved the weights.
    first = load_entry(str(tmp_path / "one" / "checkpoints" / "step-000003"), "generator")
    last = load_entry(latest_checkpoint(str(tmp_path / "one" / "checkpoints")), "generator")
    assert max((first[k] - last[k]).abs().max().item() for k in first) > 1e-3


def test_evolutionary_gan_on_two_ranks_matches_one_process(tmp_path):
    """A population method: mutation gradients, fitness (F_q and the D-gradient norm of F_d) and the reused D update
    are averaged over ranks, so 2 ranks equal 1 process. (Which child wins is compared through the weights and the
    logged fitness, not as exact counts: Adam's first steps are ≈ lr·sign(g), so the three children can tie to
    1e-7 and summation order may break such a tie either way.)"""
    extra = ["generator.hidden=64", "discriminator.hidden=64", "method.eval_size=128", "train.eval_every=0",
             "train.ema=0.9", "method.lr_g=2e-3", "method.lr_d=2e-3"]
    _train(tmp_path / "one", 1, *extra, preset="egan-ring8")
    _train(tmp_path / "two", 2, *extra, preset="egan-ring8")
    _assert_close(_weights(tmp_path / "one"), _weights(tmp_path / "two"))
    logs = {n: [r for r in map(json.loads, open(tmp_path / n / "metrics.jsonl")) if "fitness" in r]
            for n in ("one", "two")}
    assert [r["step"] for r in logs["two"]] == [2, 4, 6]
    for a, b in zip(logs["one"], logs["two"]):
        for k in ("fitness", "f_q", "f_d", "d_loss"):
            assert abs(a[k] - b[k]) <= 1e-4 * max(1.0, abs(a[k])), (k, a[k], b[k])
    counts = [load_entry(latest_checkpoint(str(tmp_path / n / "checkpoints")), "population")["selected"]
              for n in ("one", "two")]
    assert int(counts[0].sum()) == int(counts[1].sum()) == 6


# StyleGAN draws style mixing (torch.rand / randint / randn_like) and its per-layer noise from torch's global RNG,
# a different stream on every rank; small enough for a test.
STYLEGAN = ["data.resolution=8", "generator.z_dim=16", "generator.w_dim=16", "generator.mapping_layers=2",
            "generator.channels=8", "generator.channel_base=32", "discriminator.channels=8",
            "discriminator.channel_base=32", "train.batch_size=16", "train.progress=false", "train.log_every=2",
            "train.sample_every=2", "train.checkpoint_every=2", "train.n_samples=4", "train.eval_every=0",
            "train.threads=1"]


def test_two_rank_resume_is_bitwise_with_per_rank_global_rng_draws(tmp_path):
    """Every rank's RNG state is checkpointed and restored on the same world size, so a 2-rank run interrupted and
    resumed equals the uninterrupted 2-rank run bit for bit, also for a method that draws from the global RNG."""
    run = dict(preset="stylegan-mnist", common=STYLEGAN)
    _train(tmp_path / "straight", 2, "train.steps=4", **run)
    _train(tmp_path / "resumed", 2, "train.steps=2", **run)
    state_json = os.path.join(latest_checkpoint(str(tmp_path / "resumed" / "checkpoints")), "state.json")
    saved = json.load(open(state_json))
    ranks = saved["state"]["trainer"]["rng_ranks"]
    assert len(ranks) == 2 and ranks[0]["torch"] == saved["state"]["trainer"]["rng"]["torch"] != ranks[1]["torch"]
    # A copy without the per-rank states (a checkpoint of an older version) falls back to reseeding the ranks.
    shutil.copytree(tmp_path / "resumed", tmp_path / "reseeded")
    del saved["state"]["trainer"]["rng_ranks"]
    json.dump(saved, open(state_json.replace("resumed", "reseeded"), "w"))

    r = _train(tmp_path / "resumed", 2, "train.steps=4", resume=True, **run)
    assert "not bitwise" not in r.stderr
    straight, resumed = _weights(tmp_path / "straight"), _weights(tmp_path / "resumed")
    assert straight.keys() == resumed.keys()
    same = [torch.equal(v, resumed[k]) if isinstance(v, torch.Tensor) else v == resumed[k] for k, v in straight.items()]
    assert all(same), [k for k, ok in zip(straight, same) if not ok]
    # Not vacuous: the ranks' global-RNG draws shape the weights, so reseeding them on resume changes the result.
    r = _train(tmp_path / "reseeded", 2, "train.steps=4", resume=True, **run)
    assert "not bitwise" in r.stderr
    reseeded = _weights(tmp_path / "reseeded")
    assert max((v - reseeded[k]).abs().max().item() for k, v in straight.items() if isinstance(v, torch.Tensor)) > 1e-4


def test_biggan_on_two_ranks_draws_what_one_process_draws(tmp_path):
    """BigGAN's cross-replica BatchNorm: G's statistics are those of the global batch on every rank (gloo, CPU), so
    the 2-rank run's EMA generator draws the 1-process run's samples; with per-rank statistics they differ by ~0.08.
    (Weights are not compared one by one: the conv biases in front of a BatchNorm get zero gradients up to float
    noise, which Adam turns into full-size steps that the next BatchNorm cancels.)"""
    from ganforge.api import load

    common = ["generator.channels=2", "generator.z_dim=24", "discriminator.channels=2", "generator.shared_dim=8",
              "train.batch_size=8", "train.n_samples=10", "train.progress=false", "train.tensorboard=false",
              "train.threads=1", "train.log_every=1", "train.sample_every=2", "train.eval_every=0",
              "train.steps=4", "train.checkpoint_every=2", "train.ema=0.9", "train.ema_start=1"]
    for name, nproc in (("one", 1), ("two", 2)):
        _train(tmp_path / name, nproc, preset="biggan-mnist", common=common)
    one, two = (torch.as_tensor(load(str(tmp_path / n)).sample(16, seed=3)).float() for n in ("one", "two"))
    assert (one - two).abs().max() < 1e-4
    d = {n: load_entry(latest_checkpoint(str(tmp_path / n / "checkpoints")), "discriminator") for n in ("one", "two")}
    _assert_close(d["one"], d["two"])
    early = torch.as_tensor(load(str(tmp_path / "one" / "checkpoints" / "step-000002")).sample(16, seed=3)).float()
    assert (early - one).abs().max() > 1e-2  # training moved what G draws
