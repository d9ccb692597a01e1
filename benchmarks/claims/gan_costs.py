"""Claim (Goodfellow et al. 2014, §3): "Early in learning, when G is poor, D can reject samples with high
confidence ... log(1 − D(G(z))) saturates. Rather than training G to minimize log(1 − D(G(z))) we can train G to
maximize log D(G(z)). This objective ... provides much stronger gradients early in learning."

Miniature: the MLP GAN of the `gan-ring8` preset, trained with the minimax and the non-saturating generator cost,
same seeds and budget. Measured: the norm of the generator's parameter gradient over the first 200 iterations,
and mode coverage (modes with ≥ 10 of 2,000 samples within 3σ, share of samples within 3σ) at the end.

    python benchmarks/claims/gan_costs.py            # ~2 minutes on 2 CPU cores; writes docs/claims.md section
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from claims_common import write_claims_section  # noqa: E402

from ganforge.config import load_config  # noqa: E402
from ganforge.data.toy import mode_centers, mode_std  # noqa: E402
from ganforge.metrics.modes import mode_coverage  # noqa: E402
from ganforge.train import Trainer  # noqa: E402
from ganforge.train.trainer import DeviceStream  # noqa: E402


def run(g_loss: str, seed: int, steps: int):
    cfg = load_config("gan-ring8", [f"method.g_loss={g_loss}", f"train.seed={seed}", f"train.steps={steps}",
                                    "train.progress=false", "data.n=20000"])
    trainer = Trainer(cfg, run_dir=tempfile.mkdtemp(prefix="claim-"))
    data = DeviceStream(trainer.stream, trainer.device)
    nonfinite = torch.zeros((), dtype=torch.bool)
    early = []
    for i in range(steps):
        trainer.iteration(data, nonfinite)
        if i < 200:  # gradients of the last G update are still in .grad
            grads = [p.grad for p in trainer.method.generator.parameters() if p.grad is not None]
            early.append(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])).item())
    g = trainer.ema.shadow
    with torch.no_grad():
        x = g(g.sample_z(2000, generator=torch.Generator().manual_seed(123)))
    cov = mode_coverage(x, mode_centers("ring8"), mode_std("ring8"))
    modes = sum(int(c) >= 10 for c in cov["counts"])
    return statistics.mean(early), modes, cov["high_quality"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=1500)
    args = ap.parse_args()
    rows = {}
    for loss in ("minimax", "nonsaturating"):
        res = [run(loss, s, args.steps) for s in range(args.seeds)]
        rows[loss] = res
        print(loss, res, flush=True)

    def ms(vals, fmt):
        return f"{fmt.format(statistics.mean(vals))} ± {fmt.format(statistics.pstdev(vals))}"

    lines = [
        "| generator cost | mean ‖∇G‖ over the first 200 iterations | modes captured (of 8) | samples within 3σ |",
        "|---|---|---|---|",
    ]
    for loss, res in rows.items():
        grad, modes, hq = zip(*res)
        lines.append(f"| {loss} | {ms(grad, '{:.3g}')} | {ms(modes, '{:.1f}')} | {ms(hq, '{:.2f}')} |")
    ratio = statistics.mean(r[0] for r in rows["nonsaturating"]) / statistics.mean(r[0] for r in rows["minimax"])
    body = "\n".join(lines) + (
        f"\n\nEarly generator gradients are {ratio:.1f}× larger with the non-saturating cost "
        f"({args.seeds} seeds × {args.steps} iterations, MLP GAN on the ring of 8, EMA generator evaluated)."
    )
    write_claims_section(
        "GAN game: the non-saturating generator cost (Goodfellow et al. 2014)",
        "Paper: the minimax cost saturates early in learning; the non-saturating cost has the same fixed point "
        "and much stronger early gradients (a qualitative claim; no number is given).",
        body,
        "python benchmarks/claims/gan_costs.py",
    )


if __name__ == "__main__":
    main()
