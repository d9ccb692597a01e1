"""The dissection report: a JSON of all numbers and an HTML page with, per unit, its top images with the
thresholded region outlined, its class and IoU, sorted by IoU (the layout of netdissect's ``dissect.html``;
Bau et al., "GAN Dissection", ICLR 2019, arXiv 1811.10597, Fig. 3).

Drawing follows netdissect's ``actviz``: the unit's activation is upsampled to the picture, pixels below the
unit's threshold are darkened (×0.5) and the border of the region above it is drawn in yellow (200, 200, 0).
"""
from __future__ import annotations

import html
import json
import os
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..metrics.features import generator_source
from ..utils.images import save_pil, to_uint8
from .dissect import LayerDissection
from .hooks import capture, generator_module, in_eval_mode
from .stats import upsample

OUTLINE = np.array([200, 200, 0], dtype=np.uint8)


def outline_overlay(image: torch.Tensor, activation: torch.Tensor, threshold: float, scale: int = 3) -> np.ndarray:
    """One picture: image C×H×W in [-1, 1] upscaled ×scale (nearest), activation h×w upsampled to it; outside
    the region (activation ≤ threshold) darkened, its border yellow. Returns H'×W'×3 uint8."""
    img = to_uint8(image[None])[0]
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    img = img.repeat(scale, 0).repeat(scale, 1)
    size = img.shape[:2]
    on = (upsample(activation[None, None].float(), size)[0, 0] > threshold)
    inner = -F.max_pool2d(-on.float()[None, None], 3, 1, 1)[0, 0] > 0  # eroded region
    border = (on & ~inner).numpy()
    out = img.astype(np.float32)
    out[~on.numpy()] *= 0.5
    out = out.round().astype(np.uint8)
    out[border] = OUTLINE
    return out


def unit_strip(images: torch.Tensor, activations: torch.Tensor, threshold: float, scale: int = 3,
               pad: int = 2) -> np.ndarray:
    """Top images of one unit side by side (white gaps), each with :func:`outline_overlay`."""
    pics = [outline_overlay(x, a, threshold, scale) for x, a in zip(images, activations)]
    h, w = pics[0].shape[:2]
    strip = np.full((h, len(pics) * (w + pad) - pad, 3), 255, np.uint8)
    for i, p in enumerate(pics):
        strip[:, i * (w + pad): i * (w + pad) + w] = p
    return strip


@in_eval_mode
@torch.no_grad()
def _top_images(generator, result: LayerDissection, unit: int):
    module = generator_module(generator)
    src = generator_source(module, seed=int(result.settings["seed"]))
    idx = result.units[unit].top
    zs, ys = zip(*(src.latents(i, 1) for i in idx))
    z = torch.cat(zs)
    with capture(module, result.layer) as out:
        x = module(z) if ys[0] is None else module(z, torch.cat(ys))
    return x.float().cpu(), out["r"][:, unit].float().cpu()


_CSS = ("body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}td,th{padding:2px 8px;"
        "text-align:left}tr.unit td{border-top:1px solid #ddd}img{image-rendering:pixelated}.dim{color:#999}")


def write_report(result: LayerDissection, generator, out_dir: str, scale: int = 3,
                 max_units: Optional[int] = None, title: Optional[str] = None) -> dict:
    """Write ``dissect.json``, ``dissect.html`` and ``image/unit-NNNN.png`` (top images, region outlined) under
    out_dir; units sorted by IoU, best first (`max_units` limits the pictures, not the JSON). Returns paths."""
    os.makedirs(os.path.join(out_dir, "image"), exist_ok=True)
    json_path = os.path.join(out_dir, "dissect.json")
    with open(json_path, "w") as f:
        json.dump(result.to_json(), f, indent=1)
    module = generator_module(generator)
    order = sorted(result.units, key=lambda u: (-u.iou, u.unit))
    shown = order[: max_units] if max_units else order
    rows = []
    for rec in shown:
        name = f"image/unit-{rec.unit:04d}.png"
        if rec.top:
            images, acts = _top_images(module, result, rec.unit)
            save_pil(Image.fromarray(unit_strip(images, acts, rec.threshold, scale)), os.path.join(out_dir, name))
        cls = "" if rec.interpretable else " class='dim'"
        rows.append(f"<tr class='unit'><td{cls}>unit {rec.unit}</td><td{cls}>{html.escape(rec.label)}</td>"
                    f"<td{cls}>IoU {rec.iou:.3f}</td><td{cls}>IQR {rec.iqr:.3f}</td>"
                    f"<td{cls}>t = {rec.threshold:.3g}</td></tr>"
                    f"<tr><td colspan='5'><img src='{name}' alt='unit {rec.unit}'></td></tr>")
    s = result.summary()
    best = "".join(f"<tr><td>{html.escape(c)}</td><td>{v['iou']:.3f}</td><td>unit {v['unit']}</td>"
                   f"<td>{s['interpretable_per_class'][c]}</td></tr>" for c, v in s["best_per_class"].items())
    head = html.escape(title or f"GAN Dissection of {result.layer}")
    page = (f"<!doctype html><meta charset='utf-8'><title>{head}</title><style>{_CSS}</style><h1>{head}</h1>"
            f"<p>{s['interpretable']} of {s['units']} units interpretable ({100 * s['share_interpretable']:.1f}%; "
            f"IoU &gt; {result.settings['iou_threshold']} and IQR &gt; {result.settings['iqr_threshold']}), "
            f"featuremap {'×'.join(map(str, result.feature_size))}, {result.settings['n']} samples, threshold "
            f"{html.escape(str(result.settings['threshold']))}. Grey rows: not interpretable. "
            f"<a href='dissect.json'>All numbers (JSON)</a>.</p>"
            f"<table><tr><th>class</th><th>best IoU</th><th>unit</th><th>interpretable units</th></tr>{best}</table>"
            f"<h2>Units by IoU</h2><table>{''.join(rows)}</table>")
    html_path = os.path.join(out_dir, "dissect.html")
    with open(html_path, "w") as f:
        f.write(page)
    return {"html": html_path, "json": json_path, "images": os.path.join(out_dir, "image")}
