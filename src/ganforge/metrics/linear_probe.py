"""Linear-probe evaluation of a discriminator's representation (Chen, Zhai, Ritter, Lucic, Houlsby,
"Self-Supervised GANs via Auxiliary Rotation Loss", CVPR 2019, §2 Fig. 3-4 and §4.3): a logistic regression
trained on D's frozen final features of labelled real images predicts their class on held-out images; its accuracy
measures how much class information D's features keep (the paper's "discriminator forgetting").

`discriminator_features` is the feature extractor (D in eval mode, no gradients, every module's mode restored: no
power iteration of spectral norm runs and no BatchNorm statistic moves). A GAN discriminator only ever runs in
training mode, and the running averages of its BatchNorm layers mix real, fake (and rotated) batches; with
`batch_stats` its BatchNorm layers normalise each probe batch by its own statistics, as in training (on a copy of
D, so the original's statistics never move). `linear_probe_accuracy` is a pure function of feature/label arrays
(scikit-learn `LogisticRegression`, lbfgs multinomial, on standardised features by default, since D's sum-pooled
features can be large and their scale drifts during training).
"""
from __future__ import annotations

import copy
from typing import Optional

import numpy as np
import torch
from torch import nn

POOLS = ("avg", "flatten")


def pool_features(h: torch.Tensor, pool: str = "avg") -> torch.Tensor:
    """N×D rows from D's features: N×C×H×W maps are averaged over space ("avg") or flattened ("flatten");
    N×C features (e.g. the SN-ResNet's sum-pooled φ(x)) are kept as they are."""
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {POOLS}, got {pool!r}")
    if h.dim() == 4 and pool == "avg":
        return h.mean(dim=(2, 3))
    return h.flatten(1)


def _batchnorms(module: nn.Module):
    return [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def discriminator_features(discriminator: nn.Module, images: torch.Tensor, pool: str = "avg",
                           batch_size: int = 256, batch_stats: bool = False) -> torch.Tensor:
    """D's final features (`forward_with_features`) of `images`, pooled (`pool_features`), as float32 on the CPU.
    D runs in eval mode with no labels (with `batch_stats`, a copy of D whose BatchNorm layers use each batch's
    statistics); its modules' train/eval modes are restored afterwards."""
    if batch_stats and _batchnorms(discriminator):
        discriminator = copy.deepcopy(discriminator)
        discriminator.eval()
        for bn in _batchnorms(discriminator):
            bn.train()
    modes = {m: m.training for m in discriminator.modules()}
    if not (batch_stats and _batchnorms(discriminator)):
        discriminator.eval()
    try:
        device = next(discriminator.parameters()).device
        rows = [pool_features(discriminator.forward_with_features(images[i:i + batch_size].to(device))[1], pool)
                for i in range(0, len(images), batch_size)]
    finally:
        for m, training in modes.items():
            m.training = training
    return torch.cat(rows).float().cpu()


def linear_probe_accuracy(train_features, train_labels, test_features, test_labels, *, C: float = 1.0,
                          max_iter: int = 1000, standardize: bool = True, seed: Optional[int] = 0) -> float:
    """Held-out accuracy of an L2-regularised (inverse strength C) multinomial logistic regression fitted on
    (train_features, train_labels); features N×D, labels N (tensors or arrays). Standardisation uses the training
    rows' mean and std only."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    def arr(a):
        return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)

    xtr, xte = arr(train_features).astype(np.float64), arr(test_features).astype(np.float64)
    ytr, yte = arr(train_labels).astype(np.int64), arr(test_labels).astype(np.int64)
    if len(np.unique(ytr)) < 2:
        raise ValueError("the linear probe needs at least two classes among its training labels")
    if standardize:
        mu, sd = xtr.mean(0), xtr.std(0)
        sd[sd == 0] = 1.0
        xtr, xte = (xtr - mu) / sd, (xte - mu) / sd
    clf = LogisticRegression(C=C, max_iter=max_iter, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(xtr, ytr)
    return float((clf.predict(xte) == yte).mean())


def probe_split(n: int, n_train: int, n_test: int, seed: int = 0):
    """Disjoint (train, test) index tensors into a set of n items from a seeded permutation: the first
    min(n_train, n // 2) for fitting, the next min(n_test, rest) for testing."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed)))
    a = min(n_train, n // 2)
    b = min(n_test, n - a)
    return perm[:a], perm[a:a + b]
