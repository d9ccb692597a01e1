"""Throughput of one ganforge DCGAN training iteration against a plain-PyTorch loop, in the same process.

What is measured
  * ganforge: a `Trainer` built from the `dcgan-mnist` preset (resolution / channels / batch overridden), timing
    `trainer.iteration(DeviceStream(trainer.stream, trainer.device), nonfinite)` — exactly the per-iteration
    work of `Trainer.fit` (the method's step, EMA update, sync-free non-finite guard) minus logging/checkpoints.
  * plain: a hand-written loop of what a user script does with the same `DCGANGenerator` /
    `DCGANDiscriminator` classes (fresh instances, same init), the same batch, `torch.optim.Adam(lr=2e-4,
    betas=(0.5, 0.999))` with default settings, `F.binary_cross_entropy_with_logits` (D: real 1 / fake 0 on
    fakes made without grad; G: the non-saturating loss on a fresh z, as ganforge's standard GAN does, so both
    sides do the same FLOPs), real batches gathered at random from an in-memory float tensor of MNIST-5k on
    the device, `zero_grad()`, no `.item()`.

How
  Warm-up, then alternating blocks (plain, ganforge, plain, ganforge, ...) so that machine noise hits both
  sides alike; CUDA is synchronised around each block. Reported: median img/s of each side, the ratio
  time_ganforge / time_plain (of the medians, the median of the per-pair ratios and of the fastest blocks;
  target ≤ 1.05), the block spread (slowest / fastest block: above 1.5 the machine was busy, and the section
  is not written without --force), and GFLOP/s = conv FLOPs of one iteration (`FlopCounterMode`, forward +
  backward of the D and G steps) / time.

    python benchmarks/throughput.py --device cpu [--configs dcgan32-c32-b64,dcgan32-c64-b64] [--quick]
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import BENCHMARKS_MD, device_label, provenance, resolve, sync, write_section  # noqa: E402

from ganforge.config import load_config  # noqa: E402
from ganforge.data import build_dataset  # noqa: E402
from ganforge.models.dcgan import DCGANDiscriminator, DCGANGenerator  # noqa: E402
from ganforge.train.trainer import DeviceStream, Trainer  # noqa: E402

# name -> (resolution, channels, batch); the first is the main job's setting (the dcgan-mnist preset).
CONFIGS = {
    "dcgan32-c32-b64": (32, 32, 64),
    "dcgan32-c64-b64": (32, 64, 64),
    "dcgan64-c64-b256": (64, 64, 256),
}
DEFAULT_CONFIGS = {"cpu": ["dcgan32-c32-b64", "dcgan32-c64-b64"], "cuda": list(CONFIGS)}


def preset(name: str, device: torch.device, variant: str = "fp32"):
    res, ch, bs = CONFIGS[name]
    return load_config("dcgan-mnist", [
        f"data.resolution={res}", f"generator.channels={ch}", f"discriminator.channels={ch}",
        f"train.batch_size={bs}", f"train.device={device}", "train.steps=1000000000",
        "train.progress=false", "train.tensorboard=false", "train.eval_every=0", *variant_overrides(variant)])


DEFAULT_VARIANTS = ["fp32", "bf16", "fp32+cl", "bf16+cl", "fp32+compile", "bf16+cl+compile"]


def variant_overrides(variant: str):
    """'bf16+cl+compile' -> train.precision=bf16, train.channels_last=true, train.compile=true."""
    parts = variant.split("+")
    precision = parts[0]
    if precision not in ("fp32", "bf16", "fp16") or any(p not in ("cl", "compile") for p in parts[1:]):
        raise ValueError(f"bad variant {variant!r}: PRECISION[+cl][+compile], PRECISION in fp32, bf16, fp16")
    return [f"train.precision={precision}", f"train.channels_last={'cl' in parts}",
            f"train.compile={'compile' in parts}"]


class GanforgeLoop:
    """`Trainer.iteration` on the Trainer's own data stream, as `Trainer.fit` calls it."""

    def __init__(self, cfg, run_dir: str):
        self.trainer = Trainer(cfg, run_dir=run_dir, overwrite=True)
        self.data = (self.trainer.data_stream() if hasattr(self.trainer, "data_stream")  # what `fit` uses
                     else DeviceStream(self.trainer.stream, self.trainer.device))
        self.nonfinite = torch.zeros((), dtype=torch.bool, device=self.trainer.device)
        self.trainer.method.train()

    def step(self):
        self.trainer.iteration(self.data, self.nonfinite)


