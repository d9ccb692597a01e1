"""`ganforge eval` and the Trainer's periodic evaluation: scores that respond to sample quality, the protocol
recorded with them, stacked-MNIST mode counts, data-parallel sharding, and no effect on training."""
import json
import os
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from ganforge.config import load_config
from ganforge.data import build_dataset
from ganforge.data.toy import mode_centers
from ganforge.errors import ConfigError
from ganforge.evaluation import EvalResult, append_to_run, evaluate, parse_metrics
from ganforge.metrics.protocol import ProtocolMismatchWarning
from ganforge.train import Trainer
from conftest import tiny_config


class Replay(nn.Module):
    """A stand-in 'generator' that returns real images: sample i is picked by its latent code, so the
    evaluation's seeded codes give a deterministic draw from `images` (uint8 N×C×H×W)."""

    def __init__(self, images: torch.Tensor, noise: float = 0.0):
        super().__init__()
        self.z_dim, self.num_classes, self.images, self.noise = 8, 0, images, noise
        self.eval()

    def sample_z(self, n, generator=None, device="cpu"):
        return torch.randn(n, self.z_dim, generator=generator).to(device)

    def forward(self, z, y=None):
        idx = (z[:, 0].double().abs() * 1e6).long() % len(self.images)
        x = self.images[idx].float() / 127.5 - 1
        return (x + self.noise * z[:, 1:2, None, None]).clamp(-1, 1) if self.noise else x


def _mnist(split):
    return build_dataset(load_config("dcgan-mnist", [f"data.split={split}"]).data)


def test_scores_track_sample_quality(tmp_path):
    data = load_config("dcgan-mnist").data
    ref = build_dataset(data)
    held_out = _mnist("test").x
    kw = dict(n=1000, cache_dir=str(tmp_path), dataset=ref)
    real, light, heavy = (evaluate(Replay(held_out, noise), data, "fid,kid,is,pr,dc", **kw).scores
                          for noise in (0.0, 0.1, 0.5))
    collapsed = evaluate(Replay(torch.zeros(4, 1, 32, 32, dtype=torch.uint8)), data, "fid,kid,is,pr,dc", **kw).scores
    # Held-out real digits look like the reference set: the 98.5%-accurate evaluator sees ten balanced classes.
    assert real["fid"] < 1.0 and abs(real["kid"]) < 3 * real["kid_std"] + 0.01
    assert real["is"] > 8.0 and real["precision"] > 0.95 and real["recall"] > 0.7
    # More brightness noise: every score moves the wrong way, monotonically.
    assert real["fid"] < light["fid"] < heavy["fid"] and real["kid"] < light["kid"] < heavy["kid"]
    for k in ("is", "precision", "density", "coverage"):
        assert real[k] > light[k] > heavy[k], k
    # Total mode collapse (one blank image): no diversity at all, whatever FID says.
    assert collapsed["is"] < 1.001 and collapsed["recall"] == 0.0 and collapsed["coverage"] == 0.0


def test_reference_statistics_are_cached_per_protocol(tmp_path):
    data = load_config("dcgan-mnist").data
    g = Replay(_mnist("test").x)
    first = evaluate(g, data, "fid", n=500, cache_dir=str(tmp_path))
    cached = list(tmp_path.iterdir())
    assert len(cached) == 1
    again = evaluate(g, data, "fid", n=500, cache_dir=str(tmp_path))
    assert again.scores["fid"] == first.scores["fid"] and again.protocol_key == first.protocol_key
    other = evaluate(g, data, "fid", n=500, n_real=2000, cache_dir=str(tmp_path))
    assert len(list(tmp_path.iterdir())) == 2 and other.protocol_key != first.protocol_key
    assert other.protocol["n_real"] == 2000 and first.protocol["n_real"] is None


def _fid_and_cache(g, data, cache_dir):
    """FID against `data` with reference statistics from `cache_dir`, and the cache file's (inode, mtime)."""
    fid = evaluate(g, data, "fid", n=300, extractor="mnist5k", cache_dir=str(cache_dir)).scores["fid"]
    (cached,) = list(cache_dir.iterdir())
    return fid, (cached.stat().st_ino, cached.stat().st_mtime_ns)


