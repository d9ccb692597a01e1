"""BigGAN (Brock, Donahue, Simonyan, ICLR 2019): orthogonal regularisation, truncation by resampling, hierarchical z,
self-attention, standing statistics, SyncBN conversion, the EMA start step, CLI runs with resume and bad input."""
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.config import load_config
from ganforge.errors import ConfigError, GanforgeError
from ganforge.latent.truncation import check_classes, truncated_normal, truncation_sweep_resampled
from ganforge.data import DataInfo, build_dataset
from ganforge.methods import build_method
from ganforge.models import build_discriminator, build_generator
from ganforge.models.biggan import BigGANDiscriminator, BigGANGenerator
from ganforge.models.biggan_layers import ConditionalBatchNorm, GBlock, SelfAttention
from ganforge.nn.orthogonal import off_diagonal_gram_norm, orthogonal_penalty, orthogonal_targets
from ganforge.nn.standing import batchnorms, standing_statistics
from ganforge.train import Trainer
from ganforge.train.checkpoint import latest_checkpoint, load_entry

TINY = ["generator.channels=2", "generator.z_dim=24", "discriminator.channels=2", "generator.shared_dim=8", "train.batch_size=8",
        "train.n_samples=10", "train.progress=false", "train.tensorboard=false", "train.threads=1",
        "train.log_every=1", "train.sample_every=100", "train.eval_every=0"]


def _g(hierarchical=True, attention=16, seed=0):
    torch.manual_seed(seed)
    return BigGANGenerator((1, 32, 32), 10, z_dim=24, channels=2, shared_dim=8, hierarchical=hierarchical,
                           attention=attention)


# -- orthogonal regularisation ----------------------------------------------------------------------------------------
def test_orthogonal_regulariser_hand_value_zero_when_orthogonal_and_official_gradient():
    # Rows (1,0), (1,1), (0,2): off-diagonal Gram entries 1, 0, 2 (each twice) -> 2·(1 + 0 + 4) = 10.
    w = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]])
    assert off_diagonal_gram_norm(w).item() == pytest.approx(10.0)
    # A conv weight is viewed as (out, in·kh·kw): the same three filters, reshaped.
    assert off_diagonal_gram_norm(w.view(3, 1, 1, 2)).item() == pytest.approx(10.0)
    # Orthogonal filters (any norms): zero; the diagonal never counts.
    q, _ = torch.linalg.qr(torch.randn(6, 6, dtype=torch.float64))
    assert off_diagonal_gram_norm(q * torch.arange(1, 7, dtype=torch.float64)[:, None]).item() < 1e-20
    assert orthogonal_penalty([w, torch.eye(3)]).item() == pytest.approx(10.0)
    # (β/2)·R has the gradient BigGAN-PyTorch's utils.ortho adds: β·2·((W Wᵀ) ⊙ (1 − I)) W.
    beta, m = 1e-4, torch.randn(5, 7, dtype=torch.float64, requires_grad=True)
    (0.5 * beta * off_diagonal_gram_norm(m)).backward()
    with torch.no_grad():
        official = beta * 2 * ((m @ m.t()) * (1 - torch.eye(5, dtype=torch.float64))) @ m
    assert torch.allclose(m.grad, official, rtol=1e-10, atol=0)


def test_method_regularises_g_weights_but_not_the_shared_embedding():
    cfg = load_config("biggan-mnist", TINY + ["method.ortho=1e-2"])
    method = build_method(cfg, build_dataset(cfg.data).info)
    g = method.generator
    names = {id(p): n for n, p in g.named_parameters()}
    targets = {names[id(p)] for p in method.ortho_parameters()}
    assert "shared.weight" not in targets
    assert "blocks.0.bn1.gain.parametrizations.weight.original" in targets  # raw weights under SN
    assert "attention.theta.parametrizations.weight.original" in targets
    assert not any(n.endswith("bias") or n == "attention.gamma" for n in targets)
    method.discriminator.eval()  # no power iteration: D scores the same fakes the same way twice
    fake, y = g(torch.randn(4, 24), torch.arange(4)), torch.arange(4)
    with_reg = method.g_objective(fake, y, None, None)
    method.cfg.ortho = 0.0
    without = method.g_objective(fake, y, None, None)
    assert (with_reg - without).item() == pytest.approx(
        0.5e-2 * orthogonal_penalty(method.ortho_parameters()).item(), rel=1e-3)  # float32 sums


