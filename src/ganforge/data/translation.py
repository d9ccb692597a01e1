"""Two-domain datasets with ground truth for image-to-image translation (DESIGN.md §10).

* ``shapes-labels``: a colour-coded per-pixel class map (domain A) -> the scene it describes, rendered with
  per-class colours (jittered per object), textures and shading on a textured background (domain B). The Cityscapes labels -> photo task of pix2pix
  (Isola et al., CVPR 2017, §4.2) and pix2pixHD (Wang et al., CVPR 2018) in miniature: the class map of every
  output is known, so a segmenter of real scenes scores translations (the FCN-score). ``touching: true`` places
  a second object of the same class against the first, so only the instance map (``attrs["instance"]``, as
  pix2pixHD's boundary input) tells them apart.
* ``shapes-edges``: the scene's edge map (dark lines on white, 1 channel) -> the scene (edges2shoes in miniature).
* ``unpaired: true`` on either draws domain B from a disjoint set of scenes (another seed), so no pair exists, as
  CycleGAN's (Zhu et al., ICCV 2017) and DiscoGAN's (Kim et al., ICML 2017) settings; ``mask``/``y`` still
  describe domain A, which scores how well a translation keeps its content.
* ``digits-ab``: unpaired MNIST-5k digits (A: thin white strokes on black, 1×32×32) <-> other MNIST-5k digits
  drawn as thick coloured strokes on a textured background (B, 3×32×32); ``y`` is A's digit and
  ``attrs["target_label"]`` B's, so digit-label preservation is measurable.

A Batch's `x` is domain A and its `target` domain B; for unpaired data sample i's target is an arbitrary draw of
B (``TensorDataset.target_index``), never its counterpart.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import DataError
from ..registry import DATASETS
from .base import DataInfo, TensorDataset
from .shapes import COLORS, MASK_CLASSES, scene_problems, shape_masks

log = logging.getLogger(__name__)

# Colour code of the label maps (domain A of shapes-labels): background black, one saturated colour per class.
LABEL_COLORS = np.array([[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]], dtype=np.uint8)
_OBJECT_RGB = np.array(list(COLORS.values()), dtype=np.float32)
# What each class looks like in the scenes: a base colour per class (circle orange-red, square blue, triangle
# yellow-green) jittered per object, as a photo's classes have typical colours (road grey, vegetation green) —
# the label map then determines the scene up to texture and shading, not its colours at random.
CLASS_RGB = np.array([[225, 80, 40], [50, 90, 215], [150, 200, 40]], dtype=np.float32)
COLOR_JITTER = 25.0  # ± per channel, uniform
_UNPAIRED_SEED_OFFSET = 7919  # domain B's scenes of an unpaired set come from seed + this: disjoint from A's


@dataclass
class ShapesPairsConfig:
    """Scenes of 1..max_objects shapes; `size` is an object's width as a fraction of the image width."""

    name: str = "shapes-labels"
    resolution: int = 32
    n: int = 4000
    seed: int = 0
    min_objects: int = 1
    max_objects: int = 3
    min_size: float = 0.3
    max_size: float = 0.55
    unpaired: bool = False
    touching: bool = False


def _validate(cfg: ShapesPairsConfig) -> None:
    problems = scene_problems(cfg)
    if cfg.touching and cfg.max_objects < 2:
        problems.append("touching: true needs max_objects ≥ 2")
    if problems:
        raise DataError(f"{cfg.name}: " + "; ".join(problems))


