"""The whole GPU check in one prepared run (issue 24): when a CUDA machine is lent for a few minutes, this script
measures, within a wall-clock budget (default 8 minutes):

  1. DCGAN-64 at batch 256 — the plain-PyTorch fp32 loop of throughput.py against ganforge in fp32, bf16,
     bf16 + channels_last and bf16 + channels_last + compile (speed-up over the plain fp32 loop; target ≥ 1.5× for
     the last; ganforge fp32 ≤ 1.05× the plain fp32 loop), timed in interleaved blocks in this process;
  2. the methods' own speed scripts on the GPU (BigGAN, pix2pix, CycleGAN, pix2pixHD, SRGAN, SSGAN, MaskGAN: each
     a ganforge iteration against a plain loop of the same networks; each writes its own section), and a
     StyleGAN-64 iteration (ganforge only: no plain twin exists);
  3. FID of 10,000 generated samples in the Inception-v3 features when the weights file is present
     ($GANFORGE_INCEPTION_WEIGHTS or ~/.cache/ganforge), timed;

with the peak GPU memory of each row, and writes the section "GPU suite — DEVICE" of BENCHMARKS.md. The exit status
is non-zero if any row failed (a row that does not fit in the remaining budget is reported as skipped, and also
fails the run, since its number is missing).

    bash benchmarks/gpu_suite.sh            # on the GPU machine: installs the package, then runs this
    python benchmarks/gpu_suite.py --dry-run  # anywhere: every row for one tiny iteration on the CPU, writes nothing
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import statistics
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import BENCHMARKS_MD, device_label, provenance, sync, write_section  # noqa: E402
from throughput import GanforgeLoop, PlainLoop, preset, time_block  # noqa: E402

from ganforge.config import load_config  # noqa: E402

DCGAN_VARIANTS = ["fp32", "bf16", "bf16+cl", "bf16+cl+compile"]
METHOD_SCRIPTS = ["biggan_speed", "pix2pix_speed", "cyclegan_speed", "pix2pixhd_speed", "srgan_speed",
                  "ssgan_speed", "maskgan_speed"]


@dataclass
class Row:
    name: str
    status: str = "ok"  # ok | failed | skipped
    seconds: float = 0.0
    peak_mib: Optional[float] = None
    result: str = ""
    lines: List[str] = field(default_factory=list)  # extra table lines (the DCGAN variants)


class Suite:
    """Runs rows in order within a budget; a row is a function(device) -> (result text, extra lines)."""

    def __init__(self, device: torch.device, budget_s: float, dry: bool):
        self.device, self.budget_s, self.dry = device, budget_s, dry
        self.started = time.perf_counter()
        self.rows: List[Row] = []

    def left(self) -> float:
        return self.budget_s - (time.perf_counter() - self.started)

    def run(self, name: str, fn: Callable, need_s: float) -> Row:
        row = Row(name)
        self.rows.append(row)
        if not self.dry and self.left() < need_s:
            row.status, row.result = "skipped", f"needs ~{need_s:.0f} s, {max(self.left(), 0):.0f} s left"
            print(f"[skip] {name}: {row.result}", flush=True)
            return row
        cuda = self.device.type == "cuda"
        if cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.device)
        t0 = time.perf_counter()
        try:
            row.result, row.lines = fn(self.device)
        except Exception as e:  # one row's failure must not stop the others
            row.status, row.result = "failed", f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            traceback.print_exc()
        row.seconds = time.perf_counter() - t0
        if cuda:
            row.peak_mib = torch.cuda.max_memory_allocated(self.device) / 2**20
        print(f"[{row.status}] {name}: {row.result} ({row.seconds:.0f} s)", flush=True)
        return row


# -- rows -------------------------------------------------------------------------------------------------------

def dcgan_row(dry: bool) -> Callable:
    """Plain fp32 against the ganforge variants, interleaved blocks; peak memory per variant during its warm-up."""

    def fn(device):
        name = "dcgan32-c32-b64" if dry else "dcgan64-c64-b256"
        blocks, iters, warm = (1, 1, 1) if dry else (7, 30, 20)
        variants = [v for v in DCGAN_VARIANTS if "compile" not in v] if dry else DCGAN_VARIANTS  # CPU compile: minutes
        with tempfile.TemporaryDirectory() as tmp:
            loops = {"plain": PlainLoop(preset(name, device), device)}
            loops.update({v: GanforgeLoop(preset(name, device, v), os.path.join(tmp, v)) for v in variants})
            peaks = {}
            for k, loop in loops.items():
                if device.type == "cuda":
                    torch.cuda.reset_peak_memory_stats(device)
                time_block(loop, warm + (10 if "compile" in k and not dry else 0), device)
                peaks[k] = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
            times: Dict[str, List[float]] = {k: [] for k in loops}
            for _ in range(blocks):
                for k, loop in loops.items():
                    times[k].append(time_block(loop, iters, device))
        med = {k: statistics.median(v) for k, v in times.items()}
        bs = preset(name, device).train.batch_size
        lines = [f"| {name} | {k if k != 'plain' else 'plain PyTorch fp32'} | {bs / med[k]:.0f} | "
                 f"**{med['plain'] / med[k]:.2f}×** | {_mib(peaks[k])} |" for k in loops]
        best = "bf16+cl+compile" if "bf16+cl+compile" in med else variants[-1]
        return (f"ganforge fp32 / plain fp32 {med['fp32'] / med['plain']:.3f}× (target ≤ 1.05); {best} "
                f"{med['plain'] / med[best]:.2f}× the plain fp32 loop (target ≥ 1.5)"), lines

    return fn


def script_row(module: str, dry: bool) -> Callable:
    """A `*_speed.py` script's main() in this process (it prints its table and writes its own section)."""

    def fn(device):
        mod = __import__(module)
        small = [] if module in ("srgan_speed", "ssgan_speed") else ["--batch", "2"]  # those take the preset's
        argv = ["--device", str(device)] + (["--quick", *small] if dry else [])
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = mod.main(argv)
        text = out.getvalue()
        sys.stdout.write(text)
        if code:
            raise RuntimeError(f"{module} exited with {code}")
        ratios = [r for line in text.splitlines() if line.startswith("|")
                  for r in re.findall(r"\*\*(\d[\d.]*×)\*\*", line)]
        return "ganforge / plain: " + ", ".join(ratios), []

    return fn


