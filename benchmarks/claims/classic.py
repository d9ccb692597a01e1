"""Claims of the classic GAN family, reproduced in miniature on MNIST-5k (scores from the shipped MNIST evaluator).

* ``wgan`` — Arjovsky et al. 2017, §4.2: "the WGAN loss correlates with sample quality" (Fig. 3-4), unlike the
  standard GAN's discriminator loss. Measured: Spearman rank correlation, over one training run, between the
  critic's Wasserstein estimate −L_D (averaged over the 50 iterations before each evaluation) and FID; the same
  for the DCGAN discriminator loss.
* ``wgan-gp`` — Gulrajani et al. 2017, §5.2 / Fig. 2: WGAN-GP trains architectures the standard GAN cannot, e.g.
  a generator without batch norm. Measured: FID of wgan-gp-mnist and dcgan-mnist, both with
  `generator.batchnorm=false`, same number of generator updates.
* ``conditional`` — cGAN (Mirza & Osindero 2014), projection D (Miyato & Koyama 2018), AC-GAN (Odena et al.
  2017): class-conditioned samples show the asked class. Measured: the evaluator's accuracy on 1,000 samples per
  class (target ≥ 90 %).

    python benchmarks/claims/classic.py wgan|wgan-gp|conditional|all [--steps N] [--threads 1]
    python benchmarks/claims/classic.py --render     # re-render the sections from docs/claims/*.json

Runs are kept under runs/claims/ and reused when complete (delete them to retrain).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from claims_common import (NOT_REPRODUCED, REPO, REPRODUCED, command_line, make_results, publish,  # noqa: E402
                           script_cli_render, verdict_block)

import ganforge  # noqa: E402
from ganforge.config import load_config  # noqa: E402
from ganforge.evaluation import load_extractor  # noqa: E402
from ganforge.train import Trainer  # noqa: E402
from ganforge.train.checkpoint import latest_checkpoint  # noqa: E402
from ganforge.train.logger import read_metrics  # noqa: E402

RUNS = os.path.join(REPO, "runs", "claims")


def train(name: str, preset: str, overrides) -> str:
    """Train (or reuse) runs/claims/<name>; returns the run directory."""
    run = os.path.join(RUNS, name)
    cfg = load_config(preset, ["train.progress=false", "train.tensorboard=false", *overrides])
    ckpt = latest_checkpoint(os.path.join(run, "checkpoints"))
    if ckpt is None or not ckpt.endswith(f"step-{cfg.train.steps:06d}"):
        print(f"training {name} ({preset}, {cfg.train.steps} iterations) ...", flush=True)
        Trainer(cfg, run_dir=run, overwrite=True).fit()
    return run


def spearman(a, b) -> float:
    """Spearman rank correlation (no ties expected in continuous scores)."""
    ra = torch.tensor(a).argsort().argsort().double()
    rb = torch.tensor(b).argsort().argsort().double()
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return float((ra * rb).sum() / (ra.norm() * rb.norm()))


def loss_vs_fid(run: str, key: str, window: int = 50):
    records = read_metrics(os.path.join(run, "metrics.jsonl"))
    evals = [r for r in records if "eval/fid" in r]
    losses = [r for r in records if key in r]
    pairs = []
    for e in evals:
        near = [r[key] for r in losses if e["step"] - window < r["step"] <= e["step"]]
        pairs.append((e["step"], statistics.mean(near), e["eval/fid"]))
    return pairs


WGAN_TITLE = "WGAN: the critic's loss tracks sample quality (Arjovsky et al. 2017)"
WGAN_PAPER = ("Paper (§4.2, Fig. 3-4): the WGAN estimate of the EM distance correlates well with the visual quality "
              "of the samples, whereas the JS-based GAN discriminator loss does not. No correlation number is given.")
TRACKS = 0.7  # Spearman ρ from which a loss "tracks" FID


def claim_wgan(args) -> None:
    steps = args.steps or 1500
    common = [f"train.steps={steps}", "train.eval_every=100", "train.eval_n=1000", "train.eval_metrics=fid",
              "train.log_every=10", f"train.threads={args.threads}"]
    wgan = loss_vs_fid(train("wgan", "wgan-mnist", common), "wasserstein")
    dcgan = loss_vs_fid(train("dcgan-for-wgan", "dcgan-mnist", common), "d_loss")
    numbers = {"steps": steps, "eval_n": 1000,
               "rows": [{"iteration": a[0], "wgan_w": a[1], "wgan_fid": a[2], "dcgan_d_loss": b[1], "dcgan_fid": b[2]}
                        for a, b in zip(wgan, dcgan)],
               "rho_wgan": spearman([w for _, w, _ in wgan], [f for _, _, f in wgan]),
               "rho_dcgan": spearman([d for _, d, _ in dcgan], [f for _, _, f in dcgan])}
    publish(make_results("wgan", __file__, "wgan", WGAN_TITLE, command_line(), numbers))


def verdict_wgan(n: dict):
    w, d = n["rho_wgan"], n["rho_dcgan"]
    label = (REPRODUCED if w >= TRACKS and d < TRACKS else
             "partly reproduced (both losses track FID)" if w >= TRACKS else NOT_REPRODUCED)
    return (label, f"ρ(W estimate, FID) = {w:+.2f} for WGAN, ρ(D loss, FID) = {d:+.2f} for the standard GAN.",
            f"the WGAN critic's estimate tracks FID (ρ ≥ {TRACKS}) and the standard GAN's D loss does not "
            f"(ρ < {TRACKS})")


def render_wgan(results: dict):
    n = results["numbers"]
    rows = ["| iteration | WGAN −L_D (W estimate) | WGAN FID | DCGAN L_D | DCGAN FID |", "|---:|---:|---:|---:|---:|"]
    rows += [f"| {r['iteration']} | {r['wgan_w']:.4f} | {r['wgan_fid']:.1f} | {r['dcgan_d_loss']:.3f} | "
             f"{r['dcgan_fid']:.1f} |" for r in n["rows"]]
    measured = "\n".join(rows + ["", f"Spearman ρ(W estimate, FID) = **{n['rho_wgan']:+.2f}** for WGAN; ρ(D loss, FID) "
                                     f"= **{n['rho_dcgan']:+.2f}** for the standard GAN ({len(n['rows'])} "
                                     f"evaluations, FID on {n['eval_n']:,} samples vs MNIST-5k, evaluator features; "
                                     f"losses averaged over the 50 iterations before each evaluation). A positive ρ "
                                     f"means the loss falls with FID, i.e. tracks quality."])
    return WGAN_PAPER, measured, verdict_block([(None, *verdict_wgan(n))])


WGAN_GP_TITLE = "WGAN-GP: training without batch norm in G (Gulrajani et al. 2017)"
WGAN_GP_PAPER = ("Paper (§5.2, Fig. 2): with no BN in the generator (and other hard settings), WGAN-GP still trains "
                 "where the standard GAN (DCGAN) fails or degrades.")


def claim_wgan_gp(args) -> None:
    steps = args.steps or 1500
    common = [f"train.steps={steps}", f"train.eval_every={steps}", "train.eval_n=2000",
              "train.eval_metrics=fid,pr", "generator.batchnorm=false", f"train.threads={args.threads}"]
    rows = []
    for name, preset in (("wgan-gp-nobn", "wgan-gp-mnist"), ("dcgan-nobn", "dcgan-mnist")):
        rec = [r for r in read_metrics(os.path.join(train(name, preset, common), "metrics.jsonl"))
               if "eval/fid" in r][-1]
        rows.append({"run": name, "fid": rec["eval/fid"], "precision": rec["eval/precision"],
                     "recall": rec["eval/recall"]})
    numbers = {"steps": steps, "eval_n": 2000, "rows": rows}
    publish(make_results("wgan-gp", __file__, "wgan-gp", WGAN_GP_TITLE, command_line(), numbers))


def verdict_wgan_gp(n: dict):
    fid = {r["run"]: r["fid"] for r in n["rows"]}
    gp, dc = fid["wgan-gp-nobn"], fid["dcgan-nobn"]
    label = REPRODUCED if gp <= dc / 2 else "same direction, not by half" if gp < dc else NOT_REPRODUCED
    return (label, f"FID {gp:.1f} for WGAN-GP against {dc:.1f} for the DCGAN, both without batch norm in G.",
            "WGAN-GP's FID at most half the DCGAN's (lower but not by half: same direction only)")


def render_wgan_gp(results: dict):
    n = results["numbers"]
    rows = ["| generator without batch norm | FID | precision | recall |", "|---|---:|---:|---:|"]
    rows += [f"| {r['run']} | {r['fid']:.1f} | {r['precision']:.2f} | {r['recall']:.2f} |" for r in n["rows"]]
    measured = "\n".join(rows + ["", f"{n['steps']} generator updates each (WGAN-GP: 5 critic updates per G "
                                     f"update), DCGAN networks at 32×32 with the generator's batch norm removed; "
                                     f"{n['eval_n']:,} samples, MNIST evaluator. Samples: "
                                     f"runs/claims/*-nobn/samples/."])
    return WGAN_GP_PAPER, measured, verdict_block([(None, *verdict_wgan_gp(n))])


@torch.no_grad()
def class_accuracy(run: str, per_class: int = 1000) -> float:
    g = ganforge.load(run)
    ev = load_extractor("mnist5k")
    k = g.generator.num_classes
    y = torch.arange(k).repeat_interleave(per_class)
    x = g.generate(g.latents(len(y), seed=1), y)
    pred = torch.cat([ev.logits(x[i:i + 500]).argmax(1) for i in range(0, len(x), 500)])
    return float((pred == y).double().mean())


COND_TITLE = "Class-conditional GANs draw the asked class (cGAN, projection D, AC-GAN)"
COND_PAPER = ("Papers: cGAN (Mirza & Osindero 2014) shows class-conditioned MNIST samples (qualitative; Parzen "
              "log-likelihood 132); AC-GAN (Odena et al. 2017) reports samples classified as their class by an "
              "Inception network on ImageNet (10.1 % for 128×128 at 1000 classes); our target: ≥ 90 % on MNIST.")


def claim_conditional(args) -> None:
    from ganforge.metrics.evaluator import read_card

    rows = []
    for entry in args.presets.split(","):
        preset, _, own = entry.partition(":")  # "preset:steps" sets that preset's budget
        steps = int(own) if own else args.steps or load_config(preset).train.steps  # default: the preset's own
        run = train(preset, preset, [f"train.steps={steps}", f"train.eval_every={steps}", "train.eval_n=2000",
                                     "train.eval_metrics=fid", f"train.threads={args.threads}"])
        fid = [r for r in read_metrics(os.path.join(run, "metrics.jsonl")) if "eval/fid" in r][-1]["eval/fid"]
        rows.append({"preset": preset, "steps": steps, "accuracy_pct": 100 * class_accuracy(run), "fid": fid})
        print(rows[-1], flush=True)
    numbers = {"target_pct": 90.0, "per_class": 1000, "rows": rows,
               "evaluator_accuracy_pct": 100 * read_card("mnist5k")["held_out_accuracy"]["digit"]}
    publish(make_results("conditional", __file__, "conditional", COND_TITLE, command_line(), numbers))


def verdict_conditional(n: dict):
    target = n["target_pct"]
    reached = [r for r in n["rows"] if r["accuracy_pct"] >= target]
    missed = [r for r in n["rows"] if r["accuracy_pct"] < target]

    def say(rs):
        return ", ".join(f"{r['preset']} {r['accuracy_pct']:.1f} % at {r['steps']} updates" for r in rs)

    label = REPRODUCED if not missed else NOT_REPRODUCED if not reached else (
        f"reproduced for {len(reached)} of {len(n['rows'])} presets")
    evidence = " ".join(filter(None, [f"Reached: {say(reached)}." if reached else "",
                                      f"Not reached: {say(missed)} (chance: 10 %)." if missed else ""]))
    return label, evidence, f"the evaluator's accuracy on class-conditioned samples ≥ {target:.0f} %"


def render_conditional(results: dict):
    n = results["numbers"]
    rows = ["| preset | generator updates | evaluator accuracy on class-conditioned samples | FID |",
            "|---|---:|---:|---:|"]
    rows += [f"| {r['preset']} | {r['steps']} | **{r['accuracy_pct']:.1f} %** | {r['fid']:.1f} |" for r in n["rows"]]
    measured = "\n".join(rows + ["", f"{n['per_class']:,} samples per class classified by the shipped MNIST evaluator "
                                     f"({n['evaluator_accuracy_pct']:.1f} % accurate on held-out real digits). "
                                     f"Samples: runs/claims/<preset>/samples/."])
    return COND_PAPER, measured, verdict_block([(None, *verdict_conditional(n))])


DEFAULT_CONDITIONAL = "cgan-mnist,cgan-projection-mnist,acgan-mnist"
CLAIMS = {"wgan": claim_wgan, "wgan-gp": claim_wgan_gp, "conditional": claim_conditional}
RENDER = {"wgan": render_wgan, "wgan-gp": render_wgan_gp, "conditional": render_conditional}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("claim", nargs="?", choices=[*CLAIMS, "all"])
    ap.add_argument("--steps", type=int, default=None,
                    help="generator updates per run (default: 1500; for 'conditional', each preset's own)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--presets", default=DEFAULT_CONDITIONAL,
                    help="for 'conditional': which class-conditional presets, each optionally as PRESET:STEPS "
                         "(finished runs are reused)")
    ap.add_argument("--render", action="store_true", help="re-render this script's sections from docs/claims/*.json")
    args = ap.parse_args()
    if args.render:
        return script_cli_render(__file__)
    if args.claim is None:
        ap.error("a claim (or --render) is required")
    torch.set_num_threads(args.threads)
    for name, fn in CLAIMS.items():
        if args.claim in (name, "all"):
            fn(args)


if __name__ == "__main__":
    main()
