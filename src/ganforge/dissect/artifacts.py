"""Artifact units and their repair (Bau et al., "GAN Dissection", ICLR 2019, arXiv 1811.10597, §4.3, Fig. 8):
some units cause visible artifacts; zeroing them everywhere in the layer lowers FID (ProGAN LSUN bedrooms,
20 units of layer4), while zeroing 20 random units leaves it about unchanged.

The paper found the units by eye and by a per-unit FID (FID of each unit's highest-activating images). Two
rankings are offered, both "how much does the unit raise an artifact score":

* :func:`unit_score_effects` — for any image score (e.g. :func:`discriminator_fake_score`, the discriminator's
  belief that an image is fake, softplus(−D(x))): score(G) − score(G with unit u ablated), per unit;
* :func:`unit_fid` — the paper's per-unit FID: FID of the `top` samples where the unit's maximum activation is
  highest, against the real statistics.

:func:`repair_fid` measures FID before and after ablating a unit set, with a random-set baseline.
"""
from __future__ import annotations

import logging
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F

from ..metrics.features import generator_source
from ..metrics.fid import frechet_distance, gaussian_stats
from .hooks import capture, check_units, edit, generator_module, in_eval_mode, resolve_layer

log = logging.getLogger(__name__)


def discriminator_fake_score(discriminator) -> Callable[[torch.Tensor], torch.Tensor]:
    """images -> N scores softplus(−D(x)) = −log σ(D(x)): high when D thinks the image is fake."""
    discriminator.eval()

    def score(x: torch.Tensor) -> torch.Tensor:
        return F.softplus(-discriminator(x).float().reshape(len(x)))

    return score


@in_eval_mode
@torch.no_grad()
def unit_score_effects(generator, layer: str, score_fn: Callable[[torch.Tensor], torch.Tensor], *, n: int = 500,
                       seed: int = 7, batch_size: int = 100) -> torch.Tensor:
    """U values: mean score of the samples minus mean score with unit u ablated (zeroed everywhere).
    Positive: the unit raises the artifact score; the largest are the artifact candidates."""
    module = generator_module(generator)
    resolve_layer(module, layer)
    src = generator_source(module, seed=seed)
    with capture(module, layer) as out:
        src(0, 1)
    U = out["r"].shape[1]
    effects = torch.zeros(U, dtype=torch.float64)
    for start in range(0, n, batch_size):
        m = min(batch_size, n - start)
        base = score_fn(src(start, m)).double().sum()
        for u in range(U):
            with edit(module, layer, [u], value=0.0):
                effects[u] += base - score_fn(src(start, m)).double().sum()
    return (effects / n).float()


@torch.no_grad()
def _features(module, extractor, seed: int, n: int, batch_size: int, layer: Optional[str] = None,
              units: Sequence[int] = ()):
    """(N×D features, N×U per-image max of the layer or None) of n samples, with `units` ablated."""
    src = generator_source(module, seed=seed)
    feats, maxima = [], []
    for start in range(0, n, batch_size):
        m = min(batch_size, n - start)
        if layer is None:
            feats.append(extractor.features(src(start, m)).double().cpu())
            continue
        with edit(module, layer, list(units), value=0.0), capture(module, layer) as out:
            x = src(start, m)
        feats.append(extractor.features(x).double().cpu())
        maxima.append(out["r"].amax(dim=(2, 3)).float().cpu())
    return torch.cat(feats), (torch.cat(maxima) if maxima else None)


def fid_to(real_stats, features: torch.Tensor) -> float:
    mu, sigma = gaussian_stats(features)
    return float(frechet_distance(real_stats[0], real_stats[1], mu, sigma))


@in_eval_mode
def unit_fid(generator, layer: str, extractor, real_stats, *, n: int = 2000, top: int = 200, seed: int = 8,
             batch_size: int = 250) -> torch.Tensor:
    """U per-unit FIDs: FID (with `extractor`'s features, against `real_stats` = (μ, Σ)) of the `top` of n
    samples where each unit's maximum activation is highest (the paper's per-unit FID; high = artifact)."""
    module = generator_module(generator)
    feats, maxima = _features(module, extractor, seed, n, batch_size, layer)
    idx = maxima.topk(top, dim=0).indices  # top×U
    return torch.tensor([fid_to(real_stats, feats[idx[:, u]]) for u in range(maxima.shape[1])])


@in_eval_mode
def repair_fid(generator, layer: str, units: Sequence[int], extractor, real_stats, *, n: int = 2000,
               seed: int = 9, batch_size: int = 250, random_sets: int = 3) -> dict:
    """FID of n samples before and after ablating `units` everywhere in `layer`, and after ablating as many
    random units (mean and all values over `random_sets` draws): the paper's artifact-repair table."""
    module = generator_module(generator)
    feats, maxima = _features(module, extractor, seed, n, batch_size, layer)
    U = maxima.shape[1]
    check_units(units, U)
    before = fid_to(real_stats, feats)
    after = fid_to(real_stats, _features(module, extractor, seed, n, batch_size, layer, units)[0])
    gen = torch.Generator().manual_seed(seed)
    randoms = []
    for _ in range(random_sets):
        pick = torch.randperm(U, generator=gen)[: len(units)].tolist()
        randoms.append(fid_to(real_stats, _features(module, extractor, seed, n, batch_size, layer, pick)[0]))
    log.info("repair %s: FID %.3f -> %.3f (random %s)", layer, before, after, randoms)
    return {"fid_before": before, "fid_after": after, "fid_random": sum(randoms) / max(len(randoms), 1),
            "fid_random_all": randoms, "units": [int(u) for u in units], "n": n, "layer": layer}
