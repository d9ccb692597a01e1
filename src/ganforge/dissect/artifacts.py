"""Artifact units and their repair (Bau et al., "GAN Dissection", ICLR 2019, arXiv 1811.10597, §4.3, Fig. 8):
some units cause visible artifacts; switching them off lowers FID (ProGAN LSUN bedrooms, 20 of 512 units of
layer4), while switching off 20 random units leaves it about unchanged.

The procedure, step by step:

1. **Rank units by per-unit FID** (:func:`rank_artifact_units`, :func:`unit_fid`): for each unit, the FID of the
   `top` of n samples where the unit's maximum activation is highest, against the real data (the paper's
   "FID of each unit's highest-activating images"; netdissect's ``fidhistogram`` notebook). High = the images
   where the unit fires most look least like real ones. A null level (the FID of random subsets of the same
   size) says whether a unit's FID is above chance at all. :func:`unit_score_effects` is an alternative ranking
   by any image score (e.g. :func:`discriminator_fake_score`).
2. **Ablate the worst units in their artifact regions** (:func:`repair_fid` with ``where="active"``): each flagged
   unit is zeroed only at the featuremap cells where it exceeds its threshold (the regions its dissection
   outlines), so it keeps drawing what it draws elsewhere (:func:`~.intervene.edit_where_active`);
   ``where="everywhere"`` zeroes the whole channel instead.
3. **Compare**: FID of the whole set and of the top-artifact subset (the samples where the flagged units fire
   most, relative to their thresholds) with no ablation, with the flagged units ablated, and with as many random
   other units ablated the same way; plus the FID of a second unedited sample set, the noise level of the
   comparison.
"""
from __future__ import annotations

import contextlib
import logging
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from ..metrics.features import generator_source
from ..metrics.fid import frechet_distance, gaussian_stats
from .hooks import capture, check_units, edit, generator_module, in_eval_mode, resolve_layer
from .intervene import _per_unit, edit_where_active, unit_quantile_values

log = logging.getLogger(__name__)

WHERE = ("active", "everywhere")


def discriminator_fake_score(discriminator) -> Callable[[torch.Tensor], torch.Tensor]:
    """images -> N scores softplus(−D(x)) = −log σ(D(x)): high when D thinks the image is fake."""
    discriminator.eval()

    def score(x: torch.Tensor) -> torch.Tensor:
        return F.softplus(-discriminator(x).float().reshape(len(x)))

    return score


def _ablation(module, layer: str, units: Sequence[int], where: str, thresholds=None, grow: int = 0,
              record: Optional[dict] = None):
    """The context manager that ablates `units` everywhere or only where each is above its threshold."""
    if where not in WHERE:
        raise ConfigError(f"where must be one of {', '.join(WHERE)}, got {where!r}")
    if where == "everywhere":
        return edit(module, layer, list(units), value=0.0)
    if thresholds is None:
        raise ConfigError("ablating where units are active needs their thresholds")
    return edit_where_active(module, layer, list(units), thresholds, value=0.0, grow=grow, record=record)


@in_eval_mode
@torch.no_grad()
def unit_score_effects(generator, layer: str, score_fn: Callable[[torch.Tensor], torch.Tensor], *, n: int = 500,
                       seed: int = 7, batch_size: int = 100, thresholds=None) -> torch.Tensor:
    """U values: mean score of the samples minus mean score with unit u ablated (zeroed everywhere, or only where
    it exceeds its threshold when `thresholds` are given). Positive: the unit raises the artifact score; the
    largest are the artifact candidates."""
    module = generator_module(generator)
    resolve_layer(module, layer)
    src = generator_source(module, seed=seed)
    with capture(module, layer) as out:
        src(0, 1)
    U = out["r"].shape[1]
    where = "everywhere" if thresholds is None else "active"
    t = None if thresholds is None else _per_unit(thresholds, range(U), U, "thresholds")
    effects = torch.zeros(U, dtype=torch.float64)
    for start in range(0, n, batch_size):
        m = min(batch_size, n - start)
        base = score_fn(src(start, m)).double().sum()
        for u in range(U):
            with _ablation(module, layer, [u], where, None if t is None else t[u]):
                effects[u] += base - score_fn(src(start, m)).double().sum()
    return (effects / n).float()


