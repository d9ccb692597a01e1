"""Generator EMA: the averaged weights follow the closed form of the decay schedule."""
import math

import pytest
import torch

from ganforge.config import load_config
from ganforge.errors import ConfigError
from ganforge.train import Trainer
from ganforge.train.ema import EMA


def _step_response(ema: EMA, model: torch.nn.Linear, updates: int) -> float:
    """Weights jump from 0 to 1 and stay there; the shadow's value after `updates` is 1 − Π β_t."""
    with torch.no_grad():
        model.weight.fill_(1.0)
    for _ in range(updates):
        ema.update(model)
    return float(ema.shadow.weight[0, 0])


def _zero_model():
    model = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.zero_()
    return model


def test_plain_ema_keeps_beta_to_the_t_of_the_initial_weights():
    model = _zero_model()
    ema = EMA(model, 0.999)
    assert math.isclose(_step_response(ema, model, 600), 1 - 0.999 ** 600, rel_tol=1e-5)


def test_warmup_forgets_the_initial_weights_and_is_plain_ema_later():
    model = _zero_model()
    ema = EMA(model, 0.999, warmup=True)
    expected = 1 - math.prod(min(0.999, (1 + t) / (10 + t)) for t in range(600))
    value = _step_response(ema, model, 600)
    assert math.isclose(value, expected, rel_tol=1e-5)
    plain_model = _zero_model()
    plain = _step_response(EMA(plain_model, 0.999), plain_model, 600)
    assert value > 0.99 and plain < 0.46  # the warm-up matters at this length
    # The cap (1 + t) / (10 + t) reaches β = 0.999 at t = 8990: below it the EMA uses the cap, from it on β itself.
    ema.updates = 8989
    assert ema.decay() == pytest.approx(8990 / 8999, abs=1e-12) and ema.decay() < 0.999
    for t in (8990, 8991, 20000):
        ema.updates = t
        assert ema.decay() == pytest.approx(0.999, abs=1e-12)


def test_start_copies_the_weights_until_tracking_begins():
    model = _zero_model()
    ema = EMA(model, 0.9, start=5, warmup=True)
    assert _step_response(ema, model, 5) == 1.0  # copied
    with torch.no_grad():
        model.weight.fill_(2.0)
    assert ema.decay() == pytest.approx(0.1)  # first tracked update: β_0 = min(0.9, 1/10)
    ema.update(model)
    assert math.isclose(float(ema.shadow.weight[0, 0]), 0.1 * 1.0 + 0.9 * 2.0, rel_tol=1e-6)


def test_half_life_in_images_is_independent_of_the_batch_schedule():
    """StyleGAN's G_smoothing_kimg: after `half-life` images the shadow is halfway, however they were batched."""
    halfway = []
    for batches in ([500] * 8, [1000] * 4, [250, 750, 2000, 1000]):  # 4,000 images each
        model = _zero_model()
        ema = EMA(model, 0.0, half_life_images=4000)
        with torch.no_grad():
            model.weight.fill_(1.0)
        for images in batches:
            ema.update(model, images)
        halfway.append(float(ema.shadow.weight[0, 0]))
    assert all(math.isclose(v, 0.5, rel_tol=1e-5) for v in halfway), halfway


def test_ema_kimg_and_ema_are_alternatives(tmp_path):
    with pytest.raises(ConfigError, match="ema_kimg"):
        load_config("dcgan-mnist", ["train.ema=0.999", "train.ema_kimg=10"])
    cfg = load_config("dcgan-mnist", ["train.ema=0", "train.ema_warmup=false", "train.ema_kimg=0.5", "train.steps=3",
                                      "train.batch_size=8", "train.progress=false", "train.tensorboard=false",
                                      "train.eval_every=0"])
    trainer = Trainer(cfg, run_dir=str(tmp_path / "run"), overwrite=True)
    assert trainer.ema is not None and math.isclose(trainer.ema.decay(8), 0.5 ** (8 / 500))


def _bn_generator():
    from ganforge.models.base import Generator

    class G(Generator):
        z_dim = 4

        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(4, 3)
            self.bn = torch.nn.BatchNorm1d(3)

        def forward(self, z, y=None):
            return self.bn(self.fc(z))

    return G()


def test_batchnorm_statistics_of_the_ema_copy_are_its_own():
    """EMA weights differ from the live ones, so the live BN statistics do not fit them; after the refresh the
    shadow's running mean/var are those of its own pre-BN activations, and training is untouched."""
    torch.manual_seed(0)
    model = _bn_generator()
    ema = EMA(model, 0.5)
    with torch.no_grad():
        model.fc.bias.fill_(10.0)  # live weights move far from the average
    model.train()
    model(torch.randn(256, 4))  # live statistics, of the live weights
    ema.update(model)
    assert torch.allclose(ema.shadow.bn.running_mean, model.bn.running_mean)  # copied: wrong for the shadow
    state = torch.random.get_rng_state()
    ema.refresh_batchnorm(batches=8, batch_size=512, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)  # the global RNG is untouched
    gen = torch.Generator().manual_seed(3)
    z = torch.cat([ema.shadow.sample_z(512, generator=gen) for _ in range(8)])
    with torch.no_grad():
        pre = ema.shadow.fc(z)
    assert torch.allclose(ema.shadow.bn.running_mean, pre.mean(0), atol=1e-5)
    assert torch.allclose(ema.shadow.bn.running_var, pre.var(0), rtol=1e-3)  # unbiased per pass, averaged
    assert abs(float(ema.shadow.bn.running_mean.mean()) - 5.0) < 1.0  # the average bias: halfway to 10
    assert not ema.shadow.training and ema.shadow.bn.momentum == 0.1
    # The eval-mode output of the shadow is now normalised: mean ≈ 0 per feature.
    with torch.no_grad():
        out = ema.shadow(torch.randn(4096, 4))
    assert out.mean(0).abs().max() < 0.1
    ema.update(model)  # the next update copies the live statistics back
    assert torch.allclose(ema.shadow.bn.running_mean, model.bn.running_mean)
