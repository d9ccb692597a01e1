"""The stroke file of `ganforge edit` (JSON) and its rasterisation into :class:`Constraints`.

Format (every key not listed is an error)::

    {
      "size": [W, H],                 optional: the frame the coordinates are given in (default: the generator's
                                      R×R). A W×H frame is mapped onto R×R by the image rule (shorter side
                                      scaled to R, centre crop); points must lie inside [0, W) × [0, H).
      "strokes": [
        {"type": "color",  "points": [[x, y], ...], "width": 3, "color": [r, g, b]},   colour brush, 0–255 (or one
                                                                                         grey value)
        {"type": "sketch", "points": [[x, y], ...], "width": 1},                        edge wanted along the line
        {"type": "warp",   "from": [x, y], "to": [x, y], "radius": 4}                    move a disc of content
      ]
    }

x runs left to right, y top to bottom, in pixels. "width" (default 3 for color, 1 for sketch) is the brush
diameter; "points" is a polyline (one point: a dot). Apply with :func:`apply_strokes` against the current
projection (warps copy its content).
"""
from __future__ import annotations

import json
import math
from typing import List, Sequence, Tuple

import torch

from ..errors import GanforgeError
from .constraints import Constraints, edge_map

KEYS = {"color": {"type", "points", "width", "color"}, "sketch": {"type", "points", "width"},
        "warp": {"type", "from", "to", "radius"}}
DEFAULT_WIDTH = {"color": 3.0, "sketch": 1.0}


class StrokeError(GanforgeError):
    """A stroke file or stroke dictionary is malformed."""


def _number(v, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise StrokeError(f"{where} must be a finite number, got {v!r}")
    return float(v)


def _point(p, where: str, frame: Tuple[float, float]) -> Tuple[float, float]:
    if not isinstance(p, (list, tuple)) or len(p) != 2:
        raise StrokeError(f"{where} must be [x, y], got {p!r}")
    x, y = _number(p[0], where + "[0]"), _number(p[1], where + "[1]")
    if not (0 <= x < frame[0] and 0 <= y < frame[1]):
        raise StrokeError(f"{where} = [{x:g}, {y:g}] is outside the {frame[0]:g}×{frame[1]:g} frame")
    return x, y


def parse_strokes(obj, resolution: int) -> List[dict]:
    """A stroke document (dict) or a bare list of strokes -> validated strokes in generator pixels (R×R)."""
    if isinstance(obj, list):
        obj = {"strokes": obj}
    if not isinstance(obj, dict):
        raise StrokeError("a stroke file is a JSON object with a \"strokes\" list")
    unknown = set(obj) - {"size", "strokes"}
    if unknown:
        raise StrokeError(f"unknown key(s) {', '.join(sorted(map(repr, unknown)))} in the stroke file "
                          f"(allowed: size, strokes)")
    frame = (float(resolution), float(resolution))
    if "size" in obj:
        s = obj["size"]
        if not isinstance(s, (list, tuple)) or len(s) != 2:
            raise StrokeError(f"size must be [W, H], got {s!r}")
        frame = (_number(s[0], "size[0]"), _number(s[1], "size[1]"))
        if min(frame) <= 0:
            raise StrokeError(f"size must be positive, got {s!r}")
    scale = resolution / min(frame)
    off = ((frame[0] * scale - resolution) / 2, (frame[1] * scale - resolution) / 2)

    def to_gen(p):
        return p[0] * scale - off[0], p[1] * scale - off[1]

    strokes = obj.get("strokes")
    if not isinstance(strokes, list):
        raise StrokeError("\"strokes\" must be a list")
    out = []
    for i, s in enumerate(strokes):
        where = f"strokes[{i}]"
        if not isinstance(s, dict) or s.get("type") not in KEYS:
            raise StrokeError(f"{where} needs \"type\": one of {', '.join(KEYS)}")
        kind = s["type"]
        unknown = set(s) - KEYS[kind]
        if unknown:
            raise StrokeError(f"{where}: unknown key(s) {', '.join(sorted(map(repr, unknown)))} for a {kind} "
                              f"stroke (allowed: {', '.join(sorted(KEYS[kind]))})")
        if kind == "warp":
            for k in ("from", "to"):
                if k not in s:
                    raise StrokeError(f"{where}: a warp needs \"from\" and \"to\"")
            r = _number(s.get("radius", 4), f"{where}.radius")
            if r <= 0:
                raise StrokeError(f"{where}.radius must be > 0, got {r:g}")
            out.append({"type": kind, "from": to_gen(_point(s["from"], f"{where}.from", frame)),
                        "to": to_gen(_point(s["to"], f"{where}.to", frame)), "radius": r * scale})
            continue
        pts = s.get("points")
        if not isinstance(pts, list) or not pts:
            raise StrokeError(f"{where}.points must be a non-empty list of [x, y]")
        width = _number(s.get("width", DEFAULT_WIDTH[kind]), f"{where}.width")
        if width <= 0:
            raise StrokeError(f"{where}.width must be > 0, got {width:g}")
        stroke = {"type": kind, "points": [to_gen(_point(p, f"{where}.points[{j}]", frame))
                                           for j, p in enumerate(pts)], "width": width * scale}
        if kind == "color":
            if "color" not in s:
                raise StrokeError(f"{where}: a color stroke needs \"color\": [r, g, b] (0–255) or a grey value")
            c = s["color"] if isinstance(s["color"], list) else [s["color"]]
            if len(c) not in (1, 3):
                raise StrokeError(f"{where}.color must be [r, g, b] or one grey value, got {s['color']!r}")
            vals = [_number(v, f"{where}.color") for v in c]
            if any(not 0 <= v <= 255 for v in vals):
                raise StrokeError(f"{where}.color values must be in 0–255, got {s['color']!r}")
            stroke["color"] = vals
        out.append(stroke)
    return out


def read_strokes(path: str, resolution: int) -> List[dict]:
    try:
        with open(path) as f:
            obj = json.load(f)
    except FileNotFoundError:
        raise StrokeError(f"stroke file {path} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise StrokeError(f"{path} is not valid JSON ({e})") from None
    return parse_strokes(obj, resolution)


def polyline_mask(points: Sequence[Tuple[float, float]], width: float, size: int) -> torch.Tensor:
    """size×size float mask: pixel centres within width/2 of the polyline (a dot for one point)."""
    ys, xs = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32),
                            indexing="ij")
    p = torch.stack([xs, ys], -1)  # H×W×2
    pts = torch.tensor(points, dtype=torch.float32)
    segs = zip(pts[:-1], pts[1:]) if len(pts) > 1 else [(pts[0], pts[0])]
    dist = torch.full((size, size), float("inf"))
    for a, b in segs:
        ab = b - a
        t = ((p - a) * ab).sum(-1) / (ab @ ab).clamp(min=1e-12)
        closest = a + t.clamp(0, 1)[..., None] * ab
        dist = torch.minimum(dist, (p - closest).norm(dim=-1))
    return (dist <= max(width / 2, 0.5)).float()