@pytest.mark.parametrize("kind", ["folder", "npz"])
def test_reference_statistics_follow_data_changed_in_place(tmp_path, kind):
    """The cached μ, Σ of a folder or .npz are reused while the files are unchanged and recomputed when their content
    changes under the same name (the npz keeps its size and even its modification time: its bytes are hashed)."""
    from PIL import Image

    digits = _mnist("train").x[:120]  # uint8 1×32×32
    g = Replay(_mnist("test").x)
    cache, fresh = tmp_path / "cache", tmp_path / "fresh"
    if kind == "folder":
        root = tmp_path / "images"
        root.mkdir()
        for i, img in enumerate(digits):
            Image.fromarray(img[0].numpy()).save(root / f"{i:03d}.png")
        data = load_config("dcgan-mnist", ["data.name=folder", f"data.path={root}", "data.resolution=32",
                                           "data.channels=1"]).data
    else:
        root = tmp_path / "digits.npz"
        np.savez(root, x=digits.numpy())
        data = load_config("dcgan-mnist", ["data.name=npz", f"data.path={root}"]).data
    cache.mkdir()
    fresh.mkdir()
    fid, file = _fid_and_cache(g, data, cache)
    assert _fid_and_cache(g, data, cache) == (fid, file)  # unchanged data: a cache hit, the file is not rewritten

    changed = digits.clone()
    changed[:60] = 255 - changed[:60]  # half the digits inverted: same names, shapes and sizes, other content
    if kind == "folder":
        for i in range(60):
            path = root / f"{i:03d}.png"
            Image.fromarray(changed[i, 0].numpy()).save(path)
            os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    else:
        stat = root.stat()
        np.savez(root, x=changed.numpy())
        assert root.stat().st_size == stat.st_size
        os.utime(root, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    new_fid, new_file = _fid_and_cache(g, data, cache)
    assert new_file != file and new_fid > fid + 1.0  # recomputed: the reference no longer looks like the samples
    assert new_fid == _fid_and_cache(g, data, fresh)[0]  # ... and equals statistics computed from scratch


def test_stacked_mnist_modes():
    data = load_config("dcgan-stacked-mnist").data
    ds = build_dataset(data)
    labels = ds.attrs["digits"]
    assert torch.equal(ds.y, labels[:, 0] * 100 + labels[:, 1] * 10 + labels[:, 2])
    # Real stacked digits: 10,000 uniform draws over 1000 modes leave ~1000·e^-10 empty, and the classifier
    # reads each channel right 98.5% of the time.
    real = evaluate(Replay(ds.x), data, "modes", n=10_000, dataset=ds).scores
    assert real["modes"] >= 990 and real["kl"] < 0.2  # sampling alone gives ≈ 999 / (2·10,000) = 0.05
    # A generator that only draws 0s and 1s in every channel has at most 2³ = 8 modes.
    binary = ds.x[(labels <= 1).all(1)]
    few = evaluate(Replay(binary), data, "modes", n=2000, dataset=ds).scores
    assert few["modes"] <= 12 and few["kl"] > 4.0  # log(1000/8) = 4.83 for 8 equal modes


def test_sharded_evaluation_equals_single_process():
    """Each rank generates its share of the n samples; gathered in rank order, the scores are the same."""
    cfg = load_config("gan-ring8")
    ds = build_dataset(cfg.data)
    g = Replay(torch.zeros(1)).eval()
    centre = torch.as_tensor(mode_centers("ring8")[0], dtype=torch.float32)
    g.forward = lambda z, y=None: z[:, :2] * 0.02 + centre  # one mode; σ = 1.4 × the mode's, so ~89% within 3σ
    g.z_dim = 2
    whole = evaluate(g, cfg.data, n=1001, dataset=ds).scores
    shard1 = {}
    assert evaluate(g, cfg.data, n=1001, dataset=ds, rank=1, world_size=2,
                    gather=lambda rows: shard1.setdefault("rows", rows) is None) is None
    two = evaluate(g, cfg.data, n=1001, dataset=ds, rank=0, world_size=2,
                   gather=lambda rows: torch.cat([rows, shard1["rows"]])).scores
    assert len(shard1["rows"]) == 501 and two == whole and whole["modes"] == 1 and 0.5 < whole["high_quality"] < 1


def test_bad_metric_names_fail_before_training(tmp_path):
    with pytest.raises(ConfigError, match="Did you mean 'fid'"):
        parse_metrics("fdi", "mnist5k", True)
    with pytest.raises(ConfigError, match="only the 'modes' metric"):
        parse_metrics("fid", "ring8", False)
    with pytest.raises(ConfigError, match="stacked-mnist"):
        parse_metrics("modes", "mnist5k", True)
    assert parse_metrics("auto", "stacked-mnist", True)[-1] == "modes"
    with pytest.raises(ConfigError, match="unknown metric"):
        Trainer(tiny_config(steps=2, eval_every=1, eval_metrics="fid,bogus"), run_dir=str(tmp_path / "r"))
    assert not (tmp_path / "r" / "checkpoints").exists()


def test_periodic_evaluation_is_logged_and_does_not_change_training(tmp_path):
    plain = Trainer(tiny_config(steps=4), run_dir=str(tmp_path / "a"))
    plain.fit()
    scored = Trainer(tiny_config(steps=4, eval_every=2, eval_n=64, eval_metrics="fid,is"), run_dir=str(tmp_path / "b"))
    result = scored.fit()
    for k, v in plain.method.generator.state_dict().items():
        assert torch.equal(v, scored.method.generator.state_dict()[k]), k
    records = [json.loads(line) for line in open(tmp_path / "b" / "metrics.jsonl")]
    evals = [r for r in records if "eval_protocol_key" in r]
    assert [r["step"] for r in evals] == [2, 4]
    assert evals[-1]["eval/fid"] == result.scores["fid"] > 0 and evals[-1]["eval_protocol"]["n_fake"] == 64
    assert (tmp_path / "b" / "scores.png").stat().st_size > 5000


def test_scores_from_another_protocol_warn(tmp_path):
    proto = {"extractor": "none", "n_fake": 100, "seed": 0}
    append_to_run(str(tmp_path), EvalResult({"modes": 3}, proto, "k1", 0.1), {"step": 10})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        append_to_run(str(tmp_path), EvalResult({"modes": 4}, proto, "k1", 0.1), {"step": 20})  # same: silent
    with pytest.warns(ProtocolMismatchWarning, match="n_fake"):
        append_to_run(str(tmp_path), EvalResult({"modes": 5}, dict(proto, n_fake=200), "k2", 0.1), {"step": 30})
    records = [json.loads(line) for line in open(tmp_path / "metrics.jsonl")]
    assert [(r["step"], r["eval/modes"], r["eval_protocol_key"]) for r in records] == [(10, 3, "k1"), (20, 4, "k1"),
                                                                                        (30, 5, "k2")]


def test_inception_path_records_the_weights_file(tmp_path):
    """Outside the bundled data the FID Inception-v3 embeds the images; its weights file's hash and the resize
    rule go into the protocol. (Random weights here: the official file is not on this machine.)"""
    from safetensors.torch import save_file

    from ganforge.metrics.inception import FIDInceptionV3, sha256_file

    weights = tmp_path / "inception.safetensors"
    save_file({k: v.contiguous() for k, v in FIDInceptionV3().state_dict().items()}, str(weights))
    data = load_config("dcgan-mnist").data
    ds = build_dataset(data)
    kw = dict(n=10, n_real=8, extractor="inception", weights=str(weights), cache_dir=str(tmp_path), dataset=ds,
              batch_size=8)
    r = evaluate(Replay(ds.x), data, "fid,is", resize="pil_bicubic", **kw)
    assert r.protocol["extractor"] == "inception-2015-12-05" and r.protocol["resize"] == "pil_bicubic"
    assert r.protocol["extractor_sha256"] == sha256_file(str(weights)) and r.protocol["feature"] == "pool_3"
    assert r.scores["fid"] > 0 and 1.0 <= r.scores["is"] <= 1008  # IS from the 1008 logits after 2048 features
    with pytest.raises(ConfigError, match="unknown resize"):
        evaluate(Replay(ds.x), data, "fid", resize="nearest", **kw)
