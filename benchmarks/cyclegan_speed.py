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
import sys
import tempfile

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _speed import add_args, header, load_preset, publish, row, start, time_loops  # noqa: E402
from throughput import GanforgeLoop  # noqa: E402

from ganforge.data import build_dataset  # noqa: E402
from ganforge.models.patchgan import PatchGANDiscriminator  # noqa: E402
from ganforge.models.resnet_translator import ResnetTranslator  # noqa: E402
from ganforge.nn.image_pool import ImagePool  # noqa: E402


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
    p.add_argument("--batch", type=int, default=8)
    add_args(p, blocks=7, iters=10, warmup=3)
    args = p.parse_args(argv)
    device, label, prov = start(args)
    cfg = load_preset("cyclegan-digits", device, f"train.batch_size={args.batch}")
    with tempfile.TemporaryDirectory() as tmp:
        loops = {"plain": PlainCycleGAN(cfg, device), "ganforge": GanforgeLoop(cfg, os.path.join(tmp, "run"))}
        s = time_loops(loops, device, args)
    g, d = cfg.generator, cfg.discriminator
    name = (f"digits-ab 32², 2 × ResNet G ngf {g.channels}/{g.n_blocks} blocks, 2 × PatchGAN {d.channels}/"
            f"n_layers {d.n_layers}, pools {cfg.method.pool_size}, batch {args.batch}")
    rows = [*header(), row(name, s)]
    print("\n".join(rows), flush=True)
    publish(args, f"CycleGAN iteration cost — {label}", prov, rows,
            "One CycleGAN iteration of the `cyclegan-digits` preset through `Trainer.iteration` over the same "
            "networks, image pools, batch and optimisers in a hand-written plain-PyTorch loop (the official "
            "optimize_parameters); target ≤ 1.05×.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