class PlainLoop:
    """The same networks, batch and optimiser, written the way a plain-PyTorch user would."""

    def __init__(self, cfg, device: torch.device):
        ds = build_dataset(cfg.data)
        self.x = ds.get(torch.arange(len(ds))).x.to(device)  # float32 in [-1, 1], all of MNIST-5k
        self.bs, self.z_dim, self.device = cfg.train.batch_size, cfg.generator.z_dim, device
        torch.manual_seed(cfg.train.seed)
        self.G = DCGANGenerator(ds.info.shape, cfg.generator.z_dim, cfg.generator.channels).to(device)
        self.D = DCGANDiscriminator(ds.info.shape, cfg.discriminator.channels).to(device)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.ones = torch.ones(self.bs, device=device)
        self.zeros = torch.zeros(self.bs, device=device)

    def step(self):
        G, D, bs, dev = self.G, self.D, self.bs, self.device
        real = self.x[torch.randint(len(self.x), (bs,), device=dev)]
        with torch.no_grad():
            fake = G(torch.randn(bs, self.z_dim, device=dev))
        loss_d = (F.binary_cross_entropy_with_logits(D(real), self.ones)
                  + F.binary_cross_entropy_with_logits(D(fake), self.zeros))
        self.opt_d.zero_grad()
        loss_d.backward()
        self.opt_d.step()
        loss_g = F.binary_cross_entropy_with_logits(D(G(torch.randn(bs, self.z_dim, device=dev))), self.ones)
        self.opt_g.zero_grad()
        loss_g.backward()
        self.opt_g.step()


def flops_of(loop) -> int:
    with FlopCounterMode(display=False) as fc:
        loop.step()
    return fc.get_total_flops()


def time_block(loop, n: int, device) -> float:
    """Seconds per iteration over n iterations."""
    sync(device)
    t0 = time.perf_counter()
    for _ in range(n):
        loop.step()
    sync(device)
    return (time.perf_counter() - t0) / n


def bench(name: str, device, args) -> dict:
    """Plain fp32 and every ganforge variant, timed in interleaved blocks in this process."""
    cfg = preset(name, device)
    variants = args.variants if "fp32" in args.variants else ["fp32", *args.variants]
    with tempfile.TemporaryDirectory() as tmp:
        loops = {"plain": PlainLoop(cfg, device)}
        for v in variants:
            loops[v] = GanforgeLoop(preset(name, device, v), os.path.join(tmp, v))
        flops = {k: flops_of(loop) for k, loop in loops.items() if "compile" not in k}
        for loop in loops.values():  # warm-up (allocator, kernel choice, compilation, optimiser state)
            time_block(loop, args.warmup + (10 if loop is not loops["plain"] else 0), device)
        t_est = time_block(loops["plain"], max(1, args.warmup), device)
        iters = max(args.min_iters, math.ceil(args.block_seconds / t_est))
        times = {k: [] for k in loops}
        for _ in range(args.blocks):
            for k, loop in loops.items():
                times[k].append(time_block(loop, iters, device))
    med = {k: statistics.median(v) for k, v in times.items()}
    t_plain, t_gf = med["plain"], med["fp32"]
    bs = cfg.train.batch_size
    return {
        "name": name, "batch": bs, "blocks": args.blocks, "iters": iters,
        "plain_ips": bs / t_plain, "gf_ips": bs / t_gf, "ms_plain": 1e3 * t_plain, "ms_gf": 1e3 * t_gf,
        "ratio": t_gf / t_plain,
        "ratio_paired": statistics.median(g / p for g, p in zip(times["fp32"], times["plain"])),
        "ratio_best": min(times["fp32"]) / min(times["plain"]),
        "spread": max(max(v) / min(v) for v in times.values()),  # slowest / fastest block, worst loop
        "gflop": flops["plain"] / 1e9, "gflop_gf": flops["fp32"] / 1e9,
        "gflops_plain": flops["plain"] / t_plain / 1e9, "gflops_gf": flops["plain"] / t_gf / 1e9,
        "variants": {v: {"ips": bs / med[v], "speedup": t_plain / med[v], "gflops": flops["plain"] / med[v] / 1e9,
                         "speedup_best": min(times["plain"]) / min(times[v])} for v in variants},
    }


