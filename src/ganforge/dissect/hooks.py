"""Reading and editing one generator layer: the instrumentation of GAN Dissection.

Bau et al. ("GAN Dissection", ICLR 2019, arXiv 1811.10597, §3) split the generator at a layer, G(z) = f(h(z)),
read the featuremap r = h(z) (dissection) and replace units of it before f runs (intervention). netdissect's
``edit_layer`` hook computes ``r ← r·(1 − a) + v·a`` with a per-unit strength a (broadcast over the featuremap,
times a spatial mask) and a per-unit value v; a = 1, v = 0 is ablation, a = 1, v = k is insertion of the constant k.

Layers are named by the generator itself (``feature_layers()``), so no tool needs per-model code.
"""
from __future__ import annotations

import contextlib
import functools
from typing import Callable, Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..nn.modes import eval_mode

Region = Union[Tuple[int, int, int, int], torch.Tensor, None]


def generator_module(generator) -> nn.Module:
    """The nn.Module of a Generator or of a loaded run (which holds it as ``.generator``)."""
    module = getattr(generator, "generator", generator)
    if not isinstance(module, nn.Module):
        raise ConfigError(f"expected a generator module or a loaded run, got {type(generator).__name__}")
    return module


def in_eval_mode(fn: Callable) -> Callable:
    """Decorator for a tool ``fn(generator, ...)``: the generator (a module or a loaded run) runs in eval mode,
    and every submodule gets its previous mode back afterwards. Dissection measures the network users sample
    from: BatchNorm with its running statistics (batch statistics would make every number depend on the batch
    and update the statistics), StyleGAN with its fixed noise (so that images before and after an edit differ by
    the edit alone, as official StyleGAN fixes the noise for PPL)."""

    @functools.wraps(fn)
    def wrapper(generator, *args, **kwargs):
        with eval_mode(generator_module(generator)):
            return fn(generator, *args, **kwargs)

    return wrapper


def feature_layers(generator) -> Dict[str, nn.Module]:
    module = generator_module(generator)
    layers = module.feature_layers() if hasattr(module, "feature_layers") else {}
    if not layers:
        raise ConfigError(f"{type(module).__name__} names no dissectable layers (its feature_layers() is empty)")
    return layers


def resolve_layer(generator, name: str) -> nn.Module:
    """The module called `name` in the generator's feature_layers(); a clear error listing the valid names."""
    layers = feature_layers(generator)
    if name not in layers:
        raise ConfigError(f"unknown layer {name!r}: this generator's dissectable layers are "
                          f"{', '.join(layers)}")
    return layers[name]


def check_units(units: Sequence[int], num_units: int) -> torch.Tensor:
    """Unit indices as a long tensor; an error for indices outside [0, num_units) or repeated ones."""
    idx = torch.as_tensor(list(units), dtype=torch.long).reshape(-1)
    bad = [int(u) for u in idx if not 0 <= int(u) < num_units]
    if bad:
        raise ConfigError(f"unit indices {bad} are outside this layer's units 0..{num_units - 1}")
    if len(set(idx.tolist())) != len(idx):
        raise ConfigError(f"repeated unit indices in {idx.tolist()}")
    return idx


@contextlib.contextmanager
def capture(generator, layer: str):
    """``with capture(G, "layer2") as out: G(z)`` leaves the layer's output (the featuremap r) in ``out["r"]``."""
    out: Dict[str, torch.Tensor] = {}

    def hook(_module, _inputs, output):
        out["r"] = output

    handle = resolve_layer(generator, layer).register_forward_hook(hook)
    try:
        yield out
    finally:
        handle.remove()


