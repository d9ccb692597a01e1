"""Mode counting for 2-D Gaussian mixtures (8 Gaussians on a ring, 25 on a grid) and Stacked MNIST (1000 modes).

The protocol of the unrolled-GAN and VEEGAN toy experiments: assign every generated sample to its nearest mode
centre; it is "high quality" if it lies within k_sigma (3) standard deviations of that centre, and a mode is
"covered" if it receives at least `min_count` high-quality samples (Metz et al., "Unrolled Generative
Adversarial Networks", ICLR 2017, §3.1; Srivastava et al., "VEEGAN: Reducing Mode Collapse in GANs using Implicit
Variational Learning", NeurIPS 2017, §5.1). E-GAN (Wang et al., "Evolutionary Generative Adversarial Networks",
IEEE TEVC 2019) shows the same mixtures only as plots; this count is the quantitative check for them.

Both counts also report "kl": KL(p_modes ‖ uniform) = Σ_k p_k·log(K·p_k) = log K − H(p_modes), in nats, of the
histogram of samples over the K modes — the KL of the generated mode distribution against the uniform true one
that VEEGAN and PacGAN (Lin et al., "PacGAN: The power of two samples in generative adversarial networks",
NeurIPS 2018) report for Stacked MNIST.
It is 0 for a perfectly balanced histogram, log K when every sample falls in one mode, finite even when modes
are missing (0·log 0 = 0), and NaN when no sample is assigned to any mode.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Union

import numpy as np

if TYPE_CHECKING:  # metrics take tensors too, without importing torch at run time
    import torch

ArrayLike = Union[np.ndarray, "torch.Tensor"]


def _as_numpy(a) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=np.float64)


def _kl_to_uniform(counts: np.ndarray) -> float:
    """KL(p ‖ uniform over len(counts) bins) in nats, p = counts / counts.sum(); NaN for an empty histogram."""
    total = counts.sum()
    if total == 0:
        return float("nan")
    p = counts[counts > 0] / total
    return float(max(np.sum(p * np.log(p * len(counts))), 0.0))  # ≥ 0 mathematically; clip rounding


def mode_coverage(samples: ArrayLike, centers: ArrayLike, std: float, k_sigma: float = 3.0,
                  min_count: int = 1) -> dict:
    """Count the modes a generator covers and the fraction of its samples near some mode.

    samples: N×2 generated points; centers: K×2 mode centres; std: the modes' standard deviation.
    Each sample counts only for its nearest centre, and only if it lies within k_sigma·std of it.

    Returns {"modes": number of centres with ≥ min_count such samples,
             "high_quality": fraction of samples within k_sigma·std of their nearest centre (0 for no samples),
             "counts": list of K per-mode counts,
             "kl": KL(histogram of those counts ‖ uniform over the K modes), nats, NaN if no sample counted}.
    """
    x, c = _as_numpy(samples), _as_numpy(centers)
    if x.ndim != 2 or c.ndim != 2 or x.shape[1] != c.shape[1] or len(c) == 0:
        raise ValueError(f"samples must be N×D and centers K×D with the same D, got {x.shape} and {c.shape}")
    if not std > 0:
        raise ValueError(f"std must be positive, got {std}")
    k = len(c)
    if len(x) == 0:
        return {"modes": 0, "high_quality": 0.0, "counts": [0] * k, "kl": float("nan")}
    d2 = ((x[:, None, :] - c[None, :, :]) ** 2).sum(-1)  # N×K
    nearest = d2.argmin(1)
    near = d2[np.arange(len(x)), nearest] <= (k_sigma * std) ** 2
    near &= np.isfinite(x).all(1)
    counts = np.bincount(nearest[near], minlength=k)
    return {
        "modes": int((counts >= min_count).sum()),
        "high_quality": float(near.mean()),
        "counts": [int(v) for v in counts],
        "kl": _kl_to_uniform(counts),
    }


def stacked_mnist_modes(digit_labels, min_count: int = 1) -> dict:
    """Modes of Stacked MNIST (Metz et al. 2017; VEEGAN; PacGAN): each sample is three MNIST digits
    stacked as colour channels, so it falls in one of 1000 modes, d_R·100 + d_G·10 + d_B.

    digit_labels: N×3 integer tensor/array of the digits (0..9) an MNIST classifier assigns to channels
    R, G, B (classifying is the caller's job). A mode is covered if it gets ≥ min_count samples (1 in VEEGAN /
    PacGAN). Returns {"modes": covered modes (of 1000), "kl": KL(mode histogram ‖ uniform over 1000), nats,
    "counts": list of the 1000 per-mode counts}.
    """
    labels = np.asarray(digit_labels.detach().cpu() if hasattr(digit_labels, "detach") else digit_labels)
    if labels.ndim != 2 or labels.shape[1] != 3:
        raise ValueError(f"digit_labels must be N×3, got shape {labels.shape}")
    if labels.size and (not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() > 9):
        raise ValueError("digit_labels must be integers in 0..9")
    mode = labels[:, 0].astype(np.int64) * 100 + labels[:, 1] * 10 + labels[:, 2]
    counts = np.bincount(mode, minlength=1000)
    return {"modes": int((counts >= min_count).sum()), "kl": _kl_to_uniform(counts),
            "counts": [int(v) for v in counts]}
