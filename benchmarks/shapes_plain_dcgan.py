"""An independent plain-PyTorch DCGAN on ganforge's shapes scenes: is the blob plateau of the shapes presets a
ganforge bug? Nothing of ganforge is used but the data (`build_shapes`): the networks are the usual 32² DCGAN of
Radford et al. 2016 (transposed 4×4 convolutions with batch norm and ReLU in G, strided convolutions with batch norm
and leaky ReLU in D, N(0, 0.02) init), BCE, Adam 2e-4 β (0.5, 0.999), batch 64, no EMA, no label smoothing.
Writes an 8×8 grid of G (eval mode, fixed z) every 1,000 iterations: OUT-<iteration>.png.

    OMP_NUM_THREADS=1 python benchmarks/shapes_plain_dcgan.py --steps 6000 --out /tmp/plain   # ~25 min, 1 thread
"""
from __future__ import annotations

import argparse
import time

import torch
from PIL import Image
from torch import nn

from ganforge.data.shapes import ShapesConfig, build_shapes


def generator(z_dim: int, c: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(z_dim, 4 * c, 4, 1, 0, bias=False), nn.BatchNorm2d(4 * c), nn.ReLU(True),
        nn.ConvTranspose2d(4 * c, 2 * c, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * c), nn.ReLU(True),
        nn.ConvTranspose2d(2 * c, c, 4, 2, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(True),
        nn.ConvTranspose2d(c, 3, 4, 2, 1, bias=False), nn.Tanh())


def discriminator(c: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, c, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True),
        nn.Conv2d(c, 2 * c, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * c), nn.LeakyReLU(0.2, True),
        nn.Conv2d(2 * c, 4 * c, 4, 2, 1, bias=False), nn.BatchNorm2d(4 * c), nn.LeakyReLU(0.2, True),
        nn.Conv2d(4 * c, 1, 4, 1, 0, bias=False))


def dcgan_init(m: nn.Module) -> None:
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


@torch.no_grad()
def save_grid(g: nn.Module, z: torch.Tensor, path: str) -> None:
    g.eval()
    x = g(z)
    g.train()
    r = x.shape[-1]
    x = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).view(8, 8, 3, r, r).permute(0, 3, 1, 4, 2)
    Image.fromarray(x.reshape(8 * r, 8 * r, 3).numpy()).resize((16 * r, 16 * r), Image.NEAREST).save(path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--out", required=True, help="path prefix of the grids")
    ap.add_argument("--channels", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    torch.manual_seed(args.seed)
    x = build_shapes(ShapesConfig(n=10_000)).x.float() / 127.5 - 1
    g, d = generator(100, args.channels), discriminator(args.channels)
    g.apply(dcgan_init)
    d.apply(dcgan_init)
    opt_g = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    z_grid, ones, zeros = torch.randn(64, 100, 1, 1), torch.ones(64), torch.zeros(64)
    t0 = time.time()
    for it in range(1, args.steps + 1):
        real = x[torch.randint(0, len(x), (64,))]
        fake = g(torch.randn(64, 100, 1, 1))
        loss_d = bce(d(real).view(-1), ones) + bce(d(fake.detach()).view(-1), zeros)
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = bce(d(fake).view(-1), ones)
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        if it % 250 == 0:
            print(f"{it} loss_d {loss_d.item():.3f} loss_g {loss_g.item():.3f} {time.time() - t0:.0f}s", flush=True)
        if it % 1000 == 0:
            save_grid(g, z_grid, f"{args.out}-{it}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
