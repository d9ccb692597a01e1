"""Mode counting for 2-D Gaussian mixtures (8 Gaussians on a ring, 25 on a grid).

The protocol of the unrolled-GAN and VEEGAN toy experiments: assign every generated sample to its nearest mode
centre; it is "high quality" if it lies within k_sigma (3) standard deviations of that centre, and a mode is
"covered" if it receives at least `min_count` high-quality samples (Metz et al., "Unrolled Generative
Adversarial Networks", ICLR 2017, §3.1; Srivastava et al., "VEEGAN: Reducing Mode Collapse in GANs using Implicit
Variational Learning", NeurIPS 2017, §5.1). E-GAN (Wang et al., "Evolutionary Generative Adversarial Networks",
IEEE TEVC 2019) shows the same mixtures only as plots; this count is the quantitative check for them.
"""
from __future__ import annotations

from typing import Union

import numpy as np

ArrayLike = Union[np.ndarray, "torch.Tensor"]  # noqa: F821


def _as_numpy(a) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=np.float64)


def mode_coverage(samples: ArrayLike, centers: ArrayLike, std: float, k_sigma: float = 3.0,
                  min_count: int = 1) -> dict:
    """Count the modes a generator covers and the fraction of its samples near some mode.

    samples: N×2 generated points; centers: K×2 mode centres; std: the modes' standard deviation.
    Each sample counts only for its nearest centre, and only if it lies within k_sigma·std of it.

    Returns {"modes": number of centres with ≥ min_count such samples,
             "high_quality": fraction of samples within k_sigma·std of their nearest centre (0 for no samples),
             "counts": list of K per-mode counts}.
    """
    x, c = _as_numpy(samples), _as_numpy(centers)
    if x.ndim != 2 or c.ndim != 2 or x.shape[1] != c.shape[1] or len(c) == 0:
        raise ValueError(f"samples must be N×D and centers K×D with the same D, got {x.shape} and {c.shape}")
    if not std > 0:
        raise ValueError(f"std must be positive, got {std}")
    k = len(c)
    if len(x) == 0:
        return {"modes": 0, "high_quality": 0.0, "counts": [0] * k}
    d2 = ((x[:, None, :] - c[None, :, :]) ** 2).sum(-1)  # N×K
    nearest = d2.argmin(1)
    near = d2[np.arange(len(x)), nearest] <= (k_sigma * std) ** 2
    near &= np.isfinite(x).all(1)
    counts = np.bincount(nearest[near], minlength=k)
    return {
        "modes": int((counts >= min_count).sum()),
        "high_quality": float(near.mean()),
        "counts": [int(v) for v in counts],
    }
