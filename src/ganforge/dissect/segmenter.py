"""A small per-pixel segmenter for the shapes scenes: the stand-in for GAN Dissection's unified parsing network.

Bau et al. ("GAN Dissection: Visualizing and Understanding Generative Adversarial Networks", ICLR 2019, arXiv
1811.10597, §3.1) label every pixel of every generated image with a semantic segmentation network (UPerNet,
Xiao et al. 2018) and compare units to those labels. On shapes the classes are known exactly (background,
circle, square, triangle), so ganforge ships a tiny U-Net trained on procedural scenes by
``scripts/train_segmenter.py``, weights in ``ganforge/assets/segmenter-shapes.safetensors`` next to a JSON card
with the held-out mean IoU and the file's SHA-256 (checked on load).

The interface every segmenter of ``ganforge.dissect`` follows (a user's own network can replace this one):
``class_names`` (a sequence, index = class id) and ``segmenter(x)`` mapping N×3×H×W images in [-1, 1] to
N×K×H×W logits at the images' resolution. :func:`segment` and :func:`class_probs` are helpers over it.
"""
from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GanforgeError
from ..metrics.evaluator import ASSETS_DIR
from ..utils.assets import file_sha256, read_asset_card, save_asset

log = logging.getLogger(__name__)

SEGMENTER_NAMES = ("shapes", "scenes")  # scenes: the textured shapes-labels scenes (translation FCN-score)


class SegmenterError(GanforgeError):
    """A shipped segmenter is unknown, missing or does not match its card."""


@dataclass
class SegmenterConfig:
    """Architecture: `widths` are the channels at resolutions R, R/2, R/4, R/8 (two 3×3 convs each on the way
    down, one per level on the way up, skip connections as in U-Net, Ronneberger et al. 2015). `extra_heads`
    maps a head name to its classes (class 0 = "no label", ignored by dissection, like netdissect's label 0),
    e.g. the colour of the object under each pixel."""

    name: str
    class_names: List[str]
    resolution: int = 32
    in_channels: int = 3
    widths: List[int] = field(default_factory=lambda: [16, 24, 32, 48])
    extra_heads: Dict[str, List[str]] = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)


def _block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class SegmenterNet(nn.Module):
    """A four-level U-Net: images N×C×H×W in [-1, 1] -> N×K×H×W class logits (any H, W divisible by 8)."""

    def __init__(self, config: SegmenterConfig):
        super().__init__()
        self.config = config
        self.class_names = tuple(config.class_names)
        self.weights_sha256 = ""
        w = config.widths
        self.down = nn.ModuleList()
        cin = config.in_channels
        for i, c in enumerate(w):
            self.down.append(nn.Sequential(_block(cin, c, 1 if i == 0 else 2), _block(c, c)))
            cin = c
        self.up = nn.ModuleList(_block(w[i + 1] + w[i], w[i]) for i in reversed(range(len(w) - 1)))
        self.head = nn.Conv2d(w[0], len(config.class_names), 1)
        self.extra = nn.ModuleDict({k: nn.Conv2d(w[0], len(v), 1) for k, v in config.extra_heads.items()})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """N×K×H×W logits of the primary head (the shape classes)."""
        return self.head(self._trunk(x))

    def head_logits(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        """{"class": primary logits, <extra head>: its logits}, all N×K×H×W, from one pass."""
        h = self._trunk(x)
        return {"class": self.head(h), **{k: m(h) for k, m in self.extra.items()}}

    def _trunk(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.config.in_channels:
            raise ValueError(f"expected N×{self.config.in_channels}×H×W images, got shape {tuple(x.shape)}")
        x = x.to(self.head.weight.device, torch.float32)
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
        for block, skip in zip(self.up, reversed(skips[:-1])):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
        return x


def segment(segmenter, x: torch.Tensor) -> torch.Tensor:
    """N×H×W int64 hard labels (argmax of the logits) of images N×C×H×W in [-1, 1]."""
    return segmenter(x).argmax(dim=1)


def concept_labels(segmenter, x: torch.Tensor) -> List[Tuple[List[str], torch.Tensor, int]]:
    """[(class names, N×H×W labels, first counted class)] per head: the primary head (every class counted),
    then a segmenter's extra heads (``config.extra_heads``; class 0 = "no label", not counted). A segmenter
    with only ``class_names`` and logits has one head."""
    config = getattr(segmenter, "config", None)
    if hasattr(segmenter, "head_logits") and getattr(config, "extra_heads", None):
        logits = segmenter.head_logits(x)
        heads = [(list(segmenter.class_names), logits.pop("class").argmax(1), 0)]
        return heads + [(list(config.extra_heads[k]), v.argmax(1), 1) for k, v in logits.items()]
    return [(list(segmenter.class_names), segment(segmenter, x), 0)]


def class_probs(segmenter, x: torch.Tensor, cls: int) -> torch.Tensor:
    """N×H×W soft probability of class `cls` (differentiable: what the α optimisation of §4.2 maximises)."""
    return segmenter(x).softmax(dim=1)[:, cls]


def mean_iou(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> Tuple[float, List[float]]:
    """Mean over classes of |pred=c ∧ target=c| / |pred=c ∨ target=c|, pooled over all pixels of all images."""
    ious = []
    for c in range(num_classes):
        p, t = pred == c, target == c
        union = int((p | t).sum())
        ious.append(float((p & t).sum()) / union if union else float("nan"))
    valid = [v for v in ious if v == v]
    return (sum(valid) / len(valid) if valid else float("nan")), ious


# --------------------------------------------------------------------------------------------- files
def segmenter_paths(name: str, assets_dir: Optional[str] = None) -> Tuple[str, str]:
    base = os.path.join(assets_dir or ASSETS_DIR, f"segmenter-{name}")
    return base + ".safetensors", base + ".json"


def save_segmenter(model: SegmenterNet, card: dict, assets_dir: Optional[str] = None) -> dict:
    """Write the weights (safetensors) and the JSON card (architecture, numbers, SHA-256 of the weights)."""
    return save_asset(model, model.config.to_json(), card, *segmenter_paths(model.config.name, assets_dir))


def read_segmenter_card(name: str, assets_dir: Optional[str] = None) -> dict:
    if name not in SEGMENTER_NAMES and assets_dir is None:
        raise SegmenterError(f"unknown segmenter {name!r}: use one of {', '.join(SEGMENTER_NAMES)}")
    return read_asset_card(segmenter_paths(name, assets_dir)[1], SegmenterError, "segmenter",
                           "python scripts/train_segmenter.py")


def load_segmenter(name: str = "shapes", *, assets_dir: Optional[str] = None, device="cpu") -> SegmenterNet:
    """The shipped segmenter `name` in eval mode, without gradients; its weights' SHA-256 must match its card."""
    from ..utils.safeio import read_tensors

    card = read_segmenter_card(name, assets_dir)
    weights, _ = segmenter_paths(name, assets_dir)
    digest = file_sha256(weights)
    if digest != card["sha256"]:
        raise SegmenterError(f"{weights} has SHA-256 {digest[:16]}…, its card says {card['sha256'][:16]}…: the "
                             f"file was changed or damaged; reinstall ganforge")
    model = SegmenterNet(SegmenterConfig(**card["architecture"]))
    missing, unexpected = model.load_state_dict(read_tensors(weights), strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise SegmenterError(f"{weights} does not fit its architecture (missing {missing}, unexpected {unexpected})")
    model.weights_sha256 = digest
    return model.to(device).eval().requires_grad_(False)
