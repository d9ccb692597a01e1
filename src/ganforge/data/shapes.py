"""Procedural RGB scenes of coloured circles, squares and triangles, with exact masks and attributes.

Every pixel's class and every object's shape, colour, size and position are known, so what a GAN's units or
latent directions encode can be measured exactly: unit-to-concept agreement in the manner of GAN Dissection
(Bau et al., "GAN Dissection: Visualizing and Understanding Generative Adversarial Networks", ICLR 2019) and
linear separability of attributes in the manner of StyleGAN (Karras et al., CVPR 2019, §4.2). Procedurally
generated scenes with known factors follow dSprites (Matthey et al. 2017) and CLEVR (Johnson et al., CVPR 2017).

A scene has a background colour and 1..max_objects shapes. The *primary* object (the one that ``y`` and the
attributes describe) is drawn last, so it is always fully visible; the other objects are distractors drawn before
it, each later one occluding the earlier ones. Shapes have hard edges, so the mask is exact: a pixel of mask class
k (1 = circle, 2 = square, 3 = triangle, 0 = background) has exactly the colour of the object visible there.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import DataError
from ..registry import DATASETS
from .base import DataInfo, TensorDataset

log = logging.getLogger(__name__)

SHAPES = ("circle", "square", "triangle")
MASK_CLASSES = ("background",) + SHAPES
# Saturated object colours; backgrounds are neutral greys, so an object never has the background's colour.
COLORS = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 90, 230),
    "yellow": (240, 210, 40),
    "magenta": (210, 50, 210),
    "cyan": (40, 200, 220),
    "orange": (245, 130, 30),
}
BACKGROUNDS = {
    "black": (0, 0, 0),
    "gray": (128, 128, 128),
    "white": (255, 255, 255),
}
ATTR_NAMES = (
    "shape", "color", "background", "count", "size", "pos_x", "pos_y", "has_circle", "has_square", "has_triangle",
)
_COLOR_RGB = np.array(list(COLORS.values()), dtype=np.uint8)
_BG_RGB = np.array(list(BACKGROUNDS.values()), dtype=np.uint8)
assert not set(map(tuple, _COLOR_RGB.tolist())) & set(map(tuple, _BG_RGB.tolist()))
_CHUNK = 2048  # scenes drawn at once (bounds memory; the random parameters do not depend on it)


@dataclass
class ShapesConfig:
    """Procedural scenes. `size` is the object's width (diameter, side) as a fraction of the image width."""

    name: str = "shapes"
    resolution: int = 32
    n: int = 10_000
    min_objects: int = 1
    max_objects: int = 1
    seed: int = 0
    min_size: float = 0.3
    max_size: float = 0.6


def _validate(cfg: ShapesConfig) -> None:
    problems = scene_problems(cfg)
    if problems:
        raise DataError("shapes: " + "; ".join(problems))


def scene_problems(cfg) -> list:
    """What is wrong with a scenes config's resolution, n, object counts and sizes (empty when nothing)."""
    problems = []
    if not isinstance(cfg.resolution, int) or cfg.resolution < 8:
        problems.append(f"resolution must be an integer ≥ 8 (got {cfg.resolution!r})")
    if not isinstance(cfg.n, int) or cfg.n < 1:
        problems.append(f"n must be a positive integer (got {cfg.n!r})")
    if not 1 <= cfg.min_objects <= cfg.max_objects:
        problems.append(f"need 1 ≤ min_objects ≤ max_objects (got {cfg.min_objects}, {cfg.max_objects})")
    if not 0 < cfg.min_size <= cfg.max_size <= 1:
        problems.append(f"need 0 < min_size ≤ max_size ≤ 1 (got {cfg.min_size}, {cfg.max_size})")
    return problems


def _sample_params(cfg: ShapesConfig) -> dict:
    """All random choices of all scenes, drawn up front so the result does not depend on chunking."""
    rng = np.random.default_rng(cfg.seed)
    n, m, r = cfg.n, cfg.max_objects, cfg.resolution
    size = rng.uniform(cfg.min_size, cfg.max_size, (n, m))
    half = size * r / 2.0  # half-width in pixels
    # Centres keep the whole object inside the image: [half, R - half].
    cx = half + rng.random((n, m)) * (r - 2.0 * half)
    cy = half + rng.random((n, m)) * (r - 2.0 * half)
    return {
        "count": rng.integers(cfg.min_objects, cfg.max_objects + 1, n),
        "background": rng.integers(0, len(BACKGROUNDS), n),
        "shape": rng.integers(0, len(SHAPES), (n, m)),
        "color": rng.integers(0, len(COLORS), (n, m)),
        "size": size,
        "half": half,
        "cx": cx,
        "cy": cy,
    }


