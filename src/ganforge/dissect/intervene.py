"""Interventions on units: ablation, insertion, their average causal effect, and the learned causal units of GAN
Dissection (Bau et al., ICLR 2019, arXiv 1811.10597, §3.2 and §4.2):

    ablated   x_a = f(0, r_Ū)         inserted   x_i = f(k, r_Ū)          (units U, at locations P)
    ACE       δ_{U→c} = E_{z,P}[s_c(x_i)] − E_{z,P}[s_c(x_a)]

s_c(x) is the fraction of pixels the segmenter labels c. The insertion constant k_u is netdissect's default
``weighted_mean_present_feature``: the unit's mean activation over all featuremap cells, each weighted by the
share of class-c pixels under it. The continuous relaxation learns a per-unit strength α ∈ [0, 1]^U,

    x'_a = f((1 − α)⊙r_U, r_Ū),   x'_i = f(α⊙k + (1 − α)⊙r_U, r_Ū),
    maximise  E[s_c(x'_i)] − E[s_c(x'_a)] − λ·Σα²        (the L2 penalty keeps the causal set small),

with the soft class probability of the segmenter, Adam at lr 0.01 and α clamped to [0, 1] after each step, as
in netdissect's ``aceoptimize``; the causal units are the top-n by α.

:func:`edit_where_active` restricts an edit to where the edited units fire: each unit is replaced only at the
featuremap cells (of each image) where its own activation exceeds its threshold — the artifact regions of §4.3,
where a unit that draws an artifact is switched off while it keeps drawing whatever it draws elsewhere.
"""
from __future__ import annotations

import contextlib
import logging
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from ..metrics.features import generator_source
from .quantile import RunningQuantile
from .hooks import Region, capture, check_units, edit, generator_module, in_eval_mode, region_mask, resolve_layer
from .segmenter import class_probs, load_segmenter, segment

log = logging.getLogger(__name__)

MODES = ("ablate", "insert")


def _segmenter(segmenter):
    return load_segmenter(segmenter) if isinstance(segmenter, str) else segmenter


def _class_index(segmenter, cls: Union[int, str]) -> int:
    names = list(segmenter.class_names)
    if isinstance(cls, str):
        if cls not in names:
            raise ConfigError(f"unknown class {cls!r}: the segmenter's classes are {', '.join(names)}")
        return names.index(cls)
    if not 0 <= int(cls) < len(names):
        raise ConfigError(f"class index {cls} is outside 0..{len(names) - 1}")
    return int(cls)


def _image_size(module):
    shape = getattr(module, "out_shape", ())
    if len(shape) != 3:
        raise ConfigError(f"{type(module).__name__} does not produce images (out_shape {shape})")
    return tuple(shape[-2:])


@in_eval_mode
def num_units(generator, layer: str) -> int:
    """Units (channels) of `layer`, from one forward pass on a single latent code."""
    module = generator_module(generator)
    src = generator_source(module, seed=0)
    with capture(module, layer) as out, torch.no_grad():
        src(0, 1)
    return int(out["r"].shape[1])


@in_eval_mode
@torch.no_grad()
def insertion_values(generator, segmenter, layer: str, cls, n: int = 500, seed: int = 3,
                     batch_size: int = 100) -> torch.Tensor:
    """k_u = Σ r_u(cell)·cov_c(cell) / Σ cov_c(cell) over n samples: each unit's mean activation weighted by the
    share of class-c pixels under each featuremap cell (netdissect's weighted_mean_present_feature)."""
    module, segmenter = generator_module(generator), _segmenter(segmenter)
    c = _class_index(segmenter, cls)
    src = generator_source(module, seed=seed)
    num = den = None
    for start in range(0, n, batch_size):
        with capture(module, layer) as out:
            x = src(start, min(batch_size, n - start))
        r = out["r"].float().cpu()
        cov = F.adaptive_avg_pool2d((segment(segmenter, x) == c).float().cpu()[:, None], r.shape[-2:])
        num = (r * cov).sum(dim=(0, 2, 3)) + (0 if num is None else num)
        den = cov.sum() + (0 if den is None else den)
    if float(den) == 0:
        raise ConfigError(f"class {segmenter.class_names[c]!r} never appears in {n} samples: no insertion value")
    return num / den


@in_eval_mode
@torch.no_grad()
def unit_quantile_values(generator, layer: str, q: float = 0.99, n: int = 200, seed: int = 3,
                         batch_size: int = 100) -> torch.Tensor:
    """Each unit's q-quantile activation over n samples: GANPaint's "draw" value (q99) when no class is named."""
    module = generator_module(generator)
    sketch = RunningQuantile(1024, seed=seed)
    src = generator_source(module, seed=seed)
    for start in range(0, n, batch_size):
        with capture(module, layer) as out:
            src(start, min(batch_size, n - start))
        r = out["r"].float().cpu()
        sketch.add(r.permute(0, 2, 3, 1).reshape(-1, r.shape[1]))
    return sketch.quantiles([q])[:, 0]