def region_mask(region: Region, image_size: Tuple[int, int], feature_size: Tuple[int, int]) -> Optional[torch.Tensor]:
    """A float h×w {0, 1} mask on the featuremap grid for an image-pixel region.

    region: None (everywhere: returns None), a box (x0, y0, x1, y1) in image pixels (x1, y1 exclusive), or a
    boolean H×W image mask. A featuremap cell is inside when its patch of the image overlaps the region (GANPaint
    max-pools the painted mask to the featuremap the same way).
    """
    if region is None:
        return None
    H, W = image_size
    if isinstance(region, torch.Tensor):
        if tuple(region.shape) != (H, W):
            raise ConfigError(f"a region mask must be {H}×{W} (the image size), got {tuple(region.shape)}")
        if not region.any():
            raise ConfigError("the region mask is empty")
        return F.adaptive_max_pool2d(region.float()[None, None], feature_size)[0, 0]
    try:
        x0, y0, x1, y1 = (int(v) for v in region)
    except (TypeError, ValueError):
        raise ConfigError(f"a region is x0,y0,x1,y1 in pixels, got {region!r}") from None
    if not (0 <= x0 < x1 <= W and 0 <= y0 < y1 <= H):
        raise ConfigError(f"region {x0},{y0},{x1},{y1} is empty or outside the {W}×{H} image: need "
                          f"0 ≤ x0 < x1 ≤ {W} and 0 ≤ y0 < y1 ≤ {H}")
    h, w = feature_size
    rows = torch.arange(h)
    cols = torch.arange(w)
    # cell j covers pixels [j·H/h, (j+1)·H/h): it overlaps [y0, y1) when j·H/h < y1 and (j+1)·H/h > y0
    in_rows = (rows * H < y1 * h) & ((rows + 1) * H > y0 * h)
    in_cols = (cols * W < x1 * w) & ((cols + 1) * W > x0 * w)
    return (in_rows[:, None] & in_cols[None, :]).float()


def edit_featuremap(r: torch.Tensor, units: torch.Tensor, value: torch.Tensor, alpha: torch.Tensor,
                    mask: Optional[torch.Tensor]) -> torch.Tensor:
    """r with ``r_u ← r_u·(1 − a_u) + v_u·a_u`` for the listed units, a_u = alpha_u × mask (netdissect's edit).

    Other units' values are copied unchanged; with no units r itself is returned (bitwise identical).
    """
    if len(units) == 0:
        return r
    a = alpha.to(r.device, r.dtype).reshape(1, -1, 1, 1)
    if mask is not None:
        a = a * mask.to(r.device, r.dtype)[None, None]
    v = value.to(r.device, r.dtype).reshape(1, -1, 1, 1)
    out = r.clone()
    idx = units.to(r.device)
    out[:, idx] = r[:, idx] * (1 - a) + v * a
    return out


@contextlib.contextmanager
def edit(generator, layer: str, units: Sequence[int], value=0.0, alpha=1.0, region: Region = None,
         image_size: Optional[Tuple[int, int]] = None):
    """Within the block, the layer's output has `units` set to `value` with strength `alpha` inside `region`.

    value, alpha: a number or one per unit (a tensor of len(units); alpha may require grad — the learned α of
    §4.2). region: see :func:`region_mask` (needs `image_size`, default the generator's out_shape).
    """
    module = resolve_layer(generator, layer)
    units_t = torch.as_tensor(list(units), dtype=torch.long).reshape(-1)
    n = len(units_t)
    value_t = torch.as_tensor(value, dtype=torch.float32).expand(n) if not isinstance(value, torch.Tensor) \
        else value.reshape(-1).expand(n)
    alpha_t = torch.as_tensor(alpha, dtype=torch.float32).expand(n) if not isinstance(alpha, torch.Tensor) \
        else alpha.reshape(-1).expand(n)
    if image_size is None:
        image_size = tuple(getattr(generator_module(generator), "out_shape", ())[-2:]) or None
    checked = {}

    def hook(_module, _inputs, output):
        if "ok" not in checked:
            check_units(units_t, output.shape[1])
            checked["ok"] = True
        mask = None
        if region is not None:
            if image_size is None:
                raise ConfigError("a region needs the image size: this generator has no out_shape")
            mask = region_mask(region, image_size, tuple(output.shape[-2:]))
        return edit_featuremap(output, units_t, value_t, alpha_t, mask)

    handle = module.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()
