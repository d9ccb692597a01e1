"""Dataset interface and the deterministic, resumable batch stream used by the Trainer."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch

from .batch import Batch


@dataclass(frozen=True)
class DataInfo:
    """What a model needs to know about the data: sample shape, classes, and the names of attributes/mask classes."""

    shape: Tuple[int, ...]  # (C, H, W) for images, (D,) for points
    num_classes: int = 0
    class_names: Tuple[str, ...] = ()
    mask_classes: Tuple[str, ...] = ()
    attr_names: Tuple[str, ...] = ()
    target_shape: Tuple[int, ...] = ()  # (C', H', W') of Batch.target for two-domain data; () when there is none
    paired: bool = False  # two-domain data: Batch.target is x's own counterpart (True) or an unrelated draw of B
    vocab: Tuple[str, ...] = ()  # text data: the words of the token ids (data/text.py); () for other data
    audio: Tuple[Tuple[str, object], ...] = ()  # audio data: STFT settings + representation (data/audio.py)

    @property
    def is_image(self) -> bool:
        return len(self.shape) == 3

    @property
    def two_domain(self) -> bool:
        """Batches carry a second image (`target`): translation or super-resolution data."""
        return len(self.target_shape) == 3

    @property
    def is_text(self) -> bool:
        """Batches carry token ids (x int64 N×L) of the vocabulary `vocab`."""
        return len(self.vocab) > 0

    @property
    def is_audio(self) -> bool:
        """Samples are notes: spectrograms (or waveforms) whose settings are `dict(audio)` (data/audio.py)."""
        return len(self.audio) > 0

    def to_json(self) -> dict:
        return {
            "shape": list(self.shape),
            "num_classes": self.num_classes,
            "class_names": list(self.class_names),
            "mask_classes": list(self.mask_classes),
            "attr_names": list(self.attr_names),
            "target_shape": list(self.target_shape),
            "paired": self.paired,
            **({"vocab": list(self.vocab)} if self.vocab else {}),
            **({"audio": dict(self.audio)} if self.audio else {}),
        }

    @staticmethod
    def from_json(d: dict) -> "DataInfo":
        return DataInfo(
            shape=tuple(d["shape"]),
            num_classes=int(d.get("num_classes", 0)),
            class_names=tuple(d.get("class_names", ())),
            mask_classes=tuple(d.get("mask_classes", ())),
            attr_names=tuple(d.get("attr_names", ())),
            target_shape=tuple(d.get("target_shape", ())),
            paired=bool(d.get("paired", False)),
            vocab=tuple(d.get("vocab", ())),
            audio=tuple(sorted(d.get("audio", {}).items())),
        )


class TensorDataset:
    """An in-memory dataset: images stored as uint8 (N×C×H×W) or float points, converted per batch.

    All bundled and procedural datasets, and decoded image folders, are held this way: indexing a batch is one
    tensor gather, so the data pipeline never limits a CPU training step.

    Two-domain data add `target` (uint8 or float, images of domain B or high-resolution images). Paired data
    index it like x. Unpaired data pass `target_index`, one index into `target` per sample of x, drawn at random
    by the dataset (so domains of different sizes both cover all their images): sample i yields x[i] and
    target[target_index[i]], an arbitrary pairing that recipes for unpaired data never use as a pair.
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: Optional[torch.Tensor] = None,
        mask: Optional[torch.Tensor] = None,
        attrs: Optional[Dict[str, torch.Tensor]] = None,
        info: Optional[DataInfo] = None,
        target: Optional[torch.Tensor] = None,
        target_index: Optional[torch.Tensor] = None,
    ):
        if len(x) == 0:
            from ..errors import DataError

            raise DataError("the dataset is empty")
        self.x = x
        self.y = y
        self.mask = mask
        self.attrs = attrs or {}
        self.target = target
        self.target_index = target_index
        self.info = info or DataInfo(shape=tuple(x.shape[1:]))

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def nbytes(self) -> int:
        tensors = [self.x, self.y, self.mask, self.target, self.target_index, *self.attrs.values()]
        return sum(t.numel() * t.element_size() for t in tensors if t is not None)

    def to(self, device) -> "TensorDataset":
        """Move every tensor to `device` (small datasets live on the GPU: a batch is then one gather there)."""
        mv = (lambda t: None if t is None else t.to(device))
        moved = TensorDataset(mv(self.x), mv(self.y), mv(self.mask), {k: mv(v) for k, v in self.attrs.items()},
                              self.info, mv(self.target), mv(self.target_index))
        for k, v in vars(self).items():  # keep extra attributes (e.g. a folder's skipped-file list)
            if k not in vars(moved):
                setattr(moved, k, v)
        return moved

    def get(self, index) -> Batch:
        """The batch at `index` (a LongTensor, slice or int list), x as float32 in [-1, 1]."""
        if isinstance(index, torch.Tensor) and index.device != self.x.device:
            index = index.to(self.x.device)
        sel = (lambda t: None if t is None else t[index])
        target = None
        if self.target is not None:
            target = _as_float(self.target[self.target_index[index] if self.target_index is not None else index])
        return Batch(_as_float(self.x[index]), sel(self.y), sel(self.mask), {k: v[index] for k, v in self.attrs.items()},
                     target)

    def __getitem__(self, i: int) -> Batch:
        return self.get(torch.as_tensor([i]))


