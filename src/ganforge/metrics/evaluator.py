"""Small CNN classifiers that stand in for Inception on the bundled and procedural datasets.

FID/KID/PR/density-coverage need an embedding and IS needs class probabilities (Heusel et al., NeurIPS 2017;
Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016, §4). On MNIST-like data an ImageNet
Inception is a poor judge and needs 95 MB of weights that cannot be downloaded here, so, as is common for
MNIST GAN studies (e.g. the "MNIST score" of Li et al., "MMD GAN", NeurIPS 2017), ganforge ships small classifiers
trained on its own data by ``scripts/train_evaluators.py``:

* ``mnist5k``: digits (10 classes), trained on the 4,000-image train split of MNIST-5k, 1×32×32;
* ``shapes``: three heads — shape (3), colour (7), background (3) — trained on seed-0 shapes scenes, 3×32×32;
* ``digits-b``: digits (10 classes) drawn in the B style of the ``digits-ab`` translation data, 3×32×32 (it
  scores whether a translation into that style keeps the digit).

Each is a few conv -> BatchNorm -> ReLU layers and a global average pool, whose output ("features", like
Inception's pool_3) feeds linear heads (the logits). The weights are safetensors files in ``ganforge/assets``,
next to a JSON card with the architecture, the held-out accuracy, the data split, the training command and the
file's SHA-256 (checked on load).
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
from ..utils.assets import file_sha256, read_asset_card, save_asset

log = logging.getLogger(__name__)

ASSETS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "assets")
EVALUATOR_NAMES = ("mnist5k", "shapes", "digits-b")


@dataclass
class EvaluatorConfig:
    """Architecture of an evaluator. `trunk` lists (channels, stride) of its 3×3 conv layers; `heads` maps a
    head name to its class names; `primary` is the head that ``logits`` returns."""

    name: str
    in_channels: int
    resolution: int
    trunk: List[Tuple[int, int]] = field(default_factory=lambda: [(32, 1), (64, 2), (64, 1), (128, 2)])
    heads: Dict[str, List[str]] = field(default_factory=dict)
    primary: str = ""

    @property
    def feature_dim(self) -> int:
        return int(self.trunk[-1][0])

    def to_json(self) -> dict:
        d = asdict(self)
        d["trunk"] = [list(t) for t in self.trunk]
        return d

    @staticmethod
    def from_json(d: dict) -> "EvaluatorConfig":
        d = dict(d)
        d["trunk"] = [tuple(int(v) for v in t) for t in d["trunk"]]
        return EvaluatorConfig(**d)


class EvaluatorNet(nn.Module):
    """conv3×3 -> BN -> ReLU layers, global average pool (the features), one linear head per attribute.

    Inputs: images N×C×H×W, float in [-1, 1] (or uint8). Other sizes are resized (bilinear, antialiased) to the
    training resolution; 1 <-> 3 channels are converted (grey repeated / channel mean). With `quantize` (the
    default, as in the FID protocol) float inputs are first rounded to the 256 levels the real data have.
    """

    def __init__(self, config: EvaluatorConfig, quantize: bool = True):
        super().__init__()
        self.config = config
        self.quantize = bool(quantize)
        self.weights_sha256 = ""
        layers, cin = [], config.in_channels
        for cout, stride in config.trunk:
            layers += [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout),
                       nn.ReLU(inplace=True)]
            cin = cout
        self.trunk = nn.Sequential(*layers)
        self.heads = nn.ModuleDict({k: nn.Linear(cin, len(v)) for k, v in config.heads.items()})
        if config.primary not in self.heads:
            raise ValueError(f"primary head {config.primary!r} is not one of {list(self.heads)}")

    @property
    def feature_dim(self) -> int:
        return self.config.feature_dim

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 or [-1, 1] images -> float [-1, 1] at the evaluator's channels and resolution."""
        if x.dim() != 4:
            raise ValueError(f"expected N×C×H×W images, got shape {tuple(x.shape)}")
        x = x.to(next(self.parameters()).device)
        if x.dtype == torch.uint8:
            x = x.float() / 127.5 - 1.0
        elif self.quantize:
            x = (x.float() * 127.5 + 128.0).clamp(0, 255).floor() / 127.5 - 1.0
        c, want = x.shape[1], self.config.in_channels
        if c != want:
            if c == 1 and want == 3:
                x = x.repeat(1, 3, 1, 1)
            elif c == 3 and want == 1:
                x = x.mean(dim=1, keepdim=True)
            else:
                raise ValueError(f"evaluator {self.config.name!r} takes {want} channels, got {c}")
        r = self.config.resolution
        if tuple(x.shape[-2:]) != (r, r):
            x = F.interpolate(x, size=(r, r), mode="bilinear", align_corners=False, antialias=True)
        return x

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Preprocessed images -> N×D globally pooled features (no preprocessing)."""
        return self.trunk(x).mean(dim=(2, 3))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """N×D features (D = last trunk width), the embedding for FID/KID/PR/density-coverage."""
        return self.embed(self.preprocess(x))

    def head_logits(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        """{head name: N×K logits} for every head."""
        f = self.features(x)
        return {k: h(f) for k, h in self.heads.items()}

    def features_and_logits(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(N×D features, N×K logits of the primary head) in one pass."""
        f = self.features(x)
        return f, self.heads[self.config.primary](f)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """N×K logits of the primary head (digit class / shape): the class probabilities of IS."""
        return self.features_and_logits(x)[1]

    def predict(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        """{head name: N predicted class indices}."""
        return {k: v.argmax(dim=1) for k, v in self.head_logits(x).items()}

    forward = features_and_logits


# --------------------------------------------------------------------------------------------- files
class EvaluatorError(GanforgeError):
    """A shipped evaluator is unknown, missing or does not match its card."""


def evaluator_paths(name: str, assets_dir: Optional[str] = None) -> Tuple[str, str]:
    """(weights .safetensors, card .json) of the evaluator `name`."""
    base = os.path.join(assets_dir or ASSETS_DIR, f"evaluator-{name}")
    return base + ".safetensors", base + ".json"


def save_evaluator(model: EvaluatorNet, card: dict, assets_dir: Optional[str] = None) -> dict:
    """Write the weights (safetensors, config in the metadata) and the JSON card with the weights' SHA-256."""
    return save_asset(model, model.config.to_json(), card, *evaluator_paths(model.config.name, assets_dir))


def read_card(name: str, assets_dir: Optional[str] = None) -> dict:
    """The JSON card of a shipped evaluator (accuracy, data, command, architecture, sha256)."""
    if name not in EVALUATOR_NAMES and assets_dir is None:
        raise EvaluatorError(f"unknown evaluator {name!r}: use one of {', '.join(EVALUATOR_NAMES)}")
    return read_asset_card(evaluator_paths(name, assets_dir)[1], EvaluatorError, "evaluator",
                           f"python scripts/train_evaluators.py {name}")


def load_evaluator(name: str, *, assets_dir: Optional[str] = None, device="cpu",
                   quantize: bool = True) -> EvaluatorNet:
    """The shipped evaluator `name` ("mnist5k" | "shapes") in eval mode, without gradients.

    The weights file's SHA-256 must equal the one on its card (``model.weights_sha256`` keeps it for the
    evaluation protocol). Missing num_batches_tracked counters (not stored) are the only tolerated gap.
    """
    from ..utils.safeio import read_tensors

    card = read_card(name, assets_dir)
    weights, _ = evaluator_paths(name, assets_dir)
    state = read_tensors(weights)
    digest = file_sha256(weights)
    if digest != card["sha256"]:
        raise EvaluatorError(f"{weights} has SHA-256 {digest[:16]}…, its card says {card['sha256'][:16]}…: "
                             f"the file was changed or damaged; reinstall ganforge")
    model = EvaluatorNet(EvaluatorConfig.from_json(card["architecture"]), quantize=quantize)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise EvaluatorError(f"{weights} does not fit its architecture (missing {missing}, unexpected "
                             f"{unexpected})")
    model.weights_sha256 = digest
    return model.to(device).eval().requires_grad_(False)
