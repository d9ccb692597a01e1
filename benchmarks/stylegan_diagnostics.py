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
* `gan ARCH RUN [key=value …] [--mapping N] [--center] [--input dense] [--steps N]` — train the `stylegan-mnist`
  recipe (its D, loss, R1, lr, batch) with another generator: `stylegan` (the preset's, `--modulation demod` for
  StyleGAN2's layer) or `progan` (ProGAN's generator, the preset's widths) behind an N-layer mapping network (lr ×0.01;
  0 = none, progan's z goes straight in); `--center` standardises w by its mean and RMS spread measured once at
  initialisation on 4,096 z (`generator.w_standardize`; the mapping hardly moves in a short run), removing the part
  of w that every z shares; `--input dense` feeds stylegan's first layer a dense layer of w instead of the learned
  constant; `--style-gain G` scales the style affines (their spread at initialisation and their learning speed),
  `--affine-lr M` only their learning speed (both AdaIN only); `--no-noise` freezes the noise weights at 0;
  `--styles both|scale|bias` adds StyleGAN's per-layer style modulation x·(1 + s) + b (or one half of it) to the
  mapped `progan`. Key=value overrides come before the options (`data.name=shapes` trains on shapes). The preset
  takes lazy R1 since session 18: numbers measured before it (docs/features.md) reproduce with `method.r1_every=1`.

    OMP_NUM_THREADS=1 python benchmarks/stylegan_diagnostics.py sensitivity runs/stylegan-mnist
    OMP_NUM_THREADS=1 python benchmarks/stylegan_diagnostics.py rank runs/stylegan-mnist
    OMP_NUM_THREADS=1 python benchmarks/stylegan_diagnostics.py regress stylegan --steps 1500
    OMP_NUM_THREADS=1 python benchmarks/stylegan_diagnostics.py gan progan runs/exp/progan-map8 --mapping 8 --steps 600
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys
from dataclasses import dataclass

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src"))

import ganforge  # noqa: E402
from ganforge.data.bundled import MNISTConfig, build_mnist  # noqa: E402
from ganforge.models.progan import ProGANGenerator  # noqa: E402
from ganforge.models.base import Generator, image_shape  # noqa: E402
from ganforge.nn.equalized import SQRT2, EqualLinear  # noqa: E402
from ganforge.models.stylegan import MappingNetwork, StyleGANGenerator  # noqa: E402
from ganforge.registry import GENERATORS  # noqa: E402
from ganforge.nn.norms import instance_norm, pixel_norm  # noqa: E402
from ganforge.nn.style import StyleMod  # noqa: E402
from ganforge.models.progan import lrelu  # noqa: E402

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


def dense_input(G, w_dim: int) -> None:
    """Replace the learned constant by a dense layer of w (layer 0's), StyleGAN's 'traditional input' ablation
    (official G_synthesis with const_input_layer=False: an equalized dense layer of gain √2/4)."""
    syn = G.synthesis_net
    c = syn.const.shape[1]
    syn.dense_in = EqualLinear(w_dim, c * 16, gain=SQRT2 / 4)
    syn.input = lambda ws: syn.dense_in(ws[:, 0]).view(-1, c, 4, 4)


class MappedProGAN(Generator):
    """ProGAN's generator fed w = mapping(z) instead of z."""

    def __init__(self, shape, z_dim: int, layers: int, channels: int, channel_base: int, center: bool = False):
        super().__init__()
        self.z_dim, self.out_shape = z_dim, tuple(shape)
        self.mapping_net = MappingNetwork(z_dim, z_dim, layers, standardize=center) if layers else torch.nn.Identity()
        self.net = ProGANGenerator(shape, z_dim=z_dim, channels=channels, channel_base=channel_base)

    def forward(self, z, y=None):
        return self.net(self.mapping_net(z))


class StyledProGAN(MappedProGAN):
    """The mapped ProGAN with StyleGAN's per-layer style modulation added: after each of its pixel-normalised layers,
    x · (1 + s_i) + b_i with (s_i, b_i) = A_i(w) (`nn.style.StyleMod`, gain 1 as StyleGAN's affine). Fixed
    resolution only (no growing)."""

    def __init__(self, shape, z_dim: int, layers: int, channels: int, channel_base: int, center: bool = False,
                 parts: str = "both", gain: float = 1.0):
        super().__init__(shape, z_dim, layers, channels, channel_base, center)
        widths = [c for c in self.net.widths for _ in (0, 1)]
        self.styles = torch.nn.ModuleList([StyleMod(z_dim, c) for c in widths])
        for st in self.styles:
            st.affine.scale *= gain
            if parts != "both":
                st.forward = (lambda st: lambda x, w: self.part(st, x, w, parts))(st)

    @staticmethod
    def part(st, x, w, parts):
        s, b = st.affine(w).unsqueeze(-1).unsqueeze(-1).chunk(2, dim=1)
        return x * (1 + s) if parts == "scale" else x + b

    def forward(self, z, y=None):
        net, w = self.net, self.mapping_net(z)
        act = lambda conv, x: pixel_norm(lrelu(conv(x)))  # noqa: E731
        x = pixel_norm(lrelu(net.dense(pixel_norm(w)).view(-1, net.widths[0], 4, 4)))
        x = self.styles[1](act(net.conv4, self.styles[0](x, w)), w)
        for k, (conv_a, conv_b) in enumerate(net.blocks, start=1):
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            x = self.styles[2 * k + 1](act(conv_b, self.styles[2 * k](act(conv_a, x), w)), w)
        return net.to_rgb[-1](x)


@dataclass
class VariantConfig:  # the preset's generator keys, plus the variant's
    name: str = "diag-variant"
    z_dim: int = 128
    w_dim: int = 128
    channels: int = 64
    channel_base: int = 512
    style_mixing: float = 0.9
    const_init: str = "normal"
    arch: str = "stylegan"
    mapping: int = 8
    w_standardize: bool = False  # --center
    modulation: str = "adain"
    input: str = "const"
    affine_lr: float = 1.0
    styles: str = "none"
    noise: bool = True
    style_gain: float = 1.0


def slow_affines(G, lr_mul: float) -> None:
    """Give every style affine A_i a learning-rate multiplier (the same initial weights)."""
    for layer in G.synthesis_net.layers:
        aff = layer.adain.style.affine
        with torch.no_grad():
            aff.weight.div_(lr_mul)
            aff.bias.div_(lr_mul)
        aff.scale *= lr_mul
        aff.lr_mul *= lr_mul


def build_variant(cfg: VariantConfig, info):
    shape = image_shape(info, "diag-variant")
    if cfg.arch == "progan":
        args = (shape, cfg.z_dim, cfg.mapping, cfg.channels, cfg.channel_base, cfg.w_standardize)
        G = StyledProGAN(*args, cfg.styles, cfg.style_gain) if cfg.styles != "none" else MappedProGAN(*args)
    else:
        G = StyleGANGenerator(shape, cfg.z_dim, cfg.w_dim, cfg.mapping, 0.01, cfg.channels, cfg.channel_base,
                              cfg.style_mixing, const_init=cfg.const_init, modulation=cfg.modulation,
                              w_standardize=cfg.w_standardize)
    if cfg.input == "dense" and cfg.arch == "stylegan":
        dense_input(G, cfg.w_dim)
    adain = cfg.arch == "stylegan" and cfg.modulation == "adain"
    if cfg.affine_lr != 1.0 and adain:
        slow_affines(G, cfg.affine_lr)
    if not cfg.noise and cfg.arch == "stylegan":
        for layer in G.synthesis_net.layers:
            layer.noise.weight.requires_grad_(False)  # stays at its initial 0: no noise reaches the image
    if cfg.style_gain != 1.0 and adain:
        for layer in G.synthesis_net.layers:
            layer.adain.style.affine.scale *= cfg.style_gain
    return G


def train_variant(args) -> dict:
    GENERATORS.register("diag-variant", VariantConfig)(build_variant)
    over = ["generator.name=diag-variant", f"generator.arch={args.arch}", f"generator.mapping={args.mapping}",
            f"generator.w_standardize={str(args.center).lower()}", f"generator.modulation={args.modulation}",
            f"generator.input={args.input}", f"generator.affine_lr={args.affine_lr}",
            f"generator.styles={args.styles}", f"generator.noise={str(not args.no_noise).lower()}",
            f"generator.style_gain={args.style_gain}",
            f"train.steps={args.steps}", f"train.eval_every={args.steps // 2}", "train.sample_every=100",
            f"train.checkpoint_every={args.steps}", "train.threads=1", "train.progress=false", *args.overrides]
    ganforge.train("stylegan-mnist", over, run_dir=args.run, overwrite=True)
    with open(os.path.join(args.run, "metrics.jsonl")) as f:
        evals = [json.loads(line) for line in f if "eval/fid" in line]
    return {e["step"]: {k: round(e[f"eval/{k}"], 4) for k in ("fid", "precision", "recall")} for e in evals}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("sensitivity", "rank"):
        sub.add_parser(name).add_argument("runs", nargs="+")
    r = sub.add_parser("regress")
    r.add_argument("arch", choices=["stylegan", "progan"])
    r.add_argument("--steps", type=int, default=1500)
    r.add_argument("--ablate", nargs="*", default=[], choices=["mix", "lrmul1", "map0", "nonoise", "nostyle"])
    g = sub.add_parser("gan")
    g.add_argument("arch", choices=["stylegan", "progan"])
    g.add_argument("run")
    g.add_argument("--mapping", type=int, default=8)
    g.add_argument("--center", action="store_true")
    g.add_argument("--modulation", choices=["adain", "demod"], default="adain")
    g.add_argument("--input", choices=["const", "dense"], default="const",
                   help="stylegan's first input: the learned constant, or a dense layer of w ('traditional input')")
    g.add_argument("--affine-lr", type=float, default=1.0, help="learning-rate multiplier of the style affines")
    g.add_argument("--styles", choices=["none", "both", "scale", "bias"], default="none",
                   help="progan: add StyleGAN's per-layer style modulation x(1 + s) + b, or only its scale or bias")
    g.add_argument("--style-gain", type=float, default=1.0,
                   help="the style affines' gain (StyleGAN: 1): the styles' spread at initialisation and their speed")
    g.add_argument("--no-noise", action="store_true", help="stylegan: noise weights frozen at 0")
    g.add_argument("--steps", type=int, default=600)
    g.add_argument("overrides", nargs="*")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    if args.cmd == "gan":
        print(json.dumps({"arch": args.arch, "mapping": args.mapping, "center": args.center, "input": args.input,
                          "affine_lr": args.affine_lr, "styles": args.styles, "noise": not args.no_noise,
                          "style_gain": args.style_gain,
                          "modulation": args.modulation, "eval": train_variant(args)}))
        return 0
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
