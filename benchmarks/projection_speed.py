"""Projection speed (iGAN, Zhu et al. ECCV 2016): one 32² image by the hybrid projector (encoder start + Adam on
pixel + feature loss) on the CPU, for a DCGAN-32 generator, and one constrained-edit update. Prints a markdown
table (median of `--repeat` runs after one warm-up) and writes it as one section of BENCHMARKS.md (`--no-write`:
print only).

    OMP_NUM_THREADS=1 python benchmarks/projection_speed.py RUN [--steps 25,50,100] [--repeat 5]

RUN needs a trained encoder (ganforge train-encoder RUN) for the hybrid rows.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import cpu_model, provenance, write_section  # noqa: E402

from ganforge import api  # noqa: E402
from ganforge.editing import EditSession, load_encoder, project  # noqa: E402
from ganforge.editing.features import default_feature_net  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--steps", default="25,50,100")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-write", action="store_true", help="print the table; leave BENCHMARKS.md alone")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    prov = provenance()
    out = []
    g = api.load(args.run)
    enc = load_encoder(args.run)
    feats = default_feature_net(g.generator.out_shape[0])
    x = g.sample(1, seed=99) * 0.9  # a sample pulled slightly off the manifold
    out += [f"| projector | steps | features | seconds / image (median of {args.repeat}) | pixel MSE |",
            "|---|---|---|---|---|"]
    for steps in [int(s) for s in args.steps.split(",")]:
        for use_features in (True, False):
            project(g, x, "hybrid", enc, steps=2, features=feats if use_features else None)  # warm-up
            times, err = [], 0.0
            for _ in range(args.repeat):
                t = time.perf_counter()
                p = project(g, x, "hybrid", enc, steps=steps, features=feats if use_features else None)
                times.append(time.perf_counter() - t)
                err = float(p.error[0])
            out.append(f"| hybrid | {steps} | {'pixel + feature' if use_features else 'pixel only'} | "
                       f"{statistics.median(times):.3f} | {err:.4f} |")
            print(out[-1], flush=True)
    s = EditSession(g, x, encoder=enc, project_steps=25, edit_steps=1)
    stroke = [{"type": "color", "points": [[8, 8], [20, 8]], "width": 3, "color": 255}]
    times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        s.stroke(stroke)
        times.append(time.perf_counter() - t)
    out.append(f"| iGAN edit update (1 Adam step + flow transfer) | 1 | — | {statistics.median(times):.3f} | — |")
    s = EditSession(g, x, method="npe", encoder=enc, projector="encoder", npe_steps=1)
    times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        s.stroke(stroke)
        times.append(time.perf_counter() - t)
    out.append(f"| NPE stroke update (1 gradient step + mask) | 1 | — | {statistics.median(times):.3f} | — |")
    note = (f"One 32² image ({args.run}: a sample scaled by 0.9, slightly off the manifold), {args.threads} "
            "thread(s). Targets: hybrid projection ≤ 1 s per image; an editing update ≤ 100 ms.")
    heading = f"Projection and editing speed (iGAN, NPE) — CPU: {cpu_model()}"
    print("\n".join(out[-2:]) + "\n\n" + note)
    if not args.no_write:
        write_section(heading, f"{prov}\n\n" + "\n".join(out) + f"\n\n{note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
