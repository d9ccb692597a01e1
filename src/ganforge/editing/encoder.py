"""iGAN's encoder P: a network that predicts the latent code of an image in one forward pass (Zhu et al., ECCV
2016, §3.1 "Projection via a deep neural network"; official `train_dcgan/train_predict_z.py`).

The official P is trained on real photos with G frozen, on `pixel_L2 + 0.002·conv4_L2` of G(P(x)) against x.
Here P is trained on the generator's own samples x = G(z), where the true code is known, on

    latent_weight · mean((P(x) − code)²) + mean((G(P(x)) − x)²) + feature_weight · mean((C(G(P(x))) − C(x))²)

(the reconstruction terms are iGAN's; the latent term, possible only on G's samples, speeds up the start). Adam,
lr 2e-4, β1 0.5 (the official settings). Architecture: DCGAN-discriminator-like stride-2 4×4 convolutions with
LeakyReLU(0.2) and BatchNorm (not on the first layer) down to 4×4, then a linear layer to the code.

`save_encoder` writes `encoder.safetensors` + `encoder.json` (architecture, the space, the checkpoint it inverts,
the training settings and final losses) into a folder, by default `RUN/encoder/`; `load_encoder` reads them back.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass
from typing import Optional

import torch
from torch import nn

from ..errors import CheckpointError, GanforgeError
from .features import FEATURE_WEIGHT, default_feature_net, reconstruction_loss
from .space import LatentSpace

ENCODER_DIR = "encoder"


@dataclass
class EncoderConfig:
    image_shape: tuple
    dim: int
    channels: int = 32
    space: str = "z"
    y: Optional[int] = None


class LatentEncoder(nn.Module):
    """Images N×C×H×W in [-1, 1] -> codes N×dim."""

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.config = config
        c, res, _ = config.image_shape
        n = int(round(math.log2(res / 4)))
        if res < 8 or 4 * 2**n != res:
            raise GanforgeError(f"the encoder needs a power-of-two resolution ≥ 8, got {res}")
        widths = [min(config.channels * 2**i, 512) for i in range(n)]
        layers = [nn.Conv2d(c, widths[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.LeakyReLU(0.2, True)]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(widths[-1] * 16, config.dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x).flatten(1))


def train_encoder(g, space: str = "auto", y: Optional[int] = None, steps: int = 1000, batch_size: int = 64,
                  lr: float = 2e-4, channels: int = 32, latent_weight: float = 1.0,
                  feature_weight: float = FEATURE_WEIGHT, features="auto", seed: int = 0):
    """Train P to invert `g` (a LoadedGenerator or Generator module, kept frozen in eval mode) on its samples.
    Returns (encoder in eval mode, report dict with the settings, first/last losses and seconds)."""
    ls = LatentSpace(g, space, y)
    ls.module.eval().requires_grad_(False)
    dev = ls.device
    feats = default_feature_net(ls.image_shape[0], dev) if features == "auto" else features
    torch.manual_seed(seed)
    enc = LatentEncoder(EncoderConfig(ls.image_shape, ls.dim, channels, ls.space, ls.y)).to(dev).train()
    opt = torch.optim.Adam(enc.parameters(), lr=lr, betas=(0.5, 0.999))
    rng = torch.Generator().manual_seed(seed + 1)
    started, losses = time.perf_counter(), []
    for _ in range(int(steps)):
        with torch.no_grad():
            code = ls.initial(batch_size, rng)
            x = ls.decode(code)
        pred = enc(x)
        loss = latent_weight * ((pred - code) ** 2).mean() + \
            reconstruction_loss(ls.decode(pred), x, feats, feature_weight).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    k = max(1, len(losses) // 10)
    report = {"steps": int(steps), "batch_size": batch_size, "lr": lr, "latent_weight": latent_weight,
              "feature_weight": feature_weight if feats is not None else 0.0, "seed": seed,
              "seconds": round(time.perf_counter() - started, 2),
              "loss_first": sum(losses[:k]) / k if losses else None,
              "loss_last": sum(losses[-k:]) / k if losses else None}
    return enc.eval().requires_grad_(False), report


def save_encoder(encoder: LatentEncoder, folder: str, report: Optional[dict] = None,
                 checkpoint: Optional[str] = None) -> str:
    """Write encoder.safetensors + encoder.json into `folder`; returns the JSON path."""
    from ..utils.safeio import write_json, write_tensors

    os.makedirs(folder, exist_ok=True)
    cfg = asdict(encoder.config)
    cfg["image_shape"] = list(cfg["image_shape"])
    write_tensors(os.path.join(folder, "encoder.safetensors"), encoder.state_dict())
    card = {"kind": "ganforge-latent-encoder", "architecture": cfg, "checkpoint": checkpoint,
            "training": report or {}, "paper": "Zhu et al., ECCV 2016 (iGAN), §3.1"}
    path = os.path.join(folder, "encoder.json")
    write_json(path, card)
    return path


def load_encoder(folder: str, device="cpu") -> LatentEncoder:
    """The encoder saved by `save_encoder` in `folder` (a run directory is looked into for `encoder/`)."""
    from ..utils.safeio import read_json, read_tensors

    if os.path.isdir(os.path.join(folder, ENCODER_DIR)):
        folder = os.path.join(folder, ENCODER_DIR)
    card_path = os.path.join(folder, "encoder.json")
    if not os.path.isfile(card_path):
        raise CheckpointError(f"no trained encoder in {folder} (train one: ganforge train-encoder RUN)")
    card = read_json(card_path)
    arch = dict(card.get("architecture") or {})
    try:
        arch["image_shape"] = tuple(arch["image_shape"])
        enc = LatentEncoder(EncoderConfig(**arch))
        enc.load_state_dict(read_tensors(os.path.join(folder, "encoder.safetensors")))
    except (KeyError, TypeError, RuntimeError) as e:
        raise CheckpointError(f"{folder}: the encoder files do not fit together ({str(e).splitlines()[0]})") from None
    return enc.to(device).eval().requires_grad_(False)
