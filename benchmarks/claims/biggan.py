"""Claim (Brock, Donahue, Simonyan, "Large Scale GAN Training for High Fidelity Natural Image Synthesis", ICLR 2019,
§3.1 and Fig. 2(a) / Fig. 17): the truncation trick — sampling z from a truncated normal (values beyond a threshold
re-drawn) — trades variety for fidelity: as the threshold shrinks, IS (fidelity) rises while FID first improves and
then worsens as variety is lost; precision rises and recall falls (Kynkäänniemi et al.'s reading of the same
curve).

Miniature: a trained class-conditional BigGAN run (default: `runs/gallery/biggan-mnist`, the `biggan-mnist`
preset's default run; any BigGAN run works) scored at thresholds ψ = 2 … 0.25 on 2,000 class-cycled samples per
threshold with the MNIST-5k evaluator: FID, IS (the evaluator's class posteriors), precision and recall (k = 3).
Both the EMA generator and the live one, as the paper's appendix compares. Evaluation only: ~2 CPU minutes.

    OMP_NUM_THREADS=1 python benchmarks/claims/biggan.py [--run RUN]   # writes docs/claims/biggan-truncation.json
    python benchmarks/claims/biggan.py --render                         # re-render the section from the JSON
"""
from __future__ import annotations

import argparse
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from claims_common import (NOT_REPRODUCED, REPO, REPRODUCED, command_line, make_results, publish,  # noqa: E402
                           script_cli_render, verdict_block)

import ganforge  # noqa: E402
from ganforge.evaluation import evaluate  # noqa: E402
from ganforge.latent.truncation import truncated_normal  # noqa: E402

SLUG = "biggan-truncation"
TITLE = "BigGAN: the truncation trick trades variety for fidelity (Brock et al. 2019)"
PAPER = ("Paper (§3.1, Fig. 2(a), Fig. 17): sampling z from a truncated normal with a shrinking threshold raises IS "
         "(fidelity) monotonically while FID first improves, then worsens as variety collapses; on ImageNet 128² "
         "the best FID is at a threshold near 1 and IS keeps rising towards 0.")
THRESHOLDS = (None, 2.0, 1.5, 1.0, 0.75, 0.5, 0.25)  # None: plain N(0, I), no truncation
N = 2000
PICTURE = os.path.join(REPO, "docs", "img", "biggan-truncation.png")


class Truncated(nn.Module):
    """`g` whose latent codes come from the truncated normal with threshold ψ (evaluation draws codes with
    `sample_z(n, generator=…)`, so the same seed gives the same first draw at every threshold)."""

    def __init__(self, g: nn.Module, psi: float):
        super().__init__()
        self.g, self.psi = g, psi
        self.z_dim, self.num_classes = g.z_dim, getattr(g, "num_classes", 0)
        self.out_shape = g.out_shape

    def sample_z(self, n: int, generator=None, device=None) -> torch.Tensor:
        return truncated_normal(n, self.z_dim, self.psi, generator, device)

    def forward(self, z, y=None):
        return self.g(z, y)


def scores(g: nn.Module, data_config) -> list:
    rows = []
    for psi in THRESHOLDS:
        net = g if psi is None else Truncated(g, psi)
        r = evaluate(net.eval(), data_config, "fid,is,pr", n=N, seed=0)
        rows.append({"psi": psi, **{k: float(r.scores[k]) for k in ("fid", "is", "precision", "recall")}})
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", default=os.path.join(REPO, "runs", "gallery", "biggan-mnist"))
    p.add_argument("--render", action="store_true")
    args = p.parse_args()
    if args.render:
        return script_cli_render(__file__)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    curves = {}
    for which, ema in (("ema", True), ("live", False)):
        g = ganforge.load(args.run, ema=ema)
        curves[which] = scores(g.generator, g.config.data)
    cfg = ganforge.load(args.run).config
    numbers = {"curves": curves, "n": N, "run": os.path.relpath(os.path.abspath(args.run), REPO),
               "steps": cfg.train.steps, "batch": cfg.train.batch_size, "data": cfg.data.name,
               "g_channels": cfg.generator.channels, "ortho": cfg.method.ortho}
    plot(curves)
    publish(make_results(SLUG, __file__, "truncation", TITLE, command_line(), numbers))