def _scene_params(cfg: ShapesPairsConfig, seed: int) -> dict:
    """Every random choice of n scenes (drawn up front, so a scene does not depend on the others)."""
    rng = np.random.default_rng(seed)
    n, m, r = cfg.n, cfg.max_objects, cfg.resolution
    size = rng.uniform(cfg.min_size, cfg.max_size, (n, m))
    half = size * r / 2.0
    cx = half + rng.random((n, m)) * (r - 2.0 * half)
    cy = half + rng.random((n, m)) * (r - 2.0 * half)
    shape = rng.integers(0, 3, (n, m))
    count = rng.integers(cfg.min_objects, cfg.max_objects + 1, n)
    if cfg.touching:  # object 1 is object 0's class, placed against it on the left or right
        count = np.maximum(count, 2)
        shape[:, 1] = shape[:, 0]
        side = np.where(rng.random(n) < 0.5, -1.0, 1.0)
        cx[:, 1] = np.clip(cx[:, 0] + side * (half[:, 0] + half[:, 1]) * 0.95, half[:, 1], r - half[:, 1])
        cy[:, 1] = np.clip(cy[:, 0] + rng.uniform(-0.3, 0.3, n) * half[:, 0], half[:, 1], r - half[:, 1])
    return {
        "count": count, "shape": shape, "jitter": rng.uniform(-COLOR_JITTER, COLOR_JITTER, (n, m, 3)),
        "half": half, "cx": cx,
        "cy": cy, "period": rng.uniform(3.0, 5.0, (n, m)), "phase": rng.uniform(0, 2 * np.pi, (n, m)),
        "bg_level": rng.uniform(70, 190, n), "bg_tint": rng.uniform(-25, 25, (n, 3)),
        "bg_freq": rng.uniform(0.5, 2.0, (n, 2, 2)), "bg_phase": rng.uniform(0, 2 * np.pi, (n, 2)),
        "noise_seed": rng.integers(0, 2**31 - 1, n),
    }


def _background(p: dict, i: int, r: int) -> np.ndarray:
    """A smooth two-wave texture around a grey level, slightly tinted, plus fine grain: R×R×3 float."""
    u = (np.arange(r, dtype=np.float32) + 0.5) / r * 2 * np.pi
    yy, xx = np.meshgrid(u, u, indexing="ij")
    f, ph = p["bg_freq"][i], p["bg_phase"][i]
    wave = 22 * np.sin(f[0, 0] * xx + f[0, 1] * yy + ph[0]) + 14 * np.sin(f[1, 0] * xx - f[1, 1] * yy + ph[1])
    grain = np.random.default_rng(int(p["noise_seed"][i])).normal(0, 6, (r, r))
    grey = p["bg_level"][i] + wave + grain
    return grey[..., None] + p["bg_tint"][i][None, None, :]


def _texture(kind: int, inside: np.ndarray, cx: float, cy: float, half: float, period: float, phase: float):
    """Per-class brightness factor on the object's pixels: circles shaded as a lit sphere, squares striped,
    triangles graded from a light apex to a dark base."""
    px = np.arange(inside.shape[0], dtype=np.float32) + 0.5
    yy, xx = np.meshgrid(px, px, indexing="ij")
    if kind == 0:
        d2 = ((xx - cx + 0.35 * half) ** 2 + (yy - cy + 0.35 * half) ** 2) / (1.6 * half) ** 2
        return np.clip(1.15 - 0.75 * d2, 0.35, 1.15)
    if kind == 1:
        return np.where(np.sin(2 * np.pi * (xx + yy) / (1.5 * period) + phase) > 0, 1.05, 0.6)
    return np.clip(1.1 - 0.55 * (yy - (cy - half)) / (2 * half), 0.45, 1.1)


