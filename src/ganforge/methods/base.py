"""The Method contract: one GAN training recipe owning its networks, optimisers, losses and step (DESIGN.md §3).

The Trainer calls `step(data, progress)` once per iteration; `data.next()` yields Batches, so a recipe takes as
many real batches as it needs (n critic steps, a population, paired domains). Returned values are detached 0-dim
tensors: the Trainer reads them (a host sync) only when it logs.

Recipes draw latent codes with `self.sample_z(n)` and apply every optimiser step with `self.update(loss, name)`;
through these two the Trainer supplies seeded noise that is identical across data-parallel ranks, gradient
averaging over ranks, and fp16 loss scaling — so a recipe never needs to know about either.
"""
from __future__ import annotations

import logging
from typing import Callable, Dict, Optional, Tuple

import torch
from torch import nn

from ..models import build_discriminator, build_generator
from ..models.base import cycled_labels

log = logging.getLogger(__name__)


def grid_classes(generator: nn.Module, most: int = 16) -> int:
    """K when sample grids should put one of the generator's K classes per column (K ≤ `most`), else 0."""
    k = getattr(generator, "num_classes", 0) or 0
    return k if k <= most else 0


OPTIMIZER_SETTINGS = ("lr", "betas", "eps", "weight_decay", "momentum", "alpha")


def load_optimizer_keeping_settings(opt: torch.optim.Optimizer, saved: dict, name: str = "") -> None:
    """Load an optimiser's saved state (moments, step counts) but keep the settings it was built with from the
    config (learning rate, betas, ...): a resumed run follows its config, e.g. a lower learning rate after a
    divergence. Recipes that schedule the learning rate set it again every step, as before the interruption."""
    fresh = [{k: g[k] for k in OPTIMIZER_SETTINGS if k in g} for g in opt.param_groups]
    opt.load_state_dict(saved)
    for group, settings in zip(opt.param_groups, fresh):
        changed = [f"{k} {_plain(group[k])} -> {_plain(v)}" for k, v in settings.items()
                   if _plain(group[k]) != _plain(v)]
        group.update(settings)
        if changed:
            log.info("optimiser %s follows the config on resume: %s", name, ", ".join(changed))


def _plain(v):
    return tuple(v) if isinstance(v, (list, tuple)) else v


class Noise:
    """Latent codes for the global batch from one seeded stream; each rank keeps its strided share.

    With world size W and per-rank batch n, every rank draws the same n·W codes and takes rows rank::W, exactly the
    rows that one process with batch n·W would give that rank's real samples.
    """

    def __init__(self, seed: int, device, rank: int = 0, world_size: int = 1):
        self.device = torch.device(device)
        self.rank, self.world_size = rank, world_size
        self.generator = torch.Generator(device=self.device).manual_seed(int(seed))

    def _share(self, x: torch.Tensor) -> torch.Tensor:
        return x[self.rank :: self.world_size] if self.world_size > 1 else x

    def normal(self, n: int, dim: int) -> torch.Tensor:
        """n × dim codes from N(0, I)."""
        return self._share(torch.randn(n * self.world_size, dim, generator=self.generator, device=self.device))

    def uniform(self, n: int, dim: int, low: float = -1.0, high: float = 1.0) -> torch.Tensor:
        """n × dim codes from U(low, high)."""
        u = torch.rand(n * self.world_size, dim, generator=self.generator, device=self.device)
        return self._share(u * (high - low) + low)

    def labels(self, n: int, num_classes: int) -> torch.Tensor:
        """n class indices drawn uniformly from 0..num_classes-1 (int64)."""
        y = torch.randint(0, num_classes, (n * self.world_size,), generator=self.generator, device=self.device)
        return self._share(y)

    def state_dict(self) -> dict:
        return {"state": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["state"].cpu())