def stylegan_row(dry: bool) -> Callable:
    """One StyleGAN iteration at 64² (32² dry), ganforge only: img/s."""

    def fn(device):
        res, bs, iters = (32, 4, 1) if dry else (64, 32, 20)
        cfg = load_config("stylegan-shapes", [f"data.resolution={res}", f"train.batch_size={bs}",
                                               f"train.device={device}", "train.steps=1000000000",
                                               "train.progress=false", "train.tensorboard=false",
                                               "train.eval_every=0"])
        with tempfile.TemporaryDirectory() as tmp:
            loop = GanforgeLoop(cfg, os.path.join(tmp, "run"))
            time_block(loop, 1 if dry else 5, device)
            t = statistics.median(time_block(loop, iters, device) for _ in range(1 if dry else 3))
        return f"stylegan-shapes at {res}², batch {bs}: {bs / t:.0f} img/s ({1e3 * t:.1f} ms/it)", []

    return fn


def fid_row(dry: bool) -> Callable:
    """FID of 10,000 samples (100 dry) of a DCGAN (random weights: the timing does not depend on them) in the
    Inception-v3 features, reference statistics included. Without the official weights file (95.6 MB: it cannot be
    fetched on an offline machine) the same network runs with random weights, saved as a safetensors file, so the
    time is still measured; the score is then reported as meaningless."""

    def fn(device):
        from ganforge.evaluation import evaluate
        from ganforge.metrics.inception import FIDInceptionV3, InceptionWeightsError, resolve_weights
        from ganforge.models.dcgan import DCGANGenerator
        from ganforge.utils.safeio import write_tensors

        n = 100 if dry else 10_000
        cfg = load_config("dcgan-mnist")
        g = DCGANGenerator((1, 32, 32), cfg.generator.z_dim, cfg.generator.channels).to(device).eval()
        with tempfile.TemporaryDirectory() as tmp:
            try:
                weights, official = resolve_weights(download=False), True
            except InceptionWeightsError:
                torch.manual_seed(0)
                weights, official = os.path.join(tmp, "inception-random.safetensors"), False
                write_tensors(weights, {k: v.contiguous() for k, v in FIDInceptionV3().state_dict().items()})
            sync(device)
            t0 = time.perf_counter()
            res = evaluate(g, cfg.data, "fid", n=n, extractor="inception", weights=weights, device=device,
                           cache_dir=os.path.join(tmp, "refstats"), n_real=min(n, 5000))
            sync(device)
            seconds = time.perf_counter() - t0
        score = f"FID {res.scores['fid']:.1f}" if official else "random weights: official file absent, score meaningless"
        return f"{n} samples vs {min(n, 5000)} real: {seconds:.1f} s ({score})", []

    return fn


