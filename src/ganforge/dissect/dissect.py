"""Dissection of one generator layer: which units draw which class (Bau et al., "GAN Dissection: Visualizing and
Understanding Generative Adversarial Networks", ICLR 2019, arXiv 1811.10597, §3.1).

For every unit u of the featuremap r = h(z) and every concept c — each class of each segmenter head: the shape
classes, and with the shipped segmenter the object colours too, as the paper counts objects, parts and
materials —

    IoU_{u,c} = E_z |(r↑_u > t_u) ∧ s_c(x)| / E_z |(r↑_u > t_u) ∨ s_c(x)|            (paper Eq. 1)

r↑ is the featuremap upsampled to the segmentation grid (:func:`ganforge.dissect.stats.upsample`, cell-centre
geometry). The threshold t_u is, as in the netdissect code, one level per unit:

* ``threshold="iqr"`` (the paper's GAN default): candidate levels are the unit's quantiles at 1 − f for 100
  top fractions f log-spaced from 0.1% to 100% (from the streaming sketch of :mod:`.quantile` over all
  featuremap cells of the dissection samples; netdissect takes them from upsampled pixels); on a *separate*
  sample set (seed + 1) the level and class maximising the information quality ratio MI/H of (unit on, class)
  are chosen — with netdissect's filters: no 100% level, no level ≤ 0, no class under 0.1% of pixels, no pair
  whose mask and label agree on ≤ 80% of pixels;
* ``threshold=q`` (a float, e.g. 0.99 as classic NetDissect and GANPaint's q99): t_u = the unit's q-quantile;
* ``threshold=tensor``: the given per-unit levels (e.g. to re-measure a dissection on new samples).

The reported IoUs are then counted exactly on the dissection set (seed); a unit's label is its best class (by
IQR for "iqr", by IoU for a quantile), and it is *interpretable* when IoU > 0.05 and IQR > 0.01 (netdissect's
``iou_threshold`` and ``iqr_threshold``). Each unit also keeps its top images by per-image maximum activation.
"""
from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence, Union

import torch

from ..errors import ConfigError
from ..metrics.features import generator_source
from .hooks import capture, generator_module, in_eval_mode, resolve_layer
from .quantile import RunningQuantile
from .segmenter import concept_labels, load_segmenter
from .stats import class_onehot, iou_from_counts, iqr_from_counts, level_histogram, on_counts, upsample

log = logging.getLogger(__name__)

IOU_THRESHOLD = 0.05
IQR_THRESHOLD = 0.01
MIN_LABEL_FRACTION = 1e-3
MIN_AGREEMENT = 0.8
TOP_FRACTIONS = torch.logspace(-3, 0, 100)  # f: the unit is on in the top f of its pixels


@dataclass
class UnitRecord:
    unit: int
    label: str
    iou: float
    iqr: float
    threshold: float
    interpretable: bool
    iou_per_class: List[float]
    top: List[int] = field(default_factory=list)  # sample indices (of the dissection seed), best first
    top_max: List[float] = field(default_factory=list)


@dataclass
class LayerDissection:
    """Everything :func:`dissect` measured on one layer; ``to_json()`` is the report's JSON."""

    layer: str
    num_units: int
    feature_size: List[int]
    class_names: List[str]
    units: List[UnitRecord]
    settings: Dict[str, object]

    @property
    def thresholds(self) -> torch.Tensor:
        return torch.tensor([u.threshold for u in self.units])

    def iou_matrix(self) -> torch.Tensor:
        """U×C IoU of every unit with every class, at the unit's threshold."""
        return torch.tensor([u.iou_per_class for u in self.units])

    def ranking(self, cls: Union[int, str]) -> List[int]:
        """Units sorted by their IoU with class `cls`, best first (netdissect's "<label>-iou" ranking)."""
        c = self.class_index(cls)
        return self.iou_matrix()[:, c].argsort(descending=True).tolist()

    def class_index(self, cls: Union[int, str]) -> int:
        if isinstance(cls, str):
            if cls not in self.class_names:
                raise ConfigError(f"unknown class {cls!r}: the segmenter's classes are {', '.join(self.class_names)}")
            return self.class_names.index(cls)
        if not 0 <= int(cls) < len(self.class_names):
            raise ConfigError(f"class index {cls} is outside 0..{len(self.class_names) - 1}")
        return int(cls)

    def summary(self) -> dict:
        """Share of interpretable units, interpretable units per class, and the best unit and IoU per class."""
        interp = [u for u in self.units if u.interpretable]
        per_class = {c: sum(1 for u in interp if u.label == c) for c in self.class_names}
        m = self.iou_matrix()
        best = {c: {"unit": int(m[:, i].argmax()), "iou": round(float(m[:, i].max()), 4)}
                for i, c in enumerate(self.class_names)}
        return {"layer": self.layer, "units": self.num_units, "interpretable": len(interp),
                "share_interpretable": round(len(interp) / max(self.num_units, 1), 4),
                "interpretable_per_class": per_class, "best_per_class": best}

    def to_json(self) -> dict:
        return {"layer": self.layer, "num_units": self.num_units, "feature_size": self.feature_size,
                "class_names": self.class_names, "settings": self.settings, "summary": self.summary(),
                "units": [asdict(u) for u in self.units]}


