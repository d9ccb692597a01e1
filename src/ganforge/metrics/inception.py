"""The FID Inception-v3: TensorFlow's ``inception-2015-12-05`` graph as the FID, IS and KID papers use it.

Architecture: Inception-v3 (Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", CVPR
2016, Fig. 5-7 and Table 1), in the form of the 2015-12-05 TF graph that FID (Heusel et al., "GANs Trained by a
Two Time-Scale Update Rule Converge to a Local Nash Equilibrium", NeurIPS 2017, §"FID"), IS (Salimans et al.
2016) and KID (Bińkowski et al. 2018) are defined with. It differs from torchvision's Inception-v3 in ways
that change the numbers (reference/metrics.md §1):

* the average-pool branches of Mixed_5b..5d, 6b..6e and 7b exclude the zero padding (``count_include_pad=False``,
  TF's SAME pooling), and the pool branch of the last block, Mixed_7c, is a *max* pool;
* 1008 output classes; BatchNorm eps 1e-3, convolutions without bias, no auxiliary head;
* inputs on the [0, 255] scale normalised as (x - 128) / 128.

Parameter names and shapes follow torchvision's ``Inception3(num_classes=1008, aux_logits=False)`` as patched by
pytorch-fid, so its ``pt_inception-2015-12-05-6726825d.pth`` (and torch-fidelity's identical
``weights-inception-2015-12-05-6726825d.pth``) loads with ``strict=True``: 566 entries, 23,850,960 parameters.
Weights (metrics/inception_weights.py) are read from safetensors only: the official ``.pth`` is converted once
(:func:`convert_weights`, or ``scripts/convert_inception_weights.py``), and a download on first use is converted
before it is cached.

Preprocessing (reference/metrics.md §2): floats in [-1, 1] are mapped to [0, 255] and, by default, quantised
like StyleGAN2-ADA (``floor(x·127.5 + 128)``, i.e. round half up); uint8 images are taken as they are;
grayscale is repeated to 3 channels; then the images are resized to 299×299 by one of ``RESIZE_MODES``.
"""
from __future__ import annotations

import logging
from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import inception_weights as _weights
from .inception_weights import (FID_WEIGHTS_FILE, FID_WEIGHTS_SHA256, FID_WEIGHTS_URL, WEIGHTS_ENV_VAR,  # noqa: F401
                                InceptionWeightsError, convert_weights, default_cache_dir, read_state_dict,
                                resolve_weights, sha256_file, weights_identity)

log = logging.getLogger(__name__)

INPUT_SIZE = 299
NUM_CLASSES = 1008
FEATURE_DIM = 2048
# Canonical resize names -> the libraries they reproduce (reference/metrics.md §2, §10.2).
RESIZE_MODES = {
    "tf1": "TF1 resize_bilinear (TTUR, torch-fidelity, StyleGAN2-ADA, torchmetrics antialias=False)",
    "torch_bilinear": "F.interpolate bilinear, half-pixel centres, no antialias (pytorch-fid)",
    "torch_bilinear_aa": "F.interpolate bilinear with antialias=True (torchmetrics >= 1.8 default)",
    "pil_bicubic": "PIL bicubic on float channels, clipped to [0, 255] (clean-fid 'clean')",
    "none": "no resize: inputs must already be 299x299",
}
RESIZE_ALIASES = {"bilinear": "torch_bilinear", "bilinear_aa": "torch_bilinear_aa", "bicubic_pil": "pil_bicubic"}


def canonical_resize(mode: str) -> str:
    """The canonical name of a resize rule (accepting the aliases), or ValueError listing the choices."""
    mode = RESIZE_ALIASES.get(mode, mode)
    if mode not in RESIZE_MODES:
        raise ValueError(f"unknown resize rule {mode!r}: use one of {', '.join(RESIZE_MODES)}")
    return mode


# --------------------------------------------------------------------------------------------- resizing
def _tf1_axis(x: torch.Tensor, out: int, dim: int) -> torch.Tensor:
    """Linear resampling of one axis with TF1's alignment: source coordinate = i·in/out, no half-pixel shift."""
    n_in = x.shape[dim]
    scale = torch.tensor(n_in / out, dtype=torch.float32)
    src = torch.arange(out, dtype=torch.float32) * scale
    lo = src.floor().long().clamp_(max=n_in - 1)
    hi = (lo + 1).clamp_(max=n_in - 1)
    frac = (src - lo.float()).to(x.dtype).to(x.device)
    shape = [1] * x.dim()
    shape[dim] = out
    a, b = x.index_select(dim, lo.to(x.device)), x.index_select(dim, hi.to(x.device))
    return a + (b - a) * frac.view(shape)


