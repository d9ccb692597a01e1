"""Inception Score (Salimans, Goodfellow, Zaremba, Cheung, Radford, Chen, "Improved Techniques for Training GANs",
NeurIPS 2016, §4): IS = exp(E_x KL(p(y|x) ‖ p(y))), computed per split of the samples, with p(y) the mean of
p(y|x) over the split; reported as mean ± std over the splits.

A pure function of classifier outputs. The standard classifier is the 2015 Inception graph, whose softmax has
1008 outputs; the original OpenAI code, ProGAN, StyleGAN2-ADA (`no_output_bias=True`), torch-fidelity
(`logits_unbiased`) and torchmetrics all take the softmax of the *bias-free* logits (pool_3 · Wᵀ) over all 1008
classes — producing those logits is the feature extractor's job. `num_classes=1000` instead keeps only the first
1000 (the 8 extra outputs of that graph are unused classes), a variant some ports use; it changes the score.
"""
from __future__ import annotations

import math
from typing import Optional

import torch

from .kid import MeanStd


def inception_score(outputs, *, splits: int = 10, from_logits: bool = True, num_classes: Optional[int] = None,
                    std_ddof: int = 0, shuffle_seed: Optional[int] = None) -> MeanStd:
    """Inception Score of N×K classifier outputs (Salimans et al. 2016, §4), in float64.

    splits: 10 (OpenAI code, ProGAN, StyleGAN2-ADA `is50k`, torch-fidelity, torchmetrics); contiguous slices
        [i·N//S, (i+1)·N//S) as OpenAI / torch-fidelity (torchmetrics' `chunk` gives the same slices when S
        divides N). The standard N is 50 000.
    from_logits: outputs are logits (softmax taken here, in float64) or, if False, probabilities (rows ≥ 0
        summing to 1; zeros are fine: 0·log 0 = 0).
    num_classes: None uses every column (the 1008 bias-free logits convention); an int keeps the first
        `num_classes` logits before the softmax (e.g. 1000). Logits only.
    std_ddof: 0 = population std over splits (OpenAI, torch-fidelity, StyleGAN2-ADA); torchmetrics uses 1.
    shuffle_seed: None keeps data order (OpenAI, StyleGAN2-ADA); an int permutes the rows first with
        `torch.randperm(N, generator=torch.Generator().manual_seed(seed))` — torchmetrics' shuffle under
        `torch.manual_seed(seed)`. (torch-fidelity shuffles with `np.random.RandomState(2020)`.)
    """
    x = outputs.detach() if isinstance(outputs, torch.Tensor) else torch.as_tensor(outputs)
    x = x.to(torch.float64)
    if x.ndim != 2:
        raise ValueError(f"outputs must be N×K, got shape {tuple(x.shape)}")
    n = x.shape[0]
    if not 1 <= splits <= n:
        raise ValueError(f"need 1 ≤ splits ≤ N, got splits={splits}, N={n}")
    if num_classes is not None:
        if not from_logits:
            raise ValueError("num_classes truncation is defined on logits only (probabilities would need "
                             "renormalising); pass logits or num_classes=None")
        x = x[:, :num_classes]
    if from_logits:
        log_p = torch.log_softmax(x, dim=1)
    else:
        if (x < 0).any() or not torch.allclose(x.sum(1), torch.ones_like(x[:, 0]), atol=1e-6):
            raise ValueError("probabilities must be non-negative and sum to 1 per row")
        log_p = x.log()  # log 0 = -inf; masked below
    if shuffle_seed is not None:
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(shuffle_seed)).to(log_p.device)
        log_p = log_p[perm]
    scores = []
    for i in range(splits):
        part = log_p[i * n // splits : (i + 1) * n // splits]
        log_py = torch.logsumexp(part, dim=0) - math.log(part.shape[0])  # log of the split's marginal p(y)
        p = part.exp()
        kl = torch.where(p > 0, p * (part - log_py), torch.zeros_like(p)).sum(1)  # KL(p(y|x) ‖ p(y)) per sample
        scores.append(kl.mean().exp())
    t = torch.stack(scores).cpu()
    std = float(t.std(correction=std_ddof)) if splits > std_ddof else float("nan")
    return MeanStd(float(t.mean()), std)