def shape_masks(shape: np.ndarray, cx: np.ndarray, cy: np.ndarray, half: np.ndarray, r: int) -> np.ndarray:
    """m×R×R boolean masks of m shapes (0 circle, 1 square, 2 upward triangle) at pixel centres (i + 0.5).

    The circle has radius `half`; the square and the triangle fill the 2·half box (triangle: apex at the top
    centre, base along the bottom).
    """
    m = len(shape)
    out = np.zeros((m, r, r), dtype=bool)
    px = np.arange(r, dtype=np.float32) + 0.5
    for k in range(len(SHAPES)):
        sel = np.nonzero(shape == k)[0]
        if len(sel) == 0:
            continue
        h = half[sel].astype(np.float32)[:, None, None]
        dx = px[None, None, :] - cx[sel].astype(np.float32)[:, None, None]  # m'×1×R
        dy = px[None, :, None] - cy[sel].astype(np.float32)[:, None, None]  # m'×R×1
        if k == 0:
            inside = dx * dx + dy * dy <= h * h
        elif k == 1:
            inside = (np.abs(dx) <= h) & (np.abs(dy) <= h)
        else:
            t = dy + h  # distance below the apex
            inside = (t >= 0) & (dy <= h) & (2.0 * np.abs(dx) <= t)
        out[sel] = inside
    return out


def _draw_chunk(p: dict, lo: int, hi: int, r: int):
    """Images (m×R×R×3 uint8) and masks (m×R×R int64) of scenes lo..hi."""
    m = hi - lo
    img = np.broadcast_to(_BG_RGB[p["background"][lo:hi]][:, None, None, :], (m, r, r, 3)).copy()
    mask = np.zeros((m, r, r), dtype=np.int64)
    n_slots = p["shape"].shape[1]
    for slot in list(range(1, n_slots)) + [0]:  # distractors first, the primary object last (on top)
        active = np.nonzero(p["count"][lo:hi] > slot)[0]
        if len(active) == 0:
            continue
        g = lo + active
        inside = shape_masks(p["shape"][g, slot], p["cx"][g, slot], p["cy"][g, slot], p["half"][g, slot], r)
        s, yy, xx = np.nonzero(inside)
        scene = active[s]
        img[scene, yy, xx] = _COLOR_RGB[p["color"][g, slot]][s]
        mask[scene, yy, xx] = p["shape"][g, slot][s] + 1
    return img, mask


@DATASETS.register("shapes", ShapesConfig)
def build_shapes(cfg: ShapesConfig) -> TensorDataset:
    _validate(cfg)
    n, r = cfg.n, cfg.resolution
    p = _sample_params(cfg)
    x = np.empty((n, 3, r, r), dtype=np.uint8)
    mask = np.empty((n, r, r), dtype=np.int64)
    for lo in range(0, n, _CHUNK):
        hi = min(n, lo + _CHUNK)
        img, msk = _draw_chunk(p, lo, hi, r)
        x[lo:hi] = img.transpose(0, 3, 1, 2)
        mask[lo:hi] = msk
    present = [(mask == k + 1).any(axis=(1, 2)) for k in range(len(SHAPES))]
    attrs = {
        "shape": p["shape"][:, 0],
        "color": p["color"][:, 0],
        "background": p["background"],
        "count": p["count"],
        "size": p["size"][:, 0].astype(np.float32),
        "pos_x": (p["cx"][:, 0] / r).astype(np.float32),
        "pos_y": (p["cy"][:, 0] / r).astype(np.float32),
        "has_circle": present[0],
        "has_square": present[1],
        "has_triangle": present[2],
    }
    attrs = {k: torch.from_numpy(np.ascontiguousarray(v if v.dtype == np.float32 else v.astype(np.int64)))
             for k, v in attrs.items()}
    info = DataInfo(
        shape=(3, r, r), num_classes=len(SHAPES), class_names=SHAPES, mask_classes=MASK_CLASSES, attr_names=ATTR_NAMES
    )
    log.debug("shapes: %d scenes at %d×%d (seed %d)", n, r, r, cfg.seed)
    return TensorDataset(torch.from_numpy(x), attrs["shape"].clone(), torch.from_numpy(mask), attrs, info=info)