def plot(curves: dict) -> str:
    """IS against FID along the thresholds (the paper's Fig. 2(a) axes), one curve per generator."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.6), dpi=120)
    for which, rows in curves.items():
        ax.plot([r["fid"] for r in rows], [r["is"] for r in rows], "o-", label=f"{which} generator")
        for r in rows:
            ax.annotate(_psi(r), (r["fid"], r["is"]), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.set_xlabel("FID (MNIST-5k evaluator; lower is better)")
    ax.set_ylabel("IS (evaluator posteriors; higher is better)")
    ax.set_title("BigGAN truncation: ψ from none to 0.25", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(PICTURE)
    plt.close(fig)
    return PICTURE


def _trend(rows: list, key: str) -> float:
    """Value at the smallest threshold minus value without truncation."""
    return rows[-1][key] - rows[0][key]


def _psi(r: dict) -> str:
    return "none" if r["psi"] is None else f"{r['psi']:g}"


def verdict(n: dict):
    parts = []
    for which, rows in n["curves"].items():
        fids = [r["fid"] for r in rows]
        best = min(range(len(fids)), key=fids.__getitem__)
        trade = _trend(rows, "is") > 0 and _trend(rows, "precision") > 0 and _trend(rows, "recall") < 0
        parts.append((f"{which} generator, fidelity for variety", REPRODUCED if trade else NOT_REPRODUCED,
                      f"From ψ {_psi(rows[0])} to {_psi(rows[-1])}: IS {rows[0]['is']:.2f} → {rows[-1]['is']:.2f}, "
                      f"precision {rows[0]['precision']:.3f} → {rows[-1]['precision']:.3f}, recall "
                      f"{rows[0]['recall']:.3f} → {rows[-1]['recall']:.3f}.",
                      "IS and precision higher and recall lower at the smallest threshold than without truncation"))
        u_shape = 0 < best < len(fids) - 1
        parts.append((f"{which} generator, FID first improves then worsens", REPRODUCED if u_shape else NOT_REPRODUCED,
                      f"FID {fids[0]:.2f} without truncation, lowest at ψ {_psi(rows[best])} ({fids[best]:.2f}), "
                      f"{fids[-1]:.2f} at ψ {_psi(rows[-1])}.",
                      "the lowest FID at a threshold between no truncation and the smallest one"))
    return parts


def render(results: dict):
    n = results["numbers"]
    lines = ["| generator | ψ | FID | IS | precision | recall |", "|---|---:|---:|---:|---:|---:|"]
    for which, rows in n["curves"].items():
        lines += [f"| {which} | {_psi(r)} | {r['fid']:.2f} | {r['is']:.2f} | {r['precision']:.3f} | "
                  f"{r['recall']:.3f} |" for r in rows]
    measured = "\n".join(lines) + (
        f"\n\nThe `{n['run']}` run ({n['data']}, {n['steps']} iterations at batch {n['batch']}, G channel unit "
        f"{n['g_channels']}, orthogonal regularisation {n['ortho']:g}); {n['n']} class-cycled samples per threshold, "
        f"scored by the data's shipped evaluator (FID, IS from its class posteriors, precision / recall with k = 3); "
        f"the same seeded first draw at every threshold. Not comparable to the paper's Inception scores. "
        f"IS against FID: [img/biggan-truncation.png](img/biggan-truncation.png).")
    return PAPER, measured, verdict_block(verdict(n))


RENDER = {"truncation": render}


if __name__ == "__main__":
    main()
