"""Cost of one pix2pixHD iteration through ganforge's Trainer against a hand-written plain-PyTorch loop of the same
G1, 2-scale PatchGAN D, perceptual extractor, batch and optimisers, in one process (target ≤ 1.05×).

What is timed, in interleaved blocks (see throughput.py for the method):
  * plain: the official `Pix2PixHDModel.forward` + `train.py` written out — one-hot labels ⊕ boundary map; G once;
    D on cat(label, fake.detach()) and cat(label, real) (all layers); D frozen for G's pass through it; LSGAN
    summed over scales + feature matching (10/num_D per layer) + the perceptual term; G's Adam step, then D's
    with 0.5·(fake + real) — on batches drawn from tensors already in memory;
  * ganforge: `Trainer.iteration` of the `pix2pixhd-shapes` preset at the same size and batch.

    python benchmarks/pix2pixhd_speed.py [--batch 8] [--threads 1] [--quick]
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
from ganforge.methods.pix2pixhd import EvaluatorFeatures  # noqa: E402
from ganforge.models.patchgan import PatchGANDiscriminator  # noqa: E402
from ganforge.models.resnet_translator import ResnetTranslator  # noqa: E402


def edges(t):
    e = torch.zeros_like(t, dtype=torch.bool)
    e[:, :, 1:] |= t[:, :, 1:] != t[:, :, :-1]
    e[:, :, :-1] |= t[:, :, 1:] != t[:, :, :-1]
    e[:, 1:, :] |= t[:, 1:, :] != t[:, :-1, :]
    e[:, :-1, :] |= t[:, 1:, :] != t[:, :-1, :]
    return e.float()[:, None]


class PlainPix2PixHD:
    """The same networks and optimisers, written the way a plain-PyTorch user would."""

    def __init__(self, cfg, device):
        ds = build_dataset(cfg.data)
        b = ds.get(torch.arange(len(ds)))
        self.labels, self.inst, self.real = b.mask.to(device), b.attrs["instance"].to(device), b.target.to(device)
        self.bs, self.device = cfg.train.batch_size, device
        torch.manual_seed(cfg.train.seed)
        g, d = cfg.generator, cfg.discriminator
        self.k = len(ds.info.mask_classes)
        c_in, res = self.k + 1, ds.info.target_shape[1]
        self.G = ResnetTranslator((c_in, res, res), ds.info.target_shape, g.channels, g.n_down, g.n_blocks,
                                  g.norm).to(device)
        self.Ds = [PatchGANDiscriminator(c_in + 3, d.channels, d.n_layers, d.norm, 4, 2).to(device)
                   for _ in range(d.num_d)]
        self.vgg = EvaluatorFeatures().to(device)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam([p for D in self.Ds for p in D.parameters()], lr=2e-4, betas=(0.5, 0.999))

    def D(self, x):
        outs = []
        for i, D in enumerate(self.Ds):
            if i:
                x = F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)
            outs.append(D.forward_with_features(x)[1])
        return outs

    def step(self):
        idx = torch.randint(len(self.real), (self.bs,), device=self.device)
        lab, inst, real = self.labels[idx], self.inst[idx], self.real[idx]
        cond = torch.cat([F.one_hot(lab, self.k).permute(0, 3, 1, 2).float(), edges(inst)], 1)
        fake = self.G(cond)
        pred_real = self.D(torch.cat([cond, real], 1))
        pred_fake_d = self.D(torch.cat([cond, fake.detach()], 1))
        for D in self.Ds:
            D.requires_grad_(False)
        pred_fake = self.D(torch.cat([cond, fake], 1))
        for D in self.Ds:
            D.requires_grad_(True)
        loss_g = sum(F.mse_loss(p[-1], torch.ones_like(p[-1])) for p in pred_fake)
        w = 10.0 / len(self.Ds)
        loss_g = loss_g + sum(w * F.l1_loss(f, r.detach()) for pf, pr in zip(pred_fake, pred_real)
                              for f, r in zip(pf[:-1], pr[:-1]))
        with torch.no_grad():
            rf = self.vgg(real)
        loss_g = loss_g + 10.0 * sum(wi * F.l1_loss(f, r) for wi, f, r in zip(self.vgg.weights, self.vgg(fake), rf))
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        loss_d = 0.5 * (sum(F.mse_loss(p[-1], torch.zeros_like(p[-1])) for p in pred_fake_d)
                        + sum(F.mse_loss(p[-1], torch.ones_like(p[-1])) for p in pred_real))
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=8)
    add_args(p, blocks=7, iters=5, warmup=2)
    args = p.parse_args(argv)
    device, label, prov = start(args)
    cfg = load_preset("pix2pixhd-shapes", device, f"train.batch_size={args.batch}")
    with tempfile.TemporaryDirectory() as tmp:
        loops = {"plain": PlainPix2PixHD(cfg, device), "ganforge": GanforgeLoop(cfg, os.path.join(tmp, "run"))}
        s = time_loops(loops, device, args)
    g, d = cfg.generator, cfg.discriminator
    name = (f"shapes-labels 32² touching, G1 ngf {g.channels}/n_down {g.n_down}/{g.n_blocks} blocks, "
            f"{d.num_d}-scale PatchGAN {d.channels}, batch {args.batch}")
    rows = [*header(), row(name, s)]
    print("\n".join(rows), flush=True)
    publish(args, f"pix2pixHD iteration cost — {label}", prov, rows,
            "One pix2pixHD iteration of the `pix2pixhd-shapes` preset through `Trainer.iteration` against the same "
            "networks, batch and optimisers in a hand-written plain-PyTorch loop (official "
            "Pix2PixHDModel.forward + train.py: G step then D step from one forward pass); target ≤ 1.05×.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