def _batches(n: int, batch_size: int):
    for start in range(0, n, batch_size):
        yield start, min(batch_size, n - start)


@torch.no_grad()
def _forward(source, generator, layer: str, segmenter, start: int, count: int):
    """(featuremap N×U×h×w, [(class names, labels N×H×W, first counted class)] per segmenter head) of samples
    start..start+count-1."""
    with capture(generator, layer) as out:
        x = source(start, count)
    return out["r"].float().cpu(), [(names, labels.cpu(), first) for names, labels, first in
                                    concept_labels(segmenter, x)]


def concept_names(heads) -> List[str]:
    """The concepts dissection counts: every head's classes from its first counted class on."""
    return [name for names, _, first in heads for name in names[first:]]


def _histograms(r_up, heads, levels) -> torch.Tensor:
    """U×(K+1)×C level histograms of all heads' counted classes (see stats.level_histogram)."""
    return torch.cat([level_histogram(r_up, labels, levels, len(names))[:, :, first:]
                      for names, labels, first in heads], dim=2)


def _onehots(heads) -> torch.Tensor:
    """N×C×H×W {0, 1} masks of all heads' counted classes."""
    return torch.cat([class_onehot(labels, len(names))[:, first:] for names, labels, first in heads], dim=1)


def _iqr_thresholds(source, generator, layer, segmenter, sketch, n, batch_size):
    """Per-unit level and class maximising IQR on the threshold set (filters: module docstring)."""
    fractions = TOP_FRACTIONS
    levels = sketch.quantiles(1 - fractions.flip(0))  # U×K ascending; column j <-> fraction flipped[j]
    hist, pixels = None, 0
    for start, count in _batches(n, batch_size):
        r, heads = _forward(source, generator, layer, segmenter, start, count)
        h = _histograms(upsample(r, heads[0][1].shape[-2:]), heads, levels)
        hist = h if hist is None else hist + h
        pixels += heads[0][1].numel()
    on = on_counts(hist)  # U×K×C
    act = on.sum(2, keepdim=True)
    label = hist.sum(1)[:, None, :]  # U×1×C (the same for every unit)
    iqr = iqr_from_counts(on, act, label, pixels)
    agreement = (pixels - act - label + 2 * on) / pixels
    keep = (levels[:, :, None] > 0) & (agreement > MIN_AGREEMENT) & (label / pixels >= MIN_LABEL_FRACTION)
    keep &= (fractions.flip(0) < 1)[None, :, None]  # never the 100% level
    iqr = torch.where(keep, iqr, torch.zeros_like(iqr))
    num_concepts = iqr.shape[2]
    flat = iqr.reshape(iqr.shape[0], -1).argmax(1)
    k_best, c_best = flat // num_concepts, flat % num_concepts
    thresholds = levels.gather(1, k_best[:, None])[:, 0]
    # a unit with no admissible level falls back to its top-1% level (the PNAS dissect default)
    none = iqr.reshape(iqr.shape[0], -1).max(1).values <= 0
    thresholds = torch.where(none, sketch.quantiles([0.99])[:, 0], thresholds)
    return thresholds, c_best, none


