"""Users' two-domain image folders, in the two layouts of the official pix2pix / CycleGAN code (Isola et al. 2017;
Zhu et al. 2017, ``datasets/combine_A_and_B.py`` and ``unaligned_dataset.py``):

* ``ab``: one folder of side-by-side images, A on the left half and B on the right (pix2pix's aligned datasets);
* ``split``: ``trainA/`` and ``trainB/`` (or the `phase` given) — paired by file name (same stem on both sides)
  when ``paired: true``, otherwise two independent sets of any sizes (CycleGAN's unaligned datasets).

Every image is converted to the domain's channels and resized so its shorter side is `resolution`, then
centre-cropped (the folder dataset's rule). ``channels: 0`` takes each domain's channel count from its first
image, and then an image of the other kind (grey among colour images or the reverse) is an error naming the
file. Unreadable files are skipped and counted. Paired data must pair up: unmatched names, or an A and a B of the
same pair with different sizes, are errors naming the files.
"""
from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass, field
from typing import List, Tuple

import numpy as np
import torch
from PIL import Image

from ..errors import DataError
from ..registry import DATASETS
from .base import DataInfo, TensorDataset, stack_uint8
from .folder import MAX_PIXELS, _resize_crop, _Skip, _to_mode, _warn_skipped, list_images, load_image
from .translation import _unpaired_index

log = logging.getLogger(__name__)


@dataclass
class FolderPairsConfig:
    name: str = "folder-pairs"
    path: str = ""
    layout: str = "auto"  # ab | split | auto (split when <path>/<phase>A exists)
    phase: str = "train"
    paired: bool = True  # split layout: pair trainA/x.png with trainB/x.png
    resolution: int = 64  # of each side (ab: of each half)
    channels: int = field(default=0, metadata={"bound": None})  # 0: each domain's first image decides; 1 or 3
    seed: int = 0  # the arbitrary A-B pairing of unpaired data
    n: int = field(default=0, metadata={"bound": None})  # the first n images (pairs) by file name; 0: all


