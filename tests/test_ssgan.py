"""The self-supervised GAN (Chen et al., CVPR 2019): rotations and their labels, where the GAN and rotation losses
act and with which weights (compare_gan: D 1.0, G 0.2), equality with the base method at weight 0, a head that
learns, bitwise resume, the linear probe of D's features (pure function, Trainer metric), and bad configs."""
import copy
import functools
import json
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from ganforge.config import load_config
from ganforge.data import build_dataset
from ganforge.data.batch import Batch
from ganforge.errors import ConfigError
from ganforge.methods.base import Noise
from ganforge.methods.ssgan import SSGAN, SSGANConfig, rotate, rotated_batch
from ganforge.methods.standard import StandardConfig, StandardGAN
from ganforge.metrics.linear_probe import discriminator_features, linear_probe_accuracy, probe_split
from ganforge.models.base import Discriminator
from ganforge.models.dcgan import DCGANDiscriminator, DCGANGenerator
from ganforge.models.resnet import ResNetDiscriminator, ResNetGenerator

TINY = ["generator.channels=8", "discriminator.channels=8", "train.batch_size=16", "train.progress=false",
        "train.eval_every=0", "train.log_every=1", "train.sample_every=1000", "train.n_samples=16",
        "train.tensorboard=false", "train.threads=1"]


def tiny_config(*extra):
    return load_config("ssgan-mnist", TINY + list(extra))


@functools.lru_cache(maxsize=None)
def mnist():
    return build_dataset(load_config("ssgan-mnist").data)


def digits(n: int, offset: int = 0):
    return mnist().get(torch.arange(offset, offset + n))


class Batches:
    """A fixed list of real batches, as the Trainer's stream hands them to `step`."""

    def __init__(self, batches):
        self.batches, self.i = batches, 0

    def next(self):
        b = self.batches[self.i % len(self.batches)]
        self.i += 1
        return b


# -- rotations ------------------------------------------------------------------------------------------------------
def test_rotations_and_labels_match_the_closed_form():
    x = torch.randn(6, 3, 8, 8)
    images, labels = rotated_batch(x, 4)
    assert torch.equal(labels, torch.tensor([0] * 4 + [1] * 4 + [2] * 4 + [3] * 4))
    last = x[-4:]
    for k in range(4):
        got = images[labels == k]
        assert torch.equal(got, torch.rot90(last, k, dims=(2, 3)))
        assert torch.equal(rotate(got, 4 - k), last)  # rotating by k then by 4 − k is the identity
    # compare_gan's `rotate_images`: 90° = flip_up_down(transpose), 180° = flip both, 270° = transpose(flip_up_down)
    assert torch.equal(images[labels == 1], last.transpose(2, 3).flip(2))
    assert torch.equal(images[labels == 2], last.flip(2).flip(3))
    assert torch.equal(images[labels == 3], last.flip(2).transpose(2, 3))
    # Counter-clockwise: the top row of the upright image becomes the left column, read bottom to top.
    assert torch.equal(images[labels == 1][:, :, :, 0], last[:, :, 0, :].flip(-1))
    # The 4 angles give 4 different images of an asymmetric picture (a digit).
    d = digits(1).x
    rots = rotated_batch(d, 1)[0]
    assert all(not torch.equal(rots[i], rots[j]) for i in range(4) for j in range(i + 1, 4))


# -- where and how much each loss acts --------------------------------------------------------------------------
def _method(D=None, G=None, **cfg):
    torch.manual_seed(0)
    G = G or ResNetGenerator((1, 16, 16), z_dim=16, channels=8)
    D = D or ResNetDiscriminator((1, 16, 16), channels=8)
    m = SSGAN(SSGANConfig(d_loss="hinge", g_loss="hinge", **cfg), G, D)
    m.noise = Noise(1, "cpu")
    return m


