"""Cost of one pix2pix iteration through ganforge's Trainer against a hand-written plain-PyTorch loop of the same
U-Net, conditional PatchGAN, batch and optimisers, in one process (target ≤ 1.05×).

What is timed, in interleaved blocks (see throughput.py for the method):
  * plain: the official `optimize_parameters` written out — G(A) once; D on cat(A, G(A)).detach() and cat(A, B),
    BCE with logits, ×0.5, Adam step; D frozen; G on BCE(D(cat(A, G(A))), 1) + 100·L1, Adam step — on batches
    drawn from tensors already in memory;
  * ganforge: `Trainer.iteration` of the `pix2pix-shapes-labels` preset at the same size and batch.

    python benchmarks/pix2pix_speed.py [--batch 16] [--threads 1] [--quick]
"""
from __future__ import annotations

import argparse
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
from ganforge.models.unet import UnetGenerator  # noqa: E402


class PlainPix2Pix:
    """The same networks and optimisers, written the way a plain-PyTorch user would."""

    def __init__(self, cfg, device):
        ds = build_dataset(cfg.data)
        batch = ds.get(torch.arange(len(ds)))
        self.a, self.b = batch.x.to(device), batch.target.to(device)
        self.bs, self.device, self.lam = cfg.train.batch_size, device, cfg.method.lambda_l1
        torch.manual_seed(cfg.train.seed)
        g, d = cfg.generator, cfg.discriminator
        self.G = UnetGenerator(ds.info.shape, ds.info.target_shape, g.ngf, g.num_downs, g.norm, g.dropout,
                               g.dropout_blocks, g.test_dropout).to(device)
        self.D = PatchGANDiscriminator(ds.info.shape[0] + ds.info.target_shape[0], d.channels, d.n_layers, d.norm,
                                       conditional=True).to(device)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=2e-4, betas=(0.5, 0.999))

    def step(self):
        idx = torch.randint(len(self.a), (self.bs,), device=self.device)
        a, b = self.a[idx], self.b[idx]
        fake = self.G(a)
        pred_fake = self.D(fake.detach(), a)
        pred_real = self.D(b, a)
        loss_d = 0.5 * (F.binary_cross_entropy_with_logits(pred_fake, torch.zeros_like(pred_fake))
                        + F.binary_cross_entropy_with_logits(pred_real, torch.ones_like(pred_real)))
        self.opt_d.zero_grad()
        loss_d.backward()
        self.opt_d.step()
        for p in self.D.parameters():
            p.requires_grad_(False)
        pred = self.D(fake, a)
        loss_g = F.binary_cross_entropy_with_logits(pred, torch.ones_like(pred)) + self.lam * F.l1_loss(fake, b)
        self.opt_g.zero_grad()
        loss_g.backward()
        self.opt_g.step()
        for p in self.D.parameters():
            p.requires_grad_(True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=16)
    add_args(p, blocks=7, iters=10, warmup=3)
    args = p.parse_args(argv)
    device, label, prov = start(args)
    cfg = load_preset("pix2pix-shapes-labels", device, f"train.batch_size={args.batch}")
    with tempfile.TemporaryDirectory() as tmp:
        loops = {"plain": PlainPix2Pix(cfg, device), "ganforge": GanforgeLoop(cfg, os.path.join(tmp, "run"))}
        s = time_loops(loops, device, args)
    g, d = cfg.generator, cfg.discriminator
    name = f"shapes-labels 32², U-Net ngf {g.ngf}, PatchGAN {d.channels}/n_layers {d.n_layers}, batch {args.batch}"
    rows = [*header(), row(name, s)]
    print("\n".join(rows), flush=True)
    publish(args, f"pix2pix iteration cost — {label}", prov, rows,
            "One pix2pix iteration of the `pix2pix-shapes-labels` preset through `Trainer.iteration` over the same "
            "networks, batch and optimisers in a hand-written plain-PyTorch loop (the official "
            "optimize_parameters); target ≤ 1.05×.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
