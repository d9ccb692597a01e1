"""BigGAN's modified orthogonal regularisation (Brock, Donahue, Simonyan, ICLR 2019, §3.1, Eq. 3):

    R_β(W) = β ‖WᵀW ⊙ (1 − I)‖²_F

only the off-diagonal entries: filters are pushed towards mutual orthogonality without constraining their norms.
Here W is a weight viewed as a matrix with one row per output unit, `W = param.view(out, −1)` (BigGAN-PyTorch
`utils.ortho`), so the Gram matrix is W Wᵀ (out × out), the inner products of the filters.

How the weight relates to the official code: `utils.ortho(model, strength)` does not add a loss; after backward it
adds `strength · 2 · ((W Wᵀ) ⊙ (1 − I)) W` to each gradient. The exact gradient of ‖W Wᵀ ⊙ (1 − I)‖²_F is
`4 · ((W Wᵀ) ⊙ (1 − I)) W` (reference/papers-details.md §3.4, checked numerically there), so the code's
`strength = 1e-4` ("1e-4 is default for BigGAN") equals the loss `(strength / 2) · Σ_W ‖W Wᵀ ⊙ (1 − I)‖²_F`.
`orthogonal_penalty` returns the bare sum; the BigGAN method multiplies it by strength / 2.
"""
from __future__ import annotations

from typing import Iterable, List

import torch
from torch import nn


def off_diagonal_gram_norm(weight: torch.Tensor) -> torch.Tensor:
    """‖W Wᵀ ⊙ (1 − I)‖²_F for W = weight.reshape(out, −1)."""
    w = weight.reshape(weight.shape[0], -1)
    gram = w @ w.t()
    off = 1.0 - torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device)
    return ((gram * off) ** 2).sum()


def orthogonal_penalty(weights: Iterable[torch.Tensor]) -> torch.Tensor:
    """Σ over `weights` of ‖W Wᵀ ⊙ (1 − I)‖²_F (multiply by strength / 2 to match BigGAN-PyTorch's strength)."""
    return sum(off_diagonal_gram_norm(w.float()) for w in weights)


def orthogonal_targets(module: nn.Module, skip: Iterable[torch.Tensor] = ()) -> List[nn.Parameter]:
    """The parameters `utils.ortho` regularises: every parameter with ≥ 2 dimensions (conv and linear weights, the
    raw weights under spectral normalisation, embeddings) except those in `skip` (BigGAN: the shared embedding).
    Biases, BN gains and attention's scalar γ have fewer dimensions and are left out."""
    skipped = {id(p) for p in skip}
    return [p for p in module.parameters() if p.ndim >= 2 and id(p) not in skipped]


def orthogonal_l1(weight: torch.Tensor) -> torch.Tensor:
    """IAN's orthogonal regulariser (Brock, Lim, Ritchie, Weston, ICLR 2017, §3.3; official `train_IAN.py`
    `ortho_res`, strength 1e-3) for one 4-D convolution weight (out × in × kh × kw): for every output filter k the
    Gram matrix of its kernel rows, G_k[a, b] = Σ_{i,c} W[k, i, a, c]·W[k, i, b, c] (kh × kh), is pushed to the
    identity in L1: Σ_k Σ_{a,b} |G_k − I|. Unlike BigGAN's `off_diagonal_gram_norm` it is per filter, keeps the
    diagonal (rows pushed to unit norm) and takes absolute values. Weights of other ranks are not regularised."""
    if weight.dim() != 4:
        return weight.new_zeros(())
    rows = weight.permute(0, 2, 1, 3).reshape(weight.shape[0], weight.shape[2], -1)  # out × kh × (in·kw)
    gram = rows @ rows.transpose(1, 2)
    return (gram - torch.eye(gram.shape[-1], dtype=gram.dtype, device=gram.device)).abs().sum()
