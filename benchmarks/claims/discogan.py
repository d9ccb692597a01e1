"""Claim of DiscoGAN (Kim, Cha, Kim, Lee, Kim, "Learning to Discover Cross-Domain Relations with Generative
Adversarial Networks", ICML 2017, §4.1 and Fig. 3), in miniature: the 2-D toy (`toy-domains`: A = 5 Gaussians,
B = 10 Gaussians, unpaired). A standard GAN translator A -> B maps the A modes onto few B modes; GAN with
reconstruction less so; DiscoGAN maps the A modes one-to-one onto distinct B modes.

Measured on 5,000 A points translated by each model's G_AB (eval mode): the B mode of each translation (nearest
centre within 4σ, else "off"), the number of B modes hit by ≥ 2 % of the translations, the injectivity of the A ->
B mode map (distinct dominant B modes among the 5 A modes, a dominant mode holding ≥ 25 % of its A mode's points;
5 = one-to-one), the share of translations on a mode,
and the share of each A mode's points that go to its dominant B mode (how clean the map is). Several training
seeds per model.

    OMP_NUM_THREADS=1 python benchmarks/claims/discogan.py [--steps 3000 --seeds 0 1]
    python benchmarks/claims/discogan.py --render
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from claims_common import (DIRECTION, NOT_REPRODUCED, REPRODUCED, command_line, make_results,  # noqa: E402
                           mean_of, publish, script_cli_render, verdict_block)

from ganforge.config import load_config  # noqa: E402
from ganforge.data.toy_domains import MODES_A, MODES_B, assign_modes, centers  # noqa: E402
from ganforge.train import Trainer  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TITLE = "DiscoGAN: the 2-D toy, mode coverage and a one-to-one mode map (GAN, GAN + reconstruction, DiscoGAN)"
ARCHS = {"gan": "standard GAN (A -> B only)", "recongan": "GAN + reconstruction (A -> B -> A)",
         "discogan": "DiscoGAN (both directions)"}
HIT = 0.02  # a B mode counts as hit when it gets at least this share of the translations
DOMINANT = 0.25  # an A mode's dominant B mode must receive at least this share of its points


def mode_map(translated: torch.Tensor, a_modes: torch.Tensor) -> dict:
    """Coverage and injectivity of the A -> B mode map of `translated` (points) for A points of modes `a_modes`."""
    b = assign_modes(translated, "b")
    n = len(b)
    share = torch.bincount(b[b >= 0], minlength=MODES_B).float() / n
    dominant, purity = [], []
    for k in range(MODES_A):
        sel = b[a_modes == k]
        counts = torch.bincount(sel + 1, minlength=MODES_B + 1)  # index 0 = off-mode
        best = int(counts[1:].argmax())
        purity.append(float(counts[best + 1]) / max(1, len(sel)))
        dominant.append(best if purity[-1] >= DOMINANT else -1)  # -1: no B mode holds a quarter of them
    injective = len({d for d in dominant if d >= 0})
    return {"modes_hit": int((share >= HIT).sum()), "injectivity": injective, "dominant": dominant,
            "on_mode": float((b >= 0).float().mean()), "purity": sum(purity) / len(purity),
            "b_share": [round(float(s), 4) for s in share]}


def train(arch: str, steps: int, seed: int, batch: int, extra=()):
    cfg = load_config("discogan-toy", [*extra, f"method.model_arch={arch}", f"train.steps={steps}", f"train.seed={seed}",
                                       f"train.batch_size={batch}", "train.progress=false", "train.tensorboard=false",
                                       "train.sample_every=1000000", "train.checkpoint_every=1000000",
                                       "train.threads=1"])
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, run_dir=tmp)
        trainer.fit()
    return trainer, time.perf_counter() - t0


@torch.no_grad()
def score(trainer, n: int = 5000) -> dict:
    batch = trainer.dataset.get(torch.arange(n))
    g = trainer.method.generator.eval()
    out = g(batch.x)
    res = mode_map(out, batch.attrs["mode"])
    res["points"] = out[:1500]
    res["a_modes"] = batch.attrs["mode"][:1500]
    return res


def picture(rows: dict, trainer, path: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = ["data"] + list(ARCHS)
    fig, axes = plt.subplots(1, len(cols), figsize=(3.2 * len(cols), 3.4), dpi=110)
    colours = plt.cm.tab10(range(MODES_A))
    b_real = trainer.dataset.get(torch.arange(1500)).target
    a_real = trainer.dataset.get(torch.arange(1500))
    cb = centers("b")
    for ax, key in zip(axes, cols):
        ax.scatter(b_real[:, 0], b_real[:, 1], s=3, c="lightgrey")
        ax.scatter(cb[:, 0], cb[:, 1], s=30, marker="x", c="black", linewidths=0.8)
        if key == "data":
            pts, modes, title = a_real.x, a_real.attrs["mode"], "A (colours: 5 modes), B (grey, x: 10 modes)"
        else:
            r = rows[key]
            pts, modes = r["points"], r["a_modes"]
            title = f"{key}: G_AB(A), {r['modes_hit']} B modes hit, map {r['injectivity']}/5"
        ax.scatter(pts[:, 0], pts[:, 1], s=3, c=colours[modes.numpy()], alpha=0.7)
        ax.set_xlim(-2.2, 2.2)
        ax.set_ylim(-2.2, 2.2)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(title, fontsize=7)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return os.path.relpath(path, REPO)


def measure(args) -> None:
    rows, seconds, first = {}, {}, {}
    for arch in ARCHS:
        per_seed = []
        for seed in args.seeds:
            trainer, sec = train(arch, args.steps, seed, args.batch)
            r = score(trainer)
            print(arch, seed, {k: v for k, v in r.items() if k not in ("points", "a_modes", "b_share")},
                  f"{sec:.0f}s", flush=True)
            if seed == args.seeds[0]:
                first[arch], first_trainer = r, trainer
            per_seed.append({k: v for k, v in r.items() if k not in ("points", "a_modes")})
            seconds[f"{arch}/{seed}"] = sec
        rows[arch] = per_seed
    fig = picture(first, first_trainer, os.path.join(REPO, "docs", "img", "discogan-toy.png"))
    numbers = {"rows": rows, "steps": args.steps, "batch": args.batch, "seeds": args.seeds, "seconds": seconds,
               "figure": fig, "hit_share": HIT}
    publish(make_results("discogan-toy", __file__, "toy", TITLE, command_line(), numbers))


# -- rendering ----------------------------------------------------------------------------------------------------------
def render(results):
    n = results["numbers"]
    paper = ("§4.1, Fig. 3 (2-D toy, A: 5 modes, B: 10 modes; no code in the official repository): the standard GAN "
             "maps the A modes onto a few B modes (mode collapse), GAN + reconstruction maps them to distinct but "
             "still few modes, DiscoGAN maps the A modes one-to-one onto distinct B modes and covers B's modes "
             "better. The paper shows scatter plots, no numbers.")
    lines = ["| model | seed | B modes hit (of 10) | A -> B map injectivity (of 5) | dominant B mode per A mode | "
             "on a mode | points to their mode's dominant B mode |", "|---|---:|---:|---:|---|---:|---:|"]
    for arch, label in ARCHS.items():
        for seed, r in zip(n["seeds"], n["rows"][arch]):
            lines.append(f"| {label} | {seed} | {r['modes_hit']} | {r['injectivity']} | {r['dominant']} | "
                         f"{r['on_mode']:.2f} | {r['purity']:.2f} |")
    lines += ["", f"{n['steps']} iterations per model (batch {n['batch']}; D updated every 3rd iteration, so "
              f"{n['steps'] // 3} D and {n['steps'] - n['steps'] // 3} G updates), MLP G/D 3×128, official losses "
              f"and curriculum (rate 0.01 for the first 20 % of the run, then 0.5). A B mode is hit when it gets "
              f"≥ {100 * n['hit_share']:.0f} % of 5,000 translated A points (a point belongs to its nearest B "
              f"centre within 4σ); an A mode's dominant B mode (−1: none) must receive ≥ 25 % of its points. "
              f"G and D are MLPs without batch norm (the preset's). Picture (first seed; translations coloured by their A mode): `{n['figure']}`."]
    return paper, "\n".join(lines), verdict_block(verdicts(n))


def verdicts(n):
    inj = {a: mean_of(n["rows"][a], "injectivity") for a in ARCHS}
    hit = {a: mean_of(n["rows"][a], "modes_hit") for a in ARCHS}
    parts = []
    ok = inj["discogan"] > inj["gan"]
    full = all(r["injectivity"] == MODES_A for r in n["rows"]["discogan"])
    parts.append(("one-to-one map", REPRODUCED if ok and full else DIRECTION if ok else NOT_REPRODUCED,
                  "mean injectivity " + ", ".join(f"{a} {v:.1f}" for a, v in inj.items()) + " (of 5).",
                  "DiscoGAN's map is one-to-one (5 of 5) in every seed and the GAN's less injective on average"))
    cov = hit["discogan"] > hit["gan"]
    parts.append(("more B modes covered", REPRODUCED if cov else NOT_REPRODUCED,
                  "mean B modes hit " + ", ".join(f"{a} {v:.1f}" for a, v in hit.items()) + " (of 10).",
                  "DiscoGAN's translations hit more B modes than the standard GAN's"))
    every = any(r["modes_hit"] == MODES_B for r in n["rows"]["discogan"])
    parts.append(("all 10 B modes", REPRODUCED if every else NOT_REPRODUCED,
                  f"most B modes hit by DiscoGAN in one seed: {max(r['modes_hit'] for r in n['rows']['discogan'])}.",
                  "some DiscoGAN seed hits all 10 B modes (5 A modes can reach 10 B modes only by splitting modes)"))
    return parts


RENDER = {"toy": render}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--render", action="store_true")
    args = ap.parse_args()
    if args.render:
        return script_cli_render(__file__)
    torch.set_num_threads(1)
    measure(args)


if __name__ == "__main__":
    main()
