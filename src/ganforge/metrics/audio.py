"""Audio scores of GANSynth (Engel et al. 2019, §4.2): a pitch classifier's pitch accuracy (PA), pitch entropy
(PE), Inception-style score (IS) and Fréchet distance on its features (FID); and NDB, the number of statistically
different bins (Richardson & Weiss, "On GANs and GMMs", NeurIPS 2018, §3).

The official code scores with a pretrained NSynth pitch classifier that is not shipped; here a small CNN trained by
`scripts/train_pitch_classifier.py` on the bundled procedural notes is shipped as
``assets/pitch-notes.safetensors`` with its held-out accuracy in ``pitch-notes.json``. It reads waveforms
(through a fixed STFT: log magnitude and instantaneous frequency, linear frequency), so every representation —
IF-Mel, IF, phase, raw waveform — is judged by the same network.

Conventions: PA = fraction of notes whose arg-max pitch is the one asked for; PE = mean over notes of the entropy
(nats) of the classifier's pitch distribution (low: confident); IS = exp(E KL(p(y|x) ‖ p(y))) (metrics/
inception_score.py); FID on the 128-d penultimate features (metrics/fid.py). NDB: K-means (K = 50, Lloyd, k-means++
seeding) on real log-magnitude spectrograms; real and generated notes are assigned to the nearest centre; a bin is
"different" when the two-proportion z-test rejects equal proportions at α = 0.05 (two-sided, pooled variance).
"""
from __future__ import annotations

import json
import math
import os
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..audio.spectral import STFTSettings, instantaneous_frequency, stft

ASSETS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "assets")
CLASSIFIER = "pitch-notes"


