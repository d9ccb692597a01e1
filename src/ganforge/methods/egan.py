"""Evolutionary GAN (Wang, Xu, Yao & Tao 2019, "Evolutionary Generative Adversarial Networks", IEEE TEVC 23(6),
arXiv 1803.00657, Algorithm 1).

A population of μ generators ("parents") evolves against one discriminator, the environment. Each iteration:

1. **Variation** (§3.2): every parent makes one child per mutation — one Adam step on the minimax
   E[log(1 − D(G(z)))], heuristic −E[log D(G(z))] or least-squares E[(D(G(z)) − 1)²] generator cost (the last on
   D(G(z)) = σ(logit) ∈ (0, 1), as in the official Theano code, not on the raw logit as the PyTorch port does).
   Every child starts from its own copy of its parent's Adam moments (the PyTorch port's per-parent lineage, without
   the port's aliasing of one stored state by all children on PyTorch ≥ 2), and of its parent's buffers (BatchNorm
   running statistics): the port deep-copies each candidate's whole `state_dict`, so a child's statistics are its
   parent's, advanced by the mutation's forward and by the child's own evaluation forward, and only the
   survivors' are kept.
2. **Evaluation** (§3.3): F = F_q + γ·F_d with F_q = E[D(G(z))] (D's probability, not its logit) and
   F_d = −log‖∇_D L_D‖, the norm of the un-penalised BCE discriminator loss's gradient over all of D's parameters
   (the sign of the corrected port: a D that is hard to improve means diverse samples). All children are evaluated
   on the same noise against the current D, max(⌈batch·n_D/μ⌉, eval_size) samples each (the port's `eval_size`).
3. **Selection**: comma (μ, λ) selection — the μ fittest children replace the parents; ties keep the earlier child.
4. **Discriminator update** (§3.4): n_D Adam steps on fresh real batches against the survivors' evaluation samples.

Shared work (DESIGN.md §9): a parent is run forward through G and D once and the mutation gradients are
vector-Jacobian products of that one graph; children are flat parameter vectors, run with `functional_call`;
D's real-data gradient is computed once per iteration; and when the survivor's evaluation batch is exactly D's
first fake batch (μ = 1, eval_size = batch) D's first update reuses the gradient F_d already measured.

The population lives in flat tensors (θ, Adam m and v: μ × P) and stacked buffers (μ × each buffer's shape);
`self.generator` always holds the fittest parent, buffers included, so sampling, EMA and checkpoints see one
ordinary generator. Which mutation each survivor came from is counted
(`selected/<mutation>`, cumulative) and plotted by `write_figures` as the paper's selection-frequency figure.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch.func import functional_call

from ..errors import ConfigError
from ..losses import d_loss_bce, g_loss_least_squares_prob, g_loss_minimax, g_loss_nonsaturating
from ..registry import METHODS
from .base import Method
from .standard import adam

MUTATIONS = {"minimax": g_loss_minimax, "heuristic": g_loss_nonsaturating, "least_squares": g_loss_least_squares_prob}


@dataclass
class EGANConfig:
    name: str = "egan"
    mutations: Tuple[str, ...] = ("heuristic", "minimax", "least_squares")  # the official order
    population: int = 1  # μ; every official script uses 1
    gamma: float = 0.01  # γ on F_d = −log‖∇_D L_D‖ (PyTorch script 0.01; Theano's β on log‖g‖² is γ/2)
    d_steps: int = 1  # n_D: discriminator updates per iteration
    eval_size: int = 0  # evaluation samples per child (global), at least ⌈batch · d_steps / population⌉ (PyTorch port)
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas_g: Tuple[float, float] = (0.5, 0.999)
    betas_d: Tuple[float, float] = (0.5, 0.999)
    eps: float = 1e-8  # Adam ε for the children's updates (torch.optim.Adam's default)

    def validate(self):
        bad = [m for m in self.mutations if m not in MUTATIONS]
        if bad or not self.mutations:
            raise ConfigError(f"method.mutations must be a non-empty list from {sorted(MUTATIONS)}, got "
                              f"{list(self.mutations)}")
        if len(set(self.mutations)) != len(self.mutations):
            raise ConfigError(f"method.mutations lists a mutation twice: {list(self.mutations)}")
        if self.population < 1:
            raise ConfigError(f"method.population must be ≥ 1, got {self.population}")
        if self.d_steps < 1:
            raise ConfigError(f"method.d_steps must be ≥ 1, got {self.d_steps}")
        if self.eval_size < 0 or self.gamma < 0:
            raise ConfigError(f"method.eval_size and method.gamma must be ≥ 0, got {self.eval_size}, {self.gamma}")
        if len(self.betas_g) != 2 or len(self.betas_d) != 2:
            raise ConfigError("method.betas_g and method.betas_d need two values each")


def adam_update(theta, grad, exp_avg, exp_avg_sq, step: int, lr: float, betas, eps: float):
    """One Adam step (Kingma & Ba 2015, Algorithm 1) on flat tensors, out of place: returns new (θ, m, v) and
    leaves the inputs untouched, so children never share moments with their parent or each other. Same arithmetic
    as torch.optim.Adam without weight decay; `step` counts this update (1 for the first)."""
    b1, b2 = betas
    m = torch.lerp(exp_avg, grad, 1 - b1)
    v = exp_avg_sq * b2 + (1 - b2) * grad * grad
    denom = v.sqrt() / math.sqrt(1 - b2 ** step) + eps
    return theta - (lr / (1 - b1 ** step)) * m / denom, m, v


class Population:
    """μ generators as rows of flat tensors over one module's parameters (θ, Adam m, v), each with its own buffers
    (stacked: row i of every buffer is generator i's), plus the shared step."""

    def __init__(self, module: torch.nn.Module, size: int):
        self.names = [n for n, _ in module.named_parameters()]
        self.shapes = [p.shape for _, p in module.named_parameters()]
        self.sizes = [p.numel() for _, p in module.named_parameters()]
        flat = torch.cat([p.detach().reshape(-1) for p in module.parameters()])
        self.theta = flat.unsqueeze(0).repeat(size, 1)
        self.exp_avg = torch.zeros_like(self.theta)
        self.exp_avg_sq = torch.zeros_like(self.theta)
        self.buffer_names = [n for n, _ in module.named_buffers()]
        self.buffers = [b.detach().unsqueeze(0).repeat(size, *(1,) * b.dim()) for b in module.buffers()]
        self.step = 0

    def params(self, theta: torch.Tensor) -> Dict[str, torch.Tensor]:
        """{name: view of θ} for `functional_call` (differentiable w.r.t. θ)."""
        return {n: t.view(s) for n, t, s in zip(self.names, torch.split(theta, self.sizes), self.shapes)}

    def state(self, theta: torch.Tensor, buffers: List[torch.Tensor], row: int) -> Dict[str, torch.Tensor]:
        """`params(theta)` plus row `row` of stacked `buffers`, for `functional_call`: a train-mode forward updates
        that row's running statistics in place, and no other generator's."""
        return {**self.params(theta), **{n: b[row] for n, b in zip(self.buffer_names, buffers)}}

    @torch.no_grad()
    def write_into(self, module: torch.nn.Module, row: int = 0) -> None:
        for p, t in zip(module.parameters(), torch.split(self.theta[row], self.sizes)):
            p.copy_(t.view_as(p))
        for b, stacked in zip(module.buffers(), self.buffers):
            b.copy_(stacked[row])

    def state_dict(self) -> dict:
        return {"theta": self.theta, "exp_avg": self.exp_avg, "exp_avg_sq": self.exp_avg_sq,
                "buffers": dict(zip(self.buffer_names, self.buffers)), "step": torch.tensor(self.step)}

    def load_state_dict(self, state: dict) -> None:
        if state["theta"].shape != self.theta.shape:
            raise ValueError(f"population of shape {tuple(state['theta'].shape)} does not fit "
                             f"{tuple(self.theta.shape)}")
        dev = self.theta.device
        self.theta, self.exp_avg, self.exp_avg_sq = (state[k].to(dev) for k in ("theta", "exp_avg", "exp_avg_sq"))
        if "buffers" in state:  # absent from checkpoints written before the candidates had their own buffers
            self.buffers = [state["buffers"][n].to(dev) for n in self.buffer_names]
        self.step = int(state["step"])


def select(fitness: torch.Tensor, mu: int) -> torch.Tensor:
    """Comma selection: indices of the μ fittest children, best first; a tie keeps the earlier child. Runs on the
    fitness's device (no host sync)."""
    return torch.sort(fitness, descending=True, stable=True).indices[:mu]


def selection_frequency(records: List[dict], mutations, population: int = 1):
    """From the cumulative `selected/<mutation>` counts of metrics records: the interval ends and, per mutation,
    the share of the survivors it produced in each interval since the previous record (from step 0)."""
    keys = [f"selected/{m}" for m in mutations]
    rows = [{"step": 0, **{k: 0 for k in keys}}]
    rows += sorted((r for r in records if all(k in r for k in keys) and r["step"] > 0), key=lambda r: r["step"])
    pairs = [(a, b) for a, b in zip(rows[:-1], rows[1:]) if b["step"] > a["step"]]
    freq = {m: [(b[k] - a[k]) / ((b["step"] - a["step"]) * population) for a, b in pairs]
            for m, k in zip(mutations, keys)}
    return [b["step"] for _, b in pairs], freq


class EvolutionaryGAN(Method):
    def __init__(self, cfg: EGANConfig, generator, discriminator):
        super().__init__(cfg, generator, discriminator)
        if getattr(generator, "num_classes", 0):
            raise ConfigError("method egan trains unconditional generators (the paper's setting); this generator "
                              "is class-conditional")
        self.costs = [MUTATIONS[m] for m in cfg.mutations]
        self.population: Optional[Population] = None
        self.selected: Optional[torch.Tensor] = None  # survivors per mutation so far
        self._opt = None
        self.reuse_d_gradient = True  # the shortcut of D's first update (off only to test it against the direct way)

    # -- owned state -------------------------------------------------------------------------------------------------
    def pop(self) -> Population:
        if self.population is None:  # built lazily, on the networks' device
            self.population = Population(self.generator, self.cfg.population)
            self.selected = torch.zeros(len(self.costs), dtype=torch.long, device=self.population.theta.device)
        return self.population

    def optimizers(self):
        if self._opt is None:
            self._opt = {"d": adam(self.discriminator.parameters(), self.cfg.lr_d, self.cfg.betas_d)}
        return self._opt

    def set_network(self, name, module):
        super().set_network(name, module)
        if name == "generator":
            self.population = None

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["population"] = {**self.pop().state_dict(), "selected": self.selected}
        return state

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        pop = self.pop()
        pop.load_state_dict(state["population"])
        self.selected = state["population"]["selected"].to(self.selected.device)
        pop.write_into(self.generator)

    # -- the four phases ----------------------------------------------------------------------------------------------
    def mean_over_ranks(self, t: torch.Tensor) -> torch.Tensor:
        return t if self.all_mean is None else self.all_mean(t)

    def d_params(self) -> List[torch.nn.Parameter]:
        return list(self.discriminator.parameters())

    def flat_d_grad(self, loss: torch.Tensor) -> torch.Tensor:
        grads = torch.autograd.grad(loss, self.d_params())
        return torch.cat([g.reshape(-1) for g in grads])

    def vary(self, z: torch.Tensor):
        """Children of every parent: (θ, m, v) stacked λ × P; their buffers, stacked λ × …: the parent's, advanced by
        the parent's forward on z (in the port each child's own, identical, mutation forward); and each mutation's
        cost at the parent."""
        pop, c = self.pop(), self.cfg
        thetas, ms, vs, costs = [], [], [], []
        buffers = [b.clone() for b in pop.buffers]  # row p advanced in place by parent p's forward
        step = pop.step + 1
        for p in range(c.population):
            theta = pop.theta[p].detach().requires_grad_(True)
            logits = self.discriminator(functional_call(self.generator, pop.state(theta, buffers, p), (z,))).float()
            for i, cost in enumerate(self.costs):
                loss = cost(logits)
                (grad,) = torch.autograd.grad(loss, theta, retain_graph=i < len(self.costs) - 1)
                grad = self.mean_over_ranks(grad)
                t, m, v = adam_update(pop.theta[p], grad, pop.exp_avg[p], pop.exp_avg_sq[p], step, c.lr_g,
                                      c.betas_g, c.eps)
                thetas.append(t), ms.append(m), vs.append(v), costs.append(loss.detach())
        buffers = [b.repeat_interleave(len(self.costs), 0) for b in buffers]
        return torch.stack(thetas), torch.stack(ms), torch.stack(vs), buffers, torch.stack(costs)

    def evaluate(self, thetas: torch.Tensor, buffers: List[torch.Tensor], z: torch.Tensor, real: torch.Tensor):
        """Per child: F_q, F_d, its evaluation samples, the BCE D loss against them and that loss's gradient
        over D's parameters (flat). D's real half is run and differentiated once for all children. Each child's
        forward advances its own row of `buffers`."""
        real_loss = F.softplus(-self.discriminator(real).float()).mean()
        g_real = self.flat_d_grad(real_loss)
        fq, fd, fakes, d_losses, grads = [], [], [], [], []
        for k, theta in enumerate(thetas):
            with torch.no_grad():
                fake = functional_call(self.generator, self.pop().state(theta, buffers, k), (z,))
            logits = self.discriminator(fake).float()
            fake_loss = F.softplus(logits).mean()
            g = self.mean_over_ranks(g_real + self.flat_d_grad(fake_loss))
            fq.append(self.mean_over_ranks(torch.sigmoid(logits.detach()).mean()))
            fd.append(-torch.log(g.norm().clamp_min(1e-30)))  # a D with an exactly flat loss: finite
            fakes.append(fake)
            d_losses.append(real_loss.detach() + fake_loss.detach())
            grads.append(g)
        return torch.stack(fq), torch.stack(fd), torch.stack(fakes), torch.stack(d_losses), grads

    def reuse_gradient(self, grad: torch.Tensor) -> None:
        """Apply a D-loss gradient measured during evaluation as D's update (same batch, same weights)."""
        opt = self.optimizers()["d"]
        opt.zero_grad(set_to_none=True)
        offset = 0
        for p in self.d_params():
            p.grad = grad[offset:offset + p.numel()].view_as(p).to(p.dtype)
            offset += p.numel()
        opt.step()

    def update_d(self, reals: List[torch.Tensor], fakes: torch.Tensor, first: Optional[tuple]):
        """n_D updates on fresh real batches against the survivors' evaluation samples, taken in turn; `first`
        = (gradient, loss) measured in evaluation on exactly D's first batch, applied instead of recomputing it."""
        losses = []
        for i, real in enumerate(reals):
            if i == 0 and first is not None:
                self.reuse_gradient(first[0])
                losses.append(first[1])
            else:
                n = real.shape[0]
                idx = torch.arange(i * n, (i + 1) * n, device=fakes.device) % len(fakes)
                loss = d_loss_bce(self.discriminator(real), self.discriminator(fakes[idx]))
                self.update(loss, "d")
                losses.append(loss.detach())
            self.d_steps += 1
        return losses

    def adopt(self, keep: torch.Tensor, thetas, ms, vs, buffers) -> None:
        """The selected children become the parents (best first), with their own buffers; the fittest is written
        into `self.generator`."""
        pop = self.pop()
        pop.theta, pop.exp_avg, pop.exp_avg_sq = thetas[keep], ms[keep], vs[keep]
        pop.buffers = [b[keep] for b in buffers]
        pop.step += 1
        pop.write_into(self.generator)
        self.selected.index_add_(0, keep % len(self.costs), torch.ones_like(keep))
        self.g_steps += 1

    def eval_batch(self, n: int) -> int:
        """This rank's evaluation samples per child, for a per-rank batch of n: the PyTorch port's
        `eval_size = max(ceil(batch_size * D_iters / candi_num), opt.eval_size)` (egan_model.py) — enough survivor
        samples for D's n_D batches — with method.eval_size the global count, shared over the ranks."""
        c = self.cfg
        if c.eval_size % self.world_size:
            raise ConfigError(f"method.eval_size {c.eval_size} must divide evenly over {self.world_size} ranks")
        return max(math.ceil(n * c.d_steps / c.population), c.eval_size // self.world_size)

    def step(self, data, progress: float):
        c = self.cfg
        if self.scalers:
            raise ConfigError("method egan supports train.precision fp32 and bf16, not fp16 (its mutation "
                              "gradients are taken with autograd.grad, outside the loss scaler)")
        reals = [data.next().x for _ in range(c.d_steps)]
        n = reals[0].shape[0]
        eval_n = self.eval_batch(n)
        thetas, ms, vs, buffers, costs = self.vary(self.sample_z(n))
        fq, fd, fakes, d_losses, grads = self.evaluate(thetas, buffers, self.sample_z(eval_n), reals[0])
        fitness = fq + c.gamma * fd
        keep = select(fitness, c.population)
        self.adopt(keep, thetas, ms, vs, buffers)
        survivors = fakes[keep].flatten(0, 1).detach()
        reusable = self.reuse_d_gradient and c.population == 1 and eval_n == n
        best = keep[0]
        first = (grads[int(best)], d_losses[best]) if reusable else None  # a host sync on this branch only
        if c.population > 1:  # mix the survivors' samples (seeded, rank-aware)
            survivors = survivors[self.sample_uniform(len(survivors), 1).squeeze(1).argsort()]
        d_loss = torch.stack(self.update_d(reals, survivors, first)).mean()
        logs = {"d_loss": d_loss, "g_loss": costs[best], "fitness": fitness[best], "f_q": fq[best],
                "f_d": fd[best]}
        for i, m in enumerate(c.mutations):
            logs[f"selected/{m}"] = self.selected[i]
        return logs

    # -- pictures -----------------------------------------------------------------------------------------------------
    def write_figures(self, run_dir: str, records: List[dict]) -> Optional[str]:
        """The paper's Fig. (selection frequency of each mutation over training), from the cumulative counts."""
        steps, freq = selection_frequency(records, self.cfg.mutations, self.cfg.population)
        if not steps:
            return None
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from ..utils.images import save_figure

        fig, ax = plt.subplots(figsize=(7, 3.2), dpi=110)
        ax.stackplot(steps, *freq.values(), labels=list(freq), alpha=0.85, step="pre")
        ax.set_xlim(0, steps[-1])
        ax.set_ylim(0, 1)
        ax.set_xlabel("iteration")
        ax.set_ylabel("share of survivors")
        ax.set_title("E-GAN: which mutation was selected")
        ax.legend(loc="upper right", fontsize=8)
        fig.tight_layout()
        out = save_figure(fig, os.path.join(run_dir, "mutations.png"))
        plt.close(fig)
        return out


METHODS.register("egan", EGANConfig)(EvolutionaryGAN)
