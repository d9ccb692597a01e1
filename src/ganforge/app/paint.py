"""The GANPaint page's API (Bau et al., "GAN Dissection", ICLR 2019, §4 and the GANPaint demo): pick a class,
paint with a brush on a generated image, and the server switches the class's units of one layer off (remove) or
on (insert) inside the painted region only.

The units of a class are the layer's top units by IoU with it, from a dissection of the layer (the run's own
``ganforge dissect`` report, RUN/dissect/LAYER/dissect.json, when there is one; else computed on demand with the
dissect API at GANPaint's threshold, each unit's 99th percentile, and kept in memory). Insertion sets each unit to
its mean activation where the class is present (:func:`ganforge.dissect.insertion_values`; the 99th percentile,
GANPaint's "draw" value, for colour concepts the segmenter's primary head does not name and for classes that never
appear in the samples). Painting is stateless: a request carries every stroke so far, so undo is the same request
without the last stroke and gives back the earlier image exactly.
"""
from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from typing import Annotated, Dict, List, Literal, Optional, Tuple

import numpy as np
import torch
from fastapi import APIRouter, Path, Query
from pydantic import Field

from ..dissect import edit, insertion_values, load_segmenter
from ..dissect.dissect import LayerDissection, UnitRecord
from ..dissect.intervene import num_units, unit_quantile_values
from .. import api
from ..errors import ConfigError
from .errors import BadRequest
from .images import image_png, png_response
from .runs import RunTable, ServedRun, default_paint_layer
from .sampling import PNG, labels, render, seed_latents
from .schemas import Body, SFloat, SInt, Seed

MAX_STROKES, MAX_POINTS = 64, 2000
Coordinate = Annotated[SFloat, Field(ge=-10_000, le=10_000)]


class Stroke(Body):
    cls: str = Field(..., min_length=1, max_length=40, description="a class of the layer's dissection")
    mode: Literal["remove", "insert"] = "remove"
    radius: SFloat = Field(3.0, ge=0.5, le=64.0, description="brush radius in image pixels")
    points: List[Annotated[List[Coordinate], Field(min_length=2, max_length=2)]] = Field(
        ..., min_length=1, max_length=MAX_POINTS, description="brush centres (x, y) in image pixels")


class PaintRequest(Body):
    seed: Seed = 0
    layer: Optional[str] = Field(None, max_length=100, description="default: a middle layer")
    units: SInt = Field(8, ge=1, le=512, description="units per class (the top ones by IoU)")
    strokes: List[Stroke] = Field(default_factory=list, max_length=MAX_STROKES)


def stroke_mask(stroke: Stroke, size: int, chunk: int = 256) -> torch.Tensor:
    """H×W boolean: the pixels (centres) within the brush radius of the polyline through the stroke's points —
    each segment is a capsule, measured exactly, so the cost is bounded by points × pixels whatever the
    coordinates."""
    pts = np.asarray(stroke.points, dtype=np.float64)
    a, b = (pts[:-1], pts[1:]) if len(pts) > 1 else (pts, pts)
    ys, xs = np.mgrid[0:size, 0:size] + 0.5
    pix = np.stack([xs.ravel(), ys.ravel()], 1)  # P×2
    inside = np.zeros(len(pix), dtype=bool)
    for i in range(0, len(a), chunk):
        sa, sb = a[i:i + chunk], b[i:i + chunk]  # S×2
        d = sb - sa
        length2 = (d ** 2).sum(1)
        t = ((pix[:, None, :] - sa[None]) * d[None]).sum(2) / np.where(length2 > 0, length2, 1.0)[None]
        nearest = sa[None] + np.clip(t, 0.0, 1.0)[..., None] * d[None]  # P×S×2
        inside |= (((pix[:, None, :] - nearest) ** 2).sum(2) <= stroke.radius ** 2).any(1)
    return torch.from_numpy(inside.reshape(size, size))


