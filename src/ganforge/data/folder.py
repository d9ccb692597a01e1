"""Users' own data: a folder of images (``folder``) or a NumPy ``.npz`` file of arrays (``npz``).

Folders are decoded once into memory at the training resolution: the shorter side is resized with LANCZOS and the
centre is cropped, equivalent to the ``--transform=center-crop`` of StyleGAN2-ADA's ``dataset_tool.py`` (Karras
et al., "Training Generative Adversarial Networks with Limited Data", NeurIPS 2020). Files that cannot be used (empty, truncated,
not images, or larger than ``max_pixels``: a decompression bomb) are skipped, named in one warning, and listed in
``dataset.skipped``; nothing usable at all is a :class:`~ganforge.errors.DataError` before training starts.
"""
from __future__ import annotations

import logging
import os
import warnings
import zipfile
from dataclasses import dataclass
from typing import List, Tuple

import numpy as np
import torch
from PIL import Image

from ..errors import DataError
from ..registry import DATASETS
from .base import DataInfo, TensorDataset, stack_uint8
from ..utils.progress import progress
from .bundled import resize_uint8

log = logging.getLogger(__name__)
MAX_PIXELS = 89_478_485  # PIL's own decompression-bomb limit

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
PROGRESS_MIN_FILES = 200
_NAMES_IN_WARNING = 10


class _Skip(Exception):
    """A file that is not a usable image; the message is the reason."""


@dataclass
class FolderConfig:
    """A folder of images (searched recursively).

    channels: 3 (RGB) or 1 (grayscale); every PIL mode is converted (alpha composited on black, 16-bit scaled).
    max_pixels: images with more pixels than this are refused without decoding (PIL's default limit).
    labels: if true, the first-level subfolder names (sorted) are the classes.
    """

    name: str = "folder"
    path: str = ""
    resolution: int = 64
    channels: int = 3
    max_pixels: int = MAX_PIXELS
    labels: bool = False


def list_images(root: str) -> List[str]:
    """All files under `root` with an image extension (case-insensitive), sorted, hidden folders excluded."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found += [os.path.join(dirpath, f) for f in sorted(filenames) if f.lower().endswith(IMAGE_EXTENSIONS)]
    return found


def _to_mode(im: Image.Image, channels: int) -> Image.Image:
    """Any PIL mode -> "RGB" or "L": alpha composited on black, 16/32-bit integer scaled (not clipped) to 8 bits."""
    mode = im.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        a = np.asarray(im).astype(np.float64)
        # 16-bit data (I;16*, and "I" holding 16-bit PNG values) scale by 255/65535; "I"/"F" images whose values
        # already fit 0..255 are kept.
        if mode.startswith("I;16") or a.max(initial=0) > 255:
            a = a * (255.0 / 65535.0)
        im = Image.fromarray(np.clip(np.round(a), 0, 255).astype(np.uint8), "L")
    elif mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in im.info):
        rgba = np.asarray(im.convert("RGBA")).astype(np.float32)
        rgb = rgba[..., :3] * (rgba[..., 3:] / 255.0)
        im = Image.fromarray(np.clip(np.round(rgb), 0, 255).astype(np.uint8), "RGB")
    return im.convert("RGB" if channels == 3 else "L")


def _resize_crop(im: Image.Image, size: int) -> Image.Image:
    """Resize so the shorter side is `size` (LANCZOS), then crop the centre size×size. A very long strip (sides
    over 4:1) is cropped to its centre square first: resized whole it could take gigabytes."""
    w, h = im.size
    if max(w, h) > 4 * min(w, h):
        side = min(w, h)
        im = im.crop(((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side))
        w, h = im.size
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    if (nw, nh) != (w, h):
        im = im.resize((nw, nh), Image.LANCZOS, reducing_gap=3.0)
    left, top = (nw - size) // 2, (nh - size) // 2
    return im.crop((left, top, left + size, top + size))


def load_image(path: str, resolution: int, channels: int = 3, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode one image file -> H×W×C uint8 at `resolution`; raises _Skip with the reason if it is unusable."""
    try:
        if os.path.getsize(path) == 0:
            raise _Skip("empty file")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own max_pixels decides
            with Image.open(path) as im:
                w, h = im.size
                if w * h > max_pixels:
                    raise _Skip(f"{w}×{h} = {w * h:,} pixels is over max_pixels={max_pixels:,} (decompression bomb?)")
                im.draft(None, (resolution, resolution))  # JPEG: decode at a reduced scale, still ≥ resolution
                im.load()
                out = _resize_crop(_to_mode(im, channels), resolution)
    except Image.DecompressionBombError as e:
        raise _Skip(f"refused by PIL as a decompression bomb ({e})") from None
    except _Skip:
        raise
    except (FileNotFoundError, PermissionError, IsADirectoryError) as e:  # gone, or unreadable, since the listing
        why = "dangling symbolic link" if os.path.islink(path) and not os.path.exists(path) else \
            f"cannot be read: {e.strerror or e}"
        raise _Skip(why) from None
    except Image.UnidentifiedImageError:
        raise _Skip("not an image PIL can read") from None
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as e:
        raise _Skip(f"corrupt or truncated ({e})") from None
    arr = np.asarray(out, dtype=np.uint8)
    return arr[..., None] if arr.ndim == 2 else arr