@torch.no_grad()
def _features(module, extractor, seed: int, n: int, batch_size: int, layer: Optional[str] = None,
              editing: Optional[Callable[[], contextlib.AbstractContextManager]] = None,
              image_score: Optional[Callable[[torch.Tensor], torch.Tensor]] = None):
    """(N×D features, N×U per-image maxima of the layer as the rest of the generator sees it or None, N image
    scores or None) of n samples of `seed`, each batch made inside ``editing()`` when given."""
    src = generator_source(module, seed=seed)
    feats, maxima, scores = [], [], []
    for start in range(0, n, batch_size):
        m = min(batch_size, n - start)
        with (editing() if editing else contextlib.nullcontext()):
            if layer is None:
                x = src(start, m)
            else:
                with capture(module, layer) as out:  # registered last: sees the edited featuremap
                    x = src(start, m)
                maxima.append(out["r"].amax(dim=(2, 3)).float().cpu())
        feats.append(extractor.features(x).double().cpu())
        if image_score is not None:
            scores.append(image_score(x).double().cpu().reshape(m))
    return (torch.cat(feats), torch.cat(maxima) if maxima else None,
            torch.cat(scores) if scores else None)


def fid_to(real_stats, features: torch.Tensor) -> float:
    mu, sigma = gaussian_stats(features)
    return float(frechet_distance(real_stats[0], real_stats[1], mu, sigma))


def _unit_fids(feats: torch.Tensor, maxima: torch.Tensor, real_stats, top: int) -> torch.Tensor:
    if not 2 <= top <= len(feats):
        raise ConfigError(f"top must lie in 2..{len(feats)} (the samples drawn), got {top}")
    idx = maxima.topk(top, dim=0).indices  # top×U
    return torch.tensor([fid_to(real_stats, feats[idx[:, u]]) for u in range(maxima.shape[1])])


@in_eval_mode
def unit_fid(generator, layer: str, extractor, real_stats, *, n: int = 2000, top: int = 200, seed: int = 8,
             batch_size: int = 250) -> torch.Tensor:
    """U per-unit FIDs: FID (with `extractor`'s features, against `real_stats` = (μ, Σ)) of the `top` of n
    samples where each unit's maximum activation is highest (the paper's per-unit FID; high = artifact)."""
    module = generator_module(generator)
    feats, maxima, _ = _features(module, extractor, seed, n, batch_size, layer)
    return _unit_fids(feats, maxima, real_stats, top)


@in_eval_mode
def rank_artifact_units(generator, layer: str, extractor, real_stats, *, n: int = 2000, top: int = 200,
                        seed: int = 8, batch_size: int = 250, null_draws: int = 20) -> dict:
    """Step 1 of the procedure: per-unit FIDs (:func:`unit_fid`), the units ordered worst first, and the null
    level: mean and standard deviation of the FID of `null_draws` random `top`-subsets of the same n samples
    (a unit whose FID is within a few standard deviations of it is not an artifact unit by this measure)."""
    module = generator_module(generator)
    feats, maxima, _ = _features(module, extractor, seed, n, batch_size, layer)
    fids = _unit_fids(feats, maxima, real_stats, top)
    gen = torch.Generator().manual_seed(seed)
    null = torch.tensor([fid_to(real_stats, feats[torch.randperm(n, generator=gen)[:top]])
                         for _ in range(null_draws)])
    return {"fid": fids, "order": fids.argsort(descending=True).tolist(), "null_mean": float(null.mean()),
            "null_std": float(null.std()) if null_draws > 1 else 0.0, "top": top, "n": n, "layer": layer}


def artifact_strength(maxima: torch.Tensor, units: Sequence[int], thresholds: torch.Tensor) -> torch.Tensor:
    """N: how far above its threshold the most active of `units` fires in each image (max over units of the
    per-image maximum divided by the unit's threshold; thresholds ≤ 0 count as 1)."""
    idx = torch.as_tensor(list(units), dtype=torch.long)
    t = thresholds[idx].clamp_min(1e-8)
    return (maxima[:, idx] / t).amax(dim=1)


