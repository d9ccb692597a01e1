"""Super-resolution pairs (SRGAN, Ledig et al., "Photo-Realistic Single Image Super-Resolution Using a Generative
Adversarial Network", CVPR 2017, §3): high-resolution (HR) patches and their ×1/scale bicubic low-resolution (LR)
versions, all offline.

Layout of every Batch (DESIGN.md §10): ``x`` = the LR image 3×h×w, ``target`` = the HR image 3×H×W (H = scale·h),
both float32 in [-1, 1]; ``info.paired`` is True. The paper scales LR inputs to [0, 1] and HR to [-1, 1]; here both
are in [-1, 1] like every other ganforge Batch (an affine change the first convolution absorbs).

LR = bicubic downsampling of HR by `scale` with antialiasing (the kernel widened by the scale factor, as MATLAB's
``imresize`` and PIL's ``Image.resize(..., BICUBIC)``): ``torch.nn.functional.interpolate(mode="bicubic",
antialias=True)``, which matches PIL's BICUBIC resampling (the tests compare them), rounded to uint8.

* ``sr-photos``: HR patches cut from natural photos that ship inside installed wheels (no run-time download).
  ``photos: bundled`` (default) uses scikit-learn's ``china.jpg`` and ``flower.jpg`` (``load_sample_images``,
  both 427×640, a required dependency). With only two photos the held-out set is a region: the rightmost
  `test_fraction` of each photo's columns is the test split, and no train crop overlaps it (a gap of one patch
  width separates them). ``photos: all`` adds the colour photos inside the scikit-image wheel (``skimage/data/``:
  astronaut, coffee, chelsea, rocket, motorcycle_left, hubble_deep_field, retina, ihc, color), read as files
  without importing scikit-image; then whole photos are held out: ``HELD_OUT_PHOTOS`` (flower, chelsea,
  hubble_deep_field) form the test split and never appear in train crops. scikit-image is not a ganforge
  dependency: ``photos: all`` without it is a DataError.
  Photos are first reduced by `downscale` (antialiased bicubic) so a small patch holds edges and textures rather
  than one smooth surface; crop positions and horizontal flips are drawn from `seed`.
* ``sr-shapes``: procedural shapes scenes (ganforge.data.shapes) at `resolution` (64) HR and resolution/scale (16)
  LR; y = the primary object's shape.
"""
from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass
from typing import Dict, List, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import DataError
from ..registry import DATASETS
from .base import DataInfo, TensorDataset
from .shapes import SHAPES, ShapesConfig, build_shapes

log = logging.getLogger(__name__)

SKLEARN_PHOTOS = ("china", "flower")
SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "motorcycle_left", "hubble_deep_field", "retina",
                  "ihc", "color")
HELD_OUT_PHOTOS = ("flower", "chelsea", "hubble_deep_field")  # the test split of `photos: all`
_EXTS = (".png", ".jpg")


