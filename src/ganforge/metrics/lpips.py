"""Perceptual distances for the perceptual path length (Karras et al., "A Style-Based Generator Architecture for
Generative Adversarial Networks", CVPR 2019, §4.1), in the form of LPIPS (Zhang et al., "The Unreasonable
Effectiveness of Deep Features as a Perceptual Metric", CVPR 2018, Eq. 1):

    d(x, x') = Σ_l 1/(H_l W_l) Σ_{h,w} ‖ w_l ⊙ (ŷ^l_hw − ŷ'^l_hw) ‖²,   ŷ = f / (‖f‖₂ over channels + 1e-10)

* :class:`LPIPSVGG16` — the distance StyleGAN uses: torchvision's VGG-16 ``features`` (taps relu1_2, relu2_2,
  relu3_3, relu4_3, relu5_3), LPIPS's input scaling layer and the v0.1 linear heads w_l (1×1 convolutions, no bias).
  Weights come **only** from a local safetensors file the user gives (never a pickle, never a download); see
  :func:`LPIPSVGG16.from_file` for the accepted key names.
* :class:`EvaluatorDistance` — the offline default: the same formula on the ReLU outputs of a shipped evaluator
  network's trunk (``metrics.evaluator``: 4 conv-BN-ReLU layers), with all w_l = 1 — LPIPS's uncalibrated
  "baseline" form (Zhang et al. §3: unit-normalised features, channels weighted equally). Unit-normalising each
  position's channel vector, as LPIPS does, keeps a layer with large activations from dominating the sum. The
  evaluator runs on float inputs (no uint8 quantisation: ε = 1e-4 steps would vanish under it).

Both take images N×C×H×W in [-1, 1] and return N per-sample distances.
"""
from __future__ import annotations

import os
import re
from typing import Dict, List

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CheckpointError, ConfigError

VGG16_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512]
VGG16_TAPS = (3, 8, 15, 22, 29)  # indices of relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 in vgg16().features
VGG16_CHANNELS = (64, 128, 256, 512, 512)
# LPIPS ScalingLayer: (x - shift) / scale on [-1, 1] inputs
LPIPS_SHIFT = (-0.030, -0.088, -0.188)
LPIPS_SCALE = (0.458, 0.448, 0.450)


