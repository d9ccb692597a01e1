"""The Samples page's API: a grid from seeds (one seed per cell), a truncation slider, the class of conditional
runs, interpolation between two picked samples.

Truncation: for style-based runs it is StyleGAN's truncation in W, w' = w̄ + ψ(w − w̄) on every layer (Karras et
al. 2019, App. B); for other runs ψ scales the latent code towards the prior's mean, z' = ψ·z (the reduced-
temperature sampling of Kingma & Dhariwal 2018, §5.1 — the same formula with w̄ = 0). ψ = 0 gives one image for
every seed. Interpolation is spherical in Z (White 2016) for latent-code generators and linear in W for
style-based ones (Karras et al. 2019, §4.2), through :mod:`ganforge.latent`.
"""
from __future__ import annotations

import time
from typing import List, Optional

import torch
from fastapi import APIRouter, Path
from pydantic import Field

from ..latent import lerp, slerp
from .errors import BadRequest
from .images import grid_png, png_response
from .runs import RunTable, ServedRun, is_style_based
from .schemas import MAX_SEED, Body, ClassIndex, Psi, SBool, SInt, Seed

PNG = {200: {"content": {"image/png": {}}, "description": "a PNG image"}}
MAX_GRID = 64


class SamplesRequest(Body):
    seed: Seed = 0
    n: SInt = Field(16, ge=1, le=MAX_GRID, description="cells: seeds seed, seed+1, …, seed+n−1")
    seeds: Optional[List[Seed]] = Field(None, min_length=1, max_length=MAX_GRID, description="explicit seeds")
    psi: Psi = 1.0
    cls: Optional[ClassIndex] = Field(None, description="class of every cell; default: cell i gets class i mod K")
    cols: Optional[SInt] = Field(None, ge=1, le=MAX_GRID, description="cells per row")


class InterpolateRequest(Body):
    seed_a: Seed = 0
    seed_b: Seed = 1
    steps: SInt = Field(8, ge=2, le=32)
    psi: Psi = 1.0
    cls: Optional[ClassIndex] = Field(None, description="class of every frame (conditional runs; default 0)")
    spherical: SBool = True


def seed_latents(run: ServedRun, seeds: List[int]) -> torch.Tensor:
    """One latent code per seed (the API's fixed-seed draw of one code): a cell keeps its image when others change."""
    return torch.cat([run.loaded.latents(1, seed=int(s)) for s in seeds])


def labels(run: ServedRun, n: int, cls: Optional[int]) -> Optional[torch.Tensor]:
    k = int(getattr(run.generator, "num_classes", 0) or 0)
    if cls is None:
        return torch.arange(n) % k if k else None
    if not k:
        raise BadRequest(f"run {run.name!r} is unconditional: it takes no class")
    if cls >= k:
        raise BadRequest(f"class {cls} is out of range: run {run.name!r} has classes 0–{k - 1}")
    return torch.full((n,), cls, dtype=torch.long)


@torch.inference_mode()
def render_ws(run: ServedRun, ws: torch.Tensor, psi: float, noise=None) -> torch.Tensor:
    g = run.generator
    if psi != 1.0:
        ws = g.truncate(ws, psi, 0)
    return g.synthesis(ws, noise).float().cpu()


@torch.inference_mode()
def render(run: ServedRun, z: torch.Tensor, y: Optional[torch.Tensor], psi: float) -> torch.Tensor:
    """Images N×C×H×W in [-1, 1] of codes z at truncation ψ (see the module docstring)."""
    g = run.generator
    if is_style_based(g):
        return render_ws(run, g.broadcast(g.mapping(z.to(run.loaded.device))), psi)
    return run.loaded.generate(z * psi, y)


def router(table: RunTable) -> APIRouter:
    r = APIRouter(tags=["samples"])
    RunName = Path(..., min_length=1, max_length=100, description="a run's name or index (GET /api/runs)")

    @r.post("/api/runs/{run}/samples", responses=PNG)
    def samples(req: SamplesRequest, run: str = RunName):
        """A grid of samples, one seed per cell, as PNG (cells PAD=2 pixels apart, `cols` per row)."""
        started = time.perf_counter()
        served = table.get(run)
        served.require_images()
        if not req.seeds and req.seed + req.n - 1 > MAX_SEED:
            raise BadRequest(f"seeds {req.seed}..{req.seed + req.n - 1} run past the largest seed {MAX_SEED}: "
                             f"start lower", 422)
        seeds = req.seeds or [req.seed + i for i in range(req.n)]
        y = labels(served, len(seeds), req.cls)
        with served.lock:
            x = render(served, seed_latents(served, seeds), y, req.psi)
        return png_response(grid_png(x, req.cols), f"{served.name}-samples-{seeds[0]}.png",
                            time.perf_counter() - started)

    @r.post("/api/runs/{run}/interpolate", responses=PNG)
    def interpolate(req: InterpolateRequest, run: str = RunName):
        """`steps` images from sample seed_a to sample seed_b, in one row: slerp in Z (lerp in W for StyleGAN)."""
        started = time.perf_counter()
        served = table.get(run)
        served.require_images()
        g = served.generator
        za, zb = seed_latents(served, [req.seed_a, req.seed_b])
        t = torch.linspace(0, 1, req.steps)
        y = labels(served, req.steps, req.cls)
        if y is not None and req.cls is None:
            y = torch.zeros(req.steps, dtype=torch.long)
        with served.lock, torch.inference_mode():
            if is_style_based(g):
                w = g.mapping(torch.stack([za, zb]).to(served.loaded.device))
                x = render_ws(served, g.broadcast(lerp(w[0], w[1], t)), req.psi)
            else:
                path = (slerp if req.spherical else lerp)(za, zb, t)
                x = render(served, path, y, req.psi)
        return png_response(grid_png(x, req.steps), f"{served.name}-interpolate-{req.seed_a}-{req.seed_b}.png",
                            time.perf_counter() - started)

    return r