def _progress(items, desc: str):
    if len(items) < PROGRESS_MIN_FILES:
        return items
    return progress(items, desc=desc, unit="img", leave=False)


def _warn_skipped(skipped: List[Tuple[str, str]], total: int, root: str) -> None:
    if not skipped:
        return
    shown = "; ".join(f"{os.path.relpath(p, root)} ({why})" for p, why in skipped[:_NAMES_IN_WARNING])
    more = f"; and {len(skipped) - _NAMES_IN_WARNING} more" if len(skipped) > _NAMES_IN_WARNING else ""
    log.warning("skipped %d of %d files in %s: %s%s (all listed in dataset.skipped)", len(skipped), total, root,
                shown, more)


def _check_folder_cfg(cfg: FolderConfig) -> str:
    if not cfg.path:
        raise DataError("the folder dataset needs a path: set data.path to a folder of images")
    root = os.path.expanduser(str(cfg.path))
    if not os.path.exists(root):
        raise DataError(f"the image folder {root} does not exist: check data.path")
    if not os.path.isdir(root):
        raise DataError(f"{root} is a file, not a folder: set data.path to a folder of images (or use the npz dataset)")
    if cfg.channels not in (1, 3):
        raise DataError(f"folder: channels must be 1 (grayscale) or 3 (RGB), got {cfg.channels!r}")
    if not isinstance(cfg.resolution, int) or cfg.resolution < 4:
        raise DataError(f"folder: resolution must be an integer ≥ 4, got {cfg.resolution!r}")
    return root


@DATASETS.register("folder", FolderConfig)
def build_folder(cfg: FolderConfig) -> TensorDataset:
    root = _check_folder_cfg(cfg)
    files = list_images(root)
    if not files:
        raise DataError(
            f"no image files in {root} (looked recursively for {', '.join(IMAGE_EXTENSIONS)}): check data.path"
        )
    classes = sorted({os.path.relpath(f, root).split(os.sep)[0] for f in files if os.sep in os.path.relpath(f, root)})
    images, labels, skipped = [], [], []
    for path in _progress(files, f"reading {os.path.basename(root.rstrip(os.sep)) or root}"):
        parts = os.path.relpath(path, root).split(os.sep)
        if cfg.labels and len(parts) == 1:
            skipped.append((path, "not inside a class subfolder (labels=true)"))
            continue
        try:
            images.append(load_image(path, cfg.resolution, cfg.channels, cfg.max_pixels))
        except _Skip as e:
            skipped.append((path, str(e)))
            continue
        if cfg.labels:
            labels.append(classes.index(parts[0]))
    _warn_skipped(skipped, len(files), root)
    if not images:
        first = "; ".join(f"{os.path.relpath(p, root)}: {why}" for p, why in skipped[:3])
        raise DataError(f"none of the {len(files)} image files in {root} could be used ({first}...): "
                        "check that they are readable images")
    x = stack_uint8(images)
    y, info = None, DataInfo(shape=tuple(x.shape[1:]))
    if cfg.labels:
        used = sorted(set(labels))
        y = torch.tensor(labels, dtype=torch.int64)
        info = DataInfo(shape=tuple(x.shape[1:]), num_classes=len(classes), class_names=tuple(classes))
        log.info("folder %s: %d images in %d classes (%d with images)", root, len(x), len(classes), len(used))
    else:
        log.info("folder %s: %d images", root, len(x))
    ds = TensorDataset(x, y, info=info)
    ds.skipped = skipped
    return ds


# ----------------------------------------------------------------------------------------------- .npz arrays
@dataclass
class NpzConfig:
    """Images in a NumPy .npz file: N×H×W×C, N×C×H×W (C = 1 or 3) or N×H×W; uint8 0..255 or float.

    Floats are read as [0, 1], or as [-1, 1] when their minimum is negative. resolution 0 keeps the size.
    key: the array of images ("" = the first of "x", "images", "arr_0"); label_key: integer labels, if present.
    """

    name: str = "npz"
    path: str = ""
    resolution: int = 0
    key: str = ""
    label_key: str = "y"


