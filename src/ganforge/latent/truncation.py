"""BigGAN's truncation trick (Brock, Donahue, Simonyan, ICLR 2019, §3.1): sample z ~ N(0, I) and re-draw every
value whose magnitude exceeds a threshold until it falls inside; a smaller threshold trades variety for fidelity.
Unlike StyleGAN's truncation in W (latent/style.py), the threshold ψ here is a bound on |z|, in (0, 2].

`truncation_sweep_resampled` draws the figure `ganforge truncate` writes for such runs: one row per sample (a fixed
seed and class), one column per threshold. Every column starts from the same N(0, I) draw, so a value inside every
threshold is the same in every column and only the re-drawn values differ. With `standing` > 0, the BN statistics
are recomputed for each threshold on truncated latents ("standing statistics", nn/standing.py), as the official
code recommends for truncated sampling.
"""
from __future__ import annotations

import copy
import math
from typing import Optional, Sequence, Tuple

import torch

from ..errors import GanforgeError
from ..models.base import check_classes, cycled_labels
from ..nn.standing import standing_statistics

MAX_THRESHOLD = 2.0


def check_threshold(threshold: float) -> float:
    """ψ must be in (0, 2]: a bound on |z| (beyond 2 truncation hardly changes N(0, 1); at 0 nothing is left)."""
    if not (isinstance(threshold, (int, float)) and 0.0 < threshold <= MAX_THRESHOLD):
        raise GanforgeError(f"the truncation threshold ψ bounds |z| and must be in (0, {MAX_THRESHOLD:g}], "
                            f"got {threshold!r}")
    return float(threshold)


def truncated_normal(n: int, dim: int, threshold: float, generator: Optional[torch.Generator] = None,
                     device=None) -> torch.Tensor:
    """n × dim values from N(0, 1) with every value of magnitude > threshold re-drawn until it is inside (BigGAN
    §3.1). The first draw is `torch.randn(n, dim, generator=generator)`: its in-range values are kept as they are.
    Out-of-range values are re-drawn in rounds; each round draws several candidates per value and keeps the first
    inside (the same as re-drawing one at a time), so small thresholds take few rounds."""
    threshold = check_threshold(threshold)
    z = torch.randn(n, dim, generator=generator)
    bad = z.abs() > threshold
    accept = math.erf(threshold / math.sqrt(2.0))  # P(|z| ≤ threshold)
    per_round = max(1, min(math.ceil(4.0 / accept), 4096))
    while bad.any():
        where = bad.nonzero(as_tuple=True)
        cand = torch.randn(len(where[0]), per_round, generator=generator)
        inside = cand.abs() <= threshold
        found = inside.any(dim=1)
        first = inside.to(torch.int8).argmax(dim=1)  # the first candidate inside
        picked = cand[torch.arange(len(cand)), first]
        rows, cols = where[0][found], where[1][found]
        z[rows, cols] = picked[found]
        bad[rows, cols] = False
    return z if device is None else z.to(device)


def sweep_labels(g, n: int, cls: Optional[int]) -> Optional[torch.Tensor]:
    """Row labels of a sweep: all `cls` (checked), or cycled 0, 1, … K−1 for a conditional generator."""
    if cls is None:
        return cycled_labels(g, n)
    return check_classes(torch.full((n,), int(cls)), getattr(g, "num_classes", 0))


@torch.no_grad()
def truncation_sweep_resampled(g, thresholds: Sequence[float], n: int = 6, seed: int = 0, cls: Optional[int] = None,
                               standing: int = 0, standing_batch: int = 64) -> Tuple[torch.Tensor, torch.Tensor]:
    """Images (row-major: n rows × len(thresholds) columns) and the rows' labels (None when unconditional). Row i
    uses the i-th code of the seeded draw and class `cls` (default i mod K). `standing` > 0 recomputes BN standing
    statistics per threshold from that many batches of truncated codes (on a copy: `g` is left unchanged)."""
    thresholds = [check_threshold(float(t)) for t in thresholds]
    device = next(g.parameters()).device
    y = sweep_labels(g, n, cls)
    y = None if y is None else y.to(device)
    cols = []
    for t in thresholds:
        net = g
        if standing > 0:
            gen = torch.Generator().manual_seed(seed + 1)
            k = getattr(g, "num_classes", 0)
            net = standing_statistics(copy.deepcopy(g), lambda i: (
                truncated_normal(standing_batch, g.z_dim, t, gen, device),
                torch.randint(0, k, (standing_batch,), generator=gen).to(device) if k else None), standing)
        z = truncated_normal(n, g.z_dim, t, torch.Generator().manual_seed(seed), device)
        cols.append(net.eval()(z, y).float().cpu())
    return torch.stack(cols, dim=1).flatten(0, 1), y