def test_gan_loss_reads_only_upright_images_and_rotation_loss_reads_all_four():
    m = _method()
    D, G = m.discriminator, m.generator
    calls = []  # (input, logits, features) of every D forward
    forward = D.forward_with_features

    def spy(x, y=None):
        out = forward(x, y)
        calls.append((x, out[0], out[1]))
        return out

    D.forward_with_features = spy
    fakes = []
    G.register_forward_hook(lambda mod, inp, out: fakes.append(out))
    seen = {}
    d_cost, g_cost = m.d_cost, m.g_cost
    m.d_cost = lambda r, f: (seen.update(d=(r, f)), d_cost(r, f))[1]
    m.g_cost = lambda f: (seen.update(g=f), g_cost(f))[1]
    real = digits(8, 0).x[:, :, ::2, ::2].contiguous()
    m.d_step(real)
    m.g_step(8)

    def source(logits):  # the D input whose forward returned exactly this tensor
        return next(x for x, s, _ in calls if s is logits)

    assert torch.equal(source(seen["d"][0]), real)
    assert torch.equal(source(seen["d"][1]), fakes[0])
    assert torch.equal(source(seen["g"]), fakes[1])
    # The other forwards are the rotated batches of the last n = 8 // 4 = 2 images (reals in the D step, the G
    # step's fakes in the G step); their GAN logits never reach a GAN cost.
    rot_inputs = [x for x, s, _ in calls if s is not seen["d"][0] and s is not seen["d"][1] and s is not seen["g"]]
    assert len(rot_inputs) == 2
    assert torch.equal(rot_inputs[0], rotated_batch(real, 2)[0])
    assert torch.equal(rot_inputs[1], rotated_batch(fakes[1].detach(), 2)[0])
    # The check can fail: D's logit depends on the orientation, so rotated inputs would have given other scores.
    D.eval()
    assert not torch.allclose(forward(real)[0], forward(rotate(real, 1))[0])


def _hand_ce(logits, labels):  # compare_gan: −mean(Σ onehot · log softmax)
    return -(F.one_hot(labels, 4) * torch.log_softmax(logits, 1)).sum(1).mean()


def test_d_rotation_weight_is_one_and_g_weight_is_point_two_on_a_fixed_batch():
    m = _method()
    assert (m.cfg.rotation_weight_d, m.cfg.rotation_weight_g) == (1.0, 0.2)  # the paper's β and α
    m.train(False)  # no power iteration: every forward of the same input gives the same output
    D, H = m.discriminator, m.rotation_head
    real = digits(16, 0).x[:, :, ::2, ::2].contiguous()
    fake = m.generator(torch.randn(16, 16, generator=torch.Generator().manual_seed(0))).detach()
    images, labels = rotated_batch(real, 4)
    ce_real = _hand_ce(H(D.forward_with_features(images)[1]), labels)
    hinge_d = F.relu(1 - D(real)).mean() + F.relu(1 + D(fake)).mean()
    loss_d, _ = m.d_objective(real, None, fake, None)
    assert loss_d.item() == pytest.approx((hinge_d + 1.0 * ce_real).item(), rel=1e-5)
    images, labels = rotated_batch(fake, 4)
    ce_fake = _hand_ce(H(D.forward_with_features(images)[1]), labels)
    loss_g = m.g_objective(fake, None, None, None)
    assert loss_g.item() == pytest.approx((-D(fake).mean() + 0.2 * ce_fake).item(), rel=1e-5)
    assert ce_real.item() > 0.5 and ce_fake.item() > 0.5  # both terms weigh in (an untrained head: ~log 4)


@pytest.mark.parametrize("nets", ["resnet-sn", "dcgan-bn"])
def test_zero_rotation_weights_give_exactly_the_standard_method(nets):
    torch.manual_seed(0)
    if nets == "resnet-sn":
        G, D, d_steps = ResNetGenerator((1, 16, 16), z_dim=16, channels=8), ResNetDiscriminator((1, 16, 16), 8), 2
    else:
        G, D, d_steps = DCGANGenerator((1, 16, 16), 16, 8), DCGANDiscriminator((1, 16, 16), 8), 1
    kw = dict(d_loss="hinge", g_loss="hinge", d_steps=d_steps)
    base = StandardGAN(StandardConfig(**kw), copy.deepcopy(G), copy.deepcopy(D))
    ss = SSGAN(SSGANConfig(rotation_weight_d=0.0, rotation_weight_g=0.0, **kw), copy.deepcopy(G), copy.deepcopy(D))
    full = SSGAN(SSGANConfig(**kw), copy.deepcopy(G), copy.deepcopy(D))
    real = [Batch(x=digits(8, 8 * i).x[:, :, ::2, ::2].contiguous()) for i in range(4)]
    logs = {}
    for name, m in (("base", base), ("ss", ss), ("full", full)):
        m.noise = Noise(3, "cpu")
        data = Batches(real)
        logs[name] = [m.step(data, 0.0) for _ in range(2)]
    for a, b in zip(logs["base"], logs["ss"]):
        assert set(b) == {"d_loss", "g_loss"} and torch.equal(a["d_loss"], b["d_loss"]) \
            and torch.equal(a["g_loss"], b["g_loss"])
    for net in ("generator", "discriminator"):
        for (k, p), q in zip(getattr(base, net).state_dict().items(), getattr(ss, net).state_dict().values()):
            assert torch.equal(p, q), (net, k)
    # ... and the rotation loss does change the trajectory when it is on.
    assert not torch.equal(logs["base"][1]["d_loss"], logs["full"][1]["d_loss"])
    assert {"rot_d", "rot_g", "rot_acc"} <= set(logs["full"][0])


