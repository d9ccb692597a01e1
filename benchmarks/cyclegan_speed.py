"""Cost of one CycleGAN iteration through ganforge's Trainer against a hand-written plain-PyTorch loop of the same
ResNet generators, PatchGAN discriminators, batch, image pools and optimisers, in one process (target ≤ 1.05×).

What is timed, in interleaved blocks (see throughput.py for the method):
  * plain: the official `optimize_parameters` written out — G(a), F(b), F(G(a)), G(F(b)) (+ identity when on);
    Ds frozen; LSGAN + λ·L1 cycle terms, one Adam step for G and F; Ds unfrozen; each D on real vs a pool draw
    of its fakes, ×0.5, one Adam step for both — on batches drawn from tensors already in memory;
  * ganforge: `Trainer.iteration` of the `cyclegan-digits` preset at the same size and batch.

    python benchmarks/cyclegan_speed.py [--batch 8] [--threads 1] [--quick]
"""
from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import device_label, provenance, resolve, write_section  # noqa: E402
from throughput import GanforgeLoop, time_block  # noqa: E402

from ganforge.config import load_config  # noqa: E402
from ganforge.data import build_dataset  # noqa: E402
from ganforge.models.patchgan import PatchGANDiscriminator  # noqa: E402
from ganforge.models.resnet_translator import ResnetTranslator  # noqa: E402
from ganforge.nn.image_pool import ImagePool  # noqa: E402


def config(device, batch: int, steps: int = 10**9):
    return load_config("cyclegan-digits", [
        f"train.batch_size={batch}", f"train.device={device}", f"train.steps={steps}", "train.progress=false",
        "train.tensorboard=false", "train.eval_every=0"])


class PlainCycleGAN:
    """The same networks, pools and optimisers, written the way a plain-PyTorch user would."""

    def __init__(self, cfg, device):
        ds = build_dataset(cfg.data)
        batch = ds.get(torch.arange(len(ds)))
        self.a, self.b = batch.x.to(device), batch.target.to(device)
        self.bs, self.device, m = cfg.train.batch_size, device, cfg.method
        self.lam_a, self.lam_b = m.cycle_forward, m.cycle_backward
        torch.manual_seed(cfg.train.seed)
        g, d = cfg.generator, cfg.discriminator
        sa, sb = ds.info.shape, ds.info.target_shape
        self.G = ResnetTranslator(sa, sb, g.channels, g.n_down, g.n_blocks, g.norm).to(device)
        self.F = ResnetTranslator(sb, sa, g.channels, g.n_down, g.n_blocks, g.norm).to(device)
        self.DB = PatchGANDiscriminator(sb[0], d.channels, d.n_layers, d.norm).to(device)
        self.DA = PatchGANDiscriminator(sa[0], d.channels, d.n_layers, d.norm).to(device)
        self.pool_a, self.pool_b = ImagePool(m.pool_size), ImagePool(m.pool_size)
        self.opt_g = torch.optim.Adam(itertools.chain(self.G.parameters(), self.F.parameters()), lr=m.lr,
                                      betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(itertools.chain(self.DB.parameters(), self.DA.parameters()), lr=m.lr,
                                      betas=(0.5, 0.999))

    def step(self):
        idx = torch.randint(len(self.a), (self.bs,), device=self.device)
        a, b = self.a[idx], self.b[torch.randint(len(self.b), (self.bs,), device=self.device)]
        for p in itertools.chain(self.DA.parameters(), self.DB.parameters()):
            p.requires_grad_(False)
        fake_b, fake_a = self.G(a), self.F(b)
        pb, pa = self.DB(fake_b), self.DA(fake_a)
        loss_g = (F.mse_loss(pb, torch.ones_like(pb)) + F.mse_loss(pa, torch.ones_like(pa))
                  + self.lam_a * F.l1_loss(self.F(fake_b), a) + self.lam_b * F.l1_loss(self.G(fake_a), b))
        self.opt_g.zero_grad()
        loss_g.backward()
        self.opt_g.step()
        for p in itertools.chain(self.DA.parameters(), self.DB.parameters()):
            p.requires_grad_(True)
        loss_d = 0
        for D, real, fake in ((self.DB, b, self.pool_b.query(fake_b)), (self.DA, a, self.pool_a.query(fake_a))):
            pr, pf = D(real), D(fake.detach())
            loss_d = loss_d + 0.5 * (F.mse_loss(pr, torch.ones_like(pr)) + F.mse_loss(pf, torch.zeros_like(pf)))
        self.opt_d.zero_grad()
        loss_d.backward()
        self.opt_d.step()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--blocks", type=int, default=7)
    p.add_argument("--iters", type=int, default=10, help="iterations per timed block")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="2 blocks of 2 iterations; writes nothing")
    args = p.parse_args(argv)
    if args.quick:
        args.blocks, args.iters, args.warmup = 2, 2, 1
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve(args.device)
    cfg = config(device, args.batch)
    with tempfile.TemporaryDirectory() as tmp:
        loops = {"plain": PlainCycleGAN(cfg, device), "ganforge": GanforgeLoop(cfg, os.path.join(tmp, "run"))}
        for loop in loops.values():
            time_block(loop, args.warmup, device)
        times = {k: [] for k in loops}
        for _ in range(args.blocks):
            for k, loop in loops.items():
                times[k].append(time_block(loop, args.iters, device))
    med = {k: statistics.median(v) for k, v in times.items()}
    paired = statistics.median(g / s for g, s in zip(times["ganforge"], times["plain"]))
    spread = max(max(v) / min(v) for v in times.values())
    g, d = cfg.generator, cfg.discriminator
    name = (f"digits-ab 32², 2 × ResNet G ngf {g.channels}/{g.n_blocks} blocks, 2 × PatchGAN {d.channels}/"
            f"n_layers {d.n_layers}, pools {cfg.method.pool_size}, batch {args.batch}")
    rows = ["| config | plain ms/it | ganforge ms/it | **ganforge / plain** (paired) | block spread |",
            "|---|---:|---:|---:|---:|",
            f"| {name} | {1e3 * med['plain']:.1f} | {1e3 * med['ganforge']:.1f} | "
            f"**{med['ganforge'] / med['plain']:.2f}×** ({paired:.2f}×) | {spread:.2f} |"]
    print("\n".join(rows), flush=True)
    if not args.quick:
        write_section(f"CycleGAN iteration cost — {device_label(device)}",
                      f"{provenance()}\n\n" + "\n".join(rows) + "\n\nOne CycleGAN iteration of the "
                      "`cyclegan-digits` preset through `Trainer.iteration` over the same networks, image pools, "
                      "batch and optimisers in a hand-written plain-PyTorch loop (the official "
                      "optimize_parameters); target ≤ 1.05×. Medians of interleaved blocks; paired = median of the "
                      "per-block ratios.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
