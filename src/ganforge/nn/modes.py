"""Running a network in eval mode for a while: BatchNorm uses its running statistics (and does not update them),
dropout is off, StyleGAN's noise inputs are fixed. Tools that measure a trained generator (dissection,
interventions, PPL) must see the network a user samples from, whatever mode the caller left it in."""
from __future__ import annotations

import contextlib
from typing import Iterator

from torch import nn


@contextlib.contextmanager
def eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    """``with eval_mode(G): ...`` runs G in eval mode, then gives every submodule back its own previous mode
    (a caller's mixed modes survive, which a plain ``G.train(was_training)`` would overwrite)."""
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield module
    finally:
        for m, training in modes:
            m.training = training