# -- truncation -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("threshold", [0.05, 0.5, 1.0, 2.0])
def test_truncated_sampling_stays_inside_and_keeps_in_range_draws(threshold):
    z = truncated_normal(500, 64, threshold, torch.Generator().manual_seed(3))
    assert z.abs().max().item() <= threshold
    first = torch.randn(500, 64, generator=torch.Generator().manual_seed(3))
    inside = first.abs() <= threshold
    assert torch.equal(z[inside], first[inside])  # values already inside are not re-drawn
    assert inside.float().mean() < 1 and not torch.equal(z, first)


def test_truncated_sampling_has_the_truncated_normal_distribution():
    a = 1.0
    z = truncated_normal(400, 500, a, torch.Generator().manual_seed(0)).double().flatten()
    phi = math.exp(-a * a / 2) / math.sqrt(2 * math.pi)
    mass = math.erf(a / math.sqrt(2))
    assert z.var().item() == pytest.approx(1 - 2 * a * phi / mass, abs=2e-3)  # variance of N(0,1) on [-a, a]
    # Kolmogorov-Smirnov distance to the conditional CDF (Φ(x) − Φ(−a)) / (Φ(a) − Φ(−a)).
    xs = torch.sort(z).values
    cdf = (0.5 * (1 + torch.erf(xs / math.sqrt(2))) - 0.5 * (1 - mass)) / mass
    ecdf = torch.arange(1, len(xs) + 1, dtype=torch.float64) / len(xs)
    assert (cdf - ecdf).abs().max().item() < 0.005


@pytest.mark.parametrize("bad", [0.0, -0.5, 2.5, float("nan")])
def test_truncation_threshold_outside_0_2_is_a_clear_error(bad):
    with pytest.raises(GanforgeError, match=r"\(0, 2\]"):
        truncated_normal(2, 3, bad)


def test_sweep_columns_share_in_range_codes_and_classes_are_checked():
    g = _g().eval()
    imgs, y = truncation_sweep_resampled(g, [2.0, 1.0], n=3, seed=5, cls=7)
    assert imgs.shape == (6, 1, 32, 32) and y.tolist() == [7, 7, 7]
    z = truncated_normal(3, 24, 1.0, torch.Generator().manual_seed(5))
    assert torch.allclose(imgs[1::2], g(z, y), atol=1e-6)
    with pytest.raises(GanforgeError, match="class index 10 is out of range.*10 classes"):
        truncation_sweep_resampled(g, [1.0], n=2, cls=10)
    with pytest.raises(GanforgeError, match="class index -1"):
        check_classes(torch.tensor([0, -1]), 10)


# -- architecture ---------------------------------------------------------------------------------------------------
def _block_conditions(g, z, y):
    seen = []
    hooks = [b.register_forward_pre_hook(lambda m, args: seen.append(args[1].detach().clone())) for b in g.blocks]
    inputs = []
    hooks.append(g.linear.register_forward_pre_hook(lambda m, args: inputs.append(args[0].detach().clone())))
    out = g(z, y)
    for h in hooks:
        h.remove()
    return inputs[0], seen, out


def test_hierarchical_z_chunk_k_reaches_only_block_k():
    g = _g().eval()
    z, y = torch.randn(4, 24), torch.tensor([0, 3, 5, 9])
    assert g.chunk == 6  # 24 = (3 blocks + input) × 6
    z_in, conds, out = _block_conditions(g, z, y)
    for c in conds:  # c_i = [shared(y), z chunk i]
        assert c.shape == (4, 8 + 6) and torch.equal(c[:, :8], g.shared(y))
    for k in range(4):
        z2 = z.clone()
        z2[:, 6 * k: 6 * (k + 1)] += 1.0
        z2_in, conds2, out2 = _block_conditions(g, z2, y)
        assert torch.equal(z2_in, z_in) == (k != 0)
        changed = [not torch.equal(a, b) for a, b in zip(conds, conds2)]
        assert changed == [k == i + 1 for i in range(3)], (k, changed)
        assert not torch.allclose(out, out2)
    # Without hierarchy all of z is the input and every block gets the class embedding alone.
    flat = _g(hierarchical=False).eval()
    z_in, conds, _ = _block_conditions(flat, z, y)
    assert torch.equal(z_in, z) and all(torch.equal(c, flat.shared(y)) for c in conds)


