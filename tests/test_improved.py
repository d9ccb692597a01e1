"""Salimans et al. 2016, "Improved Techniques for Training GANs": minibatch discrimination (§3.2), virtual batch
norm (§3.4) and the semi-supervised GAN (§5)."""
import json

import pytest
import torch
import torch.nn.functional as F

from ganforge.config import load_config
from ganforge.data import DataInfo
from ganforge.methods.semi_supervised import (SemiSupervisedConfig, classification_accuracy, feature_matching_loss,
                                              select_labelled, unsupervised_loss)
from ganforge.models import build_discriminator, build_generator
from ganforge.models.dcgan import DCGANGenerator
from ganforge.models.improved import (MinibatchDiscrimination, SemiSupervisedMLPDiscriminator, VirtualBatchNorm2d)
from ganforge.train import Trainer

torch.set_num_threads(1)
MNIST = DataInfo(shape=(1, 32, 32), num_classes=10)


# ----------------------------------------------------------------------------------------------- minibatch discr.
def _mbd(a=12, b=7, c=5, seed=0):
    torch.manual_seed(seed)
    layer = MinibatchDiscrimination(a, b, c, init_on_first_batch=False)
    with torch.no_grad():
        layer.bias.normal_()
        layer.log_scale.normal_(0, 0.3)
    return layer


def test_minibatch_discrimination_matches_the_paper_formula():
    layer = _mbd()
    f = torch.randn(5, 12, dtype=torch.float64) * 0.2
    layer.double()
    out = layer(f)
    m = torch.einsum("na,abc->nbc", f, layer.weight())  # M_i = f(x_i)·T, N×B×C
    expect = torch.zeros(5, 7, dtype=torch.float64)
    for i in range(5):
        for j in range(5):
            if j != i:  # the official code leaves out j = i
                expect[i] += torch.exp(-(m[i] - m[j]).abs().sum(dim=1))
    assert out.shape == (5, 12 + 7)
    assert torch.equal(out[:, :12], f)
    torch.testing.assert_close(out[:, 12:], expect + layer.bias, rtol=1e-10, atol=1e-10)
    assert (expect > 1e-3).all()  # the similarities are not vanishingly small: the comparison has teeth


def test_minibatch_discrimination_sees_the_other_samples_but_not_their_order():
    layer = _mbd()
    f = torch.randn(6, 12) * 0.2
    out = layer(f)
    changed = f.clone()
    changed[3] += torch.randn(12) * 0.3
    out2 = layer(changed)
    assert torch.equal(out2[0, :12], out[0, :12])  # f(x_0) is passed through untouched
    assert (out2[0, 12:] - out[0, 12:]).abs().max() > 1e-3  # o(x_0) changed with x_3
    perm = torch.tensor([0, 4, 2, 5, 1, 3])
    torch.testing.assert_close(layer(f[perm])[0], out[0], rtol=1e-5, atol=1e-6)
    # Alone in its batch, a sample has no neighbours: o is just the bias.
    torch.testing.assert_close(layer(f[:1])[0, 12:], layer.bias.detach())


def test_minibatch_discrimination_data_init_is_the_official_one():
    torch.manual_seed(1)
    layer = MinibatchDiscrimination(20, 8, 5)  # data init on the first training batch
    f = torch.randn(16, 20) * 5.0
    assert not bool(layer.initialized)
    out = layer(f)
    assert bool(layer.initialized) and "initialized" in layer.state_dict()
    torch.testing.assert_close(out[:, 20:].mean(0), torch.zeros(8), atol=1e-5, rtol=0)  # o has zero batch mean
    d = layer.distances(f) + torch.diag(torch.full((16,), float("inf")))
    torch.testing.assert_close(d.min(dim=2).values.mean(dim=1), torch.full((8,), 2.0), rtol=1e-4, atol=1e-4)
    before = layer.log_scale.detach().clone()
    layer(f * 3)  # only the first batch initialises
    assert torch.equal(layer.log_scale.detach(), before)


def test_dcgan_improved_discriminator_couples_the_batch_only_with_minibatch_discrimination():
    torch.manual_seed(0)
    x = torch.rand(8, 1, 32, 32) * 2 - 1
    x2 = x.clone()
    x2[5] = torch.rand(1, 32, 32) * 2 - 1
    for mbd in (True, False):
        cfg = load_config("dcgan-mnist", ["discriminator.name=dcgan-improved", f"discriminator.minibatch_discrimination={mbd}",
                                          "discriminator.channels=8"]).discriminator
        d = build_discriminator(cfg, MNIST)
        d(x)  # training-mode first batch: BN statistics and the MBD data init
        d.eval()
        changed = (d(x)[0] - d(x2)[0]).abs().item()
        assert d(x).shape == (8,)
        assert (changed > 1e-6) if mbd else (changed == 0.0)


