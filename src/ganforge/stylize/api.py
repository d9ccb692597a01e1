"""``ganforge.stylize(content, style, alpha)``: AdaIN style transfer of images, tensors, PIL images or paths
(Huang & Belongie, "Arbitrary Style Transfer in Real-time with Adaptive Instance Normalization", ICCV 2017)."""
from __future__ import annotations

import logging
import os
from typing import Optional, Union

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..errors import DataError
from .nets import StyleTransferNet

log = logging.getLogger(__name__)

ImageLike = Union[torch.Tensor, Image.Image, str, os.PathLike]


def _to_tensor(img: ImageLike, what: str) -> torch.Tensor:
    """Path / PIL image (converted to RGB) / tensor (C×H×W or N×C×H×W in [-1, 1]) -> N×C×H×W float."""
    if isinstance(img, (str, os.PathLike)):
        if not os.path.isfile(img):
            raise DataError(f"{what} image {img} not found")
        try:
            with Image.open(img) as im:
                img = im.convert("RGB")
        except (OSError, ValueError) as e:
            raise DataError(f"cannot read the {what} image {img}: {e}") from None
    if isinstance(img, Image.Image):
        arr = np.asarray(img.convert("RGB"), dtype=np.float32)
        return torch.from_numpy(arr).permute(2, 0, 1)[None] / 127.5 - 1
    if not isinstance(img, torch.Tensor):
        raise DataError(f"{what} must be a tensor, a PIL image or a path, got {type(img).__name__}")
    x = img.detach().float()
    if x.dim() == 3:
        x = x[None]
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise DataError(f"{what} tensor must be C×H×W or N×C×H×W with 1 or 3 channels, got {tuple(img.shape)}")
    if not torch.isfinite(x).all():
        raise DataError(f"{what} tensor has NaN or infinite values")
    return x


def to_pil(x: torch.Tensor) -> Image.Image:
    """The first image of N×C×H×W (or C×H×W) in [-1, 1] as an 8-bit RGB PIL image."""
    from ..utils.images import to_uint8

    arr = to_uint8(x if x.dim() == 4 else x[None])[0]
    return Image.fromarray(arr.repeat(3, axis=2) if arr.shape[2] == 1 else arr)


def _pad_to_multiple(x: torch.Tensor, m: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    ph, pw = (-h) % m, (-w) % m
    if ph or pw:
        mode = "reflect" if min(h, w) > max(ph, pw) else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x


@torch.no_grad()
def stylize_tensors(net: StyleTransferNet, content: torch.Tensor, style: torch.Tensor,
                    alpha: float = 1.0) -> torch.Tensor:
    """N×3×H×W content, 1×3 or N×3 style images in [-1, 1] -> stylized N×3×H×W in [-1, 1] (sides padded to the
    encoder's multiple by reflection, the output cropped back)."""
    if content.shape[1] != style.shape[1]:
        raise DataError(f"content has {content.shape[1]} channels and style {style.shape[1]}: give both RGB or "
                        f"both grey")
    if style.shape[0] not in (1, content.shape[0]):
        raise DataError(f"{style.shape[0]} style images for {content.shape[0]} content images: give one style or "
                        f"one per content image")
    if not 0.0 <= float(alpha) <= 1.0:
        raise DataError(f"alpha must be in [0, 1], got {alpha}")
    grey = content.shape[1] == 1
    if grey:  # the networks are RGB: grey pairs are run as RGB and the result stays RGB
        content, style = content.repeat(1, 3, 1, 1), style.repeat(1, 3, 1, 1)
    device = next(net.parameters()).device
    h, w = content.shape[-2:]
    m = net.config.downsample
    c = _pad_to_multiple(content.to(device), m)
    s = _pad_to_multiple(style.to(device), m)
    out = net(c, s, alpha)[:, :, :h, :w]
    return out.clamp(-1, 1)


@torch.no_grad()
def reconstruction_error(net: StyleTransferNet, images: torch.Tensor) -> float:
    """Mean absolute pixel error (images in [-1, 1]) of g(AdaIN(f(x), f(x))) against x: how well the decoder
    inverts the encoder (AdaIN of a content with itself is the identity up to eps)."""
    out = stylize_tensors(net, images, images, alpha=1.0)
    return float((out - images.to(out.device)).abs().mean())


def stylize(content: ImageLike, style: ImageLike, alpha: float = 1.0, weights: Optional[str] = None,
            net: Optional[StyleTransferNet] = None, device="cpu"):
    """Render `content` in the style of `style` with AdaIN (Huang & Belongie 2017): decoder((1 − α)·f(c) +
    α·AdaIN(f(c), f(s))).

    content, style: tensors (C×H×W or N×C×H×W, values in [-1, 1]), PIL images, or image paths. Paths and PIL
    images are read as RGB; tensors must agree in channels (1 or 3; grey pairs come back RGB).
    alpha: 0 = the content reconstructed through the decoder, 1 = full style. weights: a stylizer file written
    by scripts/train_stylizer.py (default: the shipped small network, see ganforge/assets/stylizer-small.json);
    or pass a loaded `net`.
    Returns: a PIL image when `content` is a path or PIL image, otherwise an N×3×H×W tensor in [-1, 1].
    """
    from .weights import load_stylizer

    as_pil = not isinstance(content, torch.Tensor)
    c, s = _to_tensor(content, "content"), _to_tensor(style, "style")
    if as_pil and s.shape[1] == 1 and c.shape[1] == 3:
        s = s.repeat(1, 3, 1, 1)
    net = net if net is not None else load_stylizer(weights, device=device)
    out = stylize_tensors(net, c, s, alpha).cpu()
    log.debug("stylized %s with alpha %.2f", tuple(c.shape), alpha)
    return to_pil(out) if as_pil else out
