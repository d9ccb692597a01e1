"""Why does `stylegan-mnist` collapse? Three readouts of a StyleGAN generator (Karras et al. 2019) for issue 16.

* `sensitivity RUN…` — for each checkpoint of each run: the RMS change of the image when one layer's w is swapped
  for another sample's (128 pairs, the same noise), per layer; the spread of that layer's style scales over z;
  the mean |noise weight|. A generator that uses its styles moves ~1 per layer (at initialisation 1.1–1.4).
* `rank RUN…` — the participation ratio over channels of each layer's instance-normalised features (per sample,
  mean of 16): whether the features collapse onto one pattern that instance norm then undoes.
* `regress ARCH [--steps N] [--ablate …]` — fit 64 fixed z to 64 MNIST-5k digits (32²) by MSE with Adam (lr 1e-3,
  β (0, 0.99), batch 16), no discriminator: can the architecture represent variety at all? ARCH: `stylegan`
  (the `stylegan-mnist` generator, style mixing off unless `--ablate mix`) or `progan` (the same widths). Ablations:
  `mix` (style mixing p 0.9), `lrmul1` (mapping at lr ×1), `map0` (no mapping), `nonoise` (noise weights frozen
  at 0), `nostyle` (no style modulation: the generator can only learn the mean digit — the floor).

    OMP_NUM_THREADS=1 python benchmarks/stylegan_diagnostics.py sensitivity runs/stylegan-mnist
    OMP_NUM_THREADS=1 python benchmarks/stylegan_diagnostics.py rank runs/stylegan-mnist
    OMP_NUM_THREADS=1 python benchmarks/stylegan_diagnostics.py regress stylegan --steps 1500
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src"))

import ganforge  # noqa: E402
from ganforge.data.bundled import MNISTConfig, build_mnist  # noqa: E402
from ganforge.models.progan import ProGANGenerator  # noqa: E402
from ganforge.models.stylegan import StyleGANGenerator  # noqa: E402
from ganforge.nn.norms import instance_norm  # noqa: E402

WIDTHS = dict(channels=64, channel_base=512)  # stylegan-mnist's


class NoStyle(torch.nn.Module):
    def forward(self, x, w):
        return x


def checkpoints(paths):
    """Each argument: a checkpoint folder, or a run whose checkpoints are all taken in order."""
    for p in paths:
        found = sorted(glob.glob(os.path.join(p, "checkpoints", "step-*")))
        yield from (found or [p])


@torch.no_grad()
def sensitivity(G, n: int = 128) -> dict:
    gen = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(n, G.z_dim, generator=gen), torch.randn(n, G.z_dim, generator=gen)
    w1, w2 = G.broadcast(G.mapping(z1)), G.broadcast(G.mapping(z2))
    noise = G.make_noise(n, torch.Generator().manual_seed(1))
    base = G.synthesis(w1, noise)
    swap = []
    for i in range(G.num_ws):
        ws = w1.clone()
        ws[:, i] = w2[:, i]
        swap.append((G.synthesis(ws, noise) - base).pow(2).mean().sqrt().item())
    layers = G.synthesis_net.layers
    spread = [l.adain.style.affine(w1[:, i])[:, :l.bias.numel()].std(0).mean().item() for i, l in enumerate(layers)]
    return {"swap_rms": swap, "style_spread": spread, "noise_weight": [l.noise.weight.abs().mean().item()
                                                                       for l in layers]}


@torch.no_grad()
def feature_rank(G, n: int = 16) -> list:
    feats = []
    hooks = [l.adain.register_forward_hook(lambda m, i, o: feats.append(instance_norm(i[0])))
             for l in G.synthesis_net.layers]
    G(torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(1)))
    for h in hooks:
        h.remove()
    out = []
    for f in feats:
        ev = torch.linalg.svdvals(f.flatten(2)) ** 2  # N × min(C, HW)
        out.append(round(float((ev.sum(1) ** 2 / (ev ** 2).sum(1)).mean()), 2))
    return out


def regress(arch: str, steps: int, ablate: set, n: int = 64) -> list:
    torch.manual_seed(0)
    ds = build_mnist(MNISTConfig(resolution=32))
    x = torch.stack([ds[i].x.reshape(1, 32, 32) for i in range(n)]).float()
    if arch == "progan":
        G = ProGANGenerator((1, 32, 32), z_dim=128, **WIDTHS)
    else:
        G = StyleGANGenerator((1, 32, 32), z_dim=128, w_dim=128, const_init="normal",
                              style_mixing=0.9 if "mix" in ablate else 0.0,
                              mapping_lr_mul=1.0 if "lrmul1" in ablate else 0.01,
                              mapping_layers=0 if "map0" in ablate else 8, **WIDTHS)
        for layer in G.synthesis_net.layers:
            if "nonoise" in ablate:
                layer.noise.weight.requires_grad_(False)
            if "nostyle" in ablate:
                layer.adain.style = NoStyle()
    z = torch.randn(n, 128)
    opt = torch.optim.Adam([p for p in G.parameters() if p.requires_grad], lr=1e-3, betas=(0.0, 0.99))
    log = []
    for it in range(1, steps + 1):
        idx = torch.randint(0, n, (16,))
        loss = F.mse_loss(G.train()(z[idx]), x[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if it % max(1, steps // 5) == 0:
            with torch.no_grad():
                log.append((it, round(F.mse_loss(G.eval()(z), x).item(), 4)))
    return log


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("sensitivity", "rank"):
        sub.add_parser(name).add_argument("runs", nargs="+")
    r = sub.add_parser("regress")
    r.add_argument("arch", choices=["stylegan", "progan"])
    r.add_argument("--steps", type=int, default=1500)
    r.add_argument("--ablate", nargs="*", default=[], choices=["mix", "lrmul1", "map0", "nonoise", "nostyle"])
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    if args.cmd == "regress":
        print(json.dumps({"arch": args.arch, "ablate": args.ablate, "mse": regress(args.arch, args.steps,
                                                                                  set(args.ablate))}))
        return 0
    for ck in checkpoints(args.runs):
        G = ganforge.load(ck, ema=False).generator
        if not isinstance(G, StyleGANGenerator):
            print(f"{ck}: not a StyleGAN generator", file=sys.stderr)
            return 2
        out = sensitivity(G) if args.cmd == "sensitivity" else {"participation_ratio": feature_rank(G)}
        print(json.dumps({"checkpoint": ck, **{k: [round(v, 3) for v in vs] for k, vs in out.items()}}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
