"""Reading real images for projection and editing, by one stated rule.

An image file of any size and mode is converted to the generator's channels (colour -> grey by PIL's ITU-R 601
luma "L" conversion; grey -> colour by repeating; alpha composited on black; 16-bit scaled), then resized so its
shorter side is the generator's resolution (Lanczos) and centre-cropped to a square — the rule of ganforge's image
folders (data/folder.py). Pixels map to [-1, 1].
"""
from __future__ import annotations

import os

import numpy as np
import torch
from PIL import Image

from ..errors import DataError
from ..utils.images import save_pil


def read_image(path: str, shape) -> torch.Tensor:
    """1×C×R×R in [-1, 1] for a generator whose images are C×R×R."""
    from ..data.folder import _Skip, load_image

    c, r, _ = shape
    try:
        arr = load_image(path, r, 3 if c == 3 else 1)
    except _Skip as e:
        raise DataError(f"{path}: {e}") from None
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1


def write_image(x: torch.Tensor, path: str) -> str:
    """One C×H×W (or 1×C×H×W) image in [-1, 1] -> PNG at its own size."""
    x = x[0] if x.dim() == 4 else x
    arr = ((x.detach().cpu().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    save_pil(Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else np.ascontiguousarray(arr)), path)
    return path
