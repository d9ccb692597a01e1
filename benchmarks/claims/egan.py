"""Claims of E-GAN (Wang et al. 2019, "Evolutionary Generative Adversarial Networks"), in miniature.

  toys   On the ring of 8 and the 5×5 grid, at an equal budget of generator updates: modes captured (≥ 10 of 2,000
         samples within 3σ) and the share of high-quality samples (within 3σ of a mode) for E-GAN against the same
         networks trained with each mutation alone (the same method with one mutation, so D, data and schedule
         are identical), and for E-GAN with γ = 0 (no diversity term) — mean ± std over seeds (§4.2, Fig. 4-5:
         E-GAN covers the modes where single-objective GANs drop or blur some).
  mnist  MNIST-5k: FID (shipped MNIST evaluator, 2,000 samples) of E-GAN (`egan-mnist`) against the same DCGAN
         networks and batch trained with the heuristic (non-saturating) loss alone, at equal wall-clock and at an
         equal number of generator updates (§4.3: E-GAN's IS/FID at least match the single-loss baselines).

    OMP_NUM_THREADS=1 python benchmarks/claims/egan.py toys [--seeds 3] [--steps N] [--override TOY:KEY=VALUE ...]
    OMP_NUM_THREADS=1 python benchmarks/claims/egan.py mnist [--mnist-steps 3000]
    python benchmarks/claims/egan.py --render      # re-render the sections from docs/claims/*.json
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from typing import Optional

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from claims_common import (DIRECTION, NOT_REPRODUCED, REPRODUCED, command_line, compare_means,  # noqa: E402
                           make_results, ms, publish, script_cli_render, verdict_block)

from ganforge.config import load_config  # noqa: E402
from ganforge.data.toy import mode_centers, mode_std  # noqa: E402
from ganforge.evaluation import evaluate  # noqa: E402
from ganforge.metrics.modes import mode_coverage  # noqa: E402
from ganforge.train import Trainer  # noqa: E402

VARIANTS = {  # id -> (label, overrides of the egan-<toy> preset)
    "egan": ("E-GAN (3 mutations, γ from the preset)", []),
    "egan-gamma0": ("E-GAN, γ = 0 (fitness F_q only)", ["method.gamma=0"]),
    "heuristic": ("heuristic alone", ["method.mutations=[heuristic]"]),
    "minimax": ("minimax alone", ["method.mutations=[minimax]"]),
    "least_squares": ("least squares alone", ["method.mutations=[least_squares]"]),
}
SINGLE = ("heuristic", "minimax", "least_squares")


CHECKPOINTS = (0.25, 0.5, 0.75, 1.0)  # fractions of the budget at which each toy run is scored


def toy_scores(generator, toy: str, seed: int) -> dict:
    """Modes (≥ 10 of 2,000 samples within 3σ), high-quality share (%) and mode-histogram KL of 2,000 samples."""
    g = generator.eval()
    with torch.no_grad():
        x = g(g.sample_z(2000, generator=torch.Generator().manual_seed(1000 + seed)))
    g.train()
    cov = mode_coverage(x, mode_centers(toy), mode_std(toy))
    return {"modes": sum(int(c) >= 10 for c in cov["counts"]), "hq": 100 * cov["high_quality"], "kl": cov["kl"]}


def toy_run(toy: str, overrides, seed: int, steps) -> dict:
    """Train egan-<toy> with `overrides`; scores at each fraction of CHECKPOINTS of the budget (the last is the
    result), and the training time (s, scoring excluded)."""
    extra = [f"train.steps={steps}"] if steps else []
    cfg = load_config(f"egan-{toy}", ["train.progress=false", "train.tensorboard=false", "train.eval_every=0",
                                      "train.checkpoint_every=1000000", f"train.seed={seed}", *extra, *overrides])
    total = cfg.train.steps
    marks = sorted({max(1, round(f * total)) for f in CHECKPOINTS})
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, run_dir=tmp)
        data, nonfinite = trainer.data_stream(), torch.zeros((), dtype=torch.bool)
        trainer.method.train()
        spent, path = 0.0, []
        while trainer.step < total:
            t0 = time.perf_counter()
            trainer.iteration(data, nonfinite)
            spent += time.perf_counter() - t0
            if trainer.step in marks:
                path.append({"step": trainer.step, **toy_scores(trainer.method.generator, toy, seed)})
        if bool(nonfinite):
            raise RuntimeError(f"egan-{toy} {overrides} seed {seed}: a loss became non-finite")
    m, g = cfg.method, cfg.generator
    settings = {"hidden": g.hidden, "layers": g.layers, "z_dim": g.z_dim, "batch": cfg.train.batch_size,
                "lr_g": m.lr_g, "lr_d": m.lr_d, "betas_g": list(m.betas_g), "betas_d": list(m.betas_d),
                "d_steps": m.d_steps, "eval_size": m.eval_size}
    return {**path[-1], "path": path, "seconds": spent, "steps": total, "gamma": m.gamma, "settings": settings}


def mean_std(values) -> Optional[dict]:
    """{"mean", "std" (ddof 1)} of the values; None if one is not finite (a KL with no sample near any mode)."""
    values = [float(v) for v in values]
    if not all(math.isfinite(v) for v in values):
        return None
    return {"mean": statistics.mean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}


TOYS_TITLE = "E-GAN on the toy mixtures: modes and sample quality (Wang et al. 2019)"
TOYS_PAPER = ("Paper (§4.2, Fig. 4-5; TEVC version): on 8 and 25 Gaussians E-GAN converges to the true distribution "
              "where GAN and LSGAN drop modes or blur them; the paper shows KDE plots and gives no numbers (the MSc "
              "study of E-kitcher notes that no quantitative analysis was done).")


def toy_overrides(specs) -> dict:
    """`--override TOY:key=value` options -> {toy: [key=value, ...]} (config overrides of that toy's runs)."""
    out: dict = {}
    for spec in specs or ():
        toy, sep, kv = spec.partition(":")
        if not sep or toy not in ("ring8", "grid25") or "=" not in kv:
            raise SystemExit(f"--override takes TOY:key=value with TOY ring8 or grid25, got {spec!r}")
        out.setdefault(toy, []).append(kv)
    return out


def claim_toys(args) -> None:
    rows, budget, gamma, settings = [], {}, None, {}
    extra = toy_overrides(args.override)
    for toy in ("ring8", "grid25"):
        for vid, (_, overrides) in VARIANTS.items():
            res = [toy_run(toy, [*extra.get(toy, []), *overrides], s, args.steps) for s in range(args.seeds)]
            budget[toy] = res[0]["steps"]
            if vid == "egan":
                gamma, settings[toy] = res[0]["gamma"], res[0]["settings"]
            rows.append({"data": toy, "variant": vid, "modes_of": len(mode_centers(toy)),
                         "modes": mean_std([r["modes"] for r in res]), "hq_pct": mean_std([r["hq"] for r in res]),
                         "kl": mean_std([r["kl"] for r in res]),
                         "seconds": mean_std([r["seconds"] for r in res]),
                         "path": [{"step": p["step"], "modes": mean_std([r["path"][i]["modes"] for r in res]),
                                   "hq_pct": mean_std([r["path"][i]["hq"] for r in res])}
                                  for i, p in enumerate(res[0]["path"])],
                         "per_seed": [{"modes": r["modes"], "hq_pct": r["hq"],
                                       "kl": r["kl"] if math.isfinite(r["kl"]) else None} for r in res]})
            print(rows[-1], flush=True)
    numbers = {"seeds": args.seeds, "gamma": gamma, "budget": budget, "settings": settings,
               "overrides": {k: v for k, v in extra.items()}, "rows": rows}
    publish(make_results("egan-toys", __file__, "toys", TOYS_TITLE, command_line(), numbers))


def verdict_toys(n: dict):
    """Per data set: does E-GAN capture more modes, and a larger high-quality share, than every single-loss GAN
    (mean ± std over seeds)?"""
    parts = []
    for toy in n["budget"]:
        rows = {r["variant"]: r for r in n["rows"] if r["data"] == toy}
        k, per_seed = rows["egan"]["modes_of"], rows["egan"].get("per_seed", [])
        if per_seed:
            full = sum(s["modes"] == k for s in per_seed)
            parts.append((f"{toy}: E-GAN lands on every mode (the paper's figure)",
                          REPRODUCED if full == len(per_seed) else NOT_REPRODUCED,
                          f"{full} of {len(per_seed)} seeds capture all {k} modes; high-quality share "
                          f"{ms(rows['egan']['hq_pct'])} %.", f"every seed captures all {k} modes"))
        for key, what, unit in (("modes", "modes captured", ""), ("hq_pct", "high-quality share", " %")):
            if key not in rows["egan"]:
                continue
            egan = rows["egan"][key]
            outcomes = [compare_means(egan, rows[v][key]) for v in SINGLE]
            label = (REPRODUCED if all(o == REPRODUCED for o in outcomes) else
                     DIRECTION if all(o != NOT_REPRODUCED for o in outcomes) else NOT_REPRODUCED)
            others = ", ".join(f"{VARIANTS[v][0]} {ms(rows[v][key])}{unit}" for v in SINGLE)
            g0 = rows["egan-gamma0"][key]
            parts.append((f"{toy} (of {rows['egan']['modes_of']} modes), {what}", label,
                          f"E-GAN {ms(egan)}{unit}; {others}; without the diversity term (γ = 0) {ms(g0)}{unit}.",
                          f"E-GAN's mean {what} above every single-loss GAN's by more than the larger seed standard "
                          f"deviation (above all, but within it for some: same direction only)"))
    return parts


def _path_tables(n: dict) -> str:
    """Per toy, mean modes captured (and high-quality %) over the seeds at each scored point of the budget."""
    out = []
    for toy in n["budget"]:
        rows = [r for r in n["rows"] if r["data"] == toy and r.get("path")]
        if not rows:
            continue
        out += [f"Convergence on {toy}: mean modes captured (high-quality %) over the seeds as training goes on:", "",
                "| updates | " + " | ".join(VARIANTS[r["variant"]][0] for r in rows) + " |",
                "|---:|" + "---:|" * len(rows)]
        for i, p in enumerate(rows[0]["path"]):
            out.append(f"| {p['step']} | " + " | ".join(
                f"{r['path'][i]['modes']['mean']:.1f} ({r['path'][i]['hq_pct']['mean']:.0f} %)" for r in rows) + " |")
        out.append("")
    return "\n".join(out).rstrip("\n")


def _settings_line(n: dict) -> str:
    if "settings" not in n:
        return ""
    parts = []
    for toy, st in n["settings"].items():
        parts.append(f"{toy}: G and D {st['layers']}×{st['hidden']} MLPs, z ∈ R^{st['z_dim']} ~ N(0, I), batch "
                     f"{st['batch']}, lr {st['lr_g']:g} / {st['lr_d']:g}, Adam β G {tuple(st['betas_g'])} D "
                     f"{tuple(st['betas_d'])}, n_D {st['d_steps']}")
    over = "; ".join(f"{toy}: {' '.join(kv)}" for toy, kv in n.get("overrides", {}).items())
    return ("Settings (the `egan-<toy>` presets" + (f", with the overrides {over}" if over else "") + "; official "
            "toy code: 3×512 MLPs, z ~ U(−1, 1)², batch 64, lr 1e-4, D β1 = 0, 100k updates): "
            + "; ".join(parts) + ".")


def render_toys(results: dict):
    n = results["numbers"]
    has_kl = all("kl" in r for r in n["rows"])
    head = "| data | method | modes captured | high-quality samples (%) |" + (" mode KL (nats) |" if has_kl else "")
    rows = [head, "|---|---|---:|---:|" + ("---:|" if has_kl else "")]
    rows += [f"| {r['data']} | {VARIANTS[r['variant']][0]} | {ms(r['modes'])} / {r['modes_of']} | {ms(r['hq_pct'])} |"
             + (f" {ms(r['kl'], '{:.2f}') if r['kl'] else '—'} |" if has_kl else "") for r in n["rows"]]
    steps = ", ".join(f"{v} ({k})" for k, v in n["budget"].items())
    notes = [f"{steps} generator updates per run (every variant), {n['seeds']} seeds, mean ± std (ddof 1); a mode "
             f"counts when ≥ 10 of 2,000 samples lie within 3σ of it (each sample counts only for its nearest centre), "
             f"a sample is high-quality within 3σ of a mode"
             + ("; mode KL is KL(histogram of those samples over the modes ‖ uniform)" if has_kl else "")
             + f"; γ = {n['gamma']} in the preset (the official toy code's β = 1 on log‖g‖² is γ = 2 on −log‖g‖). "
             f"A single-mutation run is the same E-GAN machinery with one mutation, so it is a plain GAN with that "
             f"generator loss and the identical D schedule."]
    extra = [x for x in (_settings_line(n), _path_tables(n)) if x]
    measured = "\n".join(rows + [""] + notes + sum(([""] + [x] for x in extra), []))
    return TOYS_PAPER, measured, verdict_block(verdict_toys(n))


def fid_of(trainer) -> float:
    g = trainer.method.generator.eval()
    try:
        return evaluate(g, trainer.config.data, "fid", n=2000, seed=0, dataset=trainer.dataset).scores["fid"]
    finally:
        g.train()


def timed_run(preset: str, overrides, out: str, steps: Optional[int] = None, seconds: Optional[float] = None):
    """Train until `seconds` of training time are spent (or for `steps` iterations when no budget is given);
    FID at iteration `steps` on the way (if reached) and at the end. Returns {"at_steps": (FID, s),
    "at_end": (FID, iterations, s)}; evaluation time is not counted."""
    cfg = load_config(preset, ["train.progress=false", "train.tensorboard=false", "train.eval_every=0",
                               "train.steps=1000000000", "train.checkpoint_every=1000000000", *overrides])
    trainer = Trainer(cfg, run_dir=out, overwrite=True)
    data, nonfinite = trainer.data_stream(), torch.zeros((), dtype=torch.bool)
    trainer.method.train()
    spent, result = 0.0, {}
    while (spent < seconds) if seconds else (trainer.step < steps):
        t0 = time.perf_counter()
        trainer.iteration(data, nonfinite)
        spent += time.perf_counter() - t0
        if trainer.step == steps and seconds:
            result["at_steps"] = (fid_of(trainer), spent)
    trainer.write_samples()
    result["at_end"] = (fid_of(trainer), trainer.step, spent)
    return result


MNIST_TITLE = "E-GAN on MNIST (Wang et al. 2019)"
MNIST_PAPER = ("Paper (§4.3, Table; CIFAR-10, LSUN, CelebA): E-GAN reaches an Inception score / FID at least as good "
               "as the DCGAN-architecture baselines trained with one loss.")
MNIST_ROWS = {"egan": "E-GAN (`egan-mnist`: heuristic, minimax, least squares)",
              "dcgan-equal-updates": "DCGAN, heuristic loss alone — equal updates",
              "dcgan-equal-time": "DCGAN, heuristic loss alone — equal wall-clock"}


def claim_mnist(args) -> None:
    """E-GAN for N generator updates (time T), then the single-loss DCGAN for T: FID at N updates and at T."""
    root = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "runs",
                        "claims")
    steps = args.mnist_steps
    egan = timed_run("egan-mnist", [], os.path.join(root, "egan-mnist"), steps=steps)["at_end"]
    print(f"E-GAN: {egan}", flush=True)
    dcgan = timed_run("dcgan-mnist", ["train.batch_size=32"], os.path.join(root, "dcgan-heuristic-b32"), steps=steps,
                      seconds=egan[2])
    print(f"DCGAN: {dcgan}", flush=True)
    rows = [{"kind": "egan", "updates": egan[1], "seconds": egan[2], "fid": egan[0]}]
    if "at_steps" in dcgan:
        fid, spent = dcgan["at_steps"]
        rows.append({"kind": "dcgan-equal-updates", "updates": steps, "seconds": spent, "fid": fid})
    fid, done, spent = dcgan["at_end"]
    rows.append({"kind": "dcgan-equal-time", "updates": done, "seconds": spent, "fid": fid})
    numbers = {"steps": steps, "eval_n": 2000, "rows": rows}
    publish(make_results("egan-mnist", __file__, "mnist", MNIST_TITLE, command_line(), numbers))