def resize_tf1(x: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """``tf.image.resize_bilinear(x, size)`` of TF1 (align_corners=False, half_pixel_centers=False).

    "TF1-style" means output pixel i samples the input at i·in/out: pixel corners, not centres, are aligned, so
    no half-pixel offset is applied (PyTorch's align_corners=False samples at (i + 0.5)·in/out - 0.5), there is no
    antialiasing filter when shrinking, and the last row/column is repeated past the border. Columns are blended
    first, then rows, as TF does.
    """
    x = _tf1_axis(x, size[1], dim=3)
    return _tf1_axis(x, size[0], dim=2)


def resize_pil_bicubic(x: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Per-channel PIL bicubic resize of float32 ('F' mode) images, clipped to [0, 255], as clean-fid's 'clean' mode."""
    from PIL import Image

    arr = x.detach().float().cpu().numpy()
    out = np.empty(arr.shape[:2] + tuple(size), dtype=np.float32)
    for i in range(arr.shape[0]):
        for c in range(arr.shape[1]):
            img = Image.fromarray(arr[i, c]).resize((size[1], size[0]), resample=Image.BICUBIC)
            out[i, c] = np.asarray(img, dtype=np.float32)
    return torch.from_numpy(out.clip(0, 255)).to(x.device)


def resize_images(x: torch.Tensor, mode: str = "tf1", size: int = INPUT_SIZE) -> torch.Tensor:
    """Resize float N×C×H×W images (any value scale) to size×size with the named rule (see RESIZE_MODES)."""
    mode = canonical_resize(mode)
    if tuple(x.shape[-2:]) == (size, size) or mode == "none":
        if tuple(x.shape[-2:]) != (size, size):
            raise ValueError(f"resize='none' needs {size}×{size} inputs, got {tuple(x.shape[-2:])}")
        return x
    if mode == "tf1":
        return resize_tf1(x, (size, size))
    if mode == "pil_bicubic":
        return resize_pil_bicubic(x, (size, size))
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                         antialias=(mode == "torch_bilinear_aa"))


def to_uint8_scale(x: torch.Tensor, quantize: bool = True) -> torch.Tensor:
    """Images -> float on the [0, 255] scale, 3 channels.

    uint8 input is taken as is. Float input is read as [-1, 1]; with `quantize` it is rounded like StyleGAN2-ADA
    (``(x·127.5 + 128).clamp(0, 255)`` truncated to an integer = round half up), else only scaled and clipped.
    """
    if x.dim() != 4:
        raise ValueError(f"expected N×C×H×W images, got shape {tuple(x.shape)}")
    if x.dtype == torch.uint8:
        v = x.float()
    elif quantize:
        v = (x.float() * 127.5 + 128.0).clamp_(0, 255).floor_()
    else:
        v = ((x.float() + 1.0) * 127.5).clamp_(0, 255)
    if v.shape[1] == 1:
        v = v.repeat(1, 3, 1, 1)
    elif v.shape[1] != 3:
        raise ValueError(f"expected 1 or 3 channels, got {v.shape[1]}")
    return v


# --------------------------------------------------------------------------------------------- blocks
class BasicConv2d(nn.Module):
    """Convolution (no bias) -> BatchNorm (eps 1e-3) -> ReLU: the unit every Inception-v3 layer is made of."""

    def __init__(self, cin: int, cout: int, kernel_size, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg_pool_3x3(x: torch.Tensor) -> torch.Tensor:
    """3×3 stride-1 average pool that divides by the number of *real* pixels under the window (TF SAME)."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    """35×35 block (Szegedy et al. 2016, Fig. 5): 1×1, 5×5, double 3×3 and pool branches."""

    def __init__(self, cin: int, pool_features: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64, 1)
        self.branch5x5_1 = BasicConv2d(cin, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, 1)

    def forward(self, x):
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch1x1(x), b5, b3, self.branch_pool(_avg_pool_3x3(x))], 1)


class InceptionB(nn.Module):
    """35×35 -> 17×17 grid reduction (Szegedy et al. 2016, Fig. 10)."""

    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), b3, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionC(nn.Module):
    """17×17 block with factorised 7×7 convolutions (1×7 then 7×1; Szegedy et al. 2016, Fig. 6)."""

    def __init__(self, cin: int, c7: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 192, 1)
        self.branch7x7_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x):
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4,
                      self.branch7x7dbl_5):
            d = layer(d)
        return torch.cat([self.branch1x1(x), b7, d, self.branch_pool(_avg_pool_3x3(x))], 1)


class InceptionD(nn.Module):
    """17×17 -> 8×8 grid reduction."""

    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([b3, b7, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionE(nn.Module):
    """8×8 block with expanded 1×3 / 3×1 filter banks (Szegedy et al. 2016, Fig. 7).

    `pool="avg"` (Mixed_7b: average pool without padding) or `pool="max"` (Mixed_7c: the TF graph's max pool).
    """

    def __init__(self, cin: int, pool: str):
        super().__init__()
        if pool not in ("avg", "max"):
            raise ValueError(f"pool must be 'avg' or 'max', got {pool!r}")
        self.pool = pool
        self.branch1x1 = BasicConv2d(cin, 320, 1)
        self.branch3x3_1 = BasicConv2d(cin, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x):
        s = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(s), self.branch3x3_2b(s)], 1)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
        pooled = _avg_pool_3x3(x) if self.pool == "avg" else F.max_pool2d(x, 3, stride=1, padding=1)
        return torch.cat([self.branch1x1(x), b3, bd, self.branch_pool(pooled)], 1)


# --------------------------------------------------------------------------------------------- network
class FIDInceptionV3(nn.Module):
    """Inception-v3 of the TF ``inception-2015-12-05`` graph: images -> 2048-d pool_3 features and 1008 logits.

    `resize` is the rule that brings inputs to 299×299 (``RESIZE_MODES``; default "tf1", the TTUR/torch-fidelity/
    StyleGAN2-ADA convention); `quantize` rounds float inputs to uint8 levels first (StyleGAN2-ADA). Call
    :func:`load_fid_inception` for the real weights; the module built here is randomly initialised.
    """

    def __init__(self, resize: str = "tf1", quantize: bool = True):
        super().__init__()
        self.resize = canonical_resize(resize)
        self.quantize = bool(quantize)
        self.weights_sha256 = ""  # set by load_fid_inception
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, c7=128)
        self.Mixed_6c = InceptionC(768, c7=160)
        self.Mixed_6d = InceptionC(768, c7=160)
        self.Mixed_6e = InceptionC(768, c7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, pool="avg")
        self.Mixed_7c = InceptionE(2048, pool="max")
        self.fc = nn.Linear(FEATURE_DIM, NUM_CLASSES)
        self.eval()

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 or [-1, 1] float images (1 or 3 channels, any size) -> normalised 3×299×299 network input."""
        v = to_uint8_scale(x.to(self.fc.weight.device), self.quantize)
        v = resize_images(v, self.resize)
        return (v - 128.0) / 128.0

    def pool3(self, v: torch.Tensor) -> torch.Tensor:
        """Normalised 299×299 input -> N×2048 features after the final 8×8 average pool ("pool_3")."""
        v = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(v)))  # 147×147
        v = F.max_pool2d(v, 3, stride=2)  # 73×73
        v = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(v))  # 71×71
        v = F.max_pool2d(v, 3, stride=2)  # 35×35
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                      self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            v = block(v)  # 35 -> 17 (Mixed_6a) -> 8 (Mixed_7a)
        return v.mean(dim=(2, 3))

    def head(self, features: torch.Tensor, unbiased: bool = True) -> torch.Tensor:
        """1008 logits from pool_3 features; `unbiased` drops the FC bias, as IS is computed (metrics.md §3.2)."""
        return features @ self.fc.weight.t() if unbiased else self.fc(features)

    def features_and_logits(self, x: torch.Tensor, unbiased: bool = True) -> Tuple[torch.Tensor, torch.Tensor]:
        """(N×2048 pool_3 features, N×1008 logits) in one pass."""
        f = self.pool3(self.preprocess(x))
        return f, self.head(f, unbiased)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """N×2048 pool_3 features, the FID/KID embedding."""
        return self.pool3(self.preprocess(x))

    def logits(self, x: torch.Tensor, unbiased: bool = True) -> torch.Tensor:
        return self.features_and_logits(x, unbiased)[1]

    forward = features_and_logits


