"""Cost of one E-GAN iteration (μ = 1, three mutations, n_D = 1) against one standard GAN iteration of the same
networks and batch, all in one process (issue 6; target ≤ 3.0×).

What is timed, in interleaved blocks (see throughput.py for the method):
  * standard: the plain-PyTorch DCGAN loop of throughput.py (one D step, one non-saturating G step);
  * naive E-GAN: a plain-PyTorch E-GAN written the obvious way — per child a deep copy of G and of the parent's
    Adam state, its own forward and backward, its fitness (a fresh D pass on real and fake data and the F_d
    gradient) evaluated separately, then a fresh D step on the survivor's evaluation samples;
  * ganforge E-GAN: `Trainer.iteration` of the `egan-mnist` preset at the same size, batch and n_D = 1 (shared
    work: one parent forward, mutation gradients from one graph, D's real half once, D's update reusing the
    survivor's F_d gradient).

    python benchmarks/egan_speed.py [--configs dcgan32-c32-b64,dcgan32-c64-b64] [--threads 2] [--quick]
"""
from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _speed import add_args, load_preset, publish, start, time_loops  # noqa: E402
from throughput import CONFIGS, GanforgeLoop, PlainLoop, preset  # noqa: E402


MUTATIONS = (lambda d: F.softplus(-d).mean(), lambda d: -F.softplus(d).mean(),
             lambda d: ((torch.sigmoid(d) - 1) ** 2).mean())


class NaiveEGAN(PlainLoop):
    """E-GAN written as a loop of full copies, on the plain loop's networks and data."""

    def __init__(self, cfg, device, gamma: float = 0.01):
        super().__init__(cfg, device)
        self.gamma = gamma
        self.opt_g.zero_grad()  # make the Adam state exist so copies carry moments
        for p in self.G.parameters():
            p.grad = torch.zeros_like(p)
        self.opt_g.step()

    def step(self):
        G, D, bs, dev = self.G, self.D, self.bs, self.device
        real = self.x[torch.randint(len(self.x), (bs,), device=dev)]
        z, z_eval = torch.randn(bs, self.z_dim, device=dev), torch.randn(bs, self.z_dim, device=dev)
        best = None
        for cost in MUTATIONS:
            child = copy.deepcopy(G)
            opt = torch.optim.Adam(child.parameters(), lr=2e-4, betas=(0.5, 0.999))
            opt.load_state_dict(copy.deepcopy(self.opt_g.state_dict()))
            opt.zero_grad()
            cost(D(child(z))).backward()
            opt.step()
            with torch.no_grad():
                fake = child(z_eval)
            d_fake = D(fake)
            loss_d = (F.binary_cross_entropy_with_logits(D(real), self.ones)
                      + F.binary_cross_entropy_with_logits(d_fake, self.zeros))
            grads = torch.autograd.grad(loss_d, list(D.parameters()))
            fitness = torch.sigmoid(d_fake.detach()).mean() \
                - self.gamma * torch.log(torch.cat([g.reshape(-1) for g in grads]).norm())
            if best is None or fitness > best[0]:
                best = (fitness, child, opt, fake)
        _, self.G, self.opt_g, fake = best
        loss_d = (F.binary_cross_entropy_with_logits(D(real), self.ones)
                  + F.binary_cross_entropy_with_logits(D(fake), self.zeros))
        self.opt_d.zero_grad()
        loss_d.backward()
        self.opt_d.step()


def egan_config(name: str, device):
    res, ch, bs = CONFIGS[name]
    return load_preset("egan-mnist", device, f"data.resolution={res}", f"generator.channels={ch}",
                       f"discriminator.channels={ch}", f"train.batch_size={bs}", "method.d_steps=1")


def bench(name: str, device, args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        loops = {"standard": PlainLoop(preset(name, device), device),
                 "naive": NaiveEGAN(preset(name, device), device),
                 "ganforge": GanforgeLoop(egan_config(name, device), os.path.join(tmp, "egan"))}
        s = time_loops(loops, device, args, base="standard")
    return {**s, "name": name, "naive": s["ms"]["naive"] / s["ms"]["standard"], "ganforge": s["ratio"]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--configs", default="dcgan32-c32-b64,dcgan32-c64-b64")
    add_args(p, blocks=5, iters=10, warmup=3)
    args = p.parse_args(argv)
    device, label, prov = start(args)
    rows = ["| config | standard ms/it | naive E-GAN ms/it | ganforge E-GAN ms/it | naive / standard "
            "| **ganforge / standard** (paired) | block spread |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name in args.configs.split(","):
        r = bench(name, device, args)
        rows.append(f"| {name} | {r['ms']['standard']:.1f} | {r['ms']['naive']:.1f} | {r['ms']['ganforge']:.1f} "
                    f"| {r['naive']:.2f}× | **{r['ganforge']:.2f}×** ({r['paired']:.2f}×) | {r['spread']:.2f} |")
        print(rows[-1], flush=True)
    publish(args, f"E-GAN iteration cost — {label}", prov, rows,
            "One E-GAN iteration (μ = 1, three mutations, n_D = 1, evaluation batch = training batch) over one "
            "standard GAN iteration of the same DCGAN networks and batch; target ≤ 3.0×.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