def test_rotation_head_trains_with_d_only_and_is_spectrally_normalised_when_d_is():
    from torch.nn.utils import parametrize

    m = _method()
    assert parametrize.is_parametrized(m.rotation_head.linear, "weight")  # SN-ResNet D -> SN head
    assert m.rotation_head.linear.in_features == 8  # D's sum-pooled φ(x), N×C
    dc = _method(D=DCGANDiscriminator((1, 16, 16), 8), G=DCGANGenerator((1, 16, 16), 16, 8))
    assert not parametrize.is_parametrized(dc.rotation_head.linear, "weight")
    assert dc.rotation_head.linear.in_features == 16 * 4 * 4  # the 4×4 maps D's output conv reads, flattened
    head0 = [p.detach().clone() for p in m.rotation_head.parameters()]
    d_params = {id(p) for group in m.optimizers()["d"].param_groups for p in group["params"]}
    assert all(id(p) in d_params for p in m.rotation_head.parameters())
    assert not any(id(p) in d_params for p in m.generator.parameters())
    m.g_step(8)
    assert all(torch.equal(a, b) for a, b in zip(head0, m.rotation_head.parameters()))  # G's update leaves Q alone
    m.d_step(digits(8).x[:, :, ::2, ::2].contiguous())
    assert any(not torch.equal(a, b) for a, b in zip(head0, m.rotation_head.parameters()))


# -- training ---------------------------------------------------------------------------------------------------
def test_short_training_teaches_the_head_to_tell_rotations_of_held_out_digits(tmp_path):
    from ganforge.train import Trainer

    cfg = load_config("ssgan-mnist", TINY + ["train.steps=60", "train.checkpoint_every=1000",
                                              "train.batch_size=32"])
    trainer = Trainer(cfg, run_dir=str(tmp_path / "run"))
    trainer.fit()
    m = trainer.method
    held_out = digits(400, 4000).x  # the stream draws from all 5,000; take images D is unlikely to know by heart
    D = copy.deepcopy(m.discriminator).train()  # BatchNorm by batch statistics, as in training
    with torch.no_grad():
        images, labels = rotated_batch(held_out, 400)
        acc = (m.rotation_head(D.forward_with_features(images)[1]).argmax(1) == labels).float().mean()
    assert acc.item() > 0.6, acc.item()  # chance: 0.25
    records = [json.loads(line) for line in open(tmp_path / "run" / "metrics.jsonl")]
    assert records[-1]["rot_d"] < records[0]["rot_d"]


def test_resume_is_bitwise_including_the_rotation_head(tmp_path):
    from ganforge.train import Trainer
    from ganforge.train.checkpoint import latest_checkpoint, load_checkpoint

    Trainer(tiny_config("train.steps=4", "train.checkpoint_every=2"), run_dir=str(tmp_path / "full")).fit()
    Trainer(tiny_config("train.steps=2", "train.checkpoint_every=2"), run_dir=str(tmp_path / "half")).fit()
    Trainer(tiny_config("train.steps=4", "train.checkpoint_every=2"), run_dir=str(tmp_path / "half"),
            resume=True).fit()
    a, _ = load_checkpoint(latest_checkpoint(str(tmp_path / "full" / "checkpoints")))
    b, _ = load_checkpoint(latest_checkpoint(str(tmp_path / "half" / "checkpoints")))
    assert set(a["rotation_head"]) == {"linear.weight", "linear.bias"}  # the DCGAN D has no SN: nor has its head
    for net in ("generator", "discriminator", "rotation_head"):
        for k, v in a[net].items():
            assert torch.equal(v, b[net][k]), (net, k)
    logs = [[json.loads(line) for line in open(tmp_path / r / "metrics.jsonl")] for r in ("full", "half")]
    assert [(r["step"], r["rot_d"], r["d_loss"]) for r in logs[0]] == [(r["step"], r["rot_d"], r["d_loss"])
                                                                       for r in logs[1]]


# -- the linear probe --------------------------------------------------------------------------------------------
def test_linear_probe_is_at_chance_on_noise_and_exact_on_label_features():
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 10, (2000,), generator=g)
    noise = torch.randn(2000, 32, generator=g)
    acc = linear_probe_accuracy(noise[:1000], labels[:1000], noise[1000:], labels[1000:])
    assert abs(acc - 0.1) < 0.04, acc  # 1,000 test labels: chance 0.1, binomial sd 0.0095
    one_hot = F.one_hot(labels, 10).float() * 5 + 0.3 * torch.randn(2000, 10, generator=g)
    features = torch.cat([one_hot, noise], 1)  # the label is linearly readable from the first 10 dimensions
    assert linear_probe_accuracy(features[:1000], labels[:1000], features[1000:], labels[1000:]) == 1.0
    tr, te = probe_split(50, 1000, 1000, seed=0)
    assert len(tr) == 25 and len(te) == 25 and not set(tr.tolist()) & set(te.tolist())