def render_scenes(cfg: ShapesPairsConfig, seed: int):
    """(scenes n×R×R×3 uint8, class map n×R×R int64, instance map n×R×R int64) of the scenes of `seed`.
    Objects are drawn in slot order, later ones occluding earlier ones; instance k is slot k−1 (0 = background)."""
    p = _scene_params(cfg, seed)
    n, r = cfg.n, cfg.resolution
    img = np.empty((n, r, r, 3), dtype=np.uint8)
    cls = np.zeros((n, r, r), dtype=np.int64)
    inst = np.zeros((n, r, r), dtype=np.int64)
    for i in range(n):
        canvas = _background(p, i, r)
        k = int(p["count"][i])
        masks = shape_masks(p["shape"][i, :k], p["cx"][i, :k], p["cy"][i, :k], p["half"][i, :k], r)
        for s in range(k):
            inside = masks[s]
            kind = int(p["shape"][i, s])
            shade = _texture(kind, inside, p["cx"][i, s], p["cy"][i, s], p["half"][i, s], p["period"][i, s],
                             p["phase"][i, s])
            colour = CLASS_RGB[kind] + p["jitter"][i, s]
            canvas[inside] = colour[None, :] * shade[inside][:, None]
            cls[i][inside] = kind + 1
            inst[i][inside] = s + 1
        img[i] = np.clip(canvas, 0, 255).round().astype(np.uint8)
    return img, cls, inst


def label_colors(cls: np.ndarray) -> np.ndarray:
    """Class map (…×H×W) -> its colour code (…×H×W×3 uint8)."""
    return LABEL_COLORS[cls]


def label_ids_from_colors(x: torch.Tensor) -> torch.Tensor:
    """A colour-coded label map (N×3×H×W in [-1, 1], as a Batch's x) -> class ids N×H×W (nearest colour, so a
    slightly off colour, e.g. from JPEG, still maps to its class)."""
    ref = torch.as_tensor(LABEL_COLORS, dtype=torch.float32, device=x.device) / 127.5 - 1  # K×3
    d = ((x.float().unsqueeze(1) - ref[None, :, :, None, None]) ** 2).sum(2)  # N×K×H×W
    return d.argmin(1)


def edge_map(instance: np.ndarray) -> np.ndarray:
    """1 where a pixel's 4-neighbour belongs to another instance (background counts as one), else 0."""
    e = np.zeros(instance.shape, dtype=bool)
    e[..., 1:, :] |= instance[..., 1:, :] != instance[..., :-1, :]
    e[..., :-1, :] |= instance[..., 1:, :] != instance[..., :-1, :]
    e[..., :, 1:] |= instance[..., :, 1:] != instance[..., :, :-1]
    e[..., :, :-1] |= instance[..., :, 1:] != instance[..., :, :-1]
    return e


def _chw(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))