def test_conditional_bn_gain_is_one_plus_linear():
    torch.manual_seed(0)
    bn = ConditionalBatchNorm(4, 6).eval()
    x, c = torch.randn(3, 4, 5, 5), torch.randn(3, 6)
    normed = bn.bn(x)
    want = normed * (1 + bn.gain(c))[:, :, None, None] + bn.bias(c)[:, :, None, None]
    assert torch.allclose(bn(x, c), want)
    assert torch.allclose(bn(x, torch.zeros(3, 6)), normed)  # c = 0: plain BN, not a zero gain


def test_self_attention_with_gamma_zero_is_the_identity():
    torch.manual_seed(0)
    att = SelfAttention(16)
    x = torch.randn(2, 16, 8, 8)
    assert torch.equal(att(x), x)
    (att(x) * torch.randn_like(x)).sum().backward()
    assert att.gamma.grad.abs().item() > 0  # γ learns from 0
    with torch.no_grad():
        att.gamma.fill_(0.5)
    assert not torch.allclose(att(x), x)
    # θ, φ at C/8 and g at C/2, φ and g max-pooled 2×2 (4× fewer keys than queries).
    assert att.theta.weight.shape[0] == att.phi.weight.shape[0] == 2 and att.g.weight.shape[0] == 8


def test_spectral_norm_everywhere_except_g_shared_embedding_and_projection_sum_pool():
    from torch.nn.utils import parametrize

    g, d = _g(), BigGANDiscriminator((1, 32, 32), 10, channels=2, attention=16)
    for net, free in ((g, {"shared"}), (d, set())):
        layers = {n: m for n, m in net.named_modules()
                  if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear, torch.nn.Embedding))}
        unnormalised = {n for n, m in layers.items() if not parametrize.is_parametrized(m, "weight")}
        assert unnormalised == free
    d.eval()
    x, y = torch.randn(3, 1, 32, 32), torch.tensor([1, 2, 3])
    logits, h = d.forward_with_features(x, y)
    assert torch.allclose(logits, d.linear(h).flatten() + (d.embed(y) * h).sum(1), atol=1e-5)
    pooled = x
    for i, block in enumerate(d.blocks):
        pooled = block(pooled)
        if i == d.attention_after:
            pooled = d.attention(pooled)
    assert torch.allclose(h, torch.relu(pooled).sum(dim=(2, 3)))  # global sum, not mean


def test_bad_architecture_settings_are_config_errors():
    with pytest.raises(ConfigError, match="equal chunks"):
        BigGANGenerator((1, 32, 32), 10, z_dim=25, channels=2, attention=0)
    with pytest.raises(ConfigError, match="block output resolution"):
        BigGANGenerator((1, 32, 32), 10, z_dim=24, channels=2, attention=64)
    with pytest.raises(ConfigError, match="32², 64², 128²"):
        BigGANDiscriminator((1, 16, 16), 10, channels=2)
    cfg = load_config("biggan-mnist", TINY)
    unlabelled = DataInfo(shape=(1, 32, 32))
    with pytest.raises(ConfigError, match="BigGAN generator .* needs labelled data"):
        build_generator(cfg.generator, unlabelled)
    with pytest.raises(ConfigError, match="BigGAN discriminator .* needs labelled data"):
        build_discriminator(cfg.discriminator, unlabelled)


# -- batch norm: standing statistics, synchronised BN ----------------------------------------------------------------
def test_standing_statistics_average_the_batch_statistics_and_leave_sn_alone():
    g = _g()
    first = g.blocks[0].bn1.bn
    u_before = {n: b.clone() for n, b in g.named_buffers() if n.endswith("_u")}
    gen = torch.Generator().manual_seed(0)
    draws = [(torch.randn(16, 24, generator=gen), torch.randint(0, 10, (16,), generator=gen)) for _ in range(5)]
    batch_means = []
    hook = first.register_forward_pre_hook(lambda m, args: batch_means.append(args[0].mean(dim=(0, 2, 3))))
    standing_statistics(g, lambda i: draws[i], batches=5)
    hook.remove()
    assert torch.allclose(first.running_mean, torch.stack(batch_means).mean(0), atol=1e-6)
    assert all(m.momentum == 0.1 for m in batchnorms(g)) and g.training and first.training
    assert all(torch.equal(b, u_before[n]) for n, b in g.named_buffers() if n.endswith("_u"))