def bicubic_down(hr: torch.Tensor, scale: int) -> torch.Tensor:
    """uint8 N×C×H×W -> uint8 N×C×(H/scale)×(W/scale): antialiased bicubic (PIL BICUBIC's kernel), rounded."""
    n, c, h, w = hr.shape
    out = []
    for chunk in torch.split(hr, 2048):
        lr = F.interpolate(chunk.float(), size=(h // scale, w // scale), mode="bicubic", align_corners=False,
                           antialias=True)
        out.append(lr.round_().clamp_(0, 255).to(torch.uint8))
    return torch.cat(out)


def _package_dir(package: str) -> str:
    """The folder of an installed package, found without importing it ('' when it is not installed)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return ""
    return list(spec.submodule_search_locations)[0]


def photo_paths(photos: str) -> Dict[str, str]:
    """{photo name: file path} of the photo set `photos` (bundled | all); DataError when files are missing."""
    paths = {}
    sk_dir = os.path.join(_package_dir("sklearn"), "datasets", "images")
    for name in SKLEARN_PHOTOS:
        paths[name] = os.path.join(sk_dir, name + ".jpg")
    if photos == "all":
        ski = _package_dir("skimage")
        if not ski:
            raise DataError("sr-photos: photos=all needs the photos inside the scikit-image wheel "
                            "(pip install scikit-image), or use photos=bundled")
        for name in SKIMAGE_PHOTOS:
            found = [os.path.join(ski, "data", name + e) for e in _EXTS if os.path.exists(os.path.join(ski, "data",
                                                                                                       name + e))]
            paths[name] = found[0] if found else os.path.join(ski, "data", name + ".png")
    missing = [p for p in paths.values() if not os.path.exists(p)]
    if missing:
        raise DataError(f"sr-photos: photo files missing: {', '.join(missing)} (reinstall scikit-learn"
                        f"{' / scikit-image' if photos == 'all' else ''})")
    return paths


def load_photo(path: str, downscale: int) -> torch.Tensor:
    """A photo as uint8 3×H×W, reduced by `downscale` (antialiased bicubic)."""
    from PIL import Image

    with Image.open(path) as im:
        arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
    img = torch.from_numpy(arr.copy()).permute(2, 0, 1)[None]
    if downscale > 1:
        img = bicubic_down(img, downscale)
    return img[0]


@dataclass
class SRPhotosConfig:
    """HR patches of bundled natural photos and their bicubic LR versions (see the module docstring)."""

    name: str = "sr-photos"
    hr_size: int = 32  # HR patch side; LR side = hr_size / scale
    scale: int = 4
    n: int = 4000  # crops
    split: str = "train"  # train | test (held-out region or photos)
    photos: str = "bundled"  # bundled (scikit-learn's two photos) | all (+ the colour photos in scikit-image)
    downscale: int = 2  # photos are reduced by this factor before cropping
    test_fraction: float = 0.25  # photos=bundled: the rightmost share of each photo's columns held out
    flip: bool = True  # random horizontal flips
    seed: int = 0


def _validate_photos(cfg: SRPhotosConfig) -> None:
    problems = []
    if not isinstance(cfg.scale, int) or cfg.scale < 2 or cfg.scale & (cfg.scale - 1):
        problems.append(f"scale must be a power of two ≥ 2 (got {cfg.scale!r})")
    elif not isinstance(cfg.hr_size, int) or cfg.hr_size < cfg.scale or cfg.hr_size % cfg.scale:
        problems.append(f"hr_size must be a positive multiple of scale {cfg.scale} (got {cfg.hr_size!r})")
    if not isinstance(cfg.n, int) or cfg.n < 1:
        problems.append(f"n must be a positive integer (got {cfg.n!r})")
    if cfg.split not in ("train", "test"):
        problems.append(f"split must be train or test (got {cfg.split!r})")
    if cfg.photos not in ("bundled", "all"):
        problems.append(f"photos must be bundled or all (got {cfg.photos!r})")
    if not isinstance(cfg.downscale, int) or cfg.downscale < 1:
        problems.append(f"downscale must be an integer ≥ 1 (got {cfg.downscale!r})")
    if not 0 < cfg.test_fraction < 1:
        problems.append(f"test_fraction must be in (0, 1) (got {cfg.test_fraction!r})")
    if problems:
        raise DataError("sr-photos: " + "; ".join(problems))


def crop_regions(cfg: SRPhotosConfig, sizes: Dict[str, Tuple[int, int]]) -> List[Tuple[str, int, int]]:
    """(photo, first column, end column) where `cfg.split`'s crops may lie: whole held-out / kept photos
    (photos=all), or each photo's left part (train) / rightmost `test_fraction` (test), with one patch width of
    gap between them (photos=bundled)."""
    p = cfg.hr_size
    regions = []
    for name, (h, w) in sizes.items():
        if cfg.photos == "all":
            if (name in HELD_OUT_PHOTOS) == (cfg.split == "test"):
                regions.append((name, 0, w))
            continue
        cut = int(round(w * (1 - cfg.test_fraction)))
        regions.append((name, cut, w) if cfg.split == "test" else (name, 0, cut - p))
    bad = [r for r in regions if r[2] - r[1] < p or sizes[r[0]][0] < p]
    if bad:
        raise DataError(f"sr-photos: hr_size {p} does not fit the {cfg.split} region of {bad[0][0]} "
                        f"(lower downscale or hr_size)")
    return regions


@DATASETS.register("sr-photos", SRPhotosConfig)
def build_sr_photos(cfg: SRPhotosConfig) -> TensorDataset:
    _validate_photos(cfg)
    photos = {name: load_photo(path, cfg.downscale) for name, path in photo_paths(cfg.photos).items()}
    sizes = {name: tuple(img.shape[1:]) for name, img in photos.items()}
    regions = crop_regions(cfg, sizes)
    rng = np.random.default_rng(cfg.seed + (0 if cfg.split == "train" else 7919))
    # Crops spread over the regions in proportion to their areas.
    areas = np.array([(r[2] - r[1] - cfg.hr_size + 1) * (sizes[r[0]][0] - cfg.hr_size + 1) for r in regions], float)
    which = rng.choice(len(regions), size=cfg.n, p=areas / areas.sum())
    hr = torch.empty(cfg.n, 3, cfg.hr_size, cfg.hr_size, dtype=torch.uint8)
    source = torch.empty(cfg.n, dtype=torch.int64)
    left = torch.empty(cfg.n, dtype=torch.int64)
    top = torch.empty(cfg.n, dtype=torch.int64)
    flips = rng.random(cfg.n) < 0.5 if cfg.flip else np.zeros(cfg.n, bool)
    names = list(photos)
    for i, k in enumerate(which):
        name, lo, hi = regions[k]
        y0 = int(rng.integers(0, sizes[name][0] - cfg.hr_size + 1))
        x0 = int(rng.integers(lo, hi - cfg.hr_size + 1))
        patch = photos[name][:, y0:y0 + cfg.hr_size, x0:x0 + cfg.hr_size]
        hr[i] = patch.flip(-1) if flips[i] else patch
        source[i], left[i], top[i] = names.index(name), x0, y0
    lr = bicubic_down(hr, cfg.scale)
    info = DataInfo(shape=tuple(lr.shape[1:]), target_shape=tuple(hr.shape[1:]), paired=True,
                    attr_names=("photo", "left", "top", "flipped"))
    attrs = {"photo": source, "left": left, "top": top, "flipped": torch.from_numpy(flips.astype(np.int64))}
    ds = TensorDataset(lr, attrs=attrs, info=info, target=hr)
    ds.photo_names = tuple(names)
    log.debug("sr-photos: %d %s crops %d² -> %d² from %s", cfg.n, cfg.split, cfg.hr_size, cfg.hr_size // cfg.scale,
              ", ".join(r[0] for r in regions))
    return ds


@dataclass
class SRShapesConfig:
    """Shapes scenes at `resolution` HR and their bicubic ×1/scale LR versions."""

    name: str = "sr-shapes"
    resolution: int = 64  # HR side
    scale: int = 4
    n: int = 4000
    min_objects: int = 1
    max_objects: int = 3
    seed: int = 0


@DATASETS.register("sr-shapes", SRShapesConfig)
def build_sr_shapes(cfg: SRShapesConfig) -> TensorDataset:
    if not isinstance(cfg.scale, int) or cfg.scale < 2 or cfg.scale & (cfg.scale - 1):
        raise DataError(f"sr-shapes: scale must be a power of two ≥ 2 (got {cfg.scale!r})")
    if not isinstance(cfg.resolution, int) or cfg.resolution % cfg.scale or cfg.resolution // cfg.scale < 4:
        raise DataError(f"sr-shapes: resolution must be a multiple of scale {cfg.scale} with a low-resolution "
                        f"side ≥ 4 (got {cfg.resolution!r})")
    scenes = build_shapes(ShapesConfig(resolution=cfg.resolution, n=cfg.n, min_objects=cfg.min_objects,
                                       max_objects=cfg.max_objects, seed=cfg.seed))
    hr = scenes.x
    lr = bicubic_down(hr, cfg.scale)
    info = DataInfo(shape=tuple(lr.shape[1:]), target_shape=tuple(hr.shape[1:]), paired=True,
                    num_classes=len(SHAPES), class_names=SHAPES)
    return TensorDataset(lr, y=scenes.y, info=info, target=hr)
