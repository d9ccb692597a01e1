"""GAN Lab: a tiny GAN on 2-D points with everything a person needs to watch it learn (Kahng, Thorat, Chau,
Viégas, Wattenberg, "GAN Lab: Understanding Complex Deep Generative Models using Interactive Visual
Experimentation", IEEE VIS 2018 / TVCG 2019; the poloclub/ganlab demo).

A :class:`LabSession` holds the data, G, D, their optimisers and counters. One *epoch* is GAN Lab's unit of
training: k_D discriminator updates then k_G generator updates, each on a fresh batch (150 real points, 150 noise
draws). The defaults are the demo's: 2-D uniform noise, G and D with one hidden ReLU layer of 8 units, SGD at
lr 0.1, k_D = 2, k_G = 1, the "log loss" with the demo's 0.95 weight on the real term,

    L_D = −(0.95·E log D(x) + E log(1 − D(G(z)))),     L_G = −E log D(G(z))   (non-saturating),

or the least-squares loss L_D = E (D(x) − 1)² + E D(G(z))², L_G = E (D(G(z)) − 1)² (D(·) the sigmoid output).
Weights start from N(0, 1/fan_in) (the demo's 1/√fan_in scale).

:meth:`LabSession.state` returns the demo's visual layers as plain numbers (all in the unit square): real samples,
fake samples (G of a fixed set of 450 noise draws), D's decision heatmap on a 30×30 grid, the generator's manifold
(a 21×21 vertex grid of the noise space pushed through G, with each of the 20×20 quads' area by the shoelace formula
— the page shades denser quads darker), the gradient −∂L_G/∂x on each fake (where G wants to move it), the loss
history, and KL / JS divergences between 30×30 histograms of real and fake points.

The data: GAN Lab's own shapes — ``line``, ``gaussians`` (two modes), ``ring``, ``disjoint`` (three blobs) — in
the spirit of the demo (not its exact constants), a ``drawing`` (points a person drew, plus noise), and the WGAN-GP / E-GAN mixtures ``ring8`` and ``grid25`` of
:mod:`ganforge.data.toy`, scaled into the unit square.
"""
from __future__ import annotations

import math
import threading
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .data.toy import sample_toy
from .errors import ConfigError

DISTRIBUTIONS = ("ring", "gaussians", "line", "disjoint", "ring8", "grid25", "drawing")
LOSSES = ("log", "leastsq")
OPTIMIZERS = ("sgd", "adam")
NOISES = ("uniform", "gaussian")
N_VISUAL = 450      # points drawn (NUM_TRUE_SAMPLES_VISUALIZED)
GRID_CELLS = 30     # D heatmap and divergence histograms
MANIFOLD_CELLS = 20
POOL = 10_000       # real points training batches are drawn from
HISTORY = 400


@dataclass
class LabConfig:
    data: str = "ring"
    noise: str = "uniform"
    g_layers: int = 1
    g_hidden: int = 8
    d_layers: int = 1
    d_hidden: int = 8
    loss: str = "log"
    optimizer: str = "sgd"
    lr_d: float = 0.1
    lr_g: float = 0.1
    k_d: int = 2
    k_g: int = 1
    batch_size: int = 150
    seed: int = 0
    max_epochs: int = 20_000
    drawing: Optional[List[List[float]]] = None  # the points a person drew (data "drawing"), in the unit square

    def validate(self) -> "LabConfig":
        for key, allowed in (("data", DISTRIBUTIONS), ("loss", LOSSES), ("optimizer", OPTIMIZERS),
                             ("noise", NOISES)):
            if getattr(self, key) not in allowed:
                raise ConfigError(f"{key} must be one of {', '.join(allowed)}, got {getattr(self, key)!r}")
        for key, lo, hi in (("g_layers", 0, 5), ("d_layers", 0, 5), ("g_hidden", 1, 100), ("d_hidden", 1, 100),
                            ("k_d", 0, 10), ("k_g", 0, 10), ("batch_size", 1, 1000), ("max_epochs", 1, 1_000_000)):
            if not lo <= getattr(self, key) <= hi:
                raise ConfigError(f"{key} must be in {lo}..{hi}, got {getattr(self, key)}")
        for key in ("lr_d", "lr_g"):
            if not 0 < getattr(self, key) <= 10:
                raise ConfigError(f"{key} must be in (0, 10], got {getattr(self, key)}")
        if self.k_d + self.k_g == 0:
            raise ConfigError("k_d + k_g must be at least 1")
        if self.data == "drawing":
            pts = self.drawing or []
            if not 2 <= len(pts) <= 5000 or any(len(p) != 2 or not all(0 <= v <= 1 for v in p) for p in pts):
                raise ConfigError("data 'drawing' needs 2 to 5000 drawn points (x, y) inside the unit square")
        return self