def _values(mode, units, value):
    if mode not in MODES:
        raise ConfigError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "ablate":
        return 0.0
    if value is None:
        raise ConfigError("insertion needs a value per unit: pass value=insertion_values(...) or a number")
    v = torch.as_tensor(value, dtype=torch.float32)
    return v[torch.as_tensor(list(units))] if v.dim() == 1 and len(v) != len(units) else v


def _per_unit(values, units: Sequence[int], num_units: int, name: str) -> torch.Tensor:
    """A number, one value per listed unit, or one per unit of the layer (`num_units`) -> one per listed unit."""
    v = torch.as_tensor(values, dtype=torch.float32).reshape(-1)
    if v.numel() == 1:
        return v.expand(len(units)).clone()
    if v.numel() == len(units):
        return v.clone()
    if v.numel() == num_units:
        return v[torch.as_tensor(list(units), dtype=torch.long)]
    raise ConfigError(f"{name} must be a number, one value per listed unit ({len(units)}) or one per unit of the "
                      f"layer ({num_units}), got {v.numel()} values")


def active_mask(r: torch.Tensor, thresholds: torch.Tensor, grow: int = 0) -> torch.Tensor:
    """N×K×h×w boolean: where each of the K featuremaps r (N×K×h×w) exceeds its threshold (K values), grown by
    `grow` cells in every direction (a (2·grow + 1)² max-pool), so that the edges of a region go with it."""
    t = thresholds.to(r.device, r.dtype).reshape(1, -1, 1, 1)
    mask = r > t
    if grow > 0:
        mask = F.max_pool2d(mask.float(), 2 * grow + 1, stride=1, padding=grow) > 0
    return mask


@contextlib.contextmanager
def edit_where_active(generator, layer: str, units: Sequence[int], thresholds, value=0.0, grow: int = 0,
                      record: Optional[dict] = None):
    """Within the block, each listed unit is set to `value` only at the featuremap cells where its own activation
    (in that image) exceeds its threshold; elsewhere, and for every other unit, the featuremap is untouched.

    thresholds, value: a number, one per listed unit, or one per unit of the layer (e.g. a dissection's
    ``thresholds`` or :func:`unit_quantile_values`). grow: also edit this many cells around each active cell.
    record: a dict that receives ``cells`` (featuremap cells edited, summed over units) and ``total`` (cells of the
    listed units seen), accumulated over the forward passes in the block.
    """
    module = resolve_layer(generator, layer)
    units_t = torch.as_tensor(list(units), dtype=torch.long).reshape(-1)
    if grow < 0:
        raise ConfigError(f"grow must be ≥ 0 cells, got {grow}")
    if record is not None:
        record.setdefault("cells", 0)
        record.setdefault("total", 0)
    per_unit = {}

    def hook(_module, _inputs, output):
        if not per_unit:  # checked against the layer's width on the first pass
            U = output.shape[1]
            check_units(units_t, U)
            per_unit.update(t=_per_unit(thresholds, units_t.tolist(), U, "thresholds"),
                            v=_per_unit(value, units_t.tolist(), U, "value"))
        if len(units_t) == 0:
            return output
        idx = units_t.to(output.device)
        r = output[:, idx]
        mask = active_mask(r, per_unit["t"], grow)
        if record is not None:
            record["cells"] += int(mask.sum())
            record["total"] += mask.numel()
        out = output.clone()
        out[:, idx] = torch.where(mask, per_unit["v"].to(r.device, r.dtype).reshape(1, -1, 1, 1).expand_as(r), r)
        return out

    handle = module.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


