"""Scores of image-to-image translation, as pure functions of images or of a segmenter's / classifier's outputs.

* PSNR and SSIM (Wang et al., "Image Quality Assessment: From Error Visibility to Structural Similarity", IEEE TIP
  2004: 11×11 Gaussian window, σ = 1.5, K1 = 0.01, K2 = 0.03), optionally on the luma channel Y of ITU-R BT.601
  with a border of `crop` pixels left out — the convention of super-resolution papers, SRGAN's (Ledig et al.,
  CVPR 2017, §3.1) included.
* The FCN-score of pix2pix (Isola et al., CVPR 2017, §4.2) and CycleGAN (Zhu et al., ICCV 2017, §5.1.1): a
  segmenter labels the translated images, and the labels are compared with the input label maps through a
  confusion matrix (per-pixel accuracy, mean per-class accuracy, mean class IoU, as the official
  ``scripts/eval_cityscapes`` ``fast_hist``/``get_scores``).
* Label preservation: the accuracy of a classifier's predictions on translations against the inputs' labels.
"""
from __future__ import annotations

import math
from typing import Dict

import torch
import torch.nn.functional as F

# ITU-R BT.601 luma of RGB in [0, 1], in [16, 235] / 255 (MATLAB rgb2ycbcr, what SR papers report PSNR on).
_Y_WEIGHTS = (65.481, 128.553, 24.966)


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] -> [0, 1] (float32)."""
    return (x.float().clamp(-1, 1) + 1) / 2


def luma(x01: torch.Tensor) -> torch.Tensor:
    """N×3×H×W RGB in [0, 1] -> N×1×H×W BT.601 luma in [0, 1] (grey images pass through)."""
    if x01.shape[1] == 1:
        return x01
    w = torch.tensor(_Y_WEIGHTS, dtype=x01.dtype, device=x01.device).view(1, 3, 1, 1)
    return ((x01 * w).sum(1, keepdim=True) + 16.0) / 255.0


def _prepare(x: torch.Tensor, y: torch.Tensor, y_channel: bool, crop: int):
    if x.shape != y.shape:
        raise ValueError(f"images to compare must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    a, b = to_unit(x), to_unit(y)
    if y_channel:
        a, b = luma(a), luma(b)
    if crop:
        a, b = a[..., crop:-crop, crop:-crop], b[..., crop:-crop, crop:-crop]
    return a, b


def psnr(x: torch.Tensor, y: torch.Tensor, y_channel: bool = False, crop: int = 0) -> torch.Tensor:
    """Per-image PSNR in dB (N) of images in [-1, 1], peak 1 on the [0, 1] scale; identical images give inf."""
    a, b = _prepare(x, y, y_channel, crop)
    mse = (a - b).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(1.0 / mse)


def _gaussian_window(size: int = 11, sigma: float = 1.5, device=None) -> torch.Tensor:
    t = torch.arange(size, dtype=torch.float64, device=device) - (size - 1) / 2
    g = torch.exp(-t * t / (2 * sigma * sigma))
    return (g / g.sum()).float()


def ssim(x: torch.Tensor, y: torch.Tensor, y_channel: bool = False, crop: int = 0, window: int = 11,
         sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03) -> torch.Tensor:
    """Per-image mean SSIM (N) of images in [-1, 1], computed on the [0, 1] scale per channel over the 'valid'
    positions of the Gaussian window (no padding), channels averaged."""
    a, b = _prepare(x, y, y_channel, crop)
    if min(a.shape[-2:]) < window:
        raise ValueError(f"SSIM with a {window}×{window} window needs images at least that large, got "
                         f"{tuple(a.shape[-2:])}")
    c = a.shape[1]
    g = _gaussian_window(window, sigma, a.device)
    kernel = (g[:, None] * g[None, :]).expand(c, 1, window, window).contiguous()
    blur = (lambda t: F.conv2d(t.double(), kernel.double(), groups=c))
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a ** 2
    var_b = blur(b * b) - mu_b ** 2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = k1 ** 2, k2 ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return s.flatten(1).mean(1).float()


def confusion_matrix(pred: torch.Tensor, label: torch.Tensor, num_classes: int) -> torch.Tensor:
    """K×K counts, rows = true class, columns = predicted class; labels outside [0, K) are ignored (the official
    ``fast_hist``)."""
    keep = (label >= 0) & (label < num_classes)
    idx = label[keep].long() * num_classes + pred[keep].long()
    return torch.bincount(idx, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def segmentation_scores(hist: torch.Tensor) -> Dict[str, float]:
    """Per-pixel accuracy, mean per-class accuracy and mean class IoU of a confusion matrix (classes that never
    occur in the labels are left out of the means, as nanmean in the official script)."""
    h = hist.double()
    diag = h.diag()
    per_class = diag / h.sum(1)
    iou = diag / (h.sum(1) + h.sum(0) - diag)
    present = h.sum(1) > 0
    return {"pixel_acc": float(diag.sum() / h.sum()) if h.sum() > 0 else math.nan,
            "class_acc": float(per_class[present].mean()) if present.any() else math.nan,
            "class_iou": float(iou[present].mean()) if present.any() else math.nan}


def label_accuracy(pred: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of predictions equal to the labels."""
    if len(pred) != len(labels) or len(pred) == 0:
        raise ValueError(f"need as many predictions as labels (≥ 1), got {len(pred)} and {len(labels)}")
    return float((pred.cpu() == labels.cpu()).float().mean())
