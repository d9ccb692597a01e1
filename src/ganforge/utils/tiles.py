"""Tiled application of a fully convolutional image network, so that an image of any size fits in memory
(``ganforge upscale`` on a photo of many megapixels).

The image is cut into a grid of *core* tiles of `tile`×`tile` input pixels that partition it; each core is fed to
the network together with a margin of `overlap` pixels on every side (clipped at the image border), and only the
core's part of the output is kept. An output pixel therefore sees every input pixel within `overlap` of its core
— the result equals the whole-image result exactly when `overlap` is at least the network's receptive-field
radius (and the network has no image-wide operation, e.g. instance normalisation or attention), and differs only
near the seams otherwise. Peak memory is that of one tile of (tile + 2·overlap)² pixels.
"""
from __future__ import annotations

from typing import Callable

import torch


def _starts(size: int, tile: int):
    return range(0, size, tile)


def tiled(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, tile: int, overlap: int) -> torch.Tensor:
    """fn(x) for N×C×H×W `x`, computed core tile by core tile. `fn` maps h×w inputs to (s·h)×(s·w) outputs for
    one integer scale s (1 for translation, 4 for SRGAN ×4), found from the first tile."""
    if tile < 1 or overlap < 0:
        raise ValueError(f"tile must be ≥ 1 and overlap ≥ 0, got {tile} and {overlap}")
    h, w = x.shape[-2:]
    if h <= tile and w <= tile:
        return fn(x)
    out, scale = None, None
    for y0 in _starts(h, tile):
        for x0 in _starts(w, tile):
            y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
            a, b = max(y0 - overlap, 0), max(x0 - overlap, 0)  # the window: the core plus its margins
            c, d = min(y1 + overlap, h), min(x1 + overlap, w)
            y = fn(x[..., a:c, b:d])
            if out is None:
                scale = y.shape[-1] // (d - b)
                if y.shape[-1] != scale * (d - b) or y.shape[-2] != scale * (c - a):
                    raise ValueError(f"tiling needs an integer scale; {c - a}×{d - b} came out {tuple(y.shape[-2:])}")
                out = y.new_empty(*y.shape[:-2], scale * h, scale * w)
            s = scale
            out[..., s * y0 : s * y1, s * x0 : s * x1] = y[..., s * (y0 - a) : s * (y1 - a), s * (x0 - b) : s * (x1 - b)]
    return out