# ----------------------------------------------------------------------------------------------- virtual BN
def _vbn(ref_size=8, c=3):
    vbn = VirtualBatchNorm2d(c, ref_size)
    with torch.no_grad():
        vbn.weight.fill_(1.0)
    return vbn


def test_vbn_normalises_the_reference_batch_by_its_own_statistics():
    torch.manual_seed(0)
    vbn = _vbn()
    h = torch.randn(8 + 4, 3, 5, 5) * 3.0 + 2.0
    ref = vbn(h)[:8]
    torch.testing.assert_close(ref.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(ref.var(dim=(0, 2, 3), unbiased=False), torch.ones(3), atol=1e-4, rtol=0)


def test_vbn_normalises_each_example_with_reference_plus_itself_independently_of_its_batch():
    torch.manual_seed(0)
    vbn, ref = _vbn(), torch.randn(8, 3, 5, 5) * 2 + 1
    a, b, c = (torch.randn(1, 3, 5, 5) * 4 - 1 for _ in range(3))
    out_ab = vbn(torch.cat([ref, a, b]))[8]
    out_ac = vbn(torch.cat([ref, a, c]))[8]
    out_a = vbn(torch.cat([ref, a]))[8]
    torch.testing.assert_close(out_ab, out_ac)
    torch.testing.assert_close(out_ab, out_a)
    # The official weights 1/(B+1), B/(B+1) make these exactly the statistics of the set reference ∪ {a}.
    bn = F.batch_norm(torch.cat([ref, a]), None, None, training=True, eps=1e-5)[8]
    torch.testing.assert_close(out_a, bn, atol=1e-5, rtol=1e-5)
    # Batch norm, in contrast, couples a to its batch-mates.
    bn_ab = F.batch_norm(torch.cat([a, b]), None, None, training=True)[0]
    bn_ac = F.batch_norm(torch.cat([a, c]), None, None, training=True)[0]
    assert (bn_ab - bn_ac).abs().max() > 1e-2


def test_vbn_generator_samples_depend_on_their_own_code_only():
    cfg = load_config("dcgan-mnist", ["generator.name=dcgan-vbn", "generator.channels=8",
                                      "generator.ref_size=16"]).generator
    torch.manual_seed(0)
    g = build_generator(cfg, MNIST)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in g.modules())
    z = torch.randn(5, 100)
    with torch.no_grad():
        full = g(z)
        torch.testing.assert_close(g(z[2:3])[0], full[2], atol=1e-5, rtol=1e-5)
        g.eval()
        torch.testing.assert_close(g(z), full)  # no running statistics: eval behaves like train
        dc = DCGANGenerator((1, 32, 32), channels=8)  # plain BN in train mode: a sample depends on its batch
        assert (dc(z[2:3])[0] - dc(z)[2]).abs().max() > 1e-3
    assert full.shape == (5, 1, 32, 32) and "z_ref" in g.state_dict()
    again = build_generator(cfg, MNIST)  # the reference batch comes from ref_seed alone
    assert torch.equal(again.z_ref, g.z_ref)
    # Taps see only the live rows.
    seen = []
    g.feature_layers()["layer1"].register_forward_hook(lambda m, i, o: seen.append(o.shape[0]))
    g(z)
    assert seen == [5]


# ----------------------------------------------------------------------------------------------- semi-supervised
def test_semisupervised_gan_logit_is_logsumexp_and_the_losses_have_their_closed_form():
    torch.manual_seed(0)
    d = SemiSupervisedMLPDiscriminator((1, 28, 28), 10, hidden=(32, 16)).eval()
    x = torch.rand(6, 1, 28, 28) * 2 - 1
    logits = d.class_logits(x)
    gan_logit, feats = d.forward_with_features(x)
    torch.testing.assert_close(gan_logit, torch.logsumexp(logits, 1))
    assert feats.shape == (6, 16) and d.num_classes == 0  # predicts labels, is not conditioned on them
    # As a (K+1)-way softmax with the fake logit fixed at 0: p(fake|x) = 1 − D(x), D = Z/(Z+1).
    full = torch.softmax(torch.cat([logits, torch.zeros(6, 1)], 1), 1)
    torch.testing.assert_close(full[:, -1], 1 - torch.sigmoid(gan_logit))
    lse_r, lse_f = torch.randn(7, dtype=torch.float64) * 3, torch.randn(5, dtype=torch.float64) * 3
    z_r, z_f = lse_r.exp(), lse_f.exp()
    expect = 0.5 * (-torch.log(z_r / (z_r + 1))).mean() + 0.5 * (-torch.log(1 - z_f / (z_f + 1))).mean()
    torch.testing.assert_close(unsupervised_loss(lse_r, lse_f), expect)
    real, fake = torch.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.tensor([[0.0, 0.0], [2.0, 2.0]])
    # batch means [2, 3] vs [1, 1]: l2 = mean of squared differences, l1 = mean of absolute ones
    assert feature_matching_loss(real, fake, "l2").item() == pytest.approx((1**2 + 2**2) / 2)
    assert feature_matching_loss(real, fake + 1, "l1").item() == pytest.approx((0 + 1) / 2)


