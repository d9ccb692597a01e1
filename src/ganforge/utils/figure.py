"""Labelled image grids: figures that carry their legend inside the picture (row and column titles, row groups),
as the papers' figures do (StyleGAN Fig. 3 mixing, Fig. 8 truncation)."""
from __future__ import annotations

import os
from typing import Optional, Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from .images import make_grid, save_pil


def _font(size: int):
    """DejaVu Sans from matplotlib's own data (a dependency; it has ψ, α, Greek and arrows that Pillow's bundled
    default font draws as boxes), else Pillow's default."""
    try:
        import matplotlib

        return ImageFont.truetype(os.path.join(matplotlib.get_data_path(), "fonts", "ttf", "DejaVuSans.ttf"), size)
    except (ImportError, OSError):
        pass
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: a fixed bitmap font
        return ImageFont.load_default()


def labelled_grid(x: torch.Tensor, nrow: int, row_labels: Sequence[str] = (), col_labels: Sequence[str] = (),
                  title: str = "", cell: int = 96, pad: int = 2) -> Image.Image:
    """Tile N×C×H×W images in [-1, 1] (`nrow` per row), each cell scaled to `cell` pixels (nearest), with a left
    margin of row labels (one per grid row; '' for none), a top row of column labels and an optional title."""
    n, _, h, w = x.shape
    rows = -(-n // nrow)
    if row_labels and len(row_labels) != rows:
        raise ValueError(f"{len(row_labels)} row labels for {rows} rows")
    if col_labels and len(col_labels) != nrow:
        raise ValueError(f"{len(col_labels)} column labels for {nrow} columns")
    factor = max(1, round(cell / max(h, w)))
    grid = make_grid(x, nrow=nrow, pad=0)
    grid = grid.repeat(factor, axis=0).repeat(factor, axis=1)
    ch, cw = h * factor, w * factor
    font = _font(max(11, cell // 7))
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))

    def text_w(s: str) -> int:
        return int(measure.textlength(s, font=font))

    line = font.size + 6 if hasattr(font, "size") else 16
    left = (max((text_w(s) for s in row_labels), default=0) + 12) if row_labels else 0
    top = (line if col_labels else 0) + (line + 4 if title else 0)
    width, height = left + nrow * (cw + pad) + pad, top + rows * (ch + pad) + pad
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    if title:
        draw.text((6, 4), title, fill="black", font=font)
    for j, s in enumerate(col_labels):
        x0 = left + pad + j * (cw + pad)
        draw.text((x0 + (cw - text_w(s)) // 2, top - line), s, fill="black", font=font)
    for i in range(rows):
        y0 = top + pad + i * (ch + pad)
        tile = grid[i * ch:(i + 1) * ch]
        for j in range(min(nrow, n - i * nrow)):
            img.paste(Image.fromarray(np.ascontiguousarray(tile[:, j * cw:(j + 1) * cw])),
                      (left + pad + j * (cw + pad), y0))
        if row_labels and row_labels[i]:
            draw.text((6, y0 + (ch - line) // 2), row_labels[i], fill="black", font=font)
    return img


def save_labelled_grid(x: torch.Tensor, path: str, nrow: int, row_labels: Sequence[str] = (),
                       col_labels: Sequence[str] = (), title: str = "", cell: Optional[int] = None) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    kwargs = {} if cell is None else {"cell": cell}
    save_pil(labelled_grid(x, nrow, row_labels, col_labels, title, **kwargs), path)
    return path