def _images_to_uint8(a: np.ndarray, where: str) -> torch.Tensor:
    """An image array in any accepted layout / range -> N×C×H×W uint8 tensor."""
    if a.ndim in (3, 4) and min(a.shape[1:]) < 1:
        raise DataError(f"{where} has shape {a.shape}: its images hold no pixels")
    if a.ndim == 3:
        a = a[:, None]
    elif a.ndim == 4:
        if a.shape[-1] in (1, 3):
            a = a.transpose(0, 3, 1, 2)
        elif a.shape[1] not in (1, 3):
            raise DataError(f"{where} has shape {a.shape}: expected N×H×W×C or N×C×H×W with C = 1 or 3")
    else:
        raise DataError(f"{where} has shape {a.shape}: expected N×H×W, N×H×W×C or N×C×H×W images")
    if a.dtype == np.uint8:
        return torch.from_numpy(np.ascontiguousarray(a))
    if a.dtype.kind == "f":
        if not np.isfinite(a).all():
            raise DataError(f"{where} contains NaN or infinite values")
        lo, hi = float(a.min()), float(a.max())
        if lo < 0:
            if lo < -1.0001 or hi > 1.0001:
                raise DataError(f"{where}: float values in [{lo:.3g}, {hi:.3g}]; expected [0, 1] or [-1, 1]")
            a = (a.astype(np.float64) + 1.0) * 127.5
        elif hi <= 1.0001:
            a = a.astype(np.float64) * 255.0
        elif hi <= 255.0:
            log.info("%s: float values up to %.3g read as 0..255", where, hi)
        else:
            raise DataError(f"{where}: float values in [{lo:.3g}, {hi:.3g}]; expected [0, 1] or [-1, 1]")
        return torch.from_numpy(np.ascontiguousarray(np.clip(np.round(a), 0, 255).astype(np.uint8)))
    if a.dtype.kind in "iub":
        if a.size and (a.min() < 0 or a.max() > 255):
            raise DataError(f"{where}: integer values in [{a.min()}, {a.max()}]; expected 0..255 (uint8)")
        return torch.from_numpy(np.ascontiguousarray(a.astype(np.uint8)))
    raise DataError(f"{where} has dtype {a.dtype}: expected uint8 or float images")


def _read_npz(path: str, cfg: NpzConfig):
    with open(path, "rb") as f:
        if f.read(4) != b"PK\x03\x04":  # a .npz is a zip archive of .npy files
            raise DataError(f"could not read {path} as a .npz file: it is not a .npz archive (np.savez writes one; "
                            f"a single array saved with np.save is a .npy: wrap it with np.savez(path, x=array))")
    try:
        with np.load(path, allow_pickle=False) as z:
            keys = list(z.files)
            key = cfg.key or next((k for k in ("x", "images", "arr_0") if k in keys), "")
            if key not in keys:
                want = repr(cfg.key) if cfg.key else "'x', 'images' or 'arr_0'"
                raise DataError(f"{path} has no array {want} (it has: {', '.join(keys) or 'none'}): set data.key")
            images = z[key]
            labels = z[cfg.label_key] if cfg.label_key and cfg.label_key in keys else None
    except DataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise DataError(f"could not read {path} as a .npz file ({type(e).__name__}: {e})") from None
    return key, images, labels


@DATASETS.register("npz", NpzConfig)
def build_npz(cfg: NpzConfig) -> TensorDataset:
    if not cfg.path:
        raise DataError("the npz dataset needs a path: set data.path to a .npz file")
    path = os.path.expanduser(str(cfg.path))
    if not os.path.isfile(path):
        raise DataError(f"the .npz file {path} does not exist: check data.path")
    key, images, labels = _read_npz(path, cfg)
    x = _images_to_uint8(images, f"{path}[{key!r}]")
    if len(x) == 0:
        raise DataError(f"{path}[{key!r}] holds no images")
    if cfg.resolution:
        x = resize_uint8(x, int(cfg.resolution))
    elif x.shape[-1] != x.shape[-2]:
        raise DataError(f"{path}[{key!r}] holds {x.shape[-2]}×{x.shape[-1]} images; the generators draw squares: "
                        f"set data.resolution to resize and centre-crop them")
    y, info = None, DataInfo(shape=tuple(x.shape[1:]))
    if labels is not None:
        if labels.ndim != 1 or len(labels) != len(x) or labels.dtype.kind not in "iu" or labels.min() < 0:
            raise DataError(f"{path}[{cfg.label_key!r}] must be {len(x)} non-negative integer labels, "
                            f"got shape {labels.shape} dtype {labels.dtype}")
        y = torch.from_numpy(labels.astype(np.int64))
        k = int(labels.max()) + 1
        if k > max(1000, 10 * len(x)):
            raise DataError(f"{path}[{cfg.label_key!r}]: labels run up to {k - 1} for {len(x)} images; classes must "
                            f"be numbered 0..K-1")
        info = DataInfo(shape=tuple(x.shape[1:]), num_classes=k, class_names=tuple(str(i) for i in range(k)))
    log.info("npz %s: %d images of shape %s", path, len(x), tuple(x.shape[1:]))
    return TensorDataset(x, y, info=info)
