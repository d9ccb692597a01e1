"""k-nearest-neighbour manifold metrics over feature vectors.

* Improved precision and recall (Kynkäänniemi, Karras, Laine, Lehtinen, Aila, "Improved Precision and Recall
  Metric for Assessing Generative Models", NeurIPS 2019, §2): the manifold of a set is the union of balls around
  each point with radius its distance to its k-th nearest neighbour *in the same set* (self excluded);
  precision = fraction of fakes inside the real manifold, recall = fraction of reals inside the fake manifold.
  Membership uses ≤ (their code, torch-fidelity, StyleGAN2-ADA). Standard: VGG-16 fc2 features, k = 3.
* Density and coverage (Naeem, Oh, Uh, Choi, Yoo, "Reliable Fidelity and Diversity Metrics for Generative
  Models", ICML 2020, §3): density = (1/kM) Σ_j #{real balls containing fake j}; coverage = fraction of real
  points whose ball contains at least one fake. Membership uses strict < (the `prdc` package), k = 5, 10k vs 10k.

Distances are `torch.cdist` on blocks of `batch_size` × `batch_size` rows, so 10k × 10k (or 50k × 50k) never
materialises a full distance matrix; results do not depend on `batch_size`. Non-finite features (a diverged
generator) give NaN scores rather than silently ignored rows.
"""
from __future__ import annotations

import math
from typing import Dict, Tuple

import torch


def _prepare(features, dtype: torch.dtype, name: str) -> torch.Tensor:
    x = features.detach() if isinstance(features, torch.Tensor) else torch.as_tensor(features)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty N×D matrix, got shape {tuple(x.shape)}")
    return x.to(dtype)


def _finite(*tensors: torch.Tensor) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in tensors)


def knn_radii(features, k: int, *, batch_size: int = 10000, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Distance from each row to its k-th nearest neighbour among the other rows (N,).

    The self-distance is set to exactly 0 and the (k+1)-th smallest distance taken, i.e. self excluded,
    duplicates counted as neighbours at distance 0 (as every reference implementation does)."""
    x = _prepare(features, dtype, "features")
    n = x.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"need 1 ≤ k < N, got k={k}, N={n}")
    radii = torch.empty(n, dtype=x.dtype, device=x.device)
    for i in range(0, n, batch_size):
        rows = x[i : i + batch_size]
        m = rows.shape[0]
        best = torch.full((m, k + 1), math.inf, dtype=x.dtype, device=x.device)  # running k+1 smallest, ascending
        for j in range(0, n, batch_size):
            d = torch.cdist(rows, x[j : j + batch_size])  # at most batch_size × batch_size
            lo, hi = max(i, j), min(i + m, j + d.shape[1])
            if lo < hi:  # the block holds some rows' distance to themselves: exactly 0 (cdist leaves rounding noise)
                own = torch.arange(lo, hi, device=x.device)
                d[own - i, own - j] = 0.0
            best = torch.cat([best, d], 1).topk(k + 1, dim=1, largest=False).values
        radii[i : i + m] = best[:, k]
    return radii


def _cross_pass(real: torch.Tensor, fake: torch.Tensor, r_real: torch.Tensor, r_fake: torch.Tensor, strict: bool,
                batch_size: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One blocked sweep over the real×fake distances. Returns, per fake, how many real balls contain it;
    per real, whether some fake ball contains it; per real, whether its own ball contains some fake."""
    inside = torch.lt if strict else torch.le
    fake_hits = torch.zeros(fake.shape[0], dtype=torch.long, device=fake.device)
    real_in_fake = torch.zeros(real.shape[0], dtype=torch.bool, device=real.device)
    real_covered = torch.zeros(real.shape[0], dtype=torch.bool, device=real.device)
    for i in range(0, real.shape[0], batch_size):
        rr = r_real[i : i + batch_size, None]
        for j in range(0, fake.shape[0], batch_size):
            d = torch.cdist(real[i : i + batch_size], fake[j : j + batch_size])  # b_real × b_fake
            in_real_ball = inside(d, rr)
            fake_hits[j : j + batch_size] += in_real_ball.sum(0)
            real_covered[i : i + batch_size] |= in_real_ball.any(1)
            real_in_fake[i : i + batch_size] |= inside(d, r_fake[None, j : j + batch_size]).any(1)
    return fake_hits, real_in_fake, real_covered


def precision_recall(real_features, fake_features, *, k: int = 3, batch_size: int = 10000,
                     dtype: torch.dtype = torch.float32) -> Dict[str, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019, §2), with ≤ ball membership.

    k: 3 (the paper; StyleGAN2-ADA `pr50k3`, torch-fidelity `prc_neighborhood`). Standard features: VGG-16 fc2
        (4096-d), 50k vs 50k. batch_size: 10 000 rows × 10 000 columns per block (torch-fidelity).
    dtype: float32 like torch-fidelity and the TF code (StyleGAN2-ADA uses float16); float64 for exactness.
    Returns {"precision", "recall", "f_score"}, f_score = 2PR / max(P + R, 1e-5) as torch-fidelity.
    """
    real, fake = _prepare(real_features, dtype, "real_features"), _prepare(fake_features, dtype, "fake_features")
    fake = fake.to(real.device)
    if not _finite(real, fake):
        return {"precision": math.nan, "recall": math.nan, "f_score": math.nan}
    r_real = knn_radii(real, k, batch_size=batch_size, dtype=dtype)
    r_fake = knn_radii(fake, k, batch_size=batch_size, dtype=dtype)
    fake_hits, real_in_fake, _ = _cross_pass(real, fake, r_real, r_fake, strict=False, batch_size=batch_size)
    p = float((fake_hits > 0).double().mean())
    r = float(real_in_fake.double().mean())
    return {"precision": p, "recall": r, "f_score": 2 * p * r / max(p + r, 1e-5)}


def prdc(real_features, fake_features, *, k: int = 5, batch_size: int = 10000,
         dtype: torch.dtype = torch.float32) -> Dict[str, float]:
    """Precision, recall, density and coverage as in Naeem et al. 2020 (§3; the `prdc` package), strict <.

    k: 5 (the paper's recommendation, with 10k real vs 10k fake). Only the real radii enter density and
    coverage; precision/recall here are the `prdc` package's (strict <, k = 5) — use `precision_recall` for
    Kynkäänniemi's (≤, k = 3). Returns {"precision", "recall", "density", "coverage"}.
    """
    real, fake = _prepare(real_features, dtype, "real_features"), _prepare(fake_features, dtype, "fake_features")
    fake = fake.to(real.device)
    if not _finite(real, fake):
        return {"precision": math.nan, "recall": math.nan, "density": math.nan, "coverage": math.nan}
    r_real = knn_radii(real, k, batch_size=batch_size, dtype=dtype)
    r_fake = knn_radii(fake, k, batch_size=batch_size, dtype=dtype)
    fake_hits, real_in_fake, real_covered = _cross_pass(real, fake, r_real, r_fake, strict=True,
                                                        batch_size=batch_size)
    return {
        "precision": float((fake_hits > 0).double().mean()),
        "recall": float(real_in_fake.double().mean()),
        "density": float(fake_hits.double().sum()) / (k * fake.shape[0]),
        "coverage": float(real_covered.double().mean()),
    }
