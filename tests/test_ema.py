"""Generator EMA: the averaged weights follow the closed form of the decay schedule."""
import math

import torch

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
    assert value > 0.99 and 1 - 0.999 ** 600 < 0.46  # the warm-up matters at this length
    # Past t = 8991, (1 + t) / (10 + t) > 0.999: the decay is the configured one.
    assert min(0.999, (1 + 9000) / (10 + 9000)) == 0.999


def test_start_copies_the_weights_until_tracking_begins():
    model = _zero_model()
    ema = EMA(model, 0.9, start=5, warmup=True)
    assert _step_response(ema, model, 5) == 1.0  # copied
    with torch.no_grad():
        model.weight.fill_(2.0)
    ema.update(model)  # first tracked update: β_0 = min(0.9, 1/10) = 0.1
    assert math.isclose(float(ema.shadow.weight[0, 0]), 0.1 * 1.0 + 0.9 * 2.0, rel_tol=1e-6)
