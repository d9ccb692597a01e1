"""Cost of one ganforge SRGAN iteration against a hand-written plain-PyTorch loop of the same networks and batch, in
one process (target ≤ 1.05×), for both stages:

  * stage 1 (SRResNet-MSE): G forward, pixel MSE, Adam step;
  * stage 2 (SRGAN): G forward once; D step on HR vs the detached output (BCE); G step on the content loss (the
    in-house patch network's feature maps, `content: features`) + 10⁻³·(−log D(G(LR))).

ganforge: `Trainer.iteration` of the srgan-photos preset (stage 1: pretrain_steps huge; stage 2: pretrain_steps 0);
plain: the same SRResNet / SRGAN discriminator classes and content network, random batches from the same
in-memory patches, torch.optim.Adam. Interleaved blocks, medians (see throughput.py).

    python benchmarks/srgan_speed.py [--threads 1] [--blocks 5] [--iters 5] [--quick]
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
from ganforge.methods.srgan import content_features, load_content_net  # noqa: E402
from ganforge.models.srresnet import SRGANDiscriminator, SRResNet  # noqa: E402


def config(stage: int, device):
    return load_preset("srgan-photos", device, f"method.pretrain_steps={10 ** 9 if stage == 1 else 0}")


class PlainSR:
    """SRResNet-MSE (stage 1) or SRGAN (stage 2) written as a plain loop."""

    def __init__(self, cfg, stage: int, device):
        ds = build_dataset(cfg.data)
        b = ds.get(torch.arange(len(ds)))
        self.lr_img, self.hr = b.x.to(device), b.target.to(device)
        self.bs, self.stage, self.device = cfg.train.batch_size, stage, device
        torch.manual_seed(0)
        g, d = cfg.generator, cfg.discriminator
        self.G = SRResNet(ds.info.shape, ds.info.target_shape, g.channels, g.blocks).to(device)
        self.D = SRGANDiscriminator(ds.info.target_shape, d.channels, d.dense).to(device)
        self.net = load_content_net("sr-content-photos", device)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=1e-4, betas=(0.9, 0.999))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=1e-4, betas=(0.9, 0.999))

    def step(self):
        idx = torch.randint(len(self.hr), (self.bs,), device=self.device)
        x, hr = self.lr_img[idx], self.hr[idx]
        sr = self.G(x)
        if self.stage == 1:
            loss = F.mse_loss(sr, hr)
            self.opt_g.zero_grad()
            loss.backward()
            self.opt_g.step()
            return
        real, fake = self.D(hr), self.D(sr.detach())
        d_loss = (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
                  + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
        self.opt_d.zero_grad()
        d_loss.backward()
        self.opt_d.step()
        with torch.no_grad():
            target = content_features(self.net, hr)
        adv = self.D(sr)
        g_loss = F.mse_loss(content_features(self.net, sr), target) \
            + 1e-3 * F.binary_cross_entropy_with_logits(adv, torch.ones_like(adv))
        self.opt_g.zero_grad()
        g_loss.backward()
        self.opt_g.step()


def bench(stage: int, device, args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        loops = {"plain": PlainSR(config(stage, device), stage, device),
                 "ganforge": GanforgeLoop(config(stage, device), os.path.join(tmp, "srgan"))}
        return time_loops(loops, device, args)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_args(p, blocks=7, iters=5, warmup=3)
    args = p.parse_args(argv)
    device, label, prov = start(args)
    rows = header("srgan-photos (batch 16, 8² → 32², G 6 blocks × 32, D 16 / dense 256)")
    for stage, name in ((1, "stage 1: SRResNet-MSE"), (2, "stage 2: SRGAN (feature content loss)")):
        rows.append(row(name, bench(stage, device, args)))
        print(rows[-1], flush=True)
    publish(args, f"SRGAN iteration cost — {label}", prov, rows,
            "One `Trainer.iteration` of the srgan-photos preset against a plain-PyTorch loop of the same SRResNet, "
            "SRGAN discriminator and content network (`benchmarks/srgan_speed.py`); target ≤ 1.05×.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
