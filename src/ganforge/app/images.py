"""Images travel as PNG: N×C×H×W tensors in [-1, 1] -> PNG bytes (one image, a grid or a strip)."""
from __future__ import annotations

import io
from typing import Optional

import numpy as np
import torch
from fastapi.responses import Response
from PIL import Image

from ..utils.images import make_grid, to_uint8

PAD = 2  # pixels between grid cells (the pages compute which cell was clicked from it)


def png_bytes(arr: np.ndarray) -> bytes:
    """H×W×3 or H×W uint8 -> PNG bytes (deterministic: the same array always gives the same bytes)."""
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def image_png(x: torch.Tensor) -> bytes:
    """One image (1×C×H×W or C×H×W) -> PNG at its own resolution (grey stays one channel)."""
    arr = to_uint8(x if x.dim() == 4 else x[None])[0]
    return png_bytes(arr[..., 0] if arr.shape[2] == 1 else arr)


def grid_png(x: torch.Tensor, cols: Optional[int] = None) -> bytes:
    """N images -> a grid PNG, `cols` per row (default: about square), white gaps of PAD pixels."""
    return png_bytes(make_grid(x, nrow=cols or None, pad=PAD))


def png_response(data: bytes, filename: str = "ganforge.png", seconds: Optional[float] = None) -> Response:
    headers = {"Content-Disposition": f'inline; filename="{filename}"', "Cache-Control": "no-store"}
    if seconds is not None:
        headers["X-Server-Time-Ms"] = f"{seconds * 1000:.2f}"
    return Response(content=data, media_type="image/png", headers=headers)