class PitchClassifier(nn.Module):
    """Waveforms N × L -> (features N × 128, logits N × K). Input: [log|S| / 8, IF] of a fixed STFT, 2 × T × F,
    averaged over groups of 4 frames; three conv(3×3)–LeakyReLU–maxpool(2) stages, a mean over time (a pitch does
    not move), dense 128 (the features), dense K."""

    def __init__(self, num_classes: int, sample_rate: int = 8000, n_fft: int = 256, hop: int = 64,
                 n_frames: int = 64, width: int = 16):
        super().__init__()
        self.settings = STFTSettings(sample_rate, n_fft, hop, n_frames)
        self.num_classes, self.width = num_classes, width
        self.convs = nn.ModuleList([nn.Conv2d(2, width, 3, padding=1), nn.Conv2d(width, 2 * width, 3, padding=1),
                                    nn.Conv2d(2 * width, 2 * width, 3, padding=1)])
        self.dense = nn.Linear(2 * width * (n_fft // 2 // 8), 128)
        self.out = nn.Linear(128, num_classes)

    def config(self) -> dict:
        s = self.settings
        return {"name": CLASSIFIER, "num_classes": self.num_classes, "sample_rate": s.sample_rate, "n_fft": s.n_fft,
                "hop": s.hop, "n_frames": s.n_frames, "width": self.width}

    def inputs(self, wave: torch.Tensor) -> torch.Tensor:
        S = stft(wave.float(), self.settings)
        return torch.stack([torch.log(S.abs() + 1e-6) / 8.0, instantaneous_frequency(torch.angle(S))], 1)

    def forward(self, wave: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        h = F.avg_pool2d(self.inputs(wave), (4, 1))
        for conv in self.convs:
            h = F.max_pool2d(F.leaky_relu(conv(h), 0.2), 2)
        feats = self.dense(h.mean(2).flatten(1))  # the "pre-activation" features that FID reads
        return feats, self.out(F.leaky_relu(feats, 0.2))


def classifier_paths(assets_dir: Optional[str] = None):
    base = os.path.join(assets_dir or ASSETS_DIR, CLASSIFIER)
    return base + ".safetensors", base + ".json"


def load_pitch_classifier(assets_dir: Optional[str] = None, device="cpu") -> PitchClassifier:
    from .evaluator import EvaluatorError
    from ..utils.safeio import read_tensors

    weights, card = classifier_paths(assets_dir)
    if not os.path.isfile(weights) or not os.path.isfile(card):
        raise EvaluatorError(f"the pitch classifier {weights} is missing: reinstall ganforge, or rebuild it with "
                             "`python scripts/train_pitch_classifier.py`")
    with open(card) as f:
        arch = json.load(f)["architecture"]
    net = PitchClassifier(arch["num_classes"], arch["sample_rate"], arch["n_fft"], arch["hop"], arch["n_frames"],
                          arch["width"])
    net.load_state_dict(read_tensors(weights))
    return net.eval().to(device)


@torch.no_grad()
def classify(net: PitchClassifier, waves: torch.Tensor, batch_size: int = 256):
    """(features, logits) of N waveforms, batch by batch."""
    out = [net(waves[i:i + batch_size].to(next(net.parameters()).device)) for i in range(0, len(waves), batch_size)]
    return torch.cat([f for f, _ in out]).cpu(), torch.cat([lg for _, lg in out]).cpu()


def pitch_accuracy(logits: torch.Tensor, pitch: torch.Tensor) -> float:
    """PA: fraction of notes classified as the pitch they were generated (or recorded) with."""
    return float((logits.argmax(1) == pitch.to(logits.device)).double().mean())


def pitch_entropy(logits: torch.Tensor) -> float:
    """PE: mean entropy (nats) of the per-note pitch distribution p(y|x)."""
    logp = F.log_softmax(logits.double(), 1)
    return float(-(logp.exp() * logp).sum(1).mean())


def kmeans(x: torch.Tensor, k: int, seed: int = 0, iters: int = 50) -> torch.Tensor:
    """K × D centres of N × D points: k-means++ seeding, then Lloyd iterations (float64, deterministic)."""
    x = x.double()
    g = torch.Generator().manual_seed(seed)
    centres = [x[torch.randint(len(x), (1,), generator=g)]]
    d2 = torch.cdist(x, centres[0]).squeeze(1) ** 2
    for _ in range(1, k):
        nxt = x[torch.multinomial(d2 / d2.sum(), 1, generator=g)] if d2.sum() > 0 else \
            x[torch.randint(len(x), (1,), generator=g)]
        centres.append(nxt)
        d2 = torch.minimum(d2, torch.cdist(x, nxt).squeeze(1) ** 2)
    c = torch.cat(centres)
    for _ in range(iters):
        assign = torch.cdist(x, c).argmin(1)
        new = torch.zeros_like(c).index_add_(0, assign, x)
        counts = torch.bincount(assign, minlength=k).double()
        new = torch.where(counts[:, None] > 0, new / counts.clamp_min(1)[:, None], c)
        if torch.allclose(new, c):
            break
        c = new
    return c


def ndb(real: torch.Tensor, fake: torch.Tensor, k: int = 50, alpha: float = 0.05, seed: int = 0,
        centres: Optional[torch.Tensor] = None) -> Dict[str, float]:
    """NDB of N × D real and M × D generated points: {"ndb": different bins, "ndb_k": ndb / K}."""
    c = centres if centres is not None else kmeans(real, k, seed)
    k = len(c)
    p = torch.bincount(torch.cdist(real.double(), c).argmin(1), minlength=k).double() / len(real)
    q = torch.bincount(torch.cdist(fake.double(), c).argmin(1), minlength=k).double() / len(fake)
    pooled = (p * len(real) + q * len(fake)) / (len(real) + len(fake))
    se = torch.sqrt(pooled * (1 - pooled) * (1 / len(real) + 1 / len(fake)))
    z = torch.where(se > 0, (p - q) / se.clamp_min(1e-12), torch.zeros_like(se))
    crit = math.sqrt(2) * torch.erfinv(torch.tensor(1 - alpha, dtype=torch.float64))  # two-sided
    different = int((z.abs() > crit).sum())
    return {"ndb": float(different), "ndb_k": different / k}


def ndb_points(waves: torch.Tensor, settings: STFTSettings) -> torch.Tensor:
    """What NDB clusters: log-magnitude spectrograms pooled 4 × 4 (64 × 128 -> 16 × 32), flattened."""
    S = torch.log(stft(waves.float(), settings).abs() + 1e-6)
    return F.avg_pool2d(S[:, None], 4).flatten(1)
