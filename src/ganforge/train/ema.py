"""Exponential moving average of generator weights (Karras et al. 2018, ProGAN §A.1; Yazıcı et al. 2019)."""
from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """Keeps `shadow` = β·shadow + (1−β)·weights after every update; buffers (e.g. BN statistics) are copied."""

    def __init__(self, model: nn.Module, beta: float, start: int = 0):
        self.beta = float(beta)
        self.start = int(start)
        self.shadow = copy.deepcopy(model).eval().requires_grad_(False)
        self.updates = 0
        self._stateful = [(d, s) for d, s in zip(self.shadow.modules(), model.modules())
                          if type(s).get_extra_state is not nn.Module.get_extra_state]

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        beta = self.beta if self.updates >= self.start else 0.0
        src = list(model.parameters())
        dst = list(self.shadow.parameters())
        if beta == 0.0:
            torch._foreach_copy_(dst, src)
        else:
            torch._foreach_lerp_(dst, src, 1.0 - beta)
        for b_dst, b_src in zip(self.shadow.buffers(), model.buffers()):
            b_dst.copy_(b_src)
        for m_dst, m_src in self._stateful:  # non-tensor state, e.g. a progressive network's level
            m_dst.set_extra_state(m_src.get_extra_state())
        self.updates += 1

    def state_dict(self) -> dict:
        return self.shadow.state_dict()

    def load_state_dict(self, state: dict, updates: int) -> None:
        self.shadow.load_state_dict(state)
        self.updates = int(updates)