def _unpaired_index(n_a: int, n_b: int, seed: int) -> torch.Tensor:
    """For each A sample, a B sample: concatenated permutations of B, so every B image is used about equally."""
    g = torch.Generator().manual_seed(seed)
    reps = -(-n_a // n_b)
    return torch.cat([torch.randperm(n_b, generator=g) for _ in range(reps)])[:n_a]


def _shapes_pairs(cfg: ShapesPairsConfig, domain_a) -> TensorDataset:
    _validate(cfg)
    scenes, cls, inst = render_scenes(cfg, cfg.seed)
    x = domain_a(cls, inst)
    target, index = _chw(scenes), None
    if cfg.unpaired:
        other, _, _ = render_scenes(cfg, cfg.seed + _UNPAIRED_SEED_OFFSET)
        target, index = _chw(other), _unpaired_index(cfg.n, cfg.n, cfg.seed)
    r = cfg.resolution
    info = DataInfo(shape=tuple(x.shape[1:]), mask_classes=MASK_CLASSES, attr_names=("instance",),
                    target_shape=(3, r, r), paired=not cfg.unpaired)
    log.debug("%s: %d %s scene pairs at %d×%d", cfg.name, cfg.n, "unpaired" if cfg.unpaired else "paired", r, r)
    return TensorDataset(x, mask=torch.from_numpy(cls), attrs={"instance": torch.from_numpy(inst)}, info=info,
                         target=target, target_index=index)


@DATASETS.register("shapes-labels", ShapesPairsConfig)
def build_shapes_labels(cfg: ShapesPairsConfig) -> TensorDataset:
    return _shapes_pairs(cfg, lambda cls, inst: _chw(label_colors(cls)))


@dataclass
class ShapesEdgesConfig(ShapesPairsConfig):
    name: str = "shapes-edges"


@DATASETS.register("shapes-edges", ShapesEdgesConfig)
def build_shapes_edges(cfg: ShapesEdgesConfig) -> TensorDataset:
    return _shapes_pairs(cfg, lambda cls, inst: torch.from_numpy(np.where(edge_map(inst), 0, 255).astype(np.uint8))
                         .unsqueeze(1))


# ----------------------------------------------------------------------------------------------- digits A <-> B
@dataclass
class DigitsABConfig:
    """MNIST-5k split in two halves by a fixed permutation: A = plain digits of one half, B = the other half in
    the B style. `n` caps the samples of A (0: all 2,500)."""

    name: str = "digits-ab"
    n: int = field(default=0, metadata={"bound": None})  # 0: all 2,500
    seed: int = 0
    stroke: int = 3  # B's stroke thickening: a stroke×stroke max filter


def digits_b_style(digits: torch.Tensor, seed: int, stroke: int = 3) -> torch.Tensor:
    """Plain digits (N×1×32×32 uint8) drawn in the B style: strokes thickened by a max filter, filled with one of
    the saturated object colours, on a smooth textured dark background. Deterministic from `seed`."""
    n = len(digits)
    rng = np.random.default_rng(seed)
    s = digits.float() / 255.0
    if stroke > 1:
        s = F.max_pool2d(F.pad(s, ((stroke - 1) // 2, stroke // 2, (stroke - 1) // 2, stroke // 2)), stroke, 1)
    colour = torch.from_numpy(_OBJECT_RGB[rng.integers(0, len(_OBJECT_RGB), n)])[:, :, None, None]
    u = (torch.arange(32, dtype=torch.float32) + 0.5) / 32 * 2 * np.pi
    yy, xx = torch.meshgrid(u, u, indexing="ij")
    fx, fy, ph = (torch.from_numpy(rng.uniform(lo, hi, n).astype(np.float32))[:, None, None]
                  for lo, hi in ((0.5, 2.5), (0.5, 2.5), (0, 2 * np.pi)))
    level = torch.from_numpy(rng.uniform(30, 80, (n, 3)).astype(np.float32))[:, :, None, None]
    bg = level + 18 * torch.sin(fx * xx + fy * yy + ph)[:, None]
    img = s * colour + (1 - s) * bg
    return img.round().clamp(0, 255).to(torch.uint8)


@DATASETS.register("digits-ab", DigitsABConfig)
def build_digits_ab(cfg: DigitsABConfig) -> TensorDataset:
    from .bundled import MNIST5K_SIZE, _load_mnist5k_arrays

    if not isinstance(cfg.n, int) or cfg.n < 0:
        raise DataError(f"digits-ab: n must be 0 (all) or a positive integer, got {cfg.n!r}")
    images, labels = _load_mnist5k_arrays()
    perm = np.random.default_rng(1234).permutation(MNIST5K_SIZE)
    half = MNIST5K_SIZE // 2
    a_idx, b_idx = perm[:half], perm[half:]  # shuffled: the file is sorted by digit
    if cfg.n:
        a_idx = a_idx[: cfg.n]
    digits = F.pad(torch.from_numpy(images.copy()).unsqueeze(1), (2, 2, 2, 2), value=0)
    x = digits[a_idx].contiguous()
    target = digits_b_style(digits[b_idx], cfg.seed, cfg.stroke)
    index = _unpaired_index(len(a_idx), len(b_idx), cfg.seed)
    y = torch.from_numpy(labels[a_idx].copy())
    target_label = torch.from_numpy(labels[b_idx].copy())[index]
    info = DataInfo(shape=(1, 32, 32), num_classes=10, class_names=tuple(map(str, range(10))),
                    attr_names=("target_label",), target_shape=(3, 32, 32), paired=False)
    return TensorDataset(x, y, attrs={"target_label": target_label}, info=info, target=target, target_index=index)
