"""The Batch every dataset yields (DESIGN.md §3)."""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Dict, Optional

import torch


@dataclass
class Batch:
    """A minibatch.

    x:     float32, N×C×H×W in [-1, 1] for images, or N×D points for toy data.
    y:     optional int64 class labels, shape N.
    mask:  optional int64 per-pixel classes, N×H×W.
    attrs: optional named per-sample attributes (int64 or float tensors of length N; per-pixel maps such as
           pix2pixHD's instance ids are N×H×W).
    target: optional second image of each sample, float32 N×C'×H'×W' in [-1, 1]: domain B of a two-domain
           dataset (the paired image, or an independent draw from B when the data are unpaired) or the
           high-resolution image of a super-resolution pair (DESIGN.md §10). `x` is then domain A / the input.
    """

    x: torch.Tensor
    y: Optional[torch.Tensor] = None
    mask: Optional[torch.Tensor] = None
    attrs: Dict[str, torch.Tensor] = field(default_factory=dict)
    target: Optional[torch.Tensor] = None

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def to(self, device, non_blocking: bool = False, memory_format=None) -> "Batch":
        def mv(t):
            return None if t is None else t.to(device, non_blocking=non_blocking)

        def image(t):
            if t is None:
                return None
            t = t.to(device, non_blocking=non_blocking)
            return t.contiguous(memory_format=memory_format) if memory_format is not None and t.dim() == 4 else t

        return Batch(image(self.x), mv(self.y), mv(self.mask), {k: mv(v) for k, v in self.attrs.items()},
                     image(self.target))

    def __getitem__(self, idx) -> "Batch":
        def sel(t):
            return None if t is None else t[idx]

        return Batch(self.x[idx], sel(self.y), sel(self.mask), {k: v[idx] for k, v in self.attrs.items()},
                     sel(self.target))

    @staticmethod
    def field_names():
        return [f.name for f in fields(Batch)]