def real_points(name: str, n: int, seed: int, drawing=None) -> torch.Tensor:
    """n×2 points of distribution `name` in the unit square, deterministic given the seed; "drawing": points of
    the drawn path picked uniformly, plus N(0, 0.02²) noise (GAN Lab's drawing mode)."""
    if name in ("ring8", "grid25"):
        pts, _ = sample_toy(name, n, seed)
        return torch.from_numpy(pts) / 3.5 + 0.5  # ±1.414 -> 0.1..0.9
    g = torch.Generator().manual_seed(seed)
    u, e = torch.rand(n, generator=g), torch.randn(n, 2, generator=g)
    if name == "line":
        x = 0.15 + 0.7 * u
        return torch.stack([x, 0.25 + 0.5 * (x - 0.15) / 0.7], 1) + 0.015 * e
    if name == "gaussians":
        centres = torch.tensor([[0.3, 0.35], [0.7, 0.65]])
        return centres[(u < 0.5).long()] + 0.06 * e
    if name == "ring":
        angle = 2 * math.pi * u
        r = 0.3 + 0.02 * e[:, 0]
        return torch.stack([0.5 + r * torch.cos(angle), 0.5 + r * torch.sin(angle)], 1)
    if name == "drawing":
        path = torch.tensor(drawing, dtype=torch.float32)
        return path[(u * len(path)).long().clamp(max=len(path) - 1)] + 0.02 * e
    if name == "disjoint":
        centres = torch.tensor([[0.25, 0.3], [0.5, 0.75], [0.75, 0.3]])
        return centres[(u * 3).long().clamp(max=2)] + 0.035 * e
    raise ConfigError(f"data must be one of {', '.join(DISTRIBUTIONS)}, got {name!r}")


def mlp(n_in: int, hidden: int, layers: int, n_out: int, gen: torch.Generator) -> nn.Sequential:
    dims = [n_in] + [hidden] * layers + [n_out]
    mods: List[nn.Module] = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        lin = nn.Linear(a, b)
        with torch.no_grad():
            lin.weight.copy_(torch.randn(b, a, generator=gen) / math.sqrt(a))
            lin.bias.zero_()
        mods += [lin] + ([nn.ReLU()] if i < len(dims) - 2 else [])
    return nn.Sequential(*mods)


class Centered(nn.Module):
    """The page works in the unit square; the networks see centred coordinates, 2·(p − ½) ∈ [−1, 1]² (a ReLU
    unit with a random direction is then on for about half the square instead of possibly none of it), and G's
    outputs map back as ½ + ½·G."""

    def __init__(self, net: nn.Module, centre_input: bool, out: bool):
        super().__init__()
        self.net, self.centre_input, self.out = net, centre_input, out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.net(2 * x - 1 if self.centre_input else x)
        return 0.5 + 0.5 * h if self.out else h


def histogram(points: torch.Tensor, cells: int = GRID_CELLS) -> torch.Tensor:
    """Counts of the points in a cells×cells grid of the unit square (points outside count at its edge; NaN or
    infinite points, those of a diverged generator, are left out)."""
    points = points[torch.isfinite(points).all(1)]
    idx = (points.clamp(0, 1 - 1e-6) * cells).long()
    return torch.bincount(idx[:, 1] * cells + idx[:, 0], minlength=cells * cells).double()