def _mib(v: Optional[float]) -> str:
    return "—" if v is None else f"{v:.0f}"


# -- report -----------------------------------------------------------------------------------------------------

def report(suite: Suite, prov: str) -> str:
    table = ["| row | status | seconds | peak GPU MiB | result |", "|---|---|---:|---:|---|"]
    table += [f"| {r.name} | {r.status} | {r.seconds:.0f} | {_mib(r.peak_mib)} | {r.result} |" for r in suite.rows]
    dcgan = next((r.lines for r in suite.rows if r.lines), [])
    body = [prov, "", *table]
    if dcgan:
        body += ["", "DCGAN speed levers (`train.precision`, cl = `train.channels_last`, `train.compile`), speed-up = "
                 "time of the plain fp32 loop / time of the row; peak memory during each loop's warm-up:", "",
                 "| config | loop | img/s | speed-up vs plain fp32 | peak GPU MiB |", "|---|---|---:|---:|---:|",
                 *dcgan]
    body += ["", f"`bash benchmarks/gpu_suite.sh`: one prepared run, {suite.budget_s / 60:.0f}-minute budget; the "
             "method rows also write their own sections (headed with the GPU's name)."]
    return "\n".join(body)


def build_plan(dry: bool) -> list:
    """(row name, function, seconds it needs on the GPU) in the order they run."""
    plan = [("dcgan", dcgan_row(dry), 120), ("stylegan", stylegan_row(dry), 30)]
    plan += [(m, script_row(m, dry), 40) for m in METHOD_SCRIPTS]
    return plan + [("fid", fid_row(dry), 60)]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default=None, help="default: cuda (cpu with --dry-run)")
    p.add_argument("--dry-run", action="store_true", help="every row for one tiny iteration on the CPU; no file")
    p.add_argument("--budget", type=float, default=480.0, help="wall-clock seconds for all rows (default 480)")
    p.add_argument("--md", default=BENCHMARKS_MD, help="markdown file to update")
    p.add_argument("--rows", help="comma-separated subset of: dcgan, stylegan, fid, " + ", ".join(METHOD_SCRIPTS))
    args = p.parse_args(argv)
    device = torch.device(args.device or ("cpu" if args.dry_run else "cuda"))
    if device.type == "cuda" and not torch.cuda.is_available():
        print("gpu_suite: no CUDA device here (use --dry-run to check the script on the CPU)", file=sys.stderr)
        return 2
    if device.type == "cpu":
        torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    dry = args.dry_run
    prov = provenance()
    suite = Suite(device, args.budget, dry)
    plan = build_plan(dry)
    wanted = set(args.rows.split(",")) if args.rows else None
    if wanted and wanted - {name for name, _, _ in plan}:
        p.error(f"unknown rows {sorted(wanted - {name for name, _, _ in plan})}")
    for name, fn, need in plan:
        if wanted is None or name in wanted:
            suite.run(name, fn, need)
    text = report(suite, prov)
    print("\n" + text)
    if not dry:
        write_section(f"GPU suite — {device_label(device)}, torch {torch.__version__}", text, args.md)
    bad = [r.name for r in suite.rows if r.status != "ok"]
    if bad:
        print(f"gpu_suite: {len(bad)} row(s) not measured: {', '.join(bad)}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
