"""The README main job, end to end: wall time and peak memory of `python -m ganforge train cgan-mnist` (`make demo`).

What is measured
  The job runs as a subprocess exactly as a user types it (plus `train.progress=false` and any overrides given
  here). Wall time is taken around the subprocess; peak memory is `resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`
  after it ends (the largest resident set of the job's process: Python, torch, data, model and all). Iterations,
  final losses and throughput come from the last record of the run's metrics.jsonl. Targets on the 2-core CPU:
  under 10 minutes and under 2 GB. Quality of what it drew: the run's last FID (2,000 samples, shipped MNIST-5k
  evaluator) and legibility, the share of 5,000 samples that the shipped digit classifier recognises with
  probability ≥ 0.9 (target ≥ 0.8; real MNIST-5k: 0.95) for the generator the run samples from (its EMA copy
  when it keeps one) and, when it differs, the live generator.

    python benchmarks/main_job.py                       # full job (minutes); writes "## Main job — ..." section
    python benchmarks/main_job.py train.steps=30 --dry  # quick check; writes nothing
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import BENCHMARKS_MD, REPO, cpu_model, provenance, write_section  # noqa: E402
from _quality import has_ema, legibility, real_legibility  # noqa: E402

TARGET_S, TARGET_MB, TARGET_LEGIBLE = 600, 2048, 0.8
MAIN_PRESET = "cgan-mnist"  # what `make demo` trains (Makefile)


def last_record(run_dir: str) -> dict:
    path = os.path.join(run_dir, "metrics.jsonl")
    last = {}
    if os.path.isfile(path):
        with open(path) as f:
            for line in f:
                rec = json.loads(line) if line.strip() else {}
                if rec and "eval_protocol" not in rec:  # score records (train.eval_every) carry no losses
                    last = rec
    return last


def quality_rows(run_dir: str) -> list:
    """Legibility of the sampling generator (and of the live one when the run keeps an EMA) and the last FID."""
    import ganforge

    rows = []
    kinds = [("EMA generator", True), ("live generator", False)] if has_ema(run_dir) else [("generator", True)]
    for label, ema in kinds:
        leg = legibility(run_dir, ema=ema)
        share, counts = leg["confident_share"], leg["class_counts"]
        largest = max(counts.values()) / max(sum(counts.values()), 1)
        ok = "met" if share >= TARGET_LEGIBLE else "**missed**"
        rows.append(f"| legible samples, {label} | {share:.3f} of 5,000 | p ≥ 0.9 by the shipped digit classifier; "
                    f"target ≥ {TARGET_LEGIBLE}: {ok}; real MNIST-5k {real_legibility():.3f}; the legible ones cover "
                    f"{leg['classes_covered']} digits, the most common {largest:.0%} of them |")
        s = ganforge.evaluate(run_dir, metrics="fid,pr", n=5000, ema=ema, record=False).scores
        rows.append(f"| FID, {label} | {s['fid']:.2f} (precision {s['precision']:.3f}, recall {s['recall']:.3f}) | "
                    f"5,000 samples vs MNIST-5k, shipped evaluator features |")
    return rows


def quality_only(args) -> int:
    """Score an existing run (e.g. the job as it was before a change) without training it again."""
    cfg_path = os.path.join(args.quality_of, "config.yaml")
    table = "| measure | value | note |\n|---|---|---|\n" + "\n".join(quality_rows(args.quality_of))
    print(table)
    if args.dry or not args.label:
        return 0
    with open(cfg_path) as f:
        config = f.read().strip()
    body = (f"{provenance()}\n\nRun scored: `{args.quality_of}`, trained with this config:\n\n```yaml\n{config}\n"
            f"```\n\n{table}")
    write_section(f"Main job quality — {args.label}", body, args.md)
    return 0


def device_of(overrides) -> str:
    """The device the job trains on (train.device=auto picks CUDA when there is one), as a heading label."""
    import torch

    want = next((o.split("=", 1)[1] for o in overrides if o.startswith("train.device=")), "auto")
    if want.startswith("cuda") or (want == "auto" and torch.cuda.is_available()):
        return f"GPU: {torch.cuda.get_device_name(0)}"
    threads = next((o.split("=", 1)[1] for o in overrides if o.startswith("train.threads=")), "0")
    n = int(threads) if int(threads) > 0 else torch.get_num_threads()
    return f"CPU: {cpu_model()}, {n} threads"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("overrides", nargs="*", help="extra dotted overrides for the job, e.g. train.steps=30")
    p.add_argument("--preset", default=MAIN_PRESET, help=f"the preset to run (default: the main job, {MAIN_PRESET})")
    p.add_argument("--out", help="run directory (default: <tmp>/ganforge-main-job/run; kept, for the grid)")
    p.add_argument("--md", default=BENCHMARKS_MD, help="markdown file to update (default: BENCHMARKS.md)")
    p.add_argument("--dry", action="store_true", help="run and print, write no markdown")
    p.add_argument("--quality-of", metavar="RUN", help="only score an existing run of the job (no training); "
                   "with --label, writes a 'Main job quality — LABEL' section")
    p.add_argument("--label", default="", help="section label for --quality-of (e.g. 'before issue 16')")
    args = p.parse_args(argv)
    if args.quality_of:
        return quality_only(args)

    run_dir = args.out or os.path.join(tempfile.gettempdir(), "ganforge-main-job", "run")
    cmd = [sys.executable, "-m", "ganforge", "train", args.preset, "--out", run_dir, "--overwrite",
           "train.progress=false", *args.overrides]
    prov = provenance()  # now: the load average before the job
    print("$ python " + " ".join(cmd[1:]), flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO)
    wall = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
    if proc.returncode != 0:
        print(f"the job failed (exit {proc.returncode}); nothing written", file=sys.stderr)
        return proc.returncode

    rec = last_record(run_dir)
    grid = os.path.join(run_dir, "samples", "latest.png")
    losses = ", ".join(f"{k} {rec[k]:.3f}" for k in rec if k.endswith("loss")) or "none logged"
    mins, secs = divmod(wall, 60)
    ok_t, ok_m = wall < TARGET_S, peak_mb < TARGET_MB
    lines = [
        f"| wall time | {int(mins)}m{secs:04.1f}s ({wall:.0f} s) | target < {TARGET_S // 60} min: "
        f"{'met' if ok_t else '**missed**'} |",
        f"| peak memory (max RSS) | {peak_mb:.0f} MB | target < {TARGET_MB} MB: {'met' if ok_m else '**missed**'} |",
        f"| iterations | {rec.get('step', '?')} ({rec.get('images_seen', '?')} images) | |",
        f"| final losses | {losses} | last metrics.jsonl record |",
        f"| throughput at the end | {rec.get('img_per_s', float('nan')):.0f} img/s | over the last log interval |",
        f"| final grid | `{grid}` | {'exists' if os.path.isfile(grid) else '**missing**'} |",
        *quality_rows(run_dir),
    ]
    table = "| measure | value | note |\n|---|---|---|\n" + "\n".join(lines)
    print("\n" + table)
    if args.dry:
        print("(--dry: no markdown written)")
        return 0
    label = device_of(args.overrides)
    body = (f"{prov}\n\nJob: `{' '.join(['python', *cmd[1:]])}` (wall time includes Python and torch "
            f"start-up, data loading, sample grids, checkpoints and the loss plot).\n\n{table}")
    write_section(f"Main job — {label}", body, args.md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
