"""The Style mixing page's API (style-based runs): sources A and B, a crossover over the coarse / middle / fine
layer ranges of StyleGAN (Karras et al. 2019, §3.1, Fig. 3; ranges from :func:`ganforge.latent.style.layer_ranges`),
a noise re-draw and truncation in W. The mixed image takes B's styles on the chosen layers and A's elsewhere, all
three drawn with the same noise."""
from __future__ import annotations

import time
from typing import Literal, Optional

import torch
from fastapi import APIRouter, Path
from pydantic import Field

from ..latent.style import layer_ranges, require_style_based, style_mixing_figure
from .errors import BadRequest
from .images import grid_png, png_response
from .runs import RunTable, ServedRun
from .sampling import PNG, render_ws, seed_latents
from .schemas import Body, Psi, SInt, Seed


class MixRequest(Body):
    seed_a: Seed = 0
    seed_b: Seed = 1
    crossover: Literal["coarse", "middle", "fine"] = Field("coarse", description="the layers that take B's styles")
    noise_seed: Optional[Seed] = Field(None, description="re-draw the per-layer noise; none: the fixed eval noise")
    psi: Psi = 1.0


class FigureRequest(Body):
    seed: Seed = 0
    n_a: SInt = Field(3, ge=1, le=8)
    n_b: SInt = Field(3, ge=1, le=8)


def mix_images(served: ServedRun, req: MixRequest) -> torch.Tensor:
    """3 images: A, A with B's styles on the crossover layers, B (one noise for all three)."""
    g = served.generator
    try:
        require_style_based(g)
    except Exception as e:
        raise BadRequest(f"run {served.name!r}: {e}") from None
    ranges = layer_ranges(g.num_ws)
    if req.crossover not in ranges:
        raise BadRequest(f"this run has no {req.crossover} layers (it has {', '.join(ranges)})")
    lo, hi = ranges[req.crossover]
    with torch.inference_mode():
        w = g.mapping(seed_latents(served, [req.seed_a, req.seed_b]).to(served.loaded.device))
        ws = g.broadcast(w)
        mixed = ws[:1].clone()
        mixed[:, lo:hi] = ws[1:, lo:hi]
        noise = None
        if req.noise_seed is not None:
            noise = [t.expand(3, -1, -1, -1) for t in g.make_noise(1, torch.Generator().manual_seed(req.noise_seed))]
        return render_ws(served, torch.cat([ws[:1], mixed, ws[1:]]), req.psi, noise)


def router(table: RunTable) -> APIRouter:
    r = APIRouter(tags=["style mixing"])
    RunName = Path(..., min_length=1, max_length=100)

    @r.post("/api/runs/{run}/mix", responses=PNG)
    def mix(req: MixRequest, run: str = RunName):
        """One row of three: source A, the mix (B's styles on the crossover layers), source B."""
        started = time.perf_counter()
        served = table.get(run)
        served.require_images()
        with served.lock:
            x = mix_images(served, req)
        return png_response(grid_png(x, 3), f"{served.name}-mix-{req.seed_a}-{req.seed_b}.png",
                            time.perf_counter() - started)

    @r.post("/api/runs/{run}/mix-figure", responses=PNG)
    def figure(req: FigureRequest, run: str = RunName):
        """The paper's Fig. 3 (latent/style.py): B across the top, A down the side, one block per layer range."""
        served = table.get(run)
        served.require_images()
        try:
            require_style_based(served.generator)
        except Exception as e:
            raise BadRequest(f"run {served.name!r}: {e}") from None
        with served.lock:
            imgs, per_row, _ = style_mixing_figure(served.generator, req.n_a, req.n_b, seed=req.seed)
        return png_response(grid_png(imgs, per_row), f"{served.name}-mixing-figure.png")

    return r
