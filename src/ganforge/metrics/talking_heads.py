"""Scores of few-shot talking heads (Zakharov et al., ICCV 2019, §4 "Metrics"), offline, on the procedural heads.

* **CSIM**: cosine similarity between identity embeddings of a generated frame and the real frame of the same
  person (the paper uses a face-recognition network; here the identity network below, trained by
  ``scripts/train_talking_head_evaluators.py`` to classify bundled identities that are disjoint from both the
  meta-training and the few-shot test identities, and shipped with its held-out accuracy and verification AUC).
* **SSIM** against the ground-truth render of the same pose (``metrics.translation.ssim``).
* **FID**: the Fréchet distance (``metrics.fid.fid``) between identity-network features of real and generated
  frames (not Inception: 32² cartoon faces; the protocol is named with every score).
* **Landmark error**: a landmark regressor (same script, trained on renders with their exact landmark positions)
  re-detects the 68 points on generated frames; the score is their mean distance, in pixels, to the driving
  landmarks the frames were generated from.

Metrics are pure functions of tensors; :func:`load_evaluator` reads the shipped networks.
"""
from __future__ import annotations

import json
import os
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GanforgeError

ASSET = "talking-heads-evaluator"
ASSETS_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "assets")


def _trunk(width: int) -> nn.Sequential:
    layers, c = [], 3
    for w in (width, width * 2, width * 4):
        layers += [nn.Conv2d(c, w, 3, 1, 1), nn.BatchNorm2d(w), nn.ReLU(), nn.Conv2d(w, w, 3, 2, 1), nn.ReLU()]
        c = w
    return nn.Sequential(*layers)


class IdentityNet(nn.Module):
    """Frame (N×3×32×32 in [-1, 1], other sizes resized) → identity embedding (N×embed_dim); a linear head
    classifies the training identities."""

    def __init__(self, n_identities: int, width: int = 32, embed_dim: int = 128):
        super().__init__()
        self.trunk = _trunk(width)
        self.embed = nn.Linear(width * 4 * 16, embed_dim)
        self.head = nn.Linear(embed_dim, n_identities)

    def embedding(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False) if x.shape[-1] != 32 else x
        return self.embed(self.trunk(x).flatten(1))

    def forward(self, x):
        return self.head(F.relu(self.embedding(x)))


class LandmarkNet(nn.Module):
    """Frame → 68 landmark positions as fractions of the image width/height (N×68×2)."""

    def __init__(self, width: int = 32):
        super().__init__()
        self.trunk = _trunk(width)
        self.out = nn.Sequential(nn.Linear(width * 4 * 16, 256), nn.ReLU(), nn.Linear(256, 136))

    def forward(self, x):
        x = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False) if x.shape[-1] != 32 else x
        return self.out(self.trunk(x).flatten(1)).view(-1, 68, 2) + 0.5


def save_evaluator(identity: IdentityNet, landmarks: LandmarkNet, card: dict, assets_dir: str = ASSETS_DIR) -> str:
    from safetensors.torch import save_file

    state = {f"identity.{k}": v.contiguous() for k, v in identity.state_dict().items()}
    state.update({f"landmarks.{k}": v.contiguous() for k, v in landmarks.state_dict().items()})
    path = os.path.join(assets_dir, ASSET + ".safetensors")
    save_file(state, path)
    with open(os.path.join(assets_dir, ASSET + ".json"), "w") as f:
        json.dump(card, f, indent=1)
    return path


def load_evaluator(assets_dir: str = ASSETS_DIR, device="cpu") -> Tuple[IdentityNet, LandmarkNet, dict]:
    """The shipped (identity network, landmark regressor, card with their held-out scores), in eval mode."""
    from safetensors.torch import load_file

    path = os.path.join(assets_dir, ASSET + ".safetensors")
    if not os.path.isfile(path):
        raise GanforgeError(f"{path} is missing: run scripts/train_talking_head_evaluators.py")
    with open(os.path.join(assets_dir, ASSET + ".json")) as f:
        card = json.load(f)
    state = load_file(path)
    ident = IdentityNet(card["n_identities"], card["width"], card["embed_dim"])
    lmk = LandmarkNet(card["width"])
    ident.load_state_dict({k[9:]: v for k, v in state.items() if k.startswith("identity.")})
    lmk.load_state_dict({k[10:]: v for k, v in state.items() if k.startswith("landmarks.")})
    return ident.eval().to(device).requires_grad_(False), lmk.eval().to(device).requires_grad_(False), card


# ------------------------------------------------------------------------------------------------ pure functions


def csim(emb_fake: torch.Tensor, emb_real: torch.Tensor) -> torch.Tensor:
    """Per-pair cosine similarity of identity embeddings (N)."""
    return F.cosine_similarity(emb_fake.double(), emb_real.double(), dim=1).float()


def landmark_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-frame mean Euclidean distance between predicted and target landmarks (same units), N."""
    return (pred - target).norm(dim=-1).mean(-1)


@torch.no_grad()
def score_frames(fake: torch.Tensor, real: torch.Tensor, points: torch.Tensor, evaluator=None,
                 fid_reference: Optional[torch.Tensor] = None) -> Dict[str, float]:
    """CSIM, SSIM and landmark error (pixels) of generated frames against the real frames of the same poses
    (float N×3×H×W in [-1, 1]; `points` the driving landmarks N×68×2 in pixels); FID (identity-network features)
    against `fid_reference` frames when given (else against `real`)."""
    from .fid import fid
    from .translation import ssim

    ident, lmk, _ = evaluator or load_evaluator()
    dev = next(ident.parameters()).device
    ef, er = ident.embedding(fake.to(dev)).cpu(), ident.embedding(real.to(dev)).cpu()
    size = fake.shape[-1]
    out = {"csim": float(csim(ef, er).mean()), "ssim": float(ssim(fake, real).mean()),
           "landmark_error_px": float(landmark_error(lmk(fake.to(dev)).cpu() * size, points).mean())}
    ref = er if fid_reference is None else ident.embedding(fid_reference.to(dev)).cpu()
    if len(ef) > 2 and len(ref) > 2:
        out["fid_identity"] = fid(ref.double(), ef.double())
    return out
