"""Classifier confidence of samples (metrics/confidence.py): closed forms of the share and the class counts."""
import math

import pytest
import torch

from ganforge.metrics import confident_classes, confident_share


def test_share_counts_rows_at_or_above_the_threshold():
    # Two classes with logits (log p/(1-p), 0) have softmax p exactly.
    ps = [0.95, 0.9, 0.6, 0.2]  # max probabilities 0.95, 0.9, 0.6, 0.8
    logits = torch.tensor([[math.log(p / (1 - p)), 0.0] for p in ps])
    assert confident_share(logits, 0.9) == pytest.approx(0.5)  # 0.95 and 0.9 (≥ counts)
    assert confident_share(logits, 0.75) == pytest.approx(0.75)  # + the 0.8 row, whose class is 1
    assert confident_classes(logits, 0.75) == {0: 2, 1: 1}


def test_uniform_logits_are_never_confident_and_bad_input_is_refused():
    assert confident_share(torch.zeros(10, 10), 0.2) == 0.0
    assert confident_share(torch.zeros(10, 10), 0.1) == 1.0
    with pytest.raises(ValueError):
        confident_share(torch.zeros(0, 10))
    with pytest.raises(ValueError):
        confident_share(torch.zeros(3, 10), 1.5)
