"""A streaming per-channel quantile sketch, for the per-unit thresholds of GAN Dissection.

Bau et al. ("GAN Dissection", ICLR 2019, arXiv 1811.10597, §3.1 and the netdissect code's ``RunningQuantile``)
need quantiles of every unit's activation over all pixels of thousands of images — far more values than fit in
memory at full-size scale. The sketch is a compactor hierarchy in the spirit of the KLL algorithm (Karnin, Lang
and Liberty, FOCS 2016), the structure netdissect uses:

* level h holds up to `resolution` values per channel, each standing for 2^h inputs;
* when a level is full it is sorted per channel and every other value (from a random offset, 0 or 1) moves up
  one level with double weight; the other half is dropped;
* the exact per-channel minimum and maximum are tracked;
* readout sorts all kept values, puts each at the midpoint of its cumulative weight (``cumsum(w) − w/2``,
  normalised) and interpolates linearly, as netdissect's ``quantiles`` does.

Error bound. One compaction at level h moves the count of kept values ≤ v, for any v, by at most 2^h, and level h
is compacted about n / (2^h · resolution) times, so the normalised rank error of any quantile is at most
``levels / resolution`` (deterministic; :meth:`RunningQuantile.rank_error_bound`). The random offsets make the
errors cancel on average: typically it is about 1/resolution. Memory is ``resolution · levels`` values per
channel with levels ≈ log2(n / resolution) + 1.
"""
from __future__ import annotations

from typing import List, Optional

import torch


def batched_interp(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """Row-wise ``numpy.interp``: x C×Q query points, xp C×M increasing (ties allowed), fp C×M -> C×Q."""
    m = xp.shape[1]
    idx = torch.searchsorted(xp.contiguous(), x.contiguous(), right=True).clamp(1, m - 1)
    x0, x1 = xp.gather(1, idx - 1), xp.gather(1, idx)
    f0, f1 = fp.gather(1, idx - 1), fp.gather(1, idx)
    span = x1 - x0
    t = torch.where(span > 0, (x - x0) / torch.where(span > 0, span, torch.ones_like(span)), torch.ones_like(span))
    out = f0 + t.clamp(0, 1) * (f1 - f0)
    out = torch.where(x <= xp[:, :1], fp[:, :1], out)
    return torch.where(x >= xp[:, -1:], fp[:, -1:], out)


class RunningQuantile:
    """Per-channel streaming quantiles of rows N×C (every row adds one value to each of C channels)."""

    def __init__(self, resolution: int = 1024, seed: int = 0):
        if resolution < 8 or resolution % 2:
            raise ValueError(f"resolution must be an even integer ≥ 8, got {resolution}")
        self.resolution = int(resolution)
        self.count = 0
        self.channels: Optional[int] = None
        self.levels: List[torch.Tensor] = []  # level h: C×resolution buffer, values of weight 2^h
        self.fill: List[int] = []
        self.minimum = self.maximum = None
        self._gen = torch.Generator().manual_seed(seed)

    @property
    def memory(self) -> int:
        """Values held per channel (buffers of every level)."""
        return self.resolution * len(self.levels)

    def rank_error_bound(self) -> float:
        """Worst-case normalised rank error of any quantile read now (see the module docstring)."""
        return max(len(self.levels) - 1, 0) / self.resolution

    def add(self, x: torch.Tensor) -> None:
        """Add rows N×C (a 1-D tensor is one channel)."""
        x = x.detach().to("cpu", torch.float32)
        if x.dim() == 1:
            x = x[:, None]
        if x.dim() != 2:
            raise ValueError(f"expected rows N×C, got shape {tuple(x.shape)}")
        if self.channels is None:
            self.channels = x.shape[1]
            self.minimum = torch.full((self.channels,), float("inf"))
            self.maximum = torch.full((self.channels,), float("-inf"))
        elif x.shape[1] != self.channels:
            raise ValueError(f"this sketch has {self.channels} channels, got rows with {x.shape[1]}")
        if len(x) == 0:
            return
        if torch.isnan(x).any():
            raise ValueError("NaN values cannot be ranked")
        self.minimum = torch.minimum(self.minimum, x.min(0).values)
        self.maximum = torch.maximum(self.maximum, x.max(0).values)
        self.count += len(x)
        self._push(0, x.T)

    def _push(self, h: int, values: torch.Tensor) -> None:
        """Append C×m values of weight 2^h to level h, compacting whenever the level fills."""
        if h == len(self.levels):
            self.levels.append(torch.empty(self.channels, self.resolution))
            self.fill.append(0)
        start = 0
        while start < values.shape[1]:
            take = min(self.resolution - self.fill[h], values.shape[1] - start)
            self.levels[h][:, self.fill[h]: self.fill[h] + take] = values[:, start: start + take]
            self.fill[h] += take
            start += take
            if self.fill[h] == self.resolution:
                kept = self.levels[h].sort(dim=1).values
                offset = int(torch.randint(0, 2, (1,), generator=self._gen))
                self.fill[h] = 0
                self._push(h + 1, kept[:, offset::2].clone())

    def _weighted(self):
        """(values C×M sorted, normalised midpoint ranks C×M) including the exact extremes (weight 0)."""
        if not self.count:
            raise ValueError("no data added yet")
        vals = [self.minimum[:, None], self.maximum[:, None]]
        weights = [torch.zeros(2)]
        for h, (buf, n) in enumerate(zip(self.levels, self.fill)):
            vals.append(buf[:, :n])
            weights.append(torch.full((n,), float(2 ** h)))
        v = torch.cat(vals, dim=1)
        w = torch.cat(weights).expand_as(v)
        v, order = v.sort(dim=1)
        w = w.gather(1, order)
        cw = w.cumsum(1) - w / 2
        return v, cw / w.sum(1, keepdim=True)

    def quantiles(self, q) -> torch.Tensor:
        """C×Q values at the quantiles q (floats in [0, 1]); q = 0 and 1 give the exact min and max."""
        q = torch.as_tensor(q, dtype=torch.float32).reshape(-1)
        if ((q < 0) | (q > 1)).any():
            raise ValueError("quantiles must lie in [0, 1]")
        v, ranks = self._weighted()
        return batched_interp(q.expand(v.shape[0], -1), ranks, v)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """The inverse: values C×Q -> their estimated quantile ranks C×Q."""
        v, ranks = self._weighted()
        return batched_interp(x.to(torch.float32), v, ranks)
