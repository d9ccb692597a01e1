"""Pictures people look at: image grids, strips, GIFs, and scatter plots for 2-D data."""
from __future__ import annotations

import io
import math
import os
from typing import Optional, Sequence

import numpy as np
import torch
from PIL import Image


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """N×C×H×W float in [-1, 1] -> N×H×W×C uint8 (C is 1 or 3)."""
    x = x.detach().float().cpu().clamp(-1, 1)
    x = ((x + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


def make_grid(x: torch.Tensor, nrow: Optional[int] = None, pad: int = 2, pad_value: int = 255) -> np.ndarray:
    """Tile N×C×H×W images in [-1, 1] into one H'×W'×3 uint8 array, `nrow` images per row."""
    imgs = to_uint8(x)
    n, h, w, c = imgs.shape
    if c == 1:
        imgs = np.repeat(imgs, 3, axis=3)
    nrow = nrow or int(math.ceil(math.sqrt(n)))
    ncol_rows = int(math.ceil(n / nrow))
    grid = np.full((ncol_rows * (h + pad) + pad, nrow * (w + pad) + pad, 3), pad_value, np.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        y0, x0 = pad + r * (h + pad), pad + col * (w + pad)
        grid[y0 : y0 + h, x0 : x0 + w] = imgs[i]
    return grid


def upscale(arr: np.ndarray, min_size: int = 256, min_side: int = 128, max_size: int = 4096) -> np.ndarray:
    """Nearest-neighbour upscale by an integer factor so that small grids and thin strips are comfortable to
    look at: the longer side reaches `min_size` or the shorter one `min_side`, never past `max_size`."""
    h, w = arr.shape[0], arr.shape[1]
    factor = max(math.ceil(min_size / max(h, w)), math.ceil(min_side / min(h, w)))
    factor = max(1, min(factor, max_size // max(h, w)))
    if factor == 1:
        return arr
    return arr.repeat(factor, axis=0).repeat(factor, axis=1)


def save_png(arr: np.ndarray, path: str, min_size: int = 256) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    save_pil(Image.fromarray(upscale(arr, min_size)), path)
    return path


def save_pil(img: Image.Image, path: str, **kw) -> str:
    """Save a PIL image in the format its extension names, replacing `path` all at once: a full disk never leaves
    a cut-off picture in place of a good one."""
    from .safeio import atomic_write

    ext = os.path.splitext(path)[1].lower()
    fmt = Image.registered_extensions().get(ext)
    if fmt is None:  # never write image bytes into a file named as something else
        from ..errors import ConfigError

        raise ConfigError(f"cannot write a picture to {path}: its extension {ext or '(none)'} names no image "
                          f"format (use .png, .jpg, ...)")
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    atomic_write(path, buf.getvalue(), fsync=False)
    return path


def save_figure(fig, out: str) -> str:
    """A matplotlib figure written to `out` all at once (a full disk never leaves a cut-off picture)."""
    from .safeio import atomic_write

    buf = io.BytesIO()
    fig.savefig(buf, format=os.path.splitext(out)[1][1:] or "png")
    atomic_write(out, buf.getvalue(), fsync=False)
    return out


def save_grid(x: torch.Tensor, path: str, nrow: Optional[int] = None, min_size: int = 512) -> str:
    """Save N images (N×C×H×W in [-1, 1]) as a PNG grid; 2-D points (N×2) are drawn as a scatter plot."""
    if x.dim() == 2:
        return save_scatter(x, path)
    return save_png(make_grid(x, nrow=nrow), path, min_size)


def save_gif(frames: Sequence[np.ndarray], path: str, duration_ms: int = 120, min_size: int = 128) -> str:
    """Save H×W×3 uint8 frames as a looping animated GIF."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    pics = [Image.fromarray(upscale(f, min_size)) for f in frames]
    save_pil(pics[0], path, save_all=True, append_images=pics[1:], duration=duration_ms, loop=0)
    return path


def save_scatter(points: torch.Tensor, path: str, reference: Optional[torch.Tensor] = None, lim: float = 2.5) -> str:
    """Scatter plot of 2-D samples (and optionally reference points) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    if reference is not None:
        r = reference.detach().cpu().numpy()
        ax.scatter(r[:, 0], r[:, 1], s=4, c="tab:blue", alpha=0.3, label="real")
    p = points.detach().float().cpu().numpy()
    ax.scatter(p[:, 0], p[:, 1], s=4, c="tab:orange", alpha=0.6, label="generated")
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    if reference is not None:
        ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
    return path
