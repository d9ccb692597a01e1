"""Image uploads with limits: the body is read in chunks and refused past `max_bytes` (whatever Content-Length
claims), and the image's header is checked against `max_pixels` before any pixel is decoded, so a small file
that would inflate to gigabytes (a decompression bomb) is refused without allocating it."""
from __future__ import annotations

import io
import warnings

import numpy as np
from fastapi import Request
from PIL import Image

from ..data.folder import _resize_crop, _to_mode
from .errors import BadRequest

FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF")
MAX_ASPECT = 16


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The raw request body, at most `max_bytes` (413 beyond; 400 when empty)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise BadRequest(f"upload of {int(declared):,} bytes is over the limit of {max_bytes:,} bytes", 413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise BadRequest(f"upload is over the limit of {max_bytes:,} bytes", 413)
        chunks.append(chunk)
    if not size:
        raise BadRequest("empty upload: send the image file as the request body")
    return b"".join(chunks)


def decode_image(data: bytes, max_pixels: int) -> Image.Image:
    """A decoded PIL image from upload bytes, or a 4xx: unknown format, too many pixels, corrupt data."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(data), formats=FORMATS)
            w, h = im.size
            if w * h > max_pixels:
                raise BadRequest(f"image of {w}×{h} = {w * h:,} pixels is over the limit of {max_pixels:,} pixels",
                                 413)
            if max(w, h) > MAX_ASPECT * min(w, h):  # resizing its short side up would make it huge
                raise BadRequest(f"image of {w}×{h} is too elongated (sides more than {MAX_ASPECT}:1)")
            if getattr(im, "n_frames", 1) > 1:
                im.seek(0)
            im.load()
        except BadRequest:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise BadRequest(f"refused as a decompression bomb ({e})", 413) from None
        except Image.UnidentifiedImageError:
            raise BadRequest(f"not an image in a supported format ({', '.join(FORMATS)})", 415) from None
        except (OSError, ValueError, SyntaxError, EOFError) as e:
            raise BadRequest(f"corrupt or truncated image ({e})") from None
    return im


def to_run_input(im: Image.Image, channels: int, resolution: int) -> np.ndarray:
    """The image as the run sees its data: channels converted, shorter side to `resolution`, centre crop."""
    arr = np.asarray(_resize_crop(_to_mode(im, channels), resolution), dtype=np.uint8)
    return arr
