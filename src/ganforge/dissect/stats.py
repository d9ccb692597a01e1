"""Pure functions of GAN Dissection's unit-versus-concept statistics (Bau et al., ICLR 2019, arXiv 1811.10597,
§3.1, Eq. 1): upsampling a featuremap to the segmentation grid, the 2×2 tables of "unit on" against "pixel has
class c", the IoU and the information quality ratio IQR = I(A; S) / H(A, S) that picks each unit's threshold.
"""
from __future__ import annotations

from typing import Tuple

import torch
import torch.nn.functional as F


def upsample(r: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Bilinear upsampling of N×U×h×w featuremaps to N×U×H×W with cell-centre geometry.

    netdissect's ``upsample_grid`` maps target pixel i to source coordinate (i + 0.5)·h/H − 0.5 (featuremap
    cell j is centred on the centre of the image patch it covers) and samples it with ``grid_sample`` in
    ``align_corners=True`` mode, border padding. We build the same grid and pass ``align_corners=True``
    explicitly: PyTorch ≥ 1.3 defaults to False, which would shift every mask by half a featuremap cell (the
    porting trap of the reference notes). The result equals ``F.interpolate(..., align_corners=False)``.
    """
    n, _, h, w = r.shape
    H, W = size
    if (h, w) == (H, W):
        return r

    def axis(src: int, dst: int) -> torch.Tensor:
        coord = (torch.arange(dst, dtype=torch.float32, device=r.device) + 0.5) * src / dst - 0.5
        return coord * 2 / max(src - 1, 1) - 1  # align_corners=True normalisation: -1, 1 = first, last centre

    gy, gx = axis(h, H), axis(w, W)
    grid = torch.stack([gx[None, :].expand(H, W), gy[:, None].expand(H, W)], dim=-1)
    return F.grid_sample(r.float(), grid[None].expand(n, H, W, 2), mode="bilinear", padding_mode="border",
                         align_corners=True)


def iou_from_counts(inter: torch.Tensor, act: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    """IoU = I / (A + L − I) from pixel counts (broadcasting); 0 where the union is empty."""
    union = act + label - inter
    return torch.where(union > 0, inter / union.clamp_min(1e-12), torch.zeros_like(union))


def iqr_from_counts(inter: torch.Tensor, act: torch.Tensor, label: torch.Tensor, total: float) -> torch.Tensor:
    """Information quality ratio MI / joint entropy of the binary variables A (unit on) and S (class c), from
    the counts |A∧S|, |A|, |S| over `total` pixels (netdissect's ``mutual_information / joint_entropy``)."""
    total = float(total)
    p11 = inter / total
    p10 = (act - inter) / total
    p01 = (label - inter) / total
    p00 = (1 - p11 - p10 - p01).clamp_min(0)
    pa, ps = p11 + p10, p11 + p01
    cells = [(p11, pa, ps), (p10, pa, 1 - ps), (p01, 1 - pa, ps), (p00, 1 - pa, 1 - ps)]
    mi = torch.zeros_like(p11)
    je = torch.zeros_like(p11)
    for p, marg_a, marg_s in cells:
        pos = p > 0
        safe = torch.where(pos, p, torch.ones_like(p))
        denom = torch.where(pos, marg_a * marg_s, torch.ones_like(p)).clamp_min(1e-30)
        mi = mi + torch.where(pos, p * torch.log(safe / denom), torch.zeros_like(p))
        je = je - torch.where(pos, p * torch.log(safe), torch.zeros_like(p))
    return torch.where(je > 0, mi / je.clamp_min(1e-30), torch.zeros_like(je))


def level_histogram(r_up: torch.Tensor, labels: torch.Tensor, levels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Counts U×(K+1)×C: pixels of unit u whose activation exceeds exactly b of its K sorted levels, per class.

    r_up: N×U×H×W upsampled activations; labels: N×H×W class ids; levels: U×K non-decreasing thresholds.
    "unit on at level j" (activation > levels[u, j]) is then bin > j: see :func:`on_counts`.
    """
    n, u, hh, ww = r_up.shape
    k = levels.shape[1]
    acts = r_up.permute(1, 0, 2, 3).reshape(u, -1).contiguous()
    bins = torch.searchsorted(levels.contiguous(), acts, right=False)  # number of levels < activation
    cls = labels.reshape(1, -1).expand(u, -1)
    index = (torch.arange(u)[:, None] * (k + 1) + bins) * num_classes + cls
    counts = torch.bincount(index.reshape(-1), minlength=u * (k + 1) * num_classes)
    return counts.reshape(u, k + 1, num_classes).to(torch.float64)


def on_counts(hist: torch.Tensor) -> torch.Tensor:
    """U×K×C counts of (unit on at level j) ∧ (class c) from a :func:`level_histogram` (reverse cumsum)."""
    rev = hist.flip(1).cumsum(1).flip(1)  # rev[:, b] = pixels in bins ≥ b
    return rev[:, 1:]  # on at level j  <=>  bin ≥ j + 1


def class_onehot(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """N×H×W class ids -> N×C×H×W float one-hot."""
    return F.one_hot(labels.long(), num_classes).permute(0, 3, 1, 2).float()