def test_conditional_bn_converts_to_sync_batchnorm_unchanged():
    g = _g()
    ref = {k: v.clone() for k, v in g.state_dict().items()}
    z, y = torch.randn(6, 24), torch.arange(6)
    want_train = g(z, y)
    g.load_state_dict(ref)
    synced = torch.nn.SyncBatchNorm.convert_sync_batchnorm(g)
    assert all(isinstance(m, torch.nn.SyncBatchNorm) for m in batchnorms(synced))
    assert len(batchnorms(synced)) == 2 * 3 + 1  # two conditional BNs per block and the output BN
    assert isinstance(synced.blocks[0].bn1.bn, torch.nn.SyncBatchNorm) and synced.state_dict().keys() == ref.keys()
    assert torch.allclose(synced(z, y), want_train, atol=1e-6)  # no process group: the same statistics


# -- training: EMA start, CLI end to end ---------------------------------------------------------------------------
@pytest.mark.slow  # a Trainer run with a checkpoint (and an EMA BN refresh) at every step
def test_ema_start_step_is_honoured_in_a_biggan_run(tmp_path):
    cfg = load_config("biggan-mnist", TINY + ["train.steps=4", "train.checkpoint_every=1", "train.keep_last=10",
                                              "train.ema=0.9", "train.ema_start=3"])
    Trainer(cfg, run_dir=str(tmp_path)).fit()
    params = {n for n, _ in _g().named_parameters()}
    ck = {s: str(tmp_path / "checkpoints" / f"step-00000{s}") for s in (2, 3, 4)}
    g, ema = ({s: load_entry(ck[s], e) for s in ck} for e in ("generator", "ema"))
    for s in (2, 3):  # before the start the EMA copies G
        assert all(torch.equal(ema[s][k], g[s][k]) for k in params)
    moved = [k for k in params if not torch.equal(g[4][k], g[3][k])]
    assert moved  # then it tracks: ema_4 = 0.9·ema_3 + 0.1·G_4
    for k in params:
        assert torch.allclose(ema[4][k], 0.9 * ema[3][k] + 0.1 * g[4][k], atol=1e-6)
    assert not torch.allclose(ema[4][moved[0]], g[4][moved[0]])


def ganforge(*args):
    return subprocess.run([sys.executable, "-m", "ganforge", *map(str, args)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})


def _all_weights(run):
    ckpt = latest_checkpoint(str(run / "checkpoints"))
    return {f"{e}.{k}": v for e in ("generator", "discriminator", "ema") for k, v in load_entry(ckpt, e).items()}


@pytest.mark.slow
def test_cli_run_resume_equals_uninterrupted_and_truncate_errors(tmp_path):
    common = TINY + ["train.checkpoint_every=2", "train.ema=0.9", "train.ema_start=1"]
    r = ganforge("train", "biggan-mnist", "--out", tmp_path / "a", *common, "train.steps=4")
    assert r.returncode == 0, r.stderr
    assert ganforge("train", "biggan-mnist", "--out", tmp_path / "b", *common, "train.steps=2").returncode == 0
    r = ganforge("train", "--resume", tmp_path / "b", "train.steps=4")
    assert r.returncode == 0, r.stderr
    a, b = _all_weights(tmp_path / "a"), _all_weights(tmp_path / "b")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    first = load_entry(str(tmp_path / "a" / "checkpoints" / "step-000002"), "generator")
    assert any(not torch.equal(first[k], a[f"generator.{k}"]) for k in first)  # training moved the weights

    out = tmp_path / "trunc.png"
    r = ganforge("truncate", tmp_path / "a", "--psi", "2,0.5", "--n", 3, "--class", 4, "--standing", 2,
                 "--out", out)
    assert r.returncode == 0, r.stderr
    assert np.asarray(Image.open(out)).std() > 5
    for bad, message in ((["--psi", "3"], "(0, 2]"), (["--psi", "0"], "(0, 2]"),
                         (["--class", "10"], "class index 10 is out of range")):
        r = ganforge("truncate", tmp_path / "a", *bad, "--out", tmp_path / "x.png")
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_cli_refuses_a_conditional_preset_on_an_unlabelled_folder_in_one_line(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(photos / f"{i}.png")
    r = ganforge("train", "biggan-mnist", f"data.path={photos}", "--out", tmp_path / "run", "train.steps=2",
                 "train.batch_size=4")
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert [line for line in r.stderr.splitlines() if line.strip()] == [
        "error: the BigGAN generator (class-conditional) needs labelled data; this dataset has no classes"]
    assert not (tmp_path / "run").exists()  # refused before the run folder is made