def divergences(real: torch.Tensor, fake: torch.Tensor, eps: float = 1e-4) -> Dict[str, float]:
    """KL(real ‖ fake) and JS between smoothed 30×30 histograms (GAN Lab's divergence charts)."""
    p, q = histogram(real) + eps, histogram(fake) + eps
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2
    kl = float((p * (p / q).log()).sum())
    js = float(0.5 * (p * (p / m).log()).sum() + 0.5 * (q * (q / m).log()).sum())
    return {"kl": kl, "js": js}


def finite_or_none(v: float) -> Optional[float]:
    return v if math.isfinite(v) else None


def shoelace(quads: torch.Tensor) -> torch.Tensor:
    """Areas of quadrilaterals given as ...×4×2 vertices in order."""
    x, y = quads[..., 0], quads[..., 1]
    return 0.5 * (x * y.roll(-1, -1) - x.roll(-1, -1) * y).sum(-1).abs()


class LabSession:
    """One GAN Lab experiment: data, G, D, optimisers, counters; thread-safe (one lock per session)."""

    def __init__(self, config: LabConfig):
        self.config = cfg = config.validate()
        self.lock = threading.Lock()
        gen = torch.Generator().manual_seed(cfg.seed)
        self.pool = real_points(cfg.data, POOL, cfg.seed, cfg.drawing)
        self.real_visual = self.pool[:N_VISUAL]
        self.G = Centered(mlp(2, cfg.g_hidden, cfg.g_layers, 2, gen), cfg.noise == "uniform", out=True)
        self.D = Centered(mlp(2, cfg.d_hidden, cfg.d_layers, 1, gen), True, out=False)
        opt = (lambda p, lr: torch.optim.SGD(p, lr=lr)) if cfg.optimizer == "sgd" else \
            (lambda p, lr: torch.optim.Adam(p, lr=lr, betas=(0.5, 0.999)))
        self.opt_d, self.opt_g = opt(self.D.parameters(), cfg.lr_d), opt(self.G.parameters(), cfg.lr_g)
        self.batches = torch.Generator().manual_seed(cfg.seed + 1)
        vis = torch.Generator().manual_seed(cfg.seed + 2)
        self.z_visual = self.noise(N_VISUAL, vis)
        self.z_divergence = self.noise(2000, vis)
        t = torch.linspace(0, 1, MANIFOLD_CELLS + 1)
        if cfg.noise == "gaussian":  # the grid of the noise space between its 2% and 98% quantiles
            t = torch.special.ndtri(0.02 + 0.96 * t)
        gy, gx = torch.meshgrid(t, t, indexing="ij")
        self.z_manifold = torch.stack([gx, gy], -1).reshape(-1, 2)
        c = (torch.arange(GRID_CELLS) + 0.5) / GRID_CELLS
        hy, hx = torch.meshgrid(c, c, indexing="ij")
        self.heat_points = torch.stack([hx, hy], -1).reshape(-1, 2)
        self.epoch = self.d_steps = self.g_steps = 0
        self.history: List[List[float]] = []

    def noise(self, n: int, gen: torch.Generator) -> torch.Tensor:
        if self.config.noise == "uniform":
            return torch.rand(n, 2, generator=gen)
        return torch.randn(n, 2, generator=gen)

    # -- losses ----------------------------------------------------------------------------------------------------
    def d_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        a, b = self.D(real), self.D(fake)
        if self.config.loss == "log":
            return -(0.95 * F.logsigmoid(a).mean() + F.logsigmoid(-b).mean())
        return ((torch.sigmoid(a) - 1) ** 2).mean() + (torch.sigmoid(b) ** 2).mean()

    def g_loss_per_point(self, fake: torch.Tensor) -> torch.Tensor:
        b = self.D(fake)[:, 0]
        return -F.logsigmoid(b) if self.config.loss == "log" else (torch.sigmoid(b) - 1) ** 2

    # -- training --------------------------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.epoch >= self.config.max_epochs or self.diverged

    @property
    def diverged(self) -> bool:
        """A loss became NaN or infinite (too high a learning rate): training stops; the state still shows it."""
        return bool(self.history) and not all(math.isfinite(v) for v in self.history[-1][1:])

    def _real_batch(self) -> torch.Tensor:
        return self.pool[torch.randint(0, POOL, (self.config.batch_size,), generator=self.batches)]

    def _d_step(self) -> float:
        fake = self.G(self.noise(self.config.batch_size, self.batches)).detach()
        loss = self.d_loss(self._real_batch(), fake)
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        self.d_steps += 1
        return float(loss.detach())

    def _g_step(self) -> float:
        loss = self.g_loss_per_point(self.G(self.noise(self.config.batch_size, self.batches))).mean()
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        self.g_steps += 1
        return float(loss.detach())

    def train(self, epochs: int = 1, what: str = "both") -> int:
        """Run up to `epochs` epochs (what: "d" = k_D D steps, "g" = k_G G steps, "both" = both), never past
        max_epochs. Returns the epochs done; losses are logged per epoch on fixed batches of the visual set."""
        if what not in ("d", "g", "both"):
            raise ConfigError(f"what must be d, g or both, got {what!r}")
        with self.lock:
            n = max(0, min(int(epochs), self.config.max_epochs - self.epoch))
            for i in range(n):
                if self.diverged:
                    return i
                if what in ("d", "both"):
                    for _ in range(self.config.k_d):
                        self._d_step()
                if what in ("g", "both"):
                    for _ in range(self.config.k_g):
                        self._g_step()
                self.epoch += 1
                self.history.append([self.epoch, *self.losses()])
            del self.history[:-HISTORY]
            return n

    @torch.no_grad()
    def losses(self):
        """(D loss, G loss) on the fixed visual sets: comparable from one epoch to the next."""
        fake = self.G(self.z_visual)
        return float(self.d_loss(self.real_visual, fake)), float(self.g_loss_per_point(fake).mean())

    # -- what the page draws ---------------------------------------------------------------------------------------
    def state(self, include_real: bool = False) -> dict:
        with self.lock:
            fake = self.G(self.z_visual).detach().requires_grad_(True)
            grad, = torch.autograd.grad(self.g_loss_per_point(fake).sum(), fake)
            with torch.no_grad():
                heat = torch.sigmoid(self.D(self.heat_points))[:, 0].reshape(GRID_CELLS, GRID_CELLS)
                m = MANIFOLD_CELLS + 1
                verts = self.G(self.z_manifold).reshape(m, m, 2)
                quads = torch.stack([verts[:-1, :-1], verts[:-1, 1:], verts[1:, 1:], verts[1:, :-1]], 2)
                div = divergences(self.pool[:2000], self.G(self.z_divergence))
            d_loss, g_loss = self.history[-1][1:] if self.history else self.losses()

        def r(t: torch.Tensor, digits: int = 4):  # JSON has no NaN: a diverged network's values become null
            a = np.round(t.detach().double().numpy(), digits)
            return a.tolist() if np.isfinite(a).all() else np.where(np.isfinite(a), a, None).tolist()

        out = {"epoch": self.epoch, "d_steps": self.d_steps, "g_steps": self.g_steps, "done": self.done,
               "diverged": self.diverged, "d_loss": finite_or_none(d_loss), "g_loss": finite_or_none(g_loss),
               **{k: finite_or_none(v) for k, v in div.items()}, "fake": r(fake), "gradient": r(-grad, 5),
               "heatmap": r(heat, 3), "manifold": r(verts.reshape(-1, 2)), "manifold_area": r(shoelace(quads), 6),
               "history": [[finite_or_none(v) for v in row] for row in self.history[-HISTORY:]],
               "config": asdict(self.config)}
        if include_real:
            out["real"] = r(self.real_visual)
        return out
