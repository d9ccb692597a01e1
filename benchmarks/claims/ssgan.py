"""Claim (Chen, Zhai, Ritter, Lucic, Houlsby, "Self-Supervised GANs via Auxiliary Rotation Loss", CVPR 2019, §2
Fig. 3-4, Table 1): an unconditional GAN's discriminator *forgets* — the class information in its features, read by
a linear probe, degrades during training and drops whenever the data distribution shifts — while the rotation loss
keeps D's representation; and the self-supervised GAN closes part of the FID gap between unconditional and
conditional GANs (CIFAR-10 FID: unconditional 19.73, SS-GAN 17.88, conditional 15.60; reference/papers-details.md
§4.3, the unconditional and conditional cells from memory).

Miniature on MNIST-5k 32² (the `ssgan-mnist` preset: DCGAN nets, non-saturating loss, batch 32):

* arms: `uncond` (the preset with both rotation weights 0 — exactly the standard GAN), `ssgan` (the preset: D 1.0,
  G 0.2) and, for FID only, `cond` (the same nets class-conditional as cGAN: one-hot label concatenated in G
  and D, no rotation loss);
* settings: `iid` (the paper's Fig. 4: ordinary training) and `sequential` (Fig. 3's shift: the real data cycle
  through `--tasks` class subsets, {0-4} then {5-9} by default, switching every `--switch` iterations);
* every `--every` iterations: the linear probe of D's frozen features (the `probe` metric: logistic regression on D's
  pooled final features of 1,000 labelled real digits of all 10 classes, accuracy on 1,000 others); at the end the
  MNIST-evaluator FID of the EMA generator (2,000 samples against the 5,000 digits).

    OMP_NUM_THREADS=1 python benchmarks/claims/ssgan.py             # full size: see the module's `--help`
    python benchmarks/claims/ssgan.py --render                      # re-render the section from the JSON
    OMP_NUM_THREADS=1 python benchmarks/claims/ssgan.py --steps 40 --every 20 --switch 20 --seeds 0 \\
        --out /tmp/ssgan-tiny.json                                  # a smoke run: JSON + rendered text, no docs
    OMP_NUM_THREADS=1 python benchmarks/claims/ssgan.py --steps 1500 --every 250 --switch 250 --seeds 0 1 \\
        --settings iid --arms cond --merge                          # re-measure some runs of the published JSON

`--merge` replaces only the runs measured now (by arm, setting and seed) in docs/claims/ssgan.json, which must have
the same --steps / --every / --switch / --tasks; the other runs are kept and the section names both commands.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from claims_common import (DIRECTION, NOT_REPRODUCED, REPRODUCED, command_line, compare_means,  # noqa: E402
                           load_results, make_results, publish, render_section, script_cli_render, verdict_block)

from ganforge.config import load_config  # noqa: E402
from ganforge.evaluation import evaluate  # noqa: E402
from ganforge.train import Trainer  # noqa: E402
from ganforge.train.trainer import DeviceStream  # noqa: E402

PRESET = "ssgan-mnist"
ARMS = {
    "uncond": ["method.rotation_weight_d=0", "method.rotation_weight_g=0"],
    "ssgan": [],
    # ssgan with both weights 0 is exactly the standard method (tests/test_ssgan.py)
    # the conditional reference is the cGAN of the main job (cgan-mnist: one-hot concatenated in G and D). A
    # projection D on these nets (no spectral norm, un-normalised Σφ(x)) saturates at once: FID ~1900 (2026-12-01).
    "cond": ["method.rotation_weight_d=0", "method.rotation_weight_g=0", "generator.conditional=true",
             "discriminator.conditional=concat"],
}


class SequentialStream:
    """Real batches from one class subset at a time: task t = (iteration // switch) mod T (Chen et al. 2019,
    Fig. 3's shifting distribution). `iteration` is set by the loop before each step."""

    def __init__(self, dataset, tasks, switch: int, batch_size: int, seed: int, device):
        labels = dataset.get(torch.arange(len(dataset))).y
        self.pools = [torch.nonzero(torch.isin(labels, torch.tensor(t))).flatten() for t in tasks]
        self.dataset, self.switch, self.batch_size, self.device = dataset, switch, batch_size, device
        self.generator = torch.Generator().manual_seed(seed)
        self.iteration = 0

    def task(self) -> int:
        return (self.iteration // self.switch) % len(self.pools)

    def next(self):
        pool = self.pools[self.task()]
        idx = pool[torch.randint(len(pool), (self.batch_size,), generator=self.generator)]
        return self.dataset.get(idx).to(self.device)


def probe(trainer) -> float:
    return evaluate(trainer.method.generator, trainer.config.data, "probe", dataset=trainer.dataset,
                    discriminator=trainer.method.discriminator, seed=0).scores["probe"]


def fid(trainer, cache_dir: str) -> float:
    with torch.random.fork_rng():
        g = trainer.sampling_generator()
        g.eval()
        try:
            return evaluate(g, trainer.config.data, "fid", n=trainer.config.train.eval_n, seed=0,
                            dataset=trainer.dataset, cache_dir=cache_dir).scores["fid"]
        finally:
            g.train()


def run(arm: str, setting: str, seed: int, args, cache_dir: str) -> dict:
    """Train one arm in one setting; the probe every `args.every` iterations (not for `cond`), FID at the end."""
    cfg = load_config(PRESET, ARMS[arm] + [f"train.steps={args.steps}", f"train.seed={seed}",
                                          "train.progress=false", "train.eval_every=0", "train.tensorboard=false"])
    trainer = Trainer(cfg, run_dir=tempfile.mkdtemp(prefix=f"claim-ssgan-{arm}-"))
    if setting == "sequential":
        data = SequentialStream(trainer.dataset, args.task_classes, args.switch, cfg.train.batch_size, seed,
                                trainer.device)
    else:
        data = DeviceStream(trainer.stream, trainer.device)
    nonfinite = torch.zeros((), dtype=torch.bool)
    probes = {} if arm == "cond" else {0: probe(trainer)}
    rot_acc, started = {}, time.perf_counter()
    for i in range(1, args.steps + 1):
        data.iteration = i - 1
        logs = trainer.iteration(data, nonfinite)
        if arm != "cond" and (i % args.every == 0 or i == args.steps):
            probes[i] = probe(trainer)
            if "rot_acc" in logs:
                rot_acc[i] = float(logs["rot_acc"])
            print(f"{setting} {arm} seed {seed} step {i}: probe {probes[i]:.3f}"
                  f"{f', rotation acc {rot_acc[i]:.2f}' if i in rot_acc else ''} "
                  f"({time.perf_counter() - started:.0f}s)", flush=True)
    seconds = time.perf_counter() - started
    return {"arm": arm, "setting": setting, "seed": seed, "probe": {str(k): v for k, v in probes.items()},
            "rot_acc": {str(k): v for k, v in rot_acc.items()}, "fid": fid(trainer, cache_dir),
            "diverged": bool(nonfinite), "seconds": seconds}


# -- summaries computed from the per-run numbers (rendering and verdicts use only these) ----------------------------
def curve(row) -> list:
    return sorted((int(k), v) for k, v in row["probe"].items())


def late_mean(row) -> float:
    """Mean probe accuracy over the second half of training (iterations > steps / 2)."""
    pts = curve(row)
    last = pts[-1][0]
    return statistics.mean(v for i, v in pts if i > last / 2)


def forgetting(row) -> float:
    """Mean shortfall of the probe accuracy below its best value so far (0 when it never falls back)."""
    best, gaps = 0.0, []
    for _, v in curve(row):
        best = max(best, v)
        gaps.append(best - v)
    return statistics.mean(gaps)


def over_seeds(rows, fn) -> dict:
    vals = [fn(r) for r in rows]
    return {"mean": statistics.mean(vals), "std": statistics.pstdev(vals) if len(vals) > 1 else 0.0, "n": len(vals)}


def pick(numbers, setting, arm):
    return [r for r in numbers["runs"] if r["setting"] == setting and r["arm"] == arm]


NO_FORGETTING = 0.01  # a mean fall below the best-so-far probe accuracy under this is "nothing forgets"
SLUG = "ssgan"
TITLE = "Self-supervised GAN: rotation loss against discriminator forgetting (Chen et al. 2019)"
PAPER = ("Paper: the linear-probe accuracy of an unconditional GAN's discriminator features degrades during "
         "training and drops when the data distribution shifts (Fig. 3-4: \"discriminator forgetting\"); with the "
         "auxiliary rotation loss (D weight 1.0 on rotated reals, G 0.2 on rotated fakes) it stays high, and the "
         "self-supervised GAN narrows the FID gap to a conditional GAN (CIFAR-10 FID: unconditional 19.73, SS-GAN "
         "17.88, conditional 15.60; the first and last from memory, to verify).")


def judge(a: dict, b: dict, higher_is_better: bool = True) -> str:
    """compare_means, but one seed never counts as reproduced (no spread to beat)."""
    label = compare_means(a, b, higher_is_better)
    return DIRECTION if label == REPRODUCED and min(a["n"], b["n"]) < 2 else label


def verdict(n: dict):
    parts = []
    for setting, name in (("iid", "Fig. 4, ordinary training"), ("sequential", "Fig. 3, shifting class subsets")):
        ss, un = pick(n, setting, "ssgan"), pick(n, setting, "uncond")
        if not ss or not un:
            continue
        a, b = over_seeds(ss, late_mean), over_seeds(un, late_mean)
        fa, fb = over_seeds(ss, forgetting), over_seeds(un, forgetting)
        label = judge(a, b)
        forget = judge(fa, fb, higher_is_better=False)
        still = ""
        if max(fa["mean"], fb["mean"]) < NO_FORGETTING:
            still = (f" Neither probe falls back by {NO_FORGETTING:g} on average: nothing forgets at this budget, so "
                     f"the fall below the best-so-far cannot separate the arms (a longer run would be needed); the "
                     f"forgetting part counts as the same direction at best.")
            forget = DIRECTION if forget == REPRODUCED else forget
        both = REPRODUCED if label == REPRODUCED and forget == REPRODUCED else \
            NOT_REPRODUCED if NOT_REPRODUCED in (label, forget) else DIRECTION
        parts.append((f"D keeps its representation ({name})", both,
                      f"Probe accuracy over the second half: SS-GAN {a['mean']:.3f} ± {a['std']:.3f}, unconditional "
                      f"{b['mean']:.3f} ± {b['std']:.3f} ({label}); mean fall below the best-so-far: SS-GAN "
                      f"{fa['mean']:.3f}, unconditional {fb['mean']:.3f} ({forget}).{still}",
                      "SS-GAN's late probe accuracy higher and its fall below the best-so-far smaller, each by more "
                      f"than the larger standard deviation over seeds, with the unconditional D falling back by "
                      f"{NO_FORGETTING:g} or more (one seed: same direction at best)"))
    ss, un, co = pick(n, "iid", "ssgan"), pick(n, "iid", "uncond"), pick(n, "iid", "cond")
    if ss and un:
        a, b = over_seeds(ss, lambda r: r["fid"]), over_seeds(un, lambda r: r["fid"])
        label = judge(a, b, higher_is_better=False)
        tail = ""
        if co:
            c = over_seeds(co, lambda r: r["fid"])
            tail = f"; conditional {c['mean']:.2f} ± {c['std']:.2f}"
        parts.append(("FID at or below the unconditional GAN's", label,
                      f"Evaluator FID: SS-GAN {a['mean']:.2f} ± {a['std']:.2f}, unconditional {b['mean']:.2f} ± "
                      f"{b['std']:.2f}{tail}.",
                      "mean FID lower by more than the larger standard deviation over seeds (one seed: same "
                      "direction at best)"))
        if co:
            near, far = abs(a["mean"] - c["mean"]), abs(b["mean"] - c["mean"])
            closer = NOT_REPRODUCED if near >= far else label if label != NOT_REPRODUCED else DIRECTION
            parts.append(("FID closer to the conditional GAN's", closer,
                          f"Distance of the mean FID to the conditional GAN's {c['mean']:.2f}: SS-GAN {near:.2f}, "
                          f"unconditional {far:.2f}.",
                          "SS-GAN's mean FID nearer the conditional one than the unconditional GAN's is; as strong as "
                          "the part above when it is nearer (same direction at best when that part is not "
                          "reproduced)"))
    return parts


def render(results: dict):
    n = results["numbers"]
    lines = []
    for setting in ("iid", "sequential"):
        rows = [r for r in n["runs"] if r["setting"] == setting and r["arm"] != "cond"]
        if not rows:
            continue
        steps = sorted({i for r in rows for i, _ in curve(r)})
        head = "iid (ordinary training)" if setting == "iid" else \
            f"sequential (classes {' → '.join('{' + ','.join(map(str, t)) + '}' for t in n['tasks'])}, switching " \
            f"every {n['switch']} iterations)"
        lines += [f"Linear-probe accuracy of D's features, {head}; mean over seeds {n['seeds']}:", "",
                  "| iteration | " + " | ".join(str(s) for s in steps) + " |",
                  "|---|" + "---|" * len(steps)]
        for arm, label in (("uncond", "unconditional"), ("ssgan", "SS-GAN")):
            arm_rows = [r for r in rows if r["arm"] == arm]
            if not arm_rows:  # a run of one arm (--arms)
                continue
            cells = [statistics.mean(dict(curve(r))[s] for r in arm_rows) for s in steps]
            lines.append(f"| {label} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
        lines.append("")
    lines += ["| setting | arm | seed | probe, 2nd half | fall below best-so-far | final rotation acc. | FID |",
              "|---|---|---|---|---|---|---|"]
    for r in n["runs"]:
        has_probe = bool(r["probe"])
        rot = sorted((int(k), v) for k, v in r["rot_acc"].items())
        lines.append(f"| {r['setting']} | {r['arm']} | {r['seed']} | "
                     f"{f'{late_mean(r):.3f}' if has_probe else '—'} | "
                     f"{f'{forgetting(r):.3f}' if has_probe else '—'} | "
                     f"{f'{rot[-1][1]:.2f}' if rot else '—'} | {r['fid']:.2f} |")
    lines += ["", f"Miniature: DCGAN G/D ({n['channels']} channels) with the non-saturating loss, batch {n['batch']}, "
              f"{n['steps']} iterations per run on 1×32×32 MNIST-5k (paper: SN-ResNet / SNDCGAN on CIFAR-10 and "
              f"ImageNet, 100k+ iterations). Probe: logistic regression on D's average-pooled final features of "
              f"1,000 labelled digits, accuracy on 1,000 others (chance 0.1); FID with the MNIST evaluator, "
              f"{n['eval_n']} samples of the EMA generator (not comparable with the paper's Inception FID)."
              + (" The conditional reference (`cond`) is the same DCGAN pair as a concat cGAN (the one-hot label "
                 "joined to z in G and to the image in D, as `cgan-mnist`), without the rotation loss."
                 if any(r["arm"] == "cond" for r in n["runs"]) else "")]
    return PAPER, "\n".join(lines), verdict_block(verdict(n))


RENDER = {"ssgan": render}


def merged(new: dict) -> dict:
    """The published results with the runs of `new` (same arm, setting and seed) replaced or added. The published
    command and date stay those of the kept runs; `command_note` names the commands of every merge so far."""
    old = load_results(SLUG)
    keys = ("steps", "every", "switch", "tasks", "channels", "batch", "eval_n")
    differ = [k for k in keys if old["numbers"][k] != new["numbers"][k]]
    if differ:
        raise SystemExit(f"--merge needs the published run's settings; these differ: {', '.join(differ)}")
    fresh = {(r["arm"], r["setting"], r["seed"]) for r in new["numbers"]["runs"]}
    kept = [r for r in old["numbers"]["runs"] if (r["arm"], r["setting"], r["seed"]) not in fresh]
    order = {(r["arm"], r["setting"], r["seed"]): i for i, r in enumerate(old["numbers"]["runs"])}
    runs = sorted(kept + new["numbers"]["runs"],
                  key=lambda r: order.get((r["arm"], r["setting"], r["seed"]), len(order)))
    arms = sorted({f"{a} ({s})" for a, s, _ in fresh})
    note = (f"the {', '.join(arms)} runs of seeds {sorted({s for *_, s in fresh})} were measured on "
            f"{new['date']} (torch {new['torch']}) with `{new['command']}`")
    earlier = old.get("command_note", "").removesuffix("; the others are from the command above")
    note = f"{earlier}; {note}" if earlier else note  # keep what earlier merges measured
    note += "; the others are from the command above"
    numbers = {**old["numbers"], "runs": runs, "seconds": old["numbers"]["seconds"]}
    return make_results(SLUG, __file__, "ssgan", TITLE, old["command"], numbers, date=old["date"],
                        command_note=note)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=None, help="iterations per run (default: the preset's)")
    ap.add_argument("--every", type=int, default=250, help="iterations between linear probes")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--settings", nargs="+", default=["iid", "sequential"], choices=["iid", "sequential"])
    ap.add_argument("--switch", type=int, default=500, help="sequential setting: iterations per task")
    ap.add_argument("--tasks", type=int, default=2, help="sequential setting: class subsets of the 10 digits")
    ap.add_argument("--no-cond", action="store_true", help="skip the conditional FID reference")
    ap.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS), help="arms to train")
    ap.add_argument("--merge", action="store_true", help="replace only these runs in docs/claims/ssgan.json")
    ap.add_argument("--out", help="write the results JSON here and print the section; leave docs/ alone")
    ap.add_argument("--render", action="store_true", help="re-render the section from docs/claims/ssgan.json")
    args = ap.parse_args()
    if args.render:
        return script_cli_render(__file__)
    torch.set_num_threads(1)
    cfg = load_config(PRESET)
    args.steps = args.steps or cfg.train.steps
    args.task_classes = [list(range(t * 10 // args.tasks, (t + 1) * 10 // args.tasks)) for t in range(args.tasks)]
    cache = tempfile.mkdtemp(prefix="claim-ssgan-ref-")
    started = time.perf_counter()
    runs = []
    for setting in args.settings:
        arms = ["uncond", "ssgan"] + (["cond"] if setting == "iid" and not args.no_cond else [])
        arms = [a for a in arms if a in args.arms]
        for seed in args.seeds:
            for arm in arms:
                runs.append(run(arm, setting, seed, args, cache))
    numbers = {"steps": args.steps, "every": args.every, "seeds": args.seeds, "switch": args.switch,
               "tasks": args.task_classes, "channels": cfg.discriminator.channels, "batch": cfg.train.batch_size,
               "eval_n": cfg.train.eval_n, "runs": runs, "seconds": time.perf_counter() - started}
    results = make_results(SLUG, __file__, "ssgan", TITLE, command_line(), numbers)
    if args.merge:
        results = merged(results)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1, ensure_ascii=False, allow_nan=False)
        print(render_section(results))
        print(f"wrote {args.out} ({numbers['seconds']:.0f}s)")
        return
    publish(results)


if __name__ == "__main__":
    main()