class Method:
    """Base class. Subclasses create their optimisers (lazily, on the networks' device) and implement `step`."""

    def __init__(self, cfg, generator: nn.Module, discriminator: nn.Module):
        self.cfg = cfg
        self.generator = generator
        self.discriminator = discriminator
        self.g_steps = 0
        self.d_steps = 0
        self.noise: Optional[Noise] = None
        self.grad_sync: Optional[Callable] = None  # set by the Trainer under data parallelism
        self.all_mean: Optional[Callable] = None  # tensor -> its mean over ranks; set under data parallelism
        self.scalers: Dict[str, torch.amp.GradScaler] = {}  # set by the Trainer for fp16

    @classmethod
    def from_config(cls, config, info) -> "Method":
        """Build the networks named in the config and the method around them."""
        return cls(config.method, build_generator(config.generator, info), build_discriminator(config.discriminator, info))

    # -- what recipes use -------------------------------------------------------------------------------------------
    @property
    def world_size(self) -> int:
        """Data-parallel ranks sharing each global batch (1 outside torchrun)."""
        return self.noise.world_size if self.noise is not None else 1

    def sample_z(self, n: int, generator: Optional[nn.Module] = None) -> torch.Tensor:
        g = generator or self.generator
        if self.noise is None:
            return g.sample_z(n)
        return self.noise.normal(n, g.z_dim)

    def sample_labels(self, n: int, num_classes: int) -> torch.Tensor:
        """n uniform class labels from the same seeded, rank-aware stream as the latent codes."""
        if self.noise is None:
            return torch.randint(0, num_classes, (n,), device=next(self.generator.parameters()).device)
        return self.noise.labels(n, num_classes)

    def sample_uniform(self, n: int, dim: int, low: float = -1.0, high: float = 1.0) -> torch.Tensor:
        """n × dim codes from U(low, high), from the seeded, rank-aware stream (e.g. InfoGAN's codes)."""
        if self.noise is None:
            dev = next(self.generator.parameters()).device
            return torch.rand(n, dim, device=dev) * (high - low) + low
        return self.noise.uniform(n, dim, low, high)

    def update(self, loss: torch.Tensor, name: str) -> None:
        """zero_grad → backward → (average over ranks) → optimiser step, with fp16 loss scaling when enabled."""
        opt = self.optimizers()[name]
        scaler = self.scalers.get(name)
        opt.zero_grad(set_to_none=True)
        (scaler.scale(loss) if scaler is not None else loss).backward()
        if self.grad_sync is not None:
            self.grad_sync([p for group in opt.param_groups for p in group["params"]])
        if scaler is not None:
            scaler.step(opt)
            scaler.update()
        else:
            opt.step()

    # -- what the Trainer drives ----------------------------------------------------------------------------------
    def step(self, data, progress: float) -> Dict[str, torch.Tensor]:
        raise NotImplementedError

    def networks(self) -> Dict[str, nn.Module]:
        return {"generator": self.generator, "discriminator": self.discriminator}

    def set_network(self, name: str, module: nn.Module) -> None:
        """Replace a network (e.g. by its SyncBatchNorm or channels_last version) before optimisers exist."""
        setattr(self, name, module)

    def optimizers(self) -> Dict[str, torch.optim.Optimizer]:
        return {}

    def preview_inputs(self, dataset, n: int, seed: int):
        """What the Trainer's sample grids are drawn from, fixed for the whole run: n latent codes by default
        (translation recipes: the first n samples of the data). A class-conditional generator gets n rounded up to
        whole rows of its K classes, so that each grid column is one class."""
        k = grid_classes(self.generator)
        n = -(-n // k) * k if k else n
        return self.generator.sample_z(n, generator=torch.Generator().manual_seed(seed))

    def preview(self, generator: nn.Module, inputs) -> Tuple[torch.Tensor, Optional[int]]:
        """The images of one sample grid drawn by `generator` (in eval mode) from `preview_inputs`, and the grid's
        row length (None: the default; K for a class-conditional generator: one class per column)."""
        device = next(generator.parameters()).device
        return generator(inputs.to(device), cycled_labels(generator, len(inputs), device)), \
            grid_classes(generator) or None

    def translators(self) -> Dict[str, nn.Module]:
        """Image-to-image networks by direction ("AtoB", "BtoA"); empty for recipes that sample from z."""
        return {}

    def write_figures(self, run_dir: str, records: list) -> Optional[str]:
        """Draw the recipe's own figure (e.g. E-GAN's mutation selection) from the run's metrics records; the
        Trainer calls it with each checkpoint. Returns the path written, or None (the default: no figure)."""
        return None

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
        if self.noise is not None:
            state["noise"] = self.noise.state_dict()
        if self.scalers:
            state["scalers"] = {name: s.state_dict() for name, s in self.scalers.items()}
        return state

    def load_state_dict(self, state: dict) -> None:
        for name, net in self.networks().items():
            net.load_state_dict(state[name])
        for name, opt in self.optimizers().items():
            load_optimizer_keeping_settings(opt, state["optim"][name], name)
        self.g_steps = int(state["counters"]["g_steps"])
        self.d_steps = int(state["counters"]["d_steps"])
        if self.noise is not None and "noise" in state:
            self.noise.load_state_dict(state["noise"])
        for name, s in self.scalers.items():
            if name in state.get("scalers", {}):
                s.load_state_dict(state["scalers"][name])