@in_eval_mode
def repair_fid(generator, layer: str, units: Sequence[int], extractor, real_stats, *, where: str = "active",
               thresholds=None, q: float = 0.99, grow: int = 0, n: int = 2000, seed: int = 9,
               batch_size: int = 250, random_sets: int = 3, top_fraction: float = 0.1,
               image_score: Optional[Callable[[torch.Tensor], torch.Tensor]] = None) -> dict:
    """Steps 2-3 of the procedure: FID of n samples with no ablation, with `units` ablated, and with as many
    random other units ablated the same way (mean and all values over `random_sets` draws).

    where: "active" ablates each unit only where it exceeds its threshold (`thresholds`: a number or one per unit
    of the layer, default each unit's q-quantile over 200 other samples; `grow` cells around); "everywhere" zeroes
    the channels. Also measured: the same three FIDs on the top-artifact subset (the `top_fraction` of the samples
    where the flagged units fire most, relative to their thresholds, in the unedited generator; the same
    latent codes in all three), the share of the units' featuremap cells edited, and ``fid_resample``: the FID
    of n unedited samples of another seed, the noise level of the comparison. image_score: images -> N values
    (e.g. an artifact score); its means over the whole set and the subset are reported the same way
    (``score_*``, ``top_score_*``).
    """
    module = generator_module(generator)
    if where not in WHERE:
        raise ConfigError(f"where must be one of {', '.join(WHERE)}, got {where!r}")
    if not 0 < top_fraction <= 1:
        raise ConfigError(f"top_fraction must lie in (0, 1], got {top_fraction}")
    feats, maxima, scores = _features(module, extractor, seed, n, batch_size, layer, image_score=image_score)
    U = maxima.shape[1]
    check_units(units, U)
    if thresholds is None:
        thresholds = unit_quantile_values(module, layer, q=q, n=200, seed=seed + 1)
    t = _per_unit(thresholds, range(U), U, "thresholds")
    k_top = max(2, round(top_fraction * n))
    subset = artifact_strength(maxima, units, t).topk(k_top).indices if len(units) else torch.arange(k_top)

    def summary(f, sc, share):
        out = {"fid": fid_to(real_stats, f), "top": fid_to(real_stats, f[subset]), "share": share}
        if sc is not None:
            out.update(score=float(sc.mean()), top_score=float(sc[subset].mean()))
        return out

    def measure(unit_set):
        record = {}
        f, _, sc = _features(module, extractor, seed, n, batch_size, layer,
                             lambda: _ablation(module, layer, unit_set, where, t, grow, record), image_score)
        return summary(f, sc, record["cells"] / record["total"] if record.get("total") else 1.0)

    before, after = summary(feats, scores, 0.0), measure(units)
    gen = torch.Generator().manual_seed(seed)
    chosen = set(int(v) for v in units)
    others = torch.tensor([u for u in range(U) if u not in chosen], dtype=torch.long)
    randoms = [measure(others[torch.randperm(len(others), generator=gen)[: len(units)]].tolist())
               for _ in range(random_sets)]
    resample = fid_to(real_stats, _features(module, extractor, seed + 1000, n, batch_size)[0])

    def mean(key):
        return sum(r[key] for r in randoms) / len(randoms) if randoms else float("nan")

    log.info("repair %s (%s): FID %.3f -> %.3f (random %s); top-artifact subset %.3f -> %.3f (random %.3f)", layer,
             where, before["fid"], after["fid"], [round(r["fid"], 3) for r in randoms], before["top"], after["top"],
             mean("top"))
    out = {"fid_before": before["fid"], "fid_after": after["fid"], "fid_random": mean("fid"),
           "fid_random_all": [r["fid"] for r in randoms], "top_before": before["top"], "top_after": after["top"],
           "top_random": mean("top"), "top_n": k_top, "edited_share": after["share"],
           "random_edited_share": mean("share"), "fid_resample": resample, "where": where,
           "units": [int(u) for u in units], "n": n, "layer": layer, "thresholds": [float(v) for v in t]}
    if image_score is not None:
        for key in ("score", "top_score"):
            out.update({f"{key}_before": before[key], f"{key}_after": after[key], f"{key}_random": mean(key)})
    return out
