"""Cost of cross-replica BatchNorm (BigGAN, Brock et al. 2019: G's statistics over the global batch) on two gloo
ranks of this CPU: one forward and backward pass of `biggan-mnist`'s generator per rank, with ganforge's
CrossReplicaBatchNorm (nn/cross_replica_bn.py: one all-reduce per BN layer forward, one backward) against the same
generator with PyTorch's plain per-rank BatchNorm2d — the plain baseline, which is what data parallelism on CPUs
did before. Interleaved blocks; rank 0 times both and reports medians and the ratio.

    python benchmarks/cross_replica_bn_speed.py [--batch 32] [--quick]
"""
from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import provenance, write_section  # noqa: E402

from ganforge.config import load_config  # noqa: E402
from ganforge.data import build_dataset  # noqa: E402
from ganforge.models import build_generator  # noqa: E402
from ganforge.nn.cross_replica_bn import convert_cross_replica  # noqa: E402


def _pass(g, z, y) -> None:
    g.zero_grad(set_to_none=True)
    g(z, y).square().mean().backward()


def _block(g, z, y, iters: int) -> float:
    dist.barrier()
    t0 = time.perf_counter()
    for _ in range(iters):
        _pass(g, z, y)
    dist.barrier()
    return (time.perf_counter() - t0) / iters


def _rank(rank, store, args, out):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    cfg = load_config("biggan-mnist")
    torch.manual_seed(0)
    plain = _generator(cfg)
    synced = convert_cross_replica(copy.deepcopy(plain))
    per = args.batch // 2
    z, y = torch.randn(per, plain.z_dim), torch.randint(0, 10, (per,))
    for g in (plain, synced):
        _block(g, z, y, args.warmup)
    times = {"plain": [], "cross": []}
    for _ in range(args.blocks):
        times["plain"].append(_block(plain, z, y, args.iters))
        times["cross"].append(_block(synced, z, y, args.iters))
    if rank == 0:
        med = {k: statistics.median(v) for k, v in times.items()}
        paired = statistics.median(c / p for c, p in zip(times["cross"], times["plain"]))
        layers = sum(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in plain.modules())
        with open(out, "w") as f:
            f.write(f"{1e3 * med['plain']:.1f} {1e3 * med['cross']:.1f} {med['cross'] / med['plain']:.3f} "
                    f"{paired:.3f} {layers}")
    dist.barrier()
    dist.destroy_process_group()


def _generator(cfg):
    return build_generator(cfg.generator, build_dataset(cfg.data).info)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=32, help="global batch (half per rank)")
    p.add_argument("--blocks", type=int, default=7)
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="2 blocks of 2 iterations; writes nothing")
    args = p.parse_args(argv)
    if args.quick:
        args.blocks, args.iters, args.warmup = 2, 2, 1
    prov = provenance()
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result")
        mp.spawn(_rank, args=(os.path.join(tmp, "store"), args, out), nprocs=2, join=True)
        plain, cross, ratio, paired, layers = open(out).read().split()
    rows = ["| generator (per rank) | per-rank BN ms/it | cross-replica BN ms/it | **cross / per-rank** (paired) |",
            "|---|---:|---:|---:|",
            f"| biggan-mnist G (ch 4), batch {args.batch // 2} per rank, 2 gloo ranks × 1 thread | {plain} | "
            f"{cross} | **{float(ratio):.2f}×** ({float(paired):.2f}×) |"]
    print("\n".join(rows))
    if not args.quick:
        write_section("Cross-replica BatchNorm on CPUs (BigGAN's synchronised statistics)",
                      f"{prov}\n\n" + "\n".join(rows) + f"\n\nOne forward and backward pass of G per rank; the "
                      f"cross-replica layers all-reduce each BN's mean and variance (and their gradients) over both "
                      f"ranks, so the statistics are the global batch's: {layers} BN layers, {2 * int(layers)} small "
                      f"gloo all-reduces per pass (one per layer forward, one backward). The ratio is the latency "
                      f"of those on a CPU; a small network like this one pays it most, and D (no BatchNorm in "
                      f"BigGAN) pays nothing. Medians of interleaved blocks; paired = median of the per-block ratios.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