def _as_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 images -> float32 in [-1, 1]; float data as float32."""
    return x.float().div_(127.5).sub_(1.0) if x.dtype == torch.uint8 else x.float()


class BatchStream:
    """Endless, seeded stream of shuffled minibatches whose position is part of the checkpoint.

    Epoch `e` uses the permutation drawn from seed (seed, e); the position (epoch, offset) is all that is saved,
    so a resumed run draws exactly the batches an uninterrupted one would. Incomplete final batches are dropped.
    `batch_size` is the global batch; with `rank`/`world_size` each process takes its strided share of it.
    """

    def __init__(self, dataset: TensorDataset, batch_size: int, seed: int = 0, rank: int = 0, world_size: int = 1):
        if batch_size > len(dataset):
            from ..errors import DataError

            raise DataError(f"batch size {batch_size} is larger than the dataset ({len(dataset)} samples)")
        self.dataset = dataset
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self.offset = 0
        self.images_seen = 0
        self._perm = None

    def _permutation(self) -> torch.Tensor:
        if self._perm is None or self._perm[0] != self.epoch:
            g = torch.Generator().manual_seed(int(self.seed) * 1_000_003 + self.epoch)
            perm = torch.randperm(len(self.dataset), generator=g)  # drawn on CPU: identical on every device
            device = getattr(getattr(self.dataset, "x", None), "device", None)
            self._perm = (self.epoch, perm.to(device) if device is not None else perm)
        return self._perm[1]

    def next(self) -> Batch:
        global_bs = self.batch_size
        if self.offset + global_bs > len(self.dataset):
            self.epoch += 1
            self.offset = 0
        idx = self._permutation()[self.offset : self.offset + global_bs][self.rank :: self.world_size]
        self.offset += global_bs
        self.images_seen += global_bs
        return self.dataset.get(idx)

    __next__ = next

    def __iter__(self):
        return self

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "offset": self.offset, "images_seen": self.images_seen, "seed": self.seed}

    def load_state_dict(self, state: dict) -> None:
        self.epoch = int(state["epoch"])
        self.offset = int(state["offset"])
        self.images_seen = int(state["images_seen"])
        self._perm = None


def stack_uint8(images: Sequence[np.ndarray]) -> torch.Tensor:
    """HWC uint8 arrays -> N×C×H×W uint8 tensor."""
    arr = np.stack(images).astype(np.uint8)
    if arr.ndim == 3:
        arr = arr[..., None]
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(0, 3, 1, 2)))
