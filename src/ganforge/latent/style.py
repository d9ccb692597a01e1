"""Tools for style-based generators (Karras et al. 2019, StyleGAN): the style-mixing figure (§3.1, Fig. 3), the
truncation sweep (App. B, Fig. 8), stochastic variation (§3.2, Fig. 4) and interpolation in W (§4.2: lerp in W,
slerp in Z). They work on any generator with `mapping`, `synthesis`, `num_ws`, `make_noise` and `w_avg`."""
from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import torch

from ..errors import GanforgeError
from .interpolate import lerp


def require_style_based(g) -> None:
    missing = [a for a in ("mapping", "synthesis", "num_ws", "make_noise") if not hasattr(g, a)]
    if missing:
        raise GanforgeError(f"{type(g).__name__} is not a style-based generator (it lacks {', '.join(missing)}); "
                            f"style mixing, truncation in W and noise variation need a StyleGAN run")


def layer_ranges(num_ws: int) -> Dict[str, Tuple[int, int]]:
    """The paper's coarse (4²–8²), middle (16²–32²) and fine (64² and up) layer ranges; at 32² and below, where
    there is no 64², "fine" is the top resolution and "middle" what lies between."""
    fine_start = min(8, max(num_ws - 2, 4))
    ranges = {"coarse": (0, min(4, num_ws)), "middle": (4, fine_start), "fine": (fine_start, num_ws)}
    return {k: v for k, v in ranges.items() if v[1] > v[0]}


def _ws(g, n: int, seed: int) -> torch.Tensor:
    z = g.sample_z(n, generator=torch.Generator().manual_seed(seed))
    return g.mapping(z).unsqueeze(1).expand(-1, g.num_ws, -1)


@torch.no_grad()
def style_mixing_figure(g, n_a: int = 5, n_b: int = 5, seed: int = 0,
                        ranges: Dict[str, Tuple[int, int]] = None) -> Tuple[torch.Tensor, int, List[str]]:
    """Fig. 3: the top row holds sources B, the left column sources A; in the block of rows for a layer range,
    cell (A_i, B_j) takes B_j's styles on those layers and A_i's elsewhere. One fixed noise for every image.
    Returns (images in row-major order with a blank top-left cell, images per row, row labels)."""
    require_style_based(g)
    ranges = ranges or layer_ranges(g.num_ws)
    wa, wb = _ws(g, n_a, seed), _ws(g, n_b, seed + 10_000)
    noise = [t[:1] for t in g.make_noise(1, torch.Generator().manual_seed(seed + 20_000))]

    def draw(ws):
        return g.synthesis(ws, [t.expand(len(ws), -1, -1, -1) for t in noise])

    img_a, img_b = draw(wa), draw(wb)
    rows, labels = [torch.cat([torch.full_like(img_b[:1], -1.0), img_b])], ["B"]
    for name, (lo, hi) in ranges.items():
        for i in range(n_a):
            mixed = wa[i:i + 1].repeat(n_b, 1, 1)
            mixed[:, lo:hi] = wb[:, lo:hi]
            rows.append(torch.cat([img_a[i:i + 1], draw(mixed)]))
            labels.append(f"A{i} + {name} styles of B (layers {lo}–{hi - 1})")
    return torch.cat(rows), n_b + 1, labels


@torch.no_grad()
def truncation_sweep(g, psis: Sequence[float], n: int = 6, seed: int = 0, cutoff: int = None) -> torch.Tensor:
    """App. B / Fig. 8: one row per seed, one column per ψ; w' = w̄ + ψ(w − w̄) on layers < cutoff (the generator's
    own truncation_cutoff when None; 0 = all layers). Noise fixed per row."""
    require_style_based(g)
    cutoff = getattr(g, "truncation_cutoff", 0) if cutoff is None else cutoff
    ws = _ws(g, n, seed)
    noise = g.make_noise(n, torch.Generator().manual_seed(seed + 1))
    cols = [g.synthesis(g.truncate(ws, float(psi), cutoff), noise) for psi in psis]
    return torch.stack(cols, dim=1).flatten(0, 1)


@torch.no_grad()
def noise_variation(g, seed: int = 0, draws: int = 8) -> Tuple[torch.Tensor, torch.Tensor]:
    """§3.2 / Fig. 4: one w, `draws` noise draws → (images, per-pixel standard deviation over the draws, averaged
    over channels, H×W). Where the std is zero the noise does not reach: only stochastic detail should vary."""
    require_style_based(g)
    ws = _ws(g, 1, seed).expand(draws, -1, -1)
    imgs = g.synthesis(ws, g.make_noise(draws, torch.Generator().manual_seed(seed + 1)))
    return imgs, imgs.std(dim=0, unbiased=False).mean(dim=0)


@torch.no_grad()
def interpolate_w(g, z_keys: torch.Tensor, steps: int, seed: int = 0) -> torch.Tensor:
    """Frames along straight lines in W between the mapped keys (the paper's W interpolation), noise fixed."""
    require_style_based(g)
    w = g.mapping(z_keys)
    t = torch.linspace(0, 1, steps, dtype=w.dtype, device=w.device)
    path = torch.cat([lerp(w[i], w[i + 1], t)[: None if i == len(w) - 2 else -1] for i in range(len(w) - 1)])
    noise = [x.expand(len(path), -1, -1, -1) for x in g.make_noise(1, torch.Generator().manual_seed(seed))]
    return g.synthesis(path.unsqueeze(1).expand(-1, g.num_ws, -1), noise)
