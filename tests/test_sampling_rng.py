"""Sampling, evaluation and interventions never touch the training stream, and a StyleGAN's samples are a function
of their seed: its noise inputs are fixed in eval mode (official StyleGAN's ``randomize_noise=False``,
StyleGAN2-ADA's ``noise_mode='const'``) and explicit when a tool wants them to vary."""
import pytest
import torch

from ganforge import api
from ganforge.config import load_config
from ganforge.nn.noise import NoiseInjection
from ganforge.train import Trainer

TINY_STYLEGAN = ["train.batch_size=8", "train.progress=false", "train.n_samples=8", "train.log_every=100",
                 "train.checkpoint_every=100", "train.tensorboard=false", "train.ema=0.9",
                 "generator.channels=8", "generator.channel_base=64", "generator.mapping_layers=2",
                 "discriminator.channels=8", "discriminator.channel_base=64"]


def _stylegan(steps, *extra):
    return load_config("stylegan-shapes", TINY_STYLEGAN + [f"train.steps={steps}", *extra])


def _weights(trainer):
    nets = {"g": trainer.method.generator, "d": trainer.method.discriminator, "ema": trainer.ema.shadow}
    return {f"{name}.{k}": v.clone() for name, net in nets.items() for k, v in net.state_dict().items()
            if isinstance(v, torch.Tensor)}


def test_stylegan_training_does_not_depend_on_how_often_it_samples_or_evaluates(tmp_path):
    rare = Trainer(_stylegan(4, "train.sample_every=100", "train.eval_every=0"), run_dir=str(tmp_path / "rare"))
    rare.fit()
    often = Trainer(_stylegan(4, "train.sample_every=1", "train.eval_every=1", "train.eval_n=16",
                              "train.eval_metrics=swd"), run_dir=str(tmp_path / "often"))
    often.fit()
    a, b = _weights(rare), _weights(often)
    assert a.keys() == b.keys()
    differ = [k for k in a if not torch.equal(a[k], b[k])]
    assert not differ, f"sampling/evaluation changed the training trajectory: {differ[:5]}"
    # not vacuous: the weights did move away from their initial values
    fresh = Trainer(_stylegan(4), run_dir=str(tmp_path / "fresh"))
    init = fresh.method.generator.state_dict()
    assert not torch.equal(init["mapping_net.layers.0.weight"], a["g.mapping_net.layers.0.weight"])


def test_the_trainer_forks_the_random_streams_around_sampling_and_evaluation(tmp_path):
    """Even a sampling generator that draws from the global RNG in eval mode (made to, here) leaves the training
    stream alone: write_samples and evaluate run inside torch.random.fork_rng."""
    def draw_when_sampling(module, args):
        if not module.training:
            torch.rand(())

    def run(name, *extra):
        trainer = Trainer(_stylegan(3, *extra), run_dir=str(tmp_path / name))
        trainer.ema.shadow.register_forward_pre_hook(draw_when_sampling)
        trainer.fit()
        return _weights(trainer)

    rare = run("rare", "train.sample_every=100", "train.eval_every=0")
    often = run("often", "train.sample_every=1", "train.eval_every=1", "train.eval_n=16", "train.eval_metrics=swd")
    assert all(torch.equal(rare[k], often[k]) for k in rare)


def test_loaded_stylegan_samples_are_a_function_of_the_seed(tmp_path):
    Trainer(_stylegan(2, "train.eval_every=0"), run_dir=str(tmp_path / "run")).fit()
    g = api.load(str(tmp_path / "run"))
    for m in g.generator.modules():  # strong noise, so that any difference in the noise shows
        if isinstance(m, NoiseInjection):
            m.weight.fill_(1.0)
    torch.manual_seed(123)
    first = g.sample(6, seed=7)
    torch.manual_seed(456)  # a different global stream must not matter
    again = g.sample(6, seed=7)
    assert torch.equal(first, again)
    assert not torch.equal(first, g.sample(6, seed=8))
    # sample i does not depend on how many are drawn with it (up to the batch size's float rounding): its noise
    # is not a function of its position in the batch
    assert torch.allclose(g.sample(2, seed=7), first[:2], rtol=1e-5, atol=1e-4)


def test_separability_synthesises_with_fresh_per_sample_noise_from_its_seed():
    """Linear separability keeps StyleGAN's ``randomize_noise=True`` (its images are not made with the fixed
    eval-mode noise), and the noise comes from the metric's seed: two runs see the same noise."""
    from ganforge.metrics.separability import linear_separability
    from ganforge.models.stylegan import StyleGANGenerator

    torch.manual_seed(0)
    g = StyleGANGenerator((3, 8, 8), z_dim=8, w_dim=8, mapping_layers=2, channels=4, channel_base=32).eval()
    seen, synthesis = [], g.synthesis

    def spy(ws, noise=None):
        seen.append(noise)
        return synthesis(ws, noise)

    g.synthesis = spy
    brightness = lambda x: torch.sigmoid(x.mean(dim=(1, 2, 3)))[:, None]  # noqa: E731
    first = linear_separability(g, brightness, names=["bright"], n=40, batch_size=20, seed=3)
    runs, seen = seen, []
    torch.manual_seed(1)
    again = linear_separability(g, brightness, names=["bright"], n=40, batch_size=20, seed=3)
    assert all(noise is not None for noise in runs)
    assert [n.shape[0] for n in runs[0]] == [20] * g.num_ws  # one draw per sample
    assert not torch.equal(runs[0][-1][0], runs[0][-1][1])
    assert all(torch.equal(a, b) for r, s in zip(runs, seen) for a, b in zip(r, s))
    assert first.score == again.score