@in_eval_mode
@torch.no_grad()
def intervene(generator, layer: str, units: Sequence[int], mode: str = "ablate", *, value=None,
              region: Region = None, above=None, n: int = 8, seed: int = 0, z: Optional[torch.Tensor] = None):
    """(before, after): n samples (or G(z)) without and with the intervention, N×C×H×W in [-1, 1].

    mode "ablate" sets the units to 0; "insert" sets them to `value` (a number, one per listed unit, or one per
    unit of the layer, e.g. :func:`insertion_values`). region: None (everywhere), a pixel box (x0, y0, x1, y1)
    or an H×W boolean mask. above: per-unit thresholds (see :func:`edit_where_active`): edit each unit only where
    it exceeds its threshold (the artifact regions of §4.3); not combined with `region`.
    """
    module = generator_module(generator)
    resolve_layer(module, layer)
    check_units(units, num_units(module, layer))
    v = _values(mode, units, value)
    if above is not None and region is not None:
        raise ConfigError("give a region or per-unit thresholds (above), not both")
    if above is not None:
        _per_unit(above, units, num_units(module, layer), "thresholds")  # validates before any work
    size = _image_size(module) if region is not None else None
    if region is not None:
        region_mask(region, size, size)  # validates the region before any work
    if z is None:
        src = generator_source(module, seed=seed)
        z, y = src.latents(0, n)
    else:
        y = None
    run = (lambda: module(z)) if y is None else (lambda: module(z, y))
    before = run()
    editing = (edit_where_active(module, layer, list(units), above, value=v) if above is not None
               else edit(module, layer, list(units), value=v, region=region, image_size=size))
    with editing:
        after = run()
    return before, after


@in_eval_mode
@torch.no_grad()
def ace(generator, segmenter, layer: str, units: Sequence[int], cls, *, value=None, region: Region = None,
        n: int = 500, seed: int = 4, batch_size: int = 100) -> dict:
    """Average causal effect of the unit set on class `cls`, measured with the segmenter's hard labels.

    Returns the class's pixel fraction in the original, ablated and inserted images (over the whole image, and
    inside / outside `region` when one is given), ``ace`` = inserted − ablated, ``removed`` = the fraction of
    the class's pixels that ablation removes, 1 − ablated/original (the paper's Fig. 6 measure) and
    ``insert_gain`` = inserted − original. `value` defaults to :func:`insertion_values` of the class.
    """
    module, segmenter = generator_module(generator), _segmenter(segmenter)
    c = _class_index(segmenter, cls)
    check_units(units, num_units(module, layer))
    if value is None:
        value = insertion_values(module, segmenter, layer, c)
    v_ins = _values("insert", units, value)
    size = _image_size(module)
    inside = None
    if region is not None:
        inside = region_mask(region, size, size).bool() if not isinstance(region, torch.Tensor) else region.bool()
    sums = {k: torch.zeros(3, dtype=torch.float64) for k in ("original", "ablated", "inserted")}
    src = generator_source(module, seed=seed)
    count = 0
    for start in range(0, n, batch_size):
        m = min(batch_size, n - start)
        runs = {"original": src(start, m)}
        with edit(module, layer, units, value=0.0, region=region, image_size=size):
            runs["ablated"] = src(start, m)
        with edit(module, layer, units, value=v_ins, region=region, image_size=size):
            runs["inserted"] = src(start, m)
        for k, x in runs.items():
            s = (segment(segmenter, x) == c).double().cpu()
            parts = [s.mean(dim=(1, 2)).sum()]
            if inside is not None:
                parts += [s[:, inside].mean(1).sum(), s[:, ~inside].mean(1).sum() if (~inside).any() else 0.0]
            else:
                parts += [0.0, 0.0]
            sums[k] += torch.tensor([float(p) for p in parts], dtype=torch.float64)
        count += m
    frac = {k: (v / count).tolist() for k, v in sums.items()}
    out = {k: frac[k][0] for k in frac}
    out["ace"] = out["inserted"] - out["ablated"]
    out["removed"] = 1 - out["ablated"] / out["original"] if out["original"] > 0 else float("nan")
    out["insert_gain"] = out["inserted"] - out["original"]
    if inside is not None:
        for part, j in (("inside", 1), ("outside", 2)):
            out[part] = {k: frac[k][j] for k in frac}
            out[part]["ace"] = frac["inserted"][j] - frac["ablated"][j]
            out[part]["insert_gain"] = frac["inserted"][j] - frac["original"][j]
    out.update(n=count, units=[int(u) for u in units], cls=segmenter.class_names[c])
    return out


@in_eval_mode
@torch.no_grad()
def class_fractions(generator, segmenter, layer: Optional[str] = None, units: Sequence[int] = (), *, value=0.0,
                    region: Region = None, n: int = 500, seed: int = 4, batch_size: int = 100) -> torch.Tensor:
    """C-vector: the share of pixels the segmenter gives each class, over n samples, with `units` of `layer`
    set to `value` (0: ablated) in `region` (no units: the unedited generator). What "ablating the top units of
    a class removes most of its pixels while the other classes change little" is measured with."""
    module, segmenter = generator_module(generator), _segmenter(segmenter)
    C = len(segmenter.class_names)
    src = generator_source(module, seed=seed)
    size = _image_size(module)
    counts = torch.zeros(C, dtype=torch.float64)
    pixels = 0
    for start in range(0, n, batch_size):
        m = min(batch_size, n - start)
        if not len(units):
            labels = segment(segmenter, src(start, m))
        else:
            with edit(module, layer, list(units), value=value, region=region, image_size=size):
                labels = segment(segmenter, src(start, m))
        counts += torch.bincount(labels.reshape(-1).cpu(), minlength=C).double()
        pixels += labels.numel()
    return (counts / pixels).float()


