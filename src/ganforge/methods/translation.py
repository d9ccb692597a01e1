"""What image-to-image recipes share (DESIGN.md §10): fixed preview inputs taken from the data, sample grids with
input | output | target columns, the constant-then-linear learning-rate schedule, and the networks by direction.

A translation recipe (pix2pix, CycleGAN, DiscoGAN, pix2pixHD, SRGAN) subclasses :class:`TranslationMethod`; its
`generator` is a :class:`~ganforge.models.base.Translator` from domain A (the Batch's `x`) to domain B (its
`target`). This module registers nothing.
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..models.base import translate_batch
from .base import Method

PREVIEW_PAIRS = 16  # samples in a training grid: 4 rows of 4 (input, output, target) triples
PER_ROW = 4


def linear_decay(step: int, constant_steps: int, decay_steps: int) -> float:
    """The learning-rate factor of CycleGAN / pix2pixHD (official `lambda_rule`, in iterations instead of
    epochs): 1 for the first `constant_steps`, then falling linearly, 1 − (step − constant)/(decay + 1).

    A pure function of the step count, so a resumed run follows exactly the schedule of an uninterrupted one."""
    return 1.0 - max(0, step - constant_steps) / float(decay_steps + 1)


def require_pairs(info, recipe: str) -> None:
    """A one-line ConfigError unless the data are paired two-domain data (each input with its own target)."""
    from ..errors import ConfigError

    if not info.two_domain or not info.paired:
        kind = "unpaired two-domain data" if info.two_domain else "data without targets"
        raise ConfigError(f"{recipe} learns from pairs (each input with its own target), not {kind}; for unpaired "
                          f"domains use cyclegan or discogan")


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def as_display(x: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Images of any channel count shown as RGB at `size`: grey is repeated, >3 channels (one-hot label maps)
    become the argmax's colour code, smaller inputs (super-resolution) are enlarged with nearest neighbours."""
    x = x.float()
    if x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    elif x.shape[1] > 3:
        x = label_colors(x.argmax(1))
    elif x.shape[1] == 2:
        x = torch.cat([x, x[:, :1]], 1)
    if tuple(x.shape[-2:]) != tuple(size):
        x = F.interpolate(x, size=size, mode="nearest")
    return x


_PALETTE = torch.tensor([[0, 0, 0], [230, 25, 75], [60, 180, 75], [0, 130, 200], [255, 225, 25], [145, 30, 180],
                         [70, 240, 240], [245, 130, 48], [240, 50, 230], [210, 245, 60], [250, 190, 190],
                         [0, 128, 128], [170, 110, 40], [128, 0, 0], [128, 128, 128], [255, 255, 255]],
                        dtype=torch.float32) / 127.5 - 1


def label_colors(labels: torch.Tensor) -> torch.Tensor:
    """N×H×W class ids -> N×3×H×W colours in [-1, 1] (a fixed palette, ids wrap after 16)."""
    return _PALETTE.to(labels.device)[labels % len(_PALETTE)].permute(0, 3, 1, 2)


def triples(columns) -> Tuple[torch.Tensor, int]:
    """Interleave equal-length image batches column-wise: sample i's images side by side, PER_ROW samples a row."""
    size = tuple(columns[1].shape[-2:])
    shown = [as_display(c, size).cpu() for c in columns]
    grid = torch.stack(shown, 1).flatten(0, 1)
    return grid, len(columns) * PER_ROW


class TranslationMethod(Method):
    """Base of the image-to-image recipes. `generator` translates A -> B; `translators()` gives every direction a
    recipe trains (CycleGAN and DiscoGAN add "BtoA")."""

    def preview_inputs(self, dataset, n: int, seed: int):
        """The first samples of the data (the same every run and every resume)."""
        self.paired = bool(dataset.info.paired)
        return dataset.get(torch.arange(min(PREVIEW_PAIRS, len(dataset))))

    @torch.no_grad()
    def preview(self, generator: nn.Module, inputs) -> Tuple[torch.Tensor, Optional[int]]:
        """Columns input | output | target for paired data; input | output | back-translation for unpaired data
        when the recipe has a B -> A network (otherwise input | output | an unrelated B image)."""
        device = next(generator.parameters()).device
        x = inputs.x.to(device)
        out = translate_batch(generator, inputs.to(device))
        back = self.translators().get("BtoA")
        if getattr(self, "paired", True) or back is None:
            third = inputs.target
        else:
            was = back.training
            back.eval()
            third = back(out)
            back.train(was)
        return triples([x, out, third.to(device)])

    def translators(self) -> Dict[str, nn.Module]:
        return {"AtoB": self.generator}