def test_probe_features_leave_d_untouched_and_are_pooled():
    torch.manual_seed(0)
    D = DCGANDiscriminator((1, 32, 32), channels=8).train()
    x = digits(20).x
    before = {k: v.clone() for k, v in D.state_dict().items()}
    f = discriminator_features(D, x, batch_size=7)
    assert D.training and all(torch.equal(v, D.state_dict()[k]) for k, v in before.items())  # BN stats unmoved
    D.eval()
    with torch.no_grad():
        assert torch.allclose(f, D.forward_with_features(x)[1].mean(dim=(2, 3)), atol=1e-6)
    # batch_stats: BatchNorm by each batch's own statistics (as in training), on a copy; D stays as it was.
    D.train()
    fb = discriminator_features(D, x, batch_size=20, batch_stats=True)
    assert D.training and all(torch.equal(v, D.state_dict()[k]) for k, v in before.items())
    with torch.no_grad():
        assert torch.allclose(fb, copy.deepcopy(D).forward_with_features(x)[1].mean(dim=(2, 3)), atol=1e-6)
    assert not torch.allclose(fb, f, atol=1e-3)
    S = ResNetDiscriminator((1, 32, 32), channels=8).train()
    u = {k: v.clone() for k, v in S.state_dict().items()}
    discriminator_features(S, x)
    assert all(torch.equal(v, S.state_dict()[k]) for k, v in u.items())  # no power iteration ran


def test_probe_is_recorded_during_training_without_changing_the_run(tmp_path):
    from ganforge.train import Trainer

    plain = Trainer(tiny_config("train.steps=4", "train.checkpoint_every=4"), run_dir=str(tmp_path / "plain")).fit()
    probed = Trainer(tiny_config("train.steps=4", "train.checkpoint_every=4", "train.eval_every=2",
                                 "train.eval_metrics=probe"), run_dir=str(tmp_path / "probed"))
    probed.fit()
    records = [json.loads(line) for line in open(tmp_path / "probed" / "metrics.jsonl")]
    scores = [r["eval/probe"] for r in records if "eval/probe" in r]
    assert len(scores) == 2 and all(0.1 < s <= 1.0 for s in scores)
    assert records[-1]["eval_protocol"]["probe"]["n_train"] == 1000
    import ganforge

    a, b = ganforge.load(plain.run_dir), ganforge.load(str(tmp_path / "probed"))
    for p, q in zip(a.generator.state_dict().values(), b.generator.state_dict().values()):
        assert torch.equal(p, q)
    # The same score from Python through the public API, on the saved discriminator.
    again = ganforge.evaluate(str(tmp_path / "probed"), "probe", record=False, device="cpu")
    assert again.scores["probe"] == pytest.approx(scores[-1], abs=1e-9)


def test_probe_needs_a_discriminator_and_labels(tmp_path):
    import numpy as np

    from ganforge.data.folder import NpzConfig
    from ganforge.evaluation import evaluate

    G = ResNetGenerator((1, 32, 32), 16, 8).eval()
    with pytest.raises(ConfigError, match="discriminator"):
        evaluate(G, tiny_config().data, "probe")
    np.savez(tmp_path / "x.npz", x=np.zeros((8, 32, 32), np.uint8))  # images without labels
    with pytest.raises(ConfigError, match="labelled"):
        evaluate(G, NpzConfig(path=str(tmp_path / "x.npz")), "probe", discriminator=ResNetDiscriminator((1, 32, 32), 8))


# -- bad input ----------------------------------------------------------------------------------------------------
class NoFeatures(Discriminator):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(256, 1)

    def forward(self, x, y=None):
        return self.lin(x.flatten(1)).flatten()


def test_bad_configs_are_config_errors():
    for override, text in (("method.rotation_weight_d=-1", "rotation_weight_d must be ≥ 0"),
                           ("method.rotation_weight_g=-0.2", "rotation_weight_g must be ≥ 0"),
                           ("method.rotated_batch=6", "multiple of 4")):
        with pytest.raises(ConfigError, match=text):
            tiny_config(override)
    with pytest.raises(ConfigError, match="exposes its features"):
        SSGAN(SSGANConfig(), ResNetGenerator((1, 16, 16), 16, 8), NoFeatures())
    r = subprocess.run([sys.executable, "-m", "ganforge", "train", "ssgan-mnist", "method.rotation_weight_g=-1"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "error: method.rotation_weight_g must be ≥ 0, got -1.0"], r.stderr