def _colour_value(rgb: List[float], channels: int) -> torch.Tensor:
    v = torch.tensor(rgb, dtype=torch.float32) / 127.5 - 1
    if channels == 1 and len(v) == 3:  # ITU-R 601 luma, PIL's "L" rule
        v = (v * torch.tensor([0.299, 0.587, 0.114])).sum(0, keepdim=True)
    elif channels == 3 and len(v) == 1:
        v = v.repeat(3)
    return v[:, None, None]


def apply_strokes(c: Constraints, strokes: List[dict], reference: torch.Tensor) -> Constraints:
    """Rasterise validated strokes into a copy of `c` (later strokes overwrite earlier ones where they overlap).
    `reference` (C×H×W, the current projection) supplies what a warp moves."""
    c = c.copy()
    channels, size = reference.shape[0], reference.shape[-1]
    ref_edges = edge_map(reference[None])[0]
    for s in strokes:
        if s["type"] == "color":
            m = polyline_mask(s["points"], s["width"], size)
            c.colour_target = torch.where(m.bool(), _colour_value(s["color"], channels), c.colour_target)
            c.colour_mask = torch.maximum(c.colour_mask, m)
        elif s["type"] == "sketch":
            m = polyline_mask(s["points"], s["width"], size)
            c.edge_target = torch.where(m.bool(), torch.ones(()), c.edge_target)
            c.edge_mask = torch.maximum(c.edge_mask, m)
        else:
            dst = polyline_mask([s["to"]], 2 * s["radius"], size).bool()
            dx, dy = round(s["to"][0] - s["from"][0]), round(s["to"][1] - s["from"][1])
            ys, xs = torch.nonzero(dst, as_tuple=True)
            sy, sx = (ys - dy).clamp(0, size - 1), (xs - dx).clamp(0, size - 1)
            c.colour_target[:, ys, xs] = reference[:, sy, sx]
            c.edge_target[ys, xs] = ref_edges[sy, sx]
            c.colour_mask[ys, xs] = 1.0
            c.edge_mask[ys, xs] = 1.0
    return c