def unit_normalize(f: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """f / (‖f‖₂ + eps) over the channel dimension, at every position (LPIPS's normalize_tensor)."""
    return f / (f.pow(2).sum(dim=1, keepdim=True).sqrt() + eps)


def lpips_from_features(feats_a: List[torch.Tensor], feats_b: List[torch.Tensor], weights=None) -> torch.Tensor:
    """Σ_l spatial mean of Σ_c w_lc (ŷ_a − ŷ_b)² — LPIPS given the taps of both images; `weights` is a list of
    C_l-vectors (None: all ones)."""
    total = None
    for i, (a, b) in enumerate(zip(feats_a, feats_b)):
        diff = (unit_normalize(a) - unit_normalize(b)).pow(2)
        if weights is not None:
            diff = diff * weights[i].view(1, -1, 1, 1)
        d = diff.sum(dim=1).mean(dim=(1, 2))
        total = d if total is None else total + d
    return total


class LPIPSVGG16(nn.Module):
    """LPIPS v0.1 with the VGG-16 backbone (the distance of StyleGAN's PPL). Build it without weights to inspect
    the architecture; :meth:`from_file` loads them from a local safetensors file."""

    def __init__(self):
        super().__init__()
        layers: List[nn.Module] = []
        cin = 3
        for v in VGG16_CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU()]
                cin = v
        self.features = nn.Sequential(*layers)  # same indices as torchvision's vgg16().features[:30]
        self.lins = nn.ModuleList([nn.Conv2d(c, 1, 1, bias=False) for c in VGG16_CHANNELS])
        self.register_buffer("shift", torch.tensor(LPIPS_SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(LPIPS_SCALE).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False).eval()
        self.name = "lpips-vgg16-v0.1"

    def taps(self, x: torch.Tensor) -> List[torch.Tensor]:
        """Images in [-1, 1] (grey repeated to RGB) -> the five VGG-16 ReLU activations."""
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        h = (x - self.shift) / self.scale
        out = []
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in VGG16_TAPS:
                out.append(h)
        return out

    def forward(self, img_a: torch.Tensor, img_b: torch.Tensor) -> torch.Tensor:
        """N per-sample LPIPS distances between images in [-1, 1]."""
        weights = [lin.weight.view(-1) for lin in self.lins]
        return lpips_from_features(self.taps(img_a), self.taps(img_b), weights)

    @staticmethod
    def convert_state(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """Rename the keys of a VGG-16 + LPIPS state to this module's. Accepted: torchvision ``features.N.*``
        (or ``N.*``), the lpips package's ``net.sliceK.N.*`` and ``linK.model.1.weight`` / ``linK.weight`` /
        ``lins.K.weight``, with an optional ``module.`` prefix. Other keys (e.g. VGG's classifier) are dropped."""
        out = {}
        for key, value in state.items():
            key = key[len("module."):] if key.startswith("module.") else key
            m = re.fullmatch(r"(?:features\.|net\.slice\d\.|)(\d+)\.(weight|bias)", key)
            if m and int(m.group(1)) < 30:  # vgg16().features[:30]: up to relu5_3
                out[f"features.{m.group(1)}.{m.group(2)}"] = value
                continue
            m = re.fullmatch(r"(?:lin(\d)(?:\.model\.1)?|lins\.(\d))\.weight", key)
            if m:
                k = m.group(1) if m.group(1) is not None else m.group(2)
                out[f"lins.{k}.weight"] = value
        return out

    @classmethod
    def from_file(cls, path: str, device="cpu") -> "LPIPSVGG16":
        """Backbone and linear heads from one local safetensors file (see :meth:`convert_state`). A pickle or
        ``torch.save`` file is refused: convert a trusted one with
        ``safetensors.torch.save_file({**torch.load(vgg, weights_only=True), **torch.load(lin, weights_only=True)},
        'lpips-vgg16.safetensors')``."""
        from ..utils.safeio import read_tensors

        if not path or not os.path.isfile(str(path)):
            raise CheckpointError(f"LPIPS-VGG16 weights file {path!r} not found: ganforge never downloads weights; "
                                  f"give a local safetensors file with torchvision's VGG-16 features and the LPIPS "
                                  f"v0.1 linear layers")
        model = cls()
        state = cls.convert_state(read_tensors(path))
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise CheckpointError(f"{path} lacks LPIPS-VGG16 weights (missing {missing[:6]}"
                                  f"{'…' if len(missing) > 6 else ''}, unexpected {unexpected[:6]})")
        return model.to(device)


class EvaluatorDistance(nn.Module):
    """LPIPS-form distance (all w_l = 1) on the trunk ReLU outputs of a shipped evaluator (``mnist5k`` or
    ``shapes``). The evaluator must run on float inputs (``load_evaluator(name, quantize=False)``)."""

    def __init__(self, evaluator):
        super().__init__()
        if getattr(evaluator, "quantize", False):
            raise ConfigError("PPL needs an evaluator that does not quantise its inputs: load it with "
                              "load_evaluator(name, quantize=False) or use EvaluatorDistance.from_name")
        self.evaluator = evaluator.eval().requires_grad_(False)
        self.name = f"evaluator-{evaluator.config.name}-lpips-form"
        self.weights_sha256 = getattr(evaluator, "weights_sha256", "")

    @classmethod
    def from_name(cls, name: str, device="cpu") -> "EvaluatorDistance":
        from .evaluator import EVALUATOR_NAMES, load_evaluator

        if name not in EVALUATOR_NAMES:
            raise ConfigError(f"unknown evaluator {name!r}: use one of {', '.join(EVALUATOR_NAMES)}")
        return cls(load_evaluator(name, device=device, quantize=False))

    def taps(self, x: torch.Tensor) -> List[torch.Tensor]:
        h = self.evaluator.preprocess(x)
        out = []
        for layer in self.evaluator.trunk:
            h = layer(h)
            if isinstance(layer, nn.ReLU):
                out.append(h.clone())  # the evaluator's ReLUs are in-place
        return out

    def forward(self, img_a: torch.Tensor, img_b: torch.Tensor) -> torch.Tensor:
        return lpips_from_features(self.taps(img_a), self.taps(img_b))


def box_downsample(x: torch.Tensor, max_resolution: int = 256) -> torch.Tensor:
    """Images larger than `max_resolution` box-filtered down by an integer factor (StyleGAN's PPL step 7)."""
    h = x.shape[-1]
    if h <= max_resolution:
        return x
    factor = h // max_resolution
    return F.avg_pool2d(x, factor)
