"""Loading and saving style-transfer networks: safetensors only, never pickle, never a download.

* The default network (``assets/stylizer-small.safetensors`` + its JSON card) is a small encoder and its decoder
  trained by ``scripts/train_stylizer.py`` on bundled data; the card records the losses, time and data. Its
  decoder was trained with the paper's loss plus an L1 identity term (weight 10, not in Huang & Belongie) that
  the tiny encoder needed for a usable reconstruction; ``StyleTransferNet.loss`` itself is the paper's loss.
  Measured: mean |g(f(c)) − c| = 0.15 on held-out shapes scenes ([-1, 1] scale); digits reconstruct poorly.
* A VGG-19 encoder (Huang & Belongie 2017 use VGG-19 up to relu4_1) loads from a local safetensors file holding
  torchvision's ``vgg19().features`` state (keys ``features.N.weight`` / ``features.N.bias``, or ``N.weight``);
  convert a trusted ``.pth`` yourself with ``safetensors.torch.save_file(torch.load(p, weights_only=True), out)``.
  Its decoder must then be trained (``scripts/train_stylizer.py --vgg19 FILE``), which writes one stylizer file
  holding encoder and decoder that ``load_stylizer(path)`` reads.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from typing import Dict, Optional

import torch

from ..errors import CheckpointError
from .nets import Encoder, StyleTransferNet, StylizerConfig

ASSETS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "assets")
DEFAULT_NAME = "stylizer-small"


def default_paths(assets_dir: Optional[str] = None):
    """(weights .safetensors, card .json) of the shipped default stylizer."""
    base = os.path.join(assets_dir or ASSETS_DIR, DEFAULT_NAME)
    return base + ".safetensors", base + ".json"


def _sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def save_stylizer(net: StyleTransferNet, path: str, card: Optional[dict] = None) -> dict:
    """Write encoder + decoder weights (config in the safetensors metadata) and, with `card`, a JSON card next
    to it (``.json``) with the file's SHA-256 and size added. Returns the card."""
    from ..utils.safeio import write_json, write_tensors

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    write_tensors(path, net.state_dict(), metadata={"config": json.dumps(net.config.to_json())})
    card = dict(card or {}, architecture=net.config.to_json(), weights=os.path.basename(path),
                sha256=_sha256(path), bytes=os.path.getsize(path))
    write_json(os.path.splitext(path)[0] + ".json", card)
    return card


def _config_of(path: str) -> StylizerConfig:
    from safetensors import safe_open

    with safe_open(path, framework="pt") as f:
        meta = f.metadata() or {}
    if "config" not in meta:
        raise CheckpointError(f"{path} has no stylizer config in its metadata: it is not a file written by "
                              f"scripts/train_stylizer.py (a bare VGG-19 file goes to --vgg19 for training)")
    return StylizerConfig.from_json(json.loads(meta["config"]))


def load_stylizer(path: Optional[str] = None, device="cpu") -> StyleTransferNet:
    """A style-transfer network in eval mode without gradients: the shipped default (``path=None``) or a
    stylizer safetensors file written by ``scripts/train_stylizer.py`` (e.g. a VGG-19 encoder with its decoder).
    The default's SHA-256 is checked against its card."""
    from ..utils.safeio import read_tensors

    if path is None:
        path, card_path = default_paths()
        if not os.path.isfile(path) or not os.path.isfile(card_path):
            raise CheckpointError(f"the default stylizer {path} is missing: reinstall ganforge or rebuild it with "
                                  f"`python scripts/train_stylizer.py`")
        with open(card_path) as f:
            want = json.load(f)["sha256"]
        if _sha256(path) != want:
            raise CheckpointError(f"{path} does not match the SHA-256 on its card: the file was changed or "
                                  f"damaged; reinstall ganforge")
    elif not os.path.isfile(path):
        raise CheckpointError(f"stylizer weights file {path} not found")
    state = read_tensors(path)  # refuses pickles and damaged files
    net = StyleTransferNet(_config_of(path))
    missing, unexpected = net.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(f"{path} does not fit its architecture (missing {missing[:4]}, unexpected "
                              f"{unexpected[:4]})")
    return net.to(device).eval().requires_grad_(False)


def vgg19_state(path: str) -> Dict[str, torch.Tensor]:
    """torchvision VGG-19 ``features`` weights from a local safetensors file, renamed to ``layers.N.*`` and cut at
    relu4_1 (conv layers 0…19). Keys may be ``features.N.*``, ``N.*`` or carry a ``module.`` prefix."""
    from ..utils.safeio import read_tensors

    if not os.path.isfile(path):
        raise CheckpointError(f"VGG-19 weights file {path} not found (ganforge never downloads weights: convert "
                              f"torchvision's vgg19 state dict to safetensors and pass its path)")
    out = {}
    for key, value in read_tensors(path).items():
        m = re.fullmatch(r"(?:module\.)?(?:features\.)?(\d+)\.(weight|bias)", key)
        if m and int(m.group(1)) <= 19:
            out[f"layers.{m.group(1)}.{m.group(2)}"] = value
    return out


def load_vgg19_encoder(path: str) -> Encoder:
    """VGG-19 up to relu4_1 with weights from `path` (see :func:`vgg19_state`); frozen, eval mode."""
    enc = Encoder(StylizerConfig.vgg19())
    state = vgg19_state(path)
    missing, unexpected = enc.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(f"{path} is not a torchvision VGG-19 features state (missing {missing[:4]}, "
                              f"unexpected {unexpected[:4]})")
    return enc.eval().requires_grad_(False)