def _mode_channels(path: str, max_pixels: int = MAX_PIXELS) -> int:
    """1 or 3 by the file's mode; _Skip for a file PIL cannot read or one over `max_pixels` (decompression bomb)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own max_pixels decides
            with Image.open(path) as im:
                w, h = im.size
                if w * h > max_pixels:
                    raise _Skip(f"{w}×{h} = {w * h:,} pixels is over max_pixels={max_pixels:,} (decompression "
                                f"bomb?)")
                return 1 if im.mode in ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F") else 3
    except Image.DecompressionBombError as e:
        raise _Skip(f"refused by PIL as a decompression bomb ({e})") from None
    except (OSError, ValueError, SyntaxError) as e:
        raise _Skip(f"not an image PIL can read ({e})") from None


def _read_domain(files: List[str], cfg: FolderPairsConfig, root: str, crop_half: str = ""):
    """Decode `files` -> (N×C×R×R uint8, kept file list, sizes); skipped files are counted and warned about."""
    images, kept, sizes, skipped = [], [], [], []
    channels = cfg.channels
    for path in files:
        try:
            found = _mode_channels(path)
            if channels == 0:
                channels = found
            elif cfg.channels == 0 and found != channels:
                kinds = {1: "grey", 3: "colour"}
                raise DataError(f"{path} is a {kinds[found]} image among {kinds[channels]} ones: convert it, or set "
                                f"data.channels=1 or 3 to convert every image")
            with Image.open(path) as im:
                size = im.size
            if crop_half:
                images.append(_load_half(path, crop_half, cfg.resolution, channels))
            else:
                images.append(load_image(path, cfg.resolution, channels))
            kept.append(path)
            sizes.append(size)  # only of the kept files: the pair check compares kept A with kept B
        except _Skip as e:
            skipped.append((path, str(e)))
    _warn_skipped(skipped, len(files), root)
    if not images:
        raise DataError(f"none of the {len(files)} image files in {root} could be used: check that they are "
                        f"readable images")
    return stack_uint8(images), kept, sizes


def _load_half(path: str, side: str, resolution: int, channels: int) -> np.ndarray:
    """One half of a side-by-side AB image, converted and resized by the folder rule."""
    try:
        with Image.open(path) as im:
            w, h = im.size
            if w % 2:
                raise DataError(f"{path} is {w} pixels wide: an AB image puts A and B side by side, so its width "
                                f"must be even")
            im.load()
            half = im.crop((0, 0, w // 2, h)) if side == "A" else im.crop((w // 2, 0, w, h))
            out = _resize_crop(_to_mode(half, channels), resolution)
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        raise _Skip(f"corrupt or truncated ({e})") from None
    arr = np.asarray(out, dtype=np.uint8)
    return arr[..., None] if arr.ndim == 2 else arr


def _layout(cfg: FolderPairsConfig, root: str) -> str:
    if cfg.layout not in ("auto", "ab", "split"):
        raise DataError(f"folder-pairs: layout must be ab, split or auto, got {cfg.layout!r}")
    if cfg.layout != "auto":
        return cfg.layout
    return "split" if os.path.isdir(os.path.join(root, cfg.phase + "A")) else "ab"


@DATASETS.register("folder-pairs", FolderPairsConfig)
def build_folder_pairs(cfg: FolderPairsConfig) -> TensorDataset:
    if not cfg.path:
        raise DataError("folder-pairs needs a path: set data.path to a folder of AB images or with trainA/ trainB/")
    root = os.path.expanduser(str(cfg.path))
    if not os.path.isdir(root):
        raise DataError(f"the folder {root} does not exist: check data.path")
    if cfg.channels not in (0, 1, 3):
        raise DataError(f"folder-pairs: channels must be 0 (auto), 1 or 3, got {cfg.channels!r}")
    if not isinstance(cfg.resolution, int) or cfg.resolution < 4:
        raise DataError(f"folder-pairs: resolution must be an integer ≥ 4, got {cfg.resolution!r}")
    if not isinstance(cfg.n, int) or cfg.n < 0:
        raise DataError(f"folder-pairs: n must be 0 (all) or a positive integer, got {cfg.n!r}")
    if _layout(cfg, root) == "ab":
        files = list_images(root)
        if not files:
            raise DataError(f"no image files in {root}: an ab folder holds side-by-side A|B images")
        files = files[: cfg.n or None]
        a, _, _ = _read_domain(files, cfg, root, crop_half="A")
        b, _, _ = _read_domain(files, cfg, root, crop_half="B")
        return _dataset(a, b, None, paired=True)
    dirs = [os.path.join(root, cfg.phase + s) for s in ("A", "B")]
    for d in dirs:
        if not os.path.isdir(d):
            raise DataError(f"{d} is missing: the split layout needs {cfg.phase}A/ and {cfg.phase}B/ folders")
    files_a, files_b = list_images(dirs[0]), list_images(dirs[1])
    for d, f in zip(dirs, (files_a, files_b)):
        if not f:
            raise DataError(f"no image files in {d}")
    if cfg.paired:
        files_a, files_b = _match_names(files_a, files_b, dirs)
        files_b = files_b[: cfg.n or None]
    files_a = files_a[: cfg.n or None]
    a, kept_a, sizes_a = _read_domain(files_a, cfg, dirs[0])
    b, kept_b, sizes_b = _read_domain(files_b, cfg, dirs[1])
    if cfg.paired:
        if [_stem(p) for p in kept_a] != [_stem(p) for p in kept_b]:
            lost = sorted({_stem(p) for p in kept_a} ^ {_stem(p) for p in kept_b})
            raise DataError(f"{len(lost)} pair(s) lost a side to an unreadable file (e.g. {lost[0]}): fix or remove "
                            f"both sides")
        for pa, sa, sb in zip(kept_a, sizes_a, sizes_b):
            if sa != sb:
                raise DataError(f"the pair {_stem(pa)} has A {sa[0]}×{sa[1]} but B {sb[0]}×{sb[1]}: paired images "
                                f"must have the same size")
        return _dataset(a, b, None, paired=True)
    return _dataset(a, b, _unpaired_index(len(a), len(b), cfg.seed), paired=False)


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def _match_names(files_a: List[str], files_b: List[str], dirs) -> Tuple[List[str], List[str]]:
    by_a, by_b = {_stem(p): p for p in files_a}, {_stem(p): p for p in files_b}
    only_a, only_b = sorted(set(by_a) - set(by_b)), sorted(set(by_b) - set(by_a))
    if only_a or only_b:
        side, names = (dirs[0], only_a) if only_a else (dirs[1], only_b)
        raise DataError(f"paired data: {len(only_a) + len(only_b)} file(s) have no partner, e.g. {names[0]} in "
                        f"{side} ({len(by_a)} A files, {len(by_b)} B files); set data.paired=false for unpaired data")
    names = sorted(by_a)
    return [by_a[n] for n in names], [by_b[n] for n in names]


def _dataset(a: torch.Tensor, b: torch.Tensor, index, paired: bool) -> TensorDataset:
    info = DataInfo(shape=tuple(a.shape[1:]), target_shape=tuple(b.shape[1:]), paired=paired)
    log.info("folder-pairs: %d A and %d B images (%s)", len(a), len(b), "paired" if paired else "unpaired")
    return TensorDataset(a, info=info, target=b, target_index=index)