def test_labelled_subset_is_balanced_and_fixed_by_its_seed():
    y = torch.arange(400) % 10
    idx = select_labelled(y, 7, seed=3)
    assert len(idx) == 70 and len(set(idx.tolist())) == 70
    assert torch.bincount(y[idx], minlength=10).tolist() == [7] * 10
    assert torch.equal(idx, select_labelled(y, 7, seed=3))
    assert not torch.equal(idx, select_labelled(y, 7, seed=4))


def test_semisupervised_learning_rate_is_the_official_mnist_one():
    """openai/improved-gan train_mnist_feature_matching.py trains both players with Adam at a constant
    `lr = 0.003` (β1 0.5); 3e-4 is its CIFAR script's rate."""
    official = 0.003
    assert SemiSupervisedConfig().lr == pytest.approx(official)
    assert load_config("semisup-mnist").method.lr == pytest.approx(official)


def _semisup_config(steps, **extra):
    overrides = ["discriminator.hidden=[64,32]", "generator.hidden=[32,32]", "train.batch_size=20",
                 "method.labelled_batch_size=20", "train.progress=false", "train.log_every=1",
                 "train.sample_every=100", "train.checkpoint_every=3", "method.test_every=2", f"train.steps={steps}"]
    return load_config("semisup-mnist", overrides + [f"{k}={v}" for k, v in extra.items()])


def test_semisupervised_method_logs_and_resumes_bitwise(tmp_path):
    straight = Trainer(_semisup_config(6), run_dir=str(tmp_path / "a"))
    straight.fit()
    assert len(straight.method.labelled.y) == 100
    assert torch.bincount(straight.method.labelled.y).tolist() == [10] * 10
    first = Trainer(_semisup_config(3), run_dir=str(tmp_path / "b"))
    first.fit()
    resumed = Trainer(_semisup_config(6), run_dir=str(tmp_path / "b"), resume=True)
    resumed.fit()
    for name in ("generator", "discriminator"):
        a, b = straight.method.state_dict()[name], resumed.method.state_dict()[name]
        assert all(torch.equal(a[k], b[k]) for k in a), name
    assert torch.equal(straight.method.label_rng.get_state(), resumed.method.label_rng.get_state())
    rec = [json.loads(line) for line in open(tmp_path / "a" / "metrics.jsonl")][-1]
    assert {"d_loss", "g_loss", "sup_loss", "unsup_loss", "sup_acc", "test_acc"} <= rec.keys()
    assert 0.0 <= rec["sup_acc"] <= 1.0 and 0.0 <= rec["test_acc"] <= 1.0
    other = Trainer(_semisup_config(6, **{"method.label_seed": 5}), run_dir=str(tmp_path / "c"))
    assert not torch.equal(other.method.labelled_index, straight.method.labelled_index)


def test_short_semisupervised_training_learns_to_classify_from_100_labels(tmp_path):
    # In a 40-second budget the GAN does not yet beat a classifier trained on the same 100 labels (both reach
    # ~75 % here; benchmarks/claims/semi_supervised.py measures longer runs): assert what does hold at this scale.
    cfg = load_config("semisup-mnist", ["train.steps=60", "train.progress=false", "train.log_every=20",
                                        "train.sample_every=1000", "train.checkpoint_every=1000", "method.test_every=60",
                                        "method.lr=3e-3"])
    trainer = Trainer(cfg, run_dir=str(tmp_path))
    trainer.fit()
    recs = [json.loads(line) for line in open(tmp_path / "metrics.jsonl")]
    assert recs[0]["test_acc"] < 0.4  # logged after the first update: near chance (0.1)
    assert recs[-1]["test_acc"] > 0.6  # 1,000 unseen test digits, 100 labels
    test = trainer.method.test
    assert classification_accuracy(trainer.method.discriminator, test.x, test.y) == pytest.approx(recs[-1]["test_acc"])
    d, g = trainer.method.discriminator.eval(), trainer.method.generator.eval()
    with torch.no_grad():  # D tells the real test digits from samples: D(x) = sigmoid(logsumexp l(x))
        real = torch.sigmoid(d(test.x[:200])).mean()
        fake = torch.sigmoid(d(g(torch.randn(200, g.z_dim)))).mean()
    assert real > fake + 0.1