class UnitBank:
    """Dissections per (run, layer) and insertion values per (run, layer, class), computed once, kept."""

    def __init__(self, dissect_n: int):
        self.dissect_n = dissect_n
        self._dissections: Dict[Tuple[str, str], LayerDissection] = {}
        self._values: Dict[Tuple[str, str, str], torch.Tensor] = {}
        self._segmenters: Dict[str, object] = {}
        self._lock = threading.Lock()

    def segmenter(self, name: str):
        with self._lock:
            if name not in self._segmenters:
                self._segmenters[name] = load_segmenter(name)
            return self._segmenters[name]

    def dissection(self, served: ServedRun, layer: str) -> LayerDissection:
        key = (served.name, layer)
        if key not in self._dissections:
            self._dissections[key] = self._read_report(served, layer) or api.dissect(
                served.loaded, self.segmenter(served.segmenter), layer, n=self.dissect_n, threshold=0.99, top_k=0)
        return self._dissections[key]

    @staticmethod
    def _read_report(served: ServedRun, layer: str) -> Optional[LayerDissection]:
        path = os.path.join(served.path, "dissect", layer, "dissect.json")  # layer: a name the generator gave
        try:
            with open(path) as f:
                raw = json.load(f)
            report = LayerDissection(raw["layer"], raw["num_units"], raw["feature_size"], raw["class_names"],
                                     [UnitRecord(**u) for u in raw["units"]], raw.get("settings", {}))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        k = len(report.class_names)
        whole = report.layer == layer and report.num_units == num_units(served.loaded, layer) and \
            sorted(u.unit for u in report.units) == list(range(report.num_units)) and \
            all(isinstance(u.iou_per_class, list) and len(u.iou_per_class) == k for u in report.units)
        return report if whole else None  # a damaged or hand-edited report: dissect the layer again

    def values(self, served: ServedRun, layer: str, cls: str) -> torch.Tensor:
        key = (served.name, layer, cls)
        if key not in self._values:
            seg = self.segmenter(served.segmenter)
            v = None
            if cls in seg.class_names:
                try:
                    v = insertion_values(served.loaded, seg, layer, cls, n=self.dissect_n)
                except ConfigError:  # the class never appears in the samples: GANPaint's q99 "draw" value
                    v = None
            if v is None:
                v = unit_quantile_values(served.loaded, layer, q=0.99, n=self.dissect_n)
            self._values[key] = v
        return self._values[key]


def check_paintable(served: ServedRun, layer: Optional[str]) -> str:
    served.require_images()
    if served.segmenter is None:
        raise BadRequest(f"run {served.name!r} cannot be painted: GANPaint needs a segmenter for its data "
                         f"(shipped: shapes scenes, 3 channels)")
    layers = list(served.generator.feature_layers())
    layer = layer or default_paint_layer(layers)
    if layer not in layers:
        raise BadRequest(f"unknown layer {layer[:60]!r}: this run's layers are {', '.join(layers)}")
    return layer


def paint_image(served: ServedRun, bank: UnitBank, req: PaintRequest) -> Tuple[torch.Tensor, Dict[str, List[int]]]:
    layer = check_paintable(served, req.layer)
    size = served.loaded.info.shape[-1]
    dis = bank.dissection(served, layer)
    edits, used = [], {}
    for i, stroke in enumerate(req.strokes):
        if stroke.cls not in dis.class_names or stroke.cls == "background":
            raise BadRequest(f"stroke {i}: unknown class {stroke.cls[:40]!r}: paint one of "
                             f"{', '.join(c for c in dis.class_names if c != 'background')}")
        mask = stroke_mask(stroke, size)
        if not mask.any():
            raise BadRequest(f"stroke {i} lies outside the {size}×{size} image")
        units = dis.ranking(stroke.cls)[: min(req.units, dis.num_units)]
        value = 0.0 if stroke.mode == "remove" else bank.values(served, layer, stroke.cls)[units]
        edits.append((units, value, mask))
        used[stroke.cls] = units
    z = seed_latents(served, [req.seed])
    y = labels(served, 1, None)
    with contextlib.ExitStack() as stack:
        for units, value, mask in edits:  # hooks run in order: later strokes edit on top of earlier ones
            stack.enter_context(edit(served.generator, layer, units, value=value, region=mask,
                                     image_size=(size, size)))
        x = render(served, z, y, 1.0)
    return x, used


def router(table: RunTable, limits) -> APIRouter:
    r = APIRouter(tags=["GANPaint"])
    bank = UnitBank(limits.dissect_n)
    RunName = Path(..., min_length=1, max_length=100)

    @r.get("/api/runs/{run}/paint/classes")
    def classes(run: str = RunName, layer: Optional[str] = Query(None, max_length=100)):
        """The classes a brush can paint at `layer` and their top units (runs the dissection on first use)."""
        served = table.get(run)
        layer = check_paintable(served, layer)
        with served.lock:
            dis = bank.dissection(served, layer)
        names = [c for c in dis.class_names if c != "background"]
        return {"layer": layer, "layers": list(served.generator.feature_layers()), "num_units": dis.num_units,
                "classes": names, "top_units": {c: dis.ranking(c)[:8] for c in names},
                "source": dis.settings.get("segmenter", "")}

    @r.post("/api/runs/{run}/paint", responses=PNG)
    def paint(req: PaintRequest, run: str = RunName):
        """The image of `seed` with every stroke applied in order (remove: the class's units set to 0 inside the
        stroke; insert: set to their insertion value), as PNG at the run's resolution."""
        started = time.perf_counter()
        served = table.get(run)
        with served.lock:
            x, used = paint_image(served, bank, req)
        resp = png_response(image_png(x), f"{served.name}-paint-{req.seed}.png", time.perf_counter() - started)
        resp.headers["X-Paint-Units"] = json.dumps(used, separators=(",", ":"))
        return resp

    return r
