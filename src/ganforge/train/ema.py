"""Exponential moving average of generator weights (Karras et al. 2018, ProGAN §A.1; Yazıcı et al. 2019)."""
from __future__ import annotations

import copy

import torch
from torch import nn

from ..models.base import cycled_labels
from ..nn.cross_replica_bn import local_statistics


class EMA:
    """Keeps `shadow` = β·shadow + (1−β)·weights after every update; buffers (e.g. BN statistics) are copied.
    β is fixed per update, or set from a half-life in images (`half_life_images`, see `decay`).

    `warmup` uses β_t = min(β, (1 + t) / (10 + t)) at the t-th tracked update (the num_updates rule of
    TensorFlow's ExponentialMovingAverage; StyleGAN2-ADA's ema_rampup serves the same end): with β = 0.999 a plain
    EMA still holds 0.999^600 = 55 % of the initial weights after 600 updates, the warm-up ≈ 0 %, and long runs
    are unchanged."""

    def __init__(self, model: nn.Module, beta: float, start: int = 0, warmup: bool = False,
                 half_life_images: float = 0.0):
        self.beta = float(beta)
        self.half_life_images = float(half_life_images)
        self.start = int(start)
        self.warmup = bool(warmup)
        self.shadow = copy.deepcopy(model).eval().requires_grad_(False)
        self.updates = 0
        self._stateful = [(d, s) for d, s in zip(self.shadow.modules(), model.modules())
                          if type(s).get_extra_state is not nn.Module.get_extra_state]
        self._norms = [m for m in self.shadow.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
                       and m.track_running_stats]
        self._fresh_at = None  # `updates` when the BatchNorm statistics were last recomputed

    def decay(self, images: int = 0) -> float:
        """β for the next update. With a half-life in images (StyleGAN's `G_smoothing_kimg`, Karras et al. 2019:
        β = 0.5^(images / half-life)) the horizon is fixed in images seen, whatever the batch size or its schedule;
        otherwise the fixed per-update β. The warm-up caps either."""
        t = self.updates - self.start
        if t < 0:
            return 0.0
        beta = 0.5 ** (images / self.half_life_images) if self.half_life_images > 0 else self.beta
        return min(beta, (1 + t) / (10 + t)) if self.warmup else beta

    @torch.no_grad()
    def update(self, model: nn.Module, images: int = 0) -> None:
        """One step towards `model`'s weights; `images`: real images this iteration drew (for a half-life)."""
        beta = self.decay(images)
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

    @torch.no_grad()
    def refresh_batchnorm(self, batches: int = 16, batch_size: int = 64, seed: int = 0) -> None:
        """Recompute the shadow's BatchNorm running statistics from its own activations (the "standing
        statistics" of Brock, Donahue & Simonyan 2019, BigGAN): the live network's statistics, copied at every
        update, belong to the live weights, not to their average, and a BN generator's EMA samples drawn with them
        come out washed out. Averages `batches` train-mode passes on latents from a private seeded generator (the
        global RNG state is restored, so every rank gets the same result); a no-op without BatchNorm or when
        nothing changed since the last call. The next `update` copies the live statistics back, so training is
        unaffected."""
        if not self._norms or self._fresh_at == self.updates:
            return
        saved = [m.momentum for m in self._norms]
        for m in self._norms:
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the passes
        gen = torch.Generator().manual_seed(seed)
        device = next(self.shadow.parameters()).device
        self.shadow.train()
        try:
            with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), \
                    local_statistics(self.shadow):  # the same seeded draw on every rank: no all-reduce needed
                for _ in range(batches):
                    z = self.shadow.sample_z(batch_size, generator=gen).to(device)
                    self.shadow(z, cycled_labels(self.shadow, batch_size, device))
        finally:
            self.shadow.eval()
            for m, momentum in zip(self._norms, saved):
                m.momentum = momentum
        self._fresh_at = self.updates

    def state_dict(self) -> dict:
        return self.shadow.state_dict()

    def load_state_dict(self, state: dict, updates: int) -> None:
        self.shadow.load_state_dict(state)
        self.updates = int(updates)
        self._fresh_at = None
