"""The Method contract: one GAN training recipe owning its networks, optimisers, losses and step (DESIGN.md §3).

The Trainer calls `step(data, progress)` once per iteration; `data.next()` yields Batches, so a recipe takes as
many real batches as it needs (n critic steps, a population, paired domains). Returned values are detached 0-dim
tensors: the Trainer reads them (a host sync) only when it logs.
"""
from __future__ import annotations

from typing import Dict

import torch
from torch import nn

from ..models import build_discriminator, build_generator


class Method:
    """Base class. Subclasses build their optimisers in `__init__` and implement `step`."""

    def __init__(self, cfg, generator: nn.Module, discriminator: nn.Module):
        self.cfg = cfg
        self.generator = generator
        self.discriminator = discriminator
        self.g_steps = 0
        self.d_steps = 0

    @classmethod
    def from_config(cls, config, info) -> "Method":
        """Build the networks named in the config and the method around them."""
        return cls(config.method, build_generator(config.generator, info), build_discriminator(config.discriminator, info))

    # -- what the Trainer drives ----------------------------------------------------------------------------------
    def step(self, data, progress: float) -> Dict[str, torch.Tensor]:
        raise NotImplementedError

    def networks(self) -> Dict[str, nn.Module]:
        return {"generator": self.generator, "discriminator": self.discriminator}

    def optimizers(self) -> Dict[str, torch.optim.Optimizer]:
        return {}

    def to(self, device) -> "Method":
        for net in self.networks().values():
            net.to(device)
        return self

    def train(self, mode: bool = True) -> "Method":
        for net in self.networks().values():
            net.train(mode)
        return self

    # -- checkpointing: everything the method owns ------------------------------------------------------------------
    def state_dict(self) -> dict:
        state = {name: net.state_dict() for name, net in self.networks().items()}
        state["optim"] = {name: opt.state_dict() for name, opt in self.optimizers().items()}
        state["counters"] = {"g_steps": self.g_steps, "d_steps": self.d_steps}
        return state

    def load_state_dict(self, state: dict) -> None:
        for name, net in self.networks().items():
            net.load_state_dict(state[name])
        for name, opt in self.optimizers().items():
            opt.load_state_dict(state["optim"][name])
        self.g_steps = int(state["counters"]["g_steps"])
        self.d_steps = int(state["counters"]["d_steps"])
