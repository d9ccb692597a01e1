"""Minibatch discrimination in the DCGAN discriminator (Salimans et al. 2016, §3.2) as the official code places and
regularises it (openai/improved-gan ``train_cifar_minibatch_discrimination.py``: GlobalPoolLayer → MinibatchLayer →
dense; Gaussian noise σ = 0.2 on D's input)."""
import torch

from ganforge.config import load_config
from ganforge.data import DataInfo
from ganforge.models import build_discriminator

torch.set_num_threads(1)
STACKED = DataInfo(shape=(3, 32, 32))


def _d(*overrides):
    cfg = load_config("dcgan-stacked-mnist", ["discriminator.name=dcgan-improved", "discriminator.channels=8",
                                               *overrides]).discriminator
    torch.manual_seed(0)
    return build_discriminator(cfg, STACKED)


def test_minibatch_features_are_computed_on_the_spatially_pooled_features_by_default():
    d = _d()
    x = torch.rand(6, 3, 32, 32) * 2 - 1
    d(x)  # training-mode first batch: BN statistics and the MBD data init
    d.eval()
    with torch.no_grad():
        h = d.features(x)
        head = d.out
        pooled = h.mean(dim=(2, 3))
        expect = head.mbd.similarities(pooled) + head.mbd.bias  # o(x_i)_b of the layer on the pooled features
        logit = head.linear(torch.cat([h.flatten(1), expect], 1)).flatten()
        torch.testing.assert_close(d(x), logit)
        # Moving a feature map's values around within each sample changes the logit's h part (it sees all 4×4
        # positions) but not the minibatch features, which see each channel's spatial mean only.
        rolled = torch.roll(h, 1, dims=3)
        torch.testing.assert_close(head.mbd.minibatch_features(rolled.mean(dim=(2, 3))), expect)
        w = head.linear.weight[0, :h[0].numel()]
        assert ((rolled.flatten(1) - h.flatten(1)) @ w).abs().max() > 1e-4
    assert head.mbd.in_features == h.shape[1]  # C inputs, not C×4×4
    flat = _d("discriminator.mbd_input=flat").out.mbd
    assert flat.in_features == h.shape[1] * 16


def test_input_noise_is_added_in_training_only_with_the_set_sigma():
    d = _d("discriminator.input_noise=0.2")
    seen = []
    d.features.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach().clone()))
    x = torch.zeros(64, 3, 32, 32)
    d(x)
    assert abs(seen[-1].std().item() - 0.2) < 0.005 and abs(seen[-1].mean().item()) < 0.005
    d.eval()
    d(x)
    assert torch.equal(seen[-1], x)  # evaluation sees the images as they are
    quiet = _d()
    quiet.features.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach().clone()))
    quiet(x)
    assert torch.equal(seen[-1], x)  # σ = 0 by default


def test_g_repeats_gives_the_generator_several_updates_per_discriminator_update(tmp_path):
    """The official minibatch-discrimination script updates G three times per D update (``for rep in range(3):
    train_batch_gen``). With g_repeats = 3, two iterations are 2 D and 6 G updates, and G ends elsewhere than
    under the plain schedule."""
    from ganforge.train import Trainer
    common = ["discriminator.name=dcgan-improved", "generator.channels=8", "discriminator.channels=8",
              "data.n=256", "train.batch_size=8", "train.progress=false", "train.eval_every=0",
              "train.sample_every=100", "train.checkpoint_every=100"]
    cfg = load_config("dcgan-stacked-mnist", [*common, "train.steps=2", "method.g_repeats=3"])
    t = Trainer(cfg, run_dir=str(tmp_path / "rep"))
    t.fit()
    assert (t.method.d_steps, t.method.g_steps) == (2, 6)
    one = Trainer(load_config("dcgan-stacked-mnist", [*common, "train.steps=2"]), run_dir=str(tmp_path / "one"))
    one.fit()
    assert (one.method.d_steps, one.method.g_steps) == (2, 2)
    moved = [(a - b).abs().max().item() for a, b in zip(t.method.generator.parameters(),
                                                         one.method.generator.parameters())]
    assert max(moved) > 1e-4  # the extra G updates changed G