def load_fid_inception(path: Optional[str] = None, *, cache_dir: Optional[str] = None, download: bool = True,
                       resize: str = "tf1", quantize: bool = True, device="cpu") -> FIDInceptionV3:
    """The FID Inception-v3 with the pytorch-fid/torch-fidelity weights loaded strictly, in eval mode.

    Weights are a safetensors file (pickles are refused; :func:`convert_weights` makes one) from `path`, else
    $GANFORGE_INCEPTION_WEIGHTS, else `cache_dir` (default ~/.cache/ganforge), downloaded and converted there on
    first use when `download` (hash-checked). Their identity (:func:`weights_identity`) is kept as
    ``model.weights_sha256`` for the evaluation protocol; weights other than the official ones are accepted with a
    warning in the log, since their scores are not comparable with published ones.
    """
    file = resolve_weights(path, cache_dir, download)
    state = read_state_dict(file)
    identity = weights_identity(file, state)
    model = FIDInceptionV3(resize=resize, quantize=quantize)
    for key, buf in model.state_dict().items():  # exports from before BatchNorm kept a step counter
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = torch.zeros_like(buf)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        detail = " ".join(line.strip() for line in str(e).splitlines()[1:])
        raise InceptionWeightsError(f"{file} does not hold FID Inception-v3 weights: {detail[:600]}") from None
    model.weights_sha256 = identity
    if model.weights_sha256 != _weights.FID_WEIGHTS_SHA256:
        log.warning("%s is not the official FID Inception weights (SHA-256 %s): its scores are not comparable with "
                    "published FIDs", file, model.weights_sha256[:16])
    return model.to(device).eval().requires_grad_(False)
