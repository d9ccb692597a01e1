"""Cost of one BigGAN iteration (2 D steps + 1 G step, G's orthogonal regularisation, the G EMA) through ganforge's
Trainer against a hand-written plain-PyTorch loop of the same networks, batch and optimisers, in one process
(target ≤ 1.05×).

What is timed, in interleaved blocks (see throughput.py for the method):
  * plain: BigGAN-PyTorch's `train_fns.GAN_training_function` written out — 2 × (real batch, fresh z and uniform
    y, G(z, y) without grad, hinge D loss, Adam step); D frozen; G hinge loss, backward, the official `utils.ortho`
    gradient term β·2·((W Wᵀ) ⊙ (1 − I))W added to every ≥2-D G weight but the shared embedding, Adam step; the
    official `utils.ema` over G's state_dict — on batches drawn from tensors already in memory;
  * ganforge: `Trainer.iteration` of the `biggan-mnist` preset at the same size and batch (EMA from step 0).

    python benchmarks/biggan_speed.py [--batch 32] [--threads 1] [--quick]
"""
from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _speed import add_args, header, load_preset, publish, row, start, time_loops  # noqa: E402
from throughput import GanforgeLoop  # noqa: E402

from ganforge.data import build_dataset  # noqa: E402
from ganforge.models.biggan import BigGANDiscriminator, BigGANGenerator  # noqa: E402


class PlainBigGAN:
    """The same networks and optimisers, written the way BigGAN-PyTorch's training function does it."""

    def __init__(self, cfg, device):
        ds = build_dataset(cfg.data)
        batch = ds.get(torch.arange(len(ds)))
        self.x, self.y = batch.x.to(device), batch.y.to(device)
        self.k, self.bs, self.device = ds.info.num_classes, cfg.train.batch_size, device
        torch.manual_seed(cfg.train.seed)
        g, d, m = cfg.generator, cfg.discriminator, cfg.method
        self.G = BigGANGenerator(ds.info.shape, self.k, g.z_dim, g.channels, g.shared_dim, g.shared_embedding,
                                 g.hierarchical, g.attention).to(device)
        self.D = BigGANDiscriminator(ds.info.shape, self.k, d.channels, d.attention).to(device)
        self.G_ema = copy.deepcopy(self.G).eval()
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=m.lr_g, betas=tuple(m.betas))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=m.lr_d, betas=tuple(m.betas))
        self.d_steps, self.ortho, self.decay = m.d_steps, m.ortho, cfg.train.ema
        skip = {id(p) for p in self.G.shared.parameters()}
        self.ortho_params = [p for p in self.G.parameters() if p.ndim >= 2 and id(p) not in skip]

    def _zy(self):
        return (torch.randn(self.bs, self.G.z_dim, device=self.device),
                torch.randint(0, self.k, (self.bs,), device=self.device))

    @torch.no_grad()
    def _ortho_grad(self):  # utils.ortho
        for p in self.ortho_params:
            w = p.view(p.shape[0], -1)
            off = 1.0 - torch.eye(w.shape[0], device=w.device)
            p.grad += (self.ortho * 2 * ((w @ w.t()) * off) @ w).view_as(p)

    @torch.no_grad()
    def _ema(self):  # utils.ema
        src = self.G.state_dict()
        for key, t in self.G_ema.state_dict().items():
            t.copy_(t * self.decay + src[key] * (1 - self.decay))

    def step(self):
        G, D = self.G, self.D
        for p in D.parameters():
            p.requires_grad_(True)
        for _ in range(self.d_steps):
            idx = torch.randint(len(self.x), (self.bs,), device=self.device)
            z, yf = self._zy()
            with torch.no_grad():
                fake = G(z, yf)
            loss_d = F.relu(1 - D(self.x[idx], self.y[idx])).mean() + F.relu(1 + D(fake, yf)).mean()
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
        for p in D.parameters():
            p.requires_grad_(False)
        z, yf = self._zy()
        loss_g = -D(G(z, yf), yf).mean()
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        if self.ortho:
            self._ortho_grad()
        self.opt_g.step()
        self._ema()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=32)
    add_args(p, blocks=7, iters=5, warmup=2)
    args = p.parse_args(argv)
    device, label, prov = start(args)
    common = (f"train.batch_size={args.batch}", "train.ema_start=0")
    cfg = load_preset("biggan-mnist", device, *common)
    bare = load_preset("biggan-mnist", device, *common, "method.ortho=0")
    with tempfile.TemporaryDirectory() as tmp:
        loops = {"plain": PlainBigGAN(cfg, device), "ganforge": GanforgeLoop(cfg, os.path.join(tmp, "run")),
                 "no-ortho": GanforgeLoop(bare, os.path.join(tmp, "bare"))}
        s = time_loops(loops, device, args)
    ortho = statistics.median(a / b for a, b in zip(s["times"]["ganforge"], s["times"]["no-ortho"]))
    g, d = cfg.generator, cfg.discriminator
    name = (f"MNIST-5k 32², ch {g.channels}/{d.channels}, attention {g.attention}/{d.attention}, "
            f"{cfg.method.d_steps} D steps, ortho {cfg.method.ortho:g}, EMA, batch {args.batch}")
    rows = [*header(), row(name, s)]
    print("\n".join(rows), flush=True)
    publish(args, f"BigGAN iteration cost — {label}", prov, rows,
            "One BigGAN iteration (2 D steps + 1 G step with orthogonal regularisation and the G EMA) of the "
            "`biggan-mnist` preset through `Trainer.iteration` against the same networks, batch and optimisers in a "
            "hand-written plain-PyTorch loop (BigGAN-PyTorch's training function, ortho as its gradient term); "
            f"target ≤ 1.05×. The orthogonal regularisation's cost, timed in the same blocks: ganforge's iteration "
            f"takes {s['ms']['no-ortho']:.1f} ms without it (`method.ortho=0`), so it costs **{ortho:.2f}×** "
            f"(paired).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