@in_eval_mode
def dissect(generator, segmenter="shapes", layer: Optional[str] = None, n: int = 1000, *, seed: int = 1,
            threshold: Union[str, float] = "iqr", n_threshold: Optional[int] = None, batch_size: int = 100,
            top_k: int = 8, resolution: int = 1024, device=None) -> LayerDissection:
    """Dissect `layer` (a name from ``generator.feature_layers()``) of a generator over `n` samples.

    generator: a Generator module or a loaded run (``ganforge.load``); segmenter: a shipped segmenter name or a
    module with ``class_names`` mapping images to N×K×H×W logits. Samples are fixed by `seed` (the thresholds'
    separate set by seed + 1, `n_threshold` samples, default n). Returns a :class:`LayerDissection`.
    """
    module = generator_module(generator)
    if layer is None:
        raise ConfigError(f"name a layer: this generator's dissectable layers are "
                          f"{', '.join(module.feature_layers())}")
    resolve_layer(module, layer)
    if n < 1 or batch_size < 1 or top_k < 0:
        raise ConfigError(f"need n ≥ 1, batch_size ≥ 1 and top_k ≥ 0, got {n}, {batch_size}, {top_k}")
    fixed = isinstance(threshold, torch.Tensor)
    if not fixed and threshold != "iqr" and not (isinstance(threshold, (int, float)) and 0 < float(threshold) < 1):
        raise ConfigError(f"threshold must be 'iqr', a quantile in (0, 1) or a tensor of per-unit levels, got "
                          f"{threshold!r}")
    if isinstance(segmenter, str):
        segmenter = load_segmenter(segmenter, device=device or "cpu")
    source = generator_source(module, seed=seed, device=device)
    sketch = RunningQuantile(resolution, seed=seed)
    maxima, fsize = [], None
    for start, count in _batches(n, batch_size):
        with capture(module, layer) as out, torch.no_grad():
            source(start, count)
        r = out["r"].float().cpu()
        fsize = list(r.shape[-2:])
        sketch.add(r.permute(0, 2, 3, 1).reshape(-1, r.shape[1]))
        maxima.append(r.amax(dim=(2, 3)))
    maxima = torch.cat(maxima)  # N×U
    U = maxima.shape[1]
    if fixed:
        if threshold.numel() != U:
            raise ConfigError(f"{threshold.numel()} fixed thresholds for a layer of {U} units")
        thresholds, iqr_class, fallback = threshold.float().reshape(U).cpu(), None, None
    elif threshold == "iqr":
        tsource = generator_source(module, seed=seed + 1, device=device)
        thresholds, iqr_class, fallback = _iqr_thresholds(tsource, module, layer, segmenter, sketch,
                                                          n_threshold or n, batch_size)
    else:
        thresholds, iqr_class, fallback = sketch.quantiles([float(threshold)])[:, 0], None, None
    inter = act = label = None
    pixels = 0
    for start, count in _batches(n, batch_size):
        r, heads = _forward(source, module, layer, segmenter, start, count)
        class_names = concept_names(heads)
        on = (upsample(r, heads[0][1].shape[-2:]) > thresholds[None, :, None, None]).double()
        onehot = _onehots(heads).double()
        batch = (torch.einsum("nuhw,nchw->uc", on, onehot), on.sum(dim=(0, 2, 3)), onehot.sum(dim=(0, 2, 3)))
        inter, act, label = batch if inter is None else (inter + batch[0], act + batch[1], label + batch[2])
        pixels += heads[0][1].numel()
    ious = iou_from_counts(inter, act[:, None], label[None, :])
    iqrs = iqr_from_counts(inter, act[:, None], label[None, :], pixels)
    best = iqr_class if iqr_class is not None else ious.argmax(1)
    top_vals, top_idx = maxima.topk(min(top_k, n), dim=0) if top_k else (torch.empty(0, U), torch.empty(0, U))
    units = []
    for u in range(U):
        c = int(best[u])
        iou, iqr = float(ious[u, c]), float(iqrs[u, c])
        units.append(UnitRecord(
            unit=u, label=class_names[c], iou=round(iou, 5), iqr=round(iqr, 5), threshold=float(thresholds[u]),
            interpretable=bool(iou > IOU_THRESHOLD and iqr > IQR_THRESHOLD and not math.isnan(iou)),
            iou_per_class=[round(float(v), 5) for v in ious[u]],
            top=[int(i) for i in top_idx[:, u]], top_max=[round(float(v), 5) for v in top_vals[:, u]]))
    iqr_mode = not fixed and threshold == "iqr"
    settings = {"n": n, "seed": seed, "threshold": "fixed" if fixed else threshold,
                "n_threshold": (n_threshold or n) if iqr_mode else 0, "threshold_seed": seed + 1 if iqr_mode else None,
                "sketch_resolution": resolution, "sketch_rank_error_bound": sketch.rank_error_bound(),
                "iou_threshold": IOU_THRESHOLD, "iqr_threshold": IQR_THRESHOLD, "top_k": top_k,
                "segmenter": getattr(getattr(segmenter, "config", None), "name", type(segmenter).__name__),
                "segmenter_sha256": getattr(segmenter, "weights_sha256", ""),
                "units_without_iqr_level": int(fallback.sum()) if fallback is not None else 0,
                "pixels": pixels}
    log.info("dissected %s: %d of %d units interpretable", layer, sum(u.interpretable for u in units), U)
    return LayerDissection(layer, U, fsize, class_names, units, settings)


def dissect_layers(generator, segmenter="shapes", layers: Optional[Sequence[str]] = None, **kwargs):
    """{layer: LayerDissection} for several layers (default: all of ``feature_layers()``)."""
    module = generator_module(generator)
    if isinstance(segmenter, str):
        segmenter = load_segmenter(segmenter)
    names = list(layers) if layers else list(module.feature_layers())
    return {name: dissect(module, segmenter, name, **kwargs) for name in names}
