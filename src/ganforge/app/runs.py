"""The run table: the run directories named when the server starts, loaded once, addressed by their name or
their index. No path from a request ever reaches the file system: a request names a run, the table maps it to a
directory it already knows (or answers 404)."""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from .. import api
from ..errors import GanforgeError
from ..dissect.segmenter import SEGMENTER_NAMES, read_segmenter_card
from ..latent.style import layer_ranges
from .errors import BadRequest


def is_style_based(g) -> bool:
    return all(hasattr(g, a) for a in ("mapping", "synthesis", "num_ws", "make_noise", "truncate"))


def _segmenter_for(info) -> Optional[str]:
    """The shipped segmenter whose classes are the run's mask classes (GANPaint needs one), or None."""
    if len(info.shape) != 3 or info.shape[0] != 3 or not info.mask_classes or info.shape[-1] % 8:
        return None
    for name in SEGMENTER_NAMES:
        try:
            card = read_segmenter_card(name)
        except Exception:  # a missing asset only disables painting
            continue
        if tuple(card["architecture"]["class_names"]) == tuple(info.mask_classes):
            return name
    return None


@dataclass
class ServedRun:
    name: str
    path: str
    loaded: object
    lock: threading.Lock = field(default_factory=threading.Lock)  # hooks and BN buffers: one request at a time

    @property
    def generator(self):
        return self.loaded.generator

    @property
    def kind(self) -> str:
        """translator, audio, text, image (1 or 3 channels), points (2-D) or other."""
        info = self.loaded.info
        if hasattr(self.loaded, "translate"):
            return "translator"
        if info.is_audio:
            return "audio"
        if info.is_text:
            return "text"
        if info.is_image and info.shape[0] in (1, 3):
            return "image"
        return "points" if len(info.shape) == 1 else "other"

    @property
    def segmenter(self) -> Optional[str]:
        return _segmenter_for(self.loaded.info) if self.kind == "image" else None

    def describe(self, index: int) -> dict:
        info, g = self.loaded.info, self.generator
        out = {"index": index, "name": self.name, "kind": self.kind, "checkpoint": os.path.basename(
            self.loaded.checkpoint), "shape": list(info.shape)}
        if self.kind != "image":
            return out
        style = is_style_based(g)
        k = int(getattr(g, "num_classes", 0) or 0)
        layers = list(g.feature_layers()) if hasattr(g, "feature_layers") else []
        out.update(resolution=int(info.shape[-1]), channels=int(info.shape[0]), z_dim=int(g.z_dim),
                   num_classes=k, class_names=list(info.class_names)[:k] if k else [],
                   style_based=style, layer_ranges=layer_ranges(g.num_ws) if style else {},
                   layers=layers, paint_layer=default_paint_layer(layers), paintable=self.segmenter is not None,
                   method=self.loaded.config.method.name, generator=self.loaded.config.generator.name)
        return out

    def require_images(self) -> None:
        if self.kind == "translator":
            raise BadRequest(f"run {self.name!r} is an image-to-image run: it translates images, it does not "
                             f"sample them")
        what = {"points": "makes 2-D points, not images (the GAN Lab page shows 2-D GANs)",
                "audio": "makes notes (audio), not images: use `ganforge synth` for it",
                "text": "makes text, not images: use `ganforge infill` for it",
                "other": f"makes samples of shape {list(self.loaded.info.shape)}, not images"}
        if self.kind != "image":
            raise BadRequest(f"run {self.name!r} {what[self.kind]}")


def default_paint_layer(layers: Sequence[str]) -> Optional[str]:
    """A middle layer, as GAN Dissection paints at an intermediate featuremap (layer 4 of 14 in the paper)."""
    return layers[(len(layers) - 1) // 2] if layers else None


def _unique_names(paths: Sequence[str]) -> List[str]:
    names: List[str] = []
    for p in paths:
        base = os.path.basename(os.path.normpath(p)) or "run"
        name, i = base, 2
        while name in names:
            name, i = f"{base}-{i}", i + 1
        names.append(name)
    return names


class RunTable:
    """Runs by name (the directory's base name, made unique with -2, -3, ...) or by index ("0", "1", ...)."""

    def __init__(self, paths: Sequence[str], device: str = "cpu"):
        if not paths:
            raise BadRequest("name at least one run directory")
        self.runs: Dict[str, ServedRun] = {}
        self.skipped: List[str] = []  # "path: why" of each run that could not be loaded (the others are served)
        first_error = None
        for name, path in zip(_unique_names(paths), paths):
            try:
                self.runs[name] = ServedRun(name, os.path.abspath(path), api.load(path, device=device))
            except GanforgeError as e:
                first_error = first_error or e
                self.skipped.append(f"{path}: {e}")
        if not self.runs:
            raise first_error
        self.order = list(self.runs)

    def get(self, key: str) -> ServedRun:
        if key in self.runs:
            return self.runs[key]
        if key.isdigit() and str(int(key)) == key and int(key) < len(self.order):
            return self.runs[self.order[int(key)]]
        raise BadRequest(f"no run {key[:60]!r}: this server serves {', '.join(self.order)} "
                         f"(by name or index 0–{len(self.order) - 1})", 404)

    def describe(self) -> List[dict]:
        return [self.runs[n].describe(i) for i, n in enumerate(self.order)]
