"""The harness shared by the `*_speed.py` scripts: a ganforge `Trainer.iteration` against a hand-written
plain-PyTorch loop of the same networks, timed in interleaved blocks in one process (see throughput.py for the
method), summarised as medians, ratios and block spread, printed as a markdown table and written as one section
of BENCHMARKS.md.

A script keeps its own networks, loop and command-line extras; the shape is

    p = argparse.ArgumentParser(...); add_args(p, blocks=7, iters=10, warmup=3)
    args = p.parse_args(argv); device, label, prov = start(args)
    s = time_loops({"plain": Plain(...), "ganforge": GanforgeLoop(...)}, device, args)
    rows = [*header(), row(name, s)]; print(rows[-1])
    publish(args, f"X iteration cost — {label}", prov, rows, "One X iteration ...; target ≤ 1.05×.")
"""
from __future__ import annotations

import argparse
import statistics
from typing import Dict, List, Sequence

import torch

from _common import device_label, provenance, resolve, write_section
from throughput import time_block

from ganforge.config import load_config

NOTE = "Medians of interleaved blocks; paired = median of the per-block ratios."


def add_args(p: argparse.ArgumentParser, blocks: int, iters: int, warmup: int) -> None:
    """The flags every speed script has: --device, --blocks, --iters, --warmup, --threads, --quick."""
    p.add_argument("--device", default="auto")
    p.add_argument("--blocks", type=int, default=blocks)
    p.add_argument("--iters", type=int, default=iters, help="iterations per timed block")
    p.add_argument("--warmup", type=int, default=warmup)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="2 blocks of 2 iterations; writes nothing")


def load_preset(name: str, device, *overrides: str):
    """The preset `name` for timing: `overrides` plus on `device`, endless, no progress bar, TensorBoard or
    evaluation."""
    return load_config(name, [*overrides, f"train.device={device}", "train.steps=1000000000", "train.progress=false",
                              "train.tensorboard=false", "train.eval_every=0"])


def start(args) -> tuple:
    """Apply --quick and --threads; return (device, its BENCHMARKS.md label, the provenance line taken now, i.e.
    with the load average before the timing)."""
    if args.quick:
        args.blocks, args.iters, args.warmup = 2, 2, 1
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve(args.device)
    return device, device_label(device), provenance()


def time_loops(loops: Dict[str, object], device, args, base: str = "plain", vs: str = "ganforge") -> dict:
    """Warm every loop (`.step()`) up, then time `args.blocks` rounds of one block of `args.iters` iterations per
    loop, in the order given. Returns the block times `times` (s/it per loop), the medians in `ms`, `ratio` =
    median(vs) / median(base), `paired` = median of the per-block vs/base ratios and `spread` = slowest / fastest
    block of the worst loop."""
    for loop in loops.values():
        time_block(loop, args.warmup, device)
    times: Dict[str, List[float]] = {k: [] for k in loops}
    for _ in range(args.blocks):
        for k, loop in loops.items():
            times[k].append(time_block(loop, args.iters, device))
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"times": times, "ms": {k: 1e3 * v for k, v in med.items()}, "ratio": med[vs] / med[base],
            "paired": statistics.median(g / p for g, p in zip(times[vs], times[base])),
            "spread": max(max(v) / min(v) for v in times.values())}


def header(first: str = "config") -> List[str]:
    """The two header lines of the standard plain-vs-ganforge table."""
    return [f"| {first} | plain ms/it | ganforge ms/it | **ganforge / plain** (paired) | block spread |",
            "|---|---:|---:|---:|---:|"]


def row(name: str, s: dict) -> str:
    """One line of the standard table from a `time_loops` summary."""
    return (f"| {name} | {s['ms']['plain']:.1f} | {s['ms']['ganforge']:.1f} | **{s['ratio']:.2f}×** "
            f"({s['paired']:.2f}×) | {s['spread']:.2f} |")


def publish(args, heading: str, prov: str, rows: Sequence[str], note: str) -> None:
    """Write `## heading` (provenance, the table, the note and NOTE) into BENCHMARKS.md, unless --quick."""
    if not args.quick:
        write_section(heading, f"{prov}\n\n" + "\n".join(rows) + f"\n\n{note} {NOTE}")