HEADER = ("| config | batch | plain img/s | ganforge img/s | ratio (medians) | ratio (paired) | ratio (best blocks) "
          "| block spread | GFLOP/iter | GFLOP/s plain | GFLOP/s ganforge |\n"
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
NOISY = 1.5  # slowest / fastest block above this: the machine was busy, the ratios are not to be trusted


def row(r: dict) -> str:
    spread = f"{r['spread']:.2f}" + (" (noisy)" if r["spread"] > NOISY else "")
    return (f"| {r['name']} | {r['batch']} | {r['plain_ips']:.0f} | {r['gf_ips']:.0f} | **{r['ratio']:.3f}** "
            f"| {r['ratio_paired']:.3f} | {r['ratio_best']:.3f} | {spread} | {r['gflop']:.2f} "
            f"| {r['gflops_plain']:.1f} | {r['gflops_gf']:.1f} |")


VARIANT_HEADER = ("| config | variant | img/s | speed-up vs plain fp32 (medians) | (best blocks) | GFLOP/s |\n"
                  "|---|---|---:|---:|---:|---:|")


def variant_rows(r: dict):
    for v, m in r["variants"].items():
        yield (f"| {r['name']} | {v} | {m['ips']:.0f} | **{m['speedup']:.2f}×** | {m['speedup_best']:.2f}× "
               f"| {m['gflops']:.1f} |")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="auto", help="auto | cpu | cuda[:N]")
    p.add_argument("--configs", help=f"comma-separated, among {', '.join(CONFIGS)} (default: all for the device)")
    p.add_argument("--blocks", type=int, help="timed blocks per side (default 5 CPU, 10 GPU)")
    p.add_argument("--block-seconds", type=float, help="target length of one block (default 3 CPU, 1 GPU)")
    p.add_argument("--min-iters", type=int, help="least iterations per block (default 20 CPU, 50 GPU)")
    p.add_argument("--warmup", type=int, help="warm-up iterations per side (default 5 CPU, 20 GPU)")
    p.add_argument("--variants", default=",".join(DEFAULT_VARIANTS),
                   help="comma-separated ganforge variants PRECISION[+cl][+compile] (cl = channels_last), each timed "
                        f"against the plain fp32 loop (default {','.join(DEFAULT_VARIANTS)})")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--quick", action="store_true", help="smoke run: 2 tiny blocks; writes nothing unless --md")
    p.add_argument("--md", help=f"markdown file to update (default {os.path.relpath(BENCHMARKS_MD)})")
    p.add_argument("--dry", action="store_true", help="print the table only, write no file")
    p.add_argument("--force", action="store_true", help=f"write even when blocks differ by more than ×{NOISY}")
    args = p.parse_args(argv)
    args.variants = [v for v in args.variants.split(",") if v]
    for v in args.variants:
        try:
            variant_overrides(v)
        except ValueError as e:
            p.error(str(e))

    device = resolve(args.device)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    gpu = device.type == "cuda"
    names = args.configs.split(",") if args.configs else DEFAULT_CONFIGS[device.type]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        p.error(f"unknown config(s) {unknown}; choose among {list(CONFIGS)}")
    if args.quick:
        defaults = dict(blocks=2, block_seconds=0.0, min_iters=3, warmup=2)
    else:
        defaults = dict(blocks=10 if gpu else 5, block_seconds=1.0 if gpu else 3.0, min_iters=50 if gpu else 20,
                        warmup=20 if gpu else 5)
    for k, v in defaults.items():
        if getattr(args, k) is None:
            setattr(args, k, v)

    label, prov = device_label(device), provenance()  # provenance now: the load average before the run
    print(f"{label}; torch {torch.__version__}; {args.blocks} blocks per side, ≥ {args.min_iters} iterations each")
    results = []
    for name in names:
        t0 = time.perf_counter()
        r = bench(name, device, args)
        results.append(r)
        print(f"  {name}: plain {r['ms_plain']:.1f} ms/it, ganforge {r['ms_gf']:.1f} ms/it, ratio {r['ratio']:.3f} "
              f"(paired {r['ratio_paired']:.3f}, best {r['ratio_best']:.3f}), block spread {r['spread']:.2f}, "
              f"{r['blocks']}×{r['iters']} it/side, {time.perf_counter() - t0:.0f}s")
        if r["spread"] > NOISY:
            print(f"  warning: blocks differ by ×{r['spread']:.2f}: timings were disturbed (other work on the "
                  f"machine, clocks, launch jitter); rerun to confirm the ratio")
        if abs(r["gflop_gf"] - r["gflop"]) > 1e-3 * r["gflop"]:
            print(f"  warning: ganforge does {r['gflop_gf']:.3f} GFLOP/iter, plain {r['gflop']:.3f}")
    table = "\n".join([HEADER, *map(row, results)])
    vtable = "\n".join([VARIANT_HEADER, *(line for r in results for line in variant_rows(r))])
    print("\n" + table + "\n\n" + vtable)

    path = args.md or (None if args.quick or args.dry else BENCHMARKS_MD)
    noisy = [r["name"] for r in results if r["spread"] > NOISY]
    if path and not args.dry and noisy and not args.force:
        print(f"not written: {', '.join(noisy)} had blocks differing by more than ×{NOISY} (the machine was busy); "
              f"rerun when it is quiet, or pass --force")
    elif path and not args.dry:
        body = (f"{prov}\n\n{table}\n\n"
                f"Ratio = time_ganforge / time_plain per iteration (target ≤ 1.05): of the median block times, "
                f"median of the (plain, ganforge) block pairs' ratios, and of the fastest blocks. Block spread = "
                f"slowest / fastest block of a side (above {NOISY}: the timings were disturbed; rerun to confirm). "
                f"{args.blocks} interleaved blocks per side; block sizes: "
                + ", ".join(f"{r['name']} {r['iters']} it" for r in results) + ".\n\n"
                f"Speed levers, each a ganforge run option timed in the same interleaved blocks (`train.precision`, "
                f"cl = `train.channels_last`, `train.compile`); speed-up = time of the plain fp32 loop / time of the "
                f"variant (GFLOP/s counts the fp32 loop's FLOPs):\n\n{vtable}")
        write_section(f"Throughput — {label}, torch {torch.__version__}", body, path)
    elif not args.dry:
        print("(quick run: no file written; pass --md PATH to write one)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
