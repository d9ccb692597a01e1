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


def fit_class_gaussians(features: ArrayLike, labels: ArrayLike, num_classes: int,
                        calibration: ArrayLike, calibration_classes: ArrayLike, quantile: float = 0.99,
                        ridge: float = 1e-6) -> dict:
    """Class-conditional Gaussians with one shared covariance over a classifier's features, and the distance
    beyond which a sample is "unrecognised" (the Mahalanobis out-of-distribution score of Lee, Lee, Lee & Shin,
    "A Simple Unified Framework for Detecting Out-of-Distribution Samples and Adversarial Attacks", NeurIPS 2018,
    Eq. 1-2).

    features: N×D features of real samples with their true `labels` (0..num_classes−1): the class means μ_k and
    the pooled covariance Σ (ddof 0, plus `ridge`·tr(Σ)/D on the diagonal) are fitted on them. calibration: M×D
    features of other real samples with the classes the classifier assigns them; the threshold is the `quantile`
    of their distances ‖f − μ_class‖_Σ, so that a share 1 − quantile of real samples is flagged.
    Returns {"means": K×D, "precision": Σ⁻¹ (D×D), "threshold": float, "quantile": quantile}.
    """
    f, y = _as_numpy(features), np.asarray(_as_numpy(labels), dtype=np.int64)
    if f.ndim != 2 or y.shape != (len(f),):
        raise ValueError(f"features must be N×D with N labels, got {f.shape} and {y.shape}")
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile must lie in (0, 1), got {quantile}")
    missing = sorted(set(range(num_classes)) - set(y.tolist()))
    if missing:
        raise ValueError(f"no reference sample of class(es) {missing}")
    means = np.stack([f[y == k].mean(0) for k in range(num_classes)])
    centred = f - means[y]
    cov = centred.T @ centred / len(f)
    cov += np.eye(len(cov)) * ridge * max(np.trace(cov) / len(cov), 1e-12)
    ref = {"means": means, "precision": np.linalg.inv(cov), "quantile": float(quantile)}
    ref["threshold"] = float(np.quantile(class_distances(calibration, calibration_classes, ref), quantile))
    return ref


def class_distances(features: ArrayLike, classes: ArrayLike, reference: dict) -> np.ndarray:
    """Mahalanobis distance of each feature row to the mean of its (predicted) class under the shared covariance
    of `reference` (:func:`fit_class_gaussians`): an array of the leading shape of `classes` (N, or N×3 for
    Stacked MNIST's channels with features N×3×D)."""
    f, c = _as_numpy(features), np.asarray(_as_numpy(classes), dtype=np.int64)
    if f.shape[:-1] != c.shape:
        raise ValueError(f"features {f.shape} and classes {c.shape} do not match")
    d = f - reference["means"][c]
    return np.sqrt(np.maximum(np.einsum("...i,ij,...j->...", d, reference["precision"], d), 0.0))


def stacked_mnist_modes(digit_labels, min_count: int = 1, recognised=None, confidence=None) -> dict:
    """Modes of Stacked MNIST (Metz et al. 2017; VEEGAN; PacGAN): each sample is three MNIST digits
    stacked as colour channels, so it falls in one of 1000 modes, d_R·100 + d_G·10 + d_B.

    digit_labels: N×3 integer tensor/array of the digits (0..9) an MNIST classifier assigns to channels
    R, G, B (classifying is the caller's job). recognised: optional N×3 booleans, false for a channel the
    classifier's features place off the digit distribution (e.g. :func:`class_distances` above the reference
    threshold): a sample with any unrecognised channel is not a stack of three digits, so it counts for no mode
    (without this, noise that the classifier calls "8" in every channel would cover mode 888). confidence:
    optional N×3 largest class probabilities of the classifier, reported as their mean.
    A mode is covered if it gets ≥ min_count counted samples (1 in VEEGAN / PacGAN).

    Returns {"modes": covered modes (of 1000), "kl": KL(mode histogram of the counted samples ‖ uniform over
    1000), nats (NaN if none counted), "counts": list of the 1000 per-mode counts, "unrecognised": share of the
    N samples not counted (0 without `recognised`; NaN for N = 0), "confidence": mean of `confidence` (NaN if not
    given)}.
    """
    labels = np.asarray(digit_labels.detach().cpu() if hasattr(digit_labels, "detach") else digit_labels)
    if labels.ndim != 2 or labels.shape[1] != 3:
        raise ValueError(f"digit_labels must be N×3, got shape {labels.shape}")
    if labels.size and (not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() > 9):
        raise ValueError("digit_labels must be integers in 0..9")
    counted = np.ones(len(labels), dtype=bool)
    if recognised is not None:
        ok = np.asarray(_as_numpy(recognised)) > 0.5
        if ok.shape != labels.shape:
            raise ValueError(f"recognised must be N×3 like digit_labels, got shape {ok.shape}")
        counted = ok.all(1)
    mode = labels[counted, 0].astype(np.int64) * 100 + labels[counted, 1] * 10 + labels[counted, 2]
    counts = np.bincount(mode, minlength=1000)
    conf = float(_as_numpy(confidence).mean()) if confidence is not None and len(labels) else float("nan")
    return {"modes": int((counts >= min_count).sum()), "kl": _kl_to_uniform(counts),
            "counts": [int(v) for v in counts],
            "unrecognised": float(1.0 - counted.mean()) if len(labels) else float("nan"), "confidence": conf}