@in_eval_mode
@torch.no_grad()
def rank_units_by_ace(generator, segmenter, layer: str, cls, *, value=None, n: int = 200, seed: int = 5,
                      batch_size: int = 100) -> torch.Tensor:
    """U per-unit ACEs of class `cls` (each unit alone inserted everywhere minus ablated everywhere); sort them
    descending for the "<class>-ace" ranking."""
    module, segmenter = generator_module(generator), _segmenter(segmenter)
    c = _class_index(segmenter, cls)
    U = num_units(module, layer)
    value = insertion_values(module, segmenter, layer, c) if value is None else torch.as_tensor(value).expand(U)
    src = generator_source(module, seed=seed)
    scores = torch.zeros(U, dtype=torch.float64)
    for start in range(0, n, batch_size):
        m = min(batch_size, n - start)
        for u in range(U):
            frac = []
            for v in (float(value[u]), 0.0):
                with edit(module, layer, [u], value=v):
                    frac.append((segment(segmenter, src(start, m)) == c).double().mean(dim=(1, 2)).sum())
            scores[u] += frac[0] - frac[1]
    return (scores / n).float()


@in_eval_mode
def learn_alpha(generator, segmenter, layer: str, cls, *, value=None, n: int = 400, steps: int = 200,
                batch_size: int = 20, lr: float = 0.01, l2: float = 0.005, seed: int = 6,
                init: Optional[torch.Tensor] = None) -> torch.Tensor:
    """The learned per-unit causal strengths α ∈ [0, 1]^U of §4.2 (see the module docstring).

    Each step draws `batch_size` of `n` fixed samples: the erase term is the class's mean soft probability
    after ablating α⊙r everywhere; the add term is its mean probability inside a random featuremap window
    (half the featuremap's side) after inserting α⊙k + (1 − α)⊙r there. Loss = erase − add + l2·Σα².
    """
    module, segmenter = generator_module(generator), _segmenter(segmenter)
    c = _class_index(segmenter, cls)
    U = num_units(module, layer)
    k = insertion_values(module, segmenter, layer, c) if value is None else torch.as_tensor(value).float().expand(U)
    alpha = (init.clone().float() if init is not None else torch.full((U,), 0.5)).requires_grad_(True)
    opt = torch.optim.Adam([alpha], lr=lr)
    src = generator_source(module, seed=seed)
    z_all, y_all = src.latents(0, n)
    gen = torch.Generator().manual_seed(seed)
    size = _image_size(module)
    fh = num_feature_size(module, layer)
    units = list(range(U))
    for step in range(steps):
        idx = torch.randint(0, n, (batch_size,), generator=gen)
        z = z_all[idx]
        y = None if y_all is None else y_all[idx]
        run = (lambda: module(z)) if y is None else (lambda: module(z, y))
        with edit(module, layer, units, value=0.0, alpha=alpha):
            erase = class_probs(segmenter, run(), c).mean()
        cell = _random_window(size, fh, gen)
        with edit(module, layer, units, value=k, alpha=alpha, region=cell, image_size=size):
            add = class_probs(segmenter, run(), c)[:, cell].mean()
        loss = erase - add + l2 * (alpha ** 2).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            alpha.clamp_(0, 1)
        if step % 50 == 0:
            log.info("α step %d: erase %.4f add %.4f |α|₁ %.2f", step, float(erase.detach()), float(add.detach()),
                     float(alpha.detach().sum()))
    return alpha.detach()


def _random_window(size, feature_size, gen: torch.Generator) -> torch.Tensor:
    """An image-size boolean mask of a random window of half the featuremap's side, aligned to its cells."""
    h, w = feature_size
    wh, ww = max(1, h // 2), max(1, w // 2)
    y0 = int(torch.randint(0, h - wh + 1, (1,), generator=gen))
    x0 = int(torch.randint(0, w - ww + 1, (1,), generator=gen))
    cell = torch.zeros(size, dtype=torch.bool)
    py, px = size[0] // h, size[1] // w
    cell[y0 * py:(y0 + wh) * py, x0 * px:(x0 + ww) * px] = True
    return cell


@in_eval_mode
def num_feature_size(generator, layer: str):
    """(h, w) of the layer's featuremap."""
    module = generator_module(generator)
    src = generator_source(module, seed=0)
    with capture(module, layer) as out, torch.no_grad():
        src(0, 1)
    return tuple(out["r"].shape[-2:])