def verdict_mnist(n: dict):
    rows = {r["kind"]: r for r in n["rows"]}
    egan = rows["egan"]
    parts = []
    criterion = "E-GAN's FID at most the single-loss DCGAN's"
    if "dcgan-equal-updates" in rows:
        d = rows["dcgan-equal-updates"]
        parts.append(("At an equal number of generator updates (the paper's comparison)",
                      REPRODUCED if egan["fid"] <= d["fid"] else NOT_REPRODUCED,
                      f"FID {egan['fid']:.1f} for E-GAN against {d['fid']:.1f} after {d['updates']} updates each; an "
                      f"E-GAN update took {egan['seconds'] / d['seconds']:.1f}× the time of a DCGAN one.", criterion))
    d = rows["dcgan-equal-time"]
    parts.append(("At equal wall-clock", REPRODUCED if egan["fid"] <= d["fid"] else NOT_REPRODUCED,
                  f"FID {egan['fid']:.1f} for E-GAN ({egan['updates']} updates) against {d['fid']:.1f} for the DCGAN "
                  f"({d['updates']} updates in {d['seconds']:.0f} s).", criterion))
    return parts


def render_mnist(results: dict):
    n = results["numbers"]
    rows = ["| method | generator updates | training time (s) | FID (MNIST evaluator) |", "|---|---:|---:|---:|"]
    rows += [f"| {MNIST_ROWS[r['kind']]} | {r['updates']} | {r['seconds']:.0f} | **{r['fid']:.1f}** |"
             for r in n["rows"]]
    measured = "\n".join(rows + ["", f"Same DCGAN networks, batch 32, D updated once per iteration, one CPU thread "
                                     f"(training time only; evaluation excluded); FID on {n['eval_n']:,} samples "
                                     f"against MNIST-5k. The DCGAN row at equal updates is the same run as the "
                                     f"wall-clock row, scored on the way. Samples: runs/claims/egan-mnist, "
                                     f"runs/claims/dcgan-heuristic-b32."])
    return MNIST_PAPER, measured, verdict_block(verdict_mnist(n))


RENDER = {"toys": render_toys, "mnist": render_mnist}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("claim", nargs="?", choices=["toys", "mnist", "all"])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=None, help="generator updates per toy run (default: the preset's)")
    ap.add_argument("--override", action="append", metavar="TOY:KEY=VALUE",
                    help="a config override for every run on one toy, e.g. ring8:train.steps=4000 (repeatable)")
    ap.add_argument("--mnist-steps", type=int, default=3000, help="E-GAN generator updates on MNIST (the DCGAN "
                    "baseline then trains for E-GAN's time and is also scored at this many updates)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--render", action="store_true", help="re-render this script's sections from docs/claims/*.json")
    args = ap.parse_args()
    if args.render:
        return script_cli_render(__file__)
    if args.claim is None:
        ap.error("a claim (or --render) is required")
    torch.set_num_threads(args.threads)
    if args.claim in ("toys", "all"):
        claim_toys(args)
    if args.claim in ("mnist", "all"):
        claim_mnist(args)


if __name__ == "__main__":
    main()
