"""A quick look at real training data: an image grid (with the masks beside it) or a 2-D scatter plot."""
from __future__ import annotations

import logging
import os

import numpy as np
import torch
from PIL import Image, ImageDraw

from ..utils.images import make_grid, save_pil, save_png, save_scatter, upscale
from .base import TensorDataset

log = logging.getLogger(__name__)

# Mask class colours (class 0 = background first); distinct from each other, repeated beyond 10 classes.
MASK_PALETTE = np.array(
    [(30, 30, 30), (228, 26, 28), (55, 126, 184), (77, 175, 74), (152, 78, 163),
     (255, 127, 0), (255, 255, 51), (166, 86, 40), (247, 129, 191), (153, 153, 153)],
    dtype=np.uint8,
)
MIN_SCATTER_POINTS = 2000  # fewer dots do not show a 2-D distribution


def _sample_indices(n_total: int, n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(int(seed))
    return torch.randperm(n_total, generator=g)[: min(n, n_total)]


def colorize_mask(mask: torch.Tensor) -> torch.Tensor:
    """N×H×W int class map -> N×3×H×W float in [-1, 1] using MASK_PALETTE."""
    rgb = MASK_PALETTE[mask.cpu().numpy() % len(MASK_PALETTE)]  # N×H×W×3
    return torch.from_numpy(rgb).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def _legend(canvas: np.ndarray, names) -> np.ndarray:
    """Append a strip under `canvas` naming the mask colours."""
    strip_h, box = 22, 12
    img = Image.new("RGB", (canvas.shape[1], strip_h), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    x = 6
    for k, name in enumerate(names):
        color = tuple(int(c) for c in MASK_PALETTE[k % len(MASK_PALETTE)])
        draw.rectangle([x, 5, x + box, 5 + box], fill=color, outline=(0, 0, 0))
        draw.text((x + box + 4, 4), name, fill=(0, 0, 0))
        x += box + 12 + 7 * len(name)
    return np.concatenate([canvas, np.asarray(img)], axis=0)


def preview(dataset: TensorDataset, out: str, n: int = 64, seed: int = 0) -> str:
    """Save a PNG of `n` random real samples to `out` and return its path.

    Images become a grid; datasets with masks get the colour-coded masks as a second grid to the right (the same
    samples in the same order) and a legend of mask classes; 2-D points become a scatter plot (at least
    2,000 points, since a few dozen dots do not show a distribution).
    """
    if dataset.info.is_text:  # rows of words, as a .txt file
        from .text import detokenize, write_text_samples

        rows = dataset.get(_sample_indices(len(dataset), n, seed)).x
        out = os.path.splitext(out)[0] + ".txt" if out.endswith(".png") else out
        return write_text_samples([detokenize(dataset.vocab.decode(r)) for r in rows.tolist()], out)
    if dataset.x.dim() == 2:
        batch = dataset.get(_sample_indices(len(dataset), max(n, MIN_SCATTER_POINTS), seed))
        lim = max(2.5, float(batch.x.abs().max()) * 1.1)
        return save_scatter(batch.x, out, lim=lim)
    batch = dataset.get(_sample_indices(len(dataset), n, seed))
    grid = make_grid(batch.x)
    if batch.mask is None:
        return save_png(grid, out)
    mgrid = make_grid(colorize_mask(batch.mask))
    gap = np.full((grid.shape[0], 6, 3), 255, np.uint8)
    canvas = upscale(np.concatenate([grid, gap, mgrid], axis=1), 512)
    names = dataset.info.mask_classes or tuple(str(k) for k in range(int(batch.mask.max()) + 1))
    canvas = _legend(canvas, names)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    save_pil(Image.fromarray(canvas), out)
    log.debug("preview of %d samples written to %s", len(batch), out)
    return out
