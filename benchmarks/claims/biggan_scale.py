"""Two BigGAN claims (Brock, Donahue, Simonyan, "Large Scale GAN Training for High Fidelity Natural Image Synthesis",
ICLR 2019) measured on the same set of short `biggan-mnist` trainings:

* **Orthogonal regularisation makes G amenable to truncation** (§3.1): without it 16 % of their models were
  amenable to the truncation trick, with it (β = 1e-4, off-diagonal only) 60 %. Arms `ortho` (the preset:
  `method.ortho=1e-4`) and `no-ortho` (`method.ortho=0`), same everything else, `--seeds` seeds each.
* **Scale helps** (Table 1, rows 1-4): a larger batch and a wider network (channel multiplier 64 → 96) at the
  same number of updates lower FID. Arm `wide` (`generator.channels` and `discriminator.channels` ×2) against
  `ortho` on `--wide-seeds`; with `--batch2`, also arm `batch2` (batch ×2).

Every run trains the preset for `--steps` iterations (EMA from three quarters of the way) and scores its EMA
generator on 2,000 samples (the same seeded draws for every run) with the MNIST-5k evaluator, without truncation
and truncated at ψ = 0.5 (values of |z| beyond ψ re-drawn): FID, precision / recall (k = 3) and the
*class-faithful share*, the share of samples the evaluator labels as the requested class with p ≥ 0.9.

Amenable to truncation (our criterion, since the paper judges by eye): at ψ = 0.5 both the class-faithful share
and precision are no lower than without truncation (tolerance 0.01, about 1.5 binomial standard errors of a share
at n = 2,000). Truncation pulls every z toward the mode, so a well-behaved G gives more typical samples of the
requested class (both numbers rise); the artifacts the paper describes for non-amenable models (saturation,
broken textures at small thresholds) are off the data manifold, which the evaluator reads as lower confidence in
the class and lower precision.

    OMP_NUM_THREADS=1 nice -n 5 python benchmarks/claims/biggan_scale.py --steps 1500 --seeds 0 1 2 3 --wide-seeds 0 1
        # the intended size: ~8 CPU-minutes per channel-unit-4 run, about 2 CPU-hours in all
    OMP_NUM_THREADS=1 python benchmarks/claims/biggan_scale.py --steps 350 --seeds 0 1 --wide-seeds \\
        --partial /tmp/biggan-runs.jsonl                     # what was published (a loaded machine; resumable)
    OMP_NUM_THREADS=1 python benchmarks/claims/biggan_scale.py --steps 3000 --seeds 0 1 2 3 --wide-seeds --longer
        # a further budget for the orthogonal-regularisation section, beside the published runs (~12 CPU-min a run)
    python benchmarks/claims/biggan_scale.py --render        # re-render both sections from their JSON
    OMP_NUM_THREADS=1 python benchmarks/claims/biggan_scale.py --steps 20 --seeds 0 --wide-seeds 0 \\
        --out /tmp/biggan-scale-tiny                           # a smoke run: JSONs + rendered text, no docs
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from biggan import Truncated  # noqa: E402
from claims_common import (DIRECTION, NOT_REPRODUCED, REPO, REPRODUCED, command_line, compare_means,  # noqa: E402
                           load_results, make_results, publish, render_section, script_cli_render, verdict_block)

from ganforge.config import load_config  # noqa: E402
from ganforge.data import build_dataset  # noqa: E402
from ganforge.evaluation import evaluate  # noqa: E402
from ganforge.latent.truncation import truncation_sweep_resampled  # noqa: E402
from ganforge.metrics.evaluator import load_evaluator  # noqa: E402
from ganforge.metrics.features import generator_source  # noqa: E402
from ganforge.nn.orthogonal import orthogonal_penalty  # noqa: E402
from ganforge.train import Trainer  # noqa: E402
from ganforge.train.trainer import DeviceStream  # noqa: E402
from ganforge.utils.figure import save_labelled_grid  # noqa: E402

PRESET = "biggan-mnist"
ARMS = {
    "ortho": [],  # the preset: method.ortho = 1e-4
    "no-ortho": ["method.ortho=0"],
    "wide": ["generator.channels=8", "discriminator.channels=8"],
    "batch2": ["train.batch_size=64"],
}
THRESHOLDS = (None, 0.5)  # None: plain N(0, I)
JUDGE_PSI = 0.5
HALF_TRAINED = 0.5  # the verdict warns when the generators' class-faithful share is under half the real digits' 
TOLERANCE = 0.01
CONFIDENCE = 0.9
N = 2000
PICTURE = os.path.join(REPO, "docs", "img", "biggan-ortho-truncation.png")
PICTURE_THRESHOLDS = (2.0, 1.0, 0.5, 0.25)


def class_faithful_share(g, evaluator, n: int = N, seed: int = 0) -> float:
    """Share of n seeded samples (random labels, as evaluate() draws them) that the evaluator assigns to the
    requested class with probability ≥ CONFIDENCE."""
    src = generator_source(g, seed=seed)
    hits = 0
    with torch.no_grad():
        for start in range(0, n, 500):
            count = min(500, n - start)
            _, y = src.latents(start, count)
            p = torch.softmax(evaluator.logits(src(start, count)).double(), dim=1)
            conf, cls = p.max(dim=1)
            hits += int(((cls == y) & (conf >= CONFIDENCE)).sum())
    return hits / n


def real_faithful_share(data_config, evaluator) -> float:
    """The same share on the real training digits with their own labels: the ceiling for a generator."""
    ds = build_dataset(data_config)
    batch = ds.get(torch.arange(len(ds)))
    with torch.no_grad():
        p = torch.cat([torch.softmax(evaluator.logits(batch.x[i:i + 500]).double(), dim=1)
                       for i in range(0, len(ds), 500)])
    conf, cls = p.max(dim=1)
    return float(((cls == batch.y) & (conf >= CONFIDENCE)).double().mean())


def score(g, trainer, evaluator, cache_dir: str) -> list:
    rows = []
    for psi in THRESHOLDS:
        net = (g if psi is None else Truncated(g, psi)).eval()
        r = evaluate(net, trainer.config.data, "fid,pr", n=N, seed=0, dataset=trainer.dataset, cache_dir=cache_dir)
        rows.append({"psi": psi, "fid": float(r.scores["fid"]), "precision": float(r.scores["precision"]),
                     "recall": float(r.scores["recall"]), "faithful": class_faithful_share(net, evaluator)})
    return rows


def run(arm: str, seed: int, args, cache_dir: str, evaluator) -> dict:
    """Train one arm for args.steps iterations, then score its EMA generator (and keep its truncation picture)."""
    cfg = load_config(PRESET, ARMS[arm] + [f"train.steps={args.steps}", f"train.seed={seed}",
                                          f"train.ema_start={ema_start(args.steps)}", "train.progress=false",
                                          "train.eval_every=0", "train.tensorboard=false", "train.threads=1"])
    trainer = Trainer(cfg, run_dir=tempfile.mkdtemp(prefix=f"claim-biggan-{arm}-"))
    data = DeviceStream(trainer.stream, trainer.device)
    nonfinite = torch.zeros((), dtype=torch.bool)
    started = time.perf_counter()
    for _ in range(args.steps):
        trainer.iteration(data, nonfinite)
    seconds = time.perf_counter() - started
    with torch.no_grad():
        penalty = float(orthogonal_penalty(trainer.method.ortho_parameters()))
    with torch.random.fork_rng():
        g = trainer.sampling_generator()
        g.eval()
        rows = score(g, trainer, evaluator, cache_dir)
        picture, _ = truncation_sweep_resampled(g, PICTURE_THRESHOLDS, n=10, seed=0)
    out = {"arm": arm, "seed": seed, "ortho": cfg.method.ortho, "channels": cfg.generator.channels,
           "batch": cfg.train.batch_size, "rows": rows, "penalty": penalty, "diverged": bool(nonfinite),
           "seconds": seconds}
    print(json.dumps({k: v for k, v in out.items()}), flush=True)
    return out, picture.numpy()


def ema_start(steps: int) -> int:
    """EMA from three quarters of the run: these runs are short, and an average reaching back to the first,
    still unformed iterations would lag behind the live generator."""
    return steps * 3 // 4


# -- summaries from the per-run numbers (rendering and verdicts use only these) ------------------------------------
def at(row: dict, psi) -> dict:
    return next(r for r in row["rows"] if r["psi"] == psi)


def amenable(row: dict) -> bool:
    plain, cut = at(row, None), at(row, JUDGE_PSI)
    return (cut["faithful"] >= plain["faithful"] - TOLERANCE) and (cut["precision"] >= plain["precision"] - TOLERANCE)


def over_seeds(rows, fn) -> dict:
    vals = [fn(r) for r in rows]
    return {"mean": statistics.mean(vals), "std": statistics.pstdev(vals) if len(vals) > 1 else 0.0, "n": len(vals)}


def pick(n: dict, arm: str, seeds=None) -> list:
    return [r for r in n["runs"] if r["arm"] == arm and (seeds is None or r["seed"] in seeds)]


def _psi(psi) -> str:
    return "none" if psi is None else f"{psi:g}"


def _setting(n: dict) -> str:
    return (f"`{PRESET}` (MNIST-5k 32², G/D channel unit {n['channels']}, batch {n['batch']}, hinge, 2 D steps per "
            f"G step, lr 4e-4 / 4e-4), {n['steps']} iterations per run, EMA generator (decay 0.995 from iteration "
            f"{ema_start(n['steps'])}); {N} samples per threshold with random labels, the same seeded draws for every "
            f"run and threshold, scored by the MNIST-5k evaluator (not comparable with the paper's Inception numbers)")


# -- section 1: orthogonal regularisation and truncation ---------------------------------------------------------
ORTHO_SLUG = "biggan-ortho"
ORTHO_TITLE = "BigGAN: orthogonal regularisation makes G amenable to truncation (Brock et al. 2019)"
ORTHO_PAPER = ("Paper (§3.1): some large models are not amenable to truncation — truncated sampling produces "
               "saturation artifacts — and orthogonal regularisation (off-diagonal, β = 1e-4) helps: 16 % of their "
               "models were amenable without it, 60 % with it (ImageNet 128², judged by eye on samples).")


def ortho_verdict(n: dict):
    """One part per budget: the published runs, then each longer budget added with ``--longer``."""
    longer = sorted(n.get("longer", {}).items(), key=lambda kv: int(kv[0]))
    parts = [_ortho_part(n["runs"], n["real_faithful"], f"{n['steps']} iterations" if longer else None)]
    for steps, m in longer:
        parts.append(_ortho_part(m["runs"], n["real_faithful"], f"{steps} iterations"))
    return parts


def _ortho_part(runs: list, real_faithful: float, name):
    on, off = [r for r in runs if r["arm"] == "ortho"], [r for r in runs if r["arm"] == "no-ortho"]
    a_on, a_off = sum(map(amenable, on)), sum(map(amenable, off))
    s_on, s_off = a_on / len(on), a_off / len(off)
    evidence = (f"Amenable at ψ = {JUDGE_PSI:g}: {a_on} of {len(on)} models with orthogonal regularisation "
                f"({100 * s_on:.0f} %), {a_off} of {len(off)} without ({100 * s_off:.0f} %).")
    plain = statistics.mean(at(r, None)["faithful"] for r in on + off)
    if plain < HALF_TRAINED * real_faithful:
        evidence += (f" These generators are far from trained: without truncation {plain:.2f} of their samples are "
                     f"class-faithful on average, against {real_faithful:.2f} of the real digits.")
    if s_on > s_off:
        label = REPRODUCED
    else:
        label = NOT_REPRODUCED
        if s_on == s_off:
            both = {1.0: "Every model of both arms is", 0.0: "No model of either arm is"}.get(
                s_on, "The same share of models of both arms is")
            evidence += f" {both} amenable: the miniature cannot separate the arms."
    return (name, label, evidence,
            "the orthogonally regularised arm has the larger share of amenable models (amenable: class-faithful "
            f"share and precision at ψ = {JUDGE_PSI:g} each no more than {TOLERANCE:g} below their untruncated "
            "values)")


def _ortho_tables(runs: list) -> list:
    lines = ["| arm | seed | ψ | FID | precision | recall | class-faithful share | amenable |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for arm in ("ortho", "no-ortho"):
        for r in (r for r in runs if r["arm"] == arm):
            for i, t in enumerate(r["rows"]):
                mark = ("yes" if amenable(r) else "**no**") if i == 0 else ""
                lines.append(f"| {arm} | {r['seed']} | {_psi(t['psi'])} | {t['fid']:.2f} | {t['precision']:.3f} | "
                             f"{t['recall']:.3f} | {t['faithful']:.3f} | {mark} |")
    lines += ["", "| arm | amenable models | mean change at ψ = 0.5: class-faithful share | precision | FID | "
              "G's off-diagonal Gram penalty Σ‖WWᵀ⊙(1−I)‖² at the end |", "|---|---:|---:|---:|---:|---:|"]
    for arm in ("ortho", "no-ortho"):
        rows = [r for r in runs if r["arm"] == arm]
        k = sum(map(amenable, rows))

        def delta(key, rows=rows):
            return statistics.mean(at(r, JUDGE_PSI)[key] - at(r, None)[key] for r in rows)

        lines.append(f"| {arm} | {k} / {len(rows)} ({100 * k / len(rows):.0f} %) | {delta('faithful'):+.3f} | "
                     f"{delta('precision'):+.3f} | {delta('fid'):+.2f} | "
                     f"{statistics.mean(r['penalty'] for r in rows):.3g} |")
    return lines


def ortho_render(results: dict):
    n = results["numbers"]
    lines = _ortho_tables(n["runs"])
    lines += ["", f"{_setting(n)}. Arms: the preset with `method.ortho=1e-4` (BigGAN-PyTorch's `G_ortho`, the "
              f"paper's β) and with `method.ortho=0`; seeds {n['seeds']}. Class-faithful share: samples the evaluator "
              f"labels as the requested class with p ≥ {CONFIDENCE:g}. Truncated samples of seed {n['seeds'][0]} "
              f"(rows: classes 0-9; columns ψ = {', '.join(f'{t:g}' for t in PICTURE_THRESHOLDS)}; left with, right "
              f"without orthogonal regularisation): "
              f"[img/biggan-ortho-truncation.png](img/biggan-ortho-truncation.png)."]
    for steps, m in sorted(n.get("longer", {}).items(), key=lambda kv: int(kv[0])):
        lines += ["", f"A longer budget, {steps} iterations per run (EMA from iteration {ema_start(int(steps))}; "
                      f"otherwise the same; seeds {m['seeds']}; {m['date']}, `{m['command']}`):", "",
                  *_ortho_tables(m["runs"]), "",
                  f"Truncated samples of seed {m['seeds'][0]}: [img/{longer_picture(steps)}]"
                  f"(img/{longer_picture(steps)})."]
    return ORTHO_PAPER, "\n".join(lines), verdict_block(ortho_verdict(n))


def longer_picture(steps) -> str:
    return f"biggan-ortho-truncation-{int(steps)}.png"


# -- section 2: scale -----------------------------------------------------------------------------------------------
SCALE_SLUG = "biggan-scale"
SCALE_TITLE = "BigGAN: scale helps — a wider network or a larger batch lowers FID (Brock et al. 2019)"
SCALE_PAPER = ("Paper (Table 1, ImageNet 128², SA-GAN baseline FID 18.65): at the same number of updates, batch "
               "256 → 2048 lowers FID to 12.39, then widening every layer by 50 % (channel multiplier 64 → 96, "
               "2.3× the parameters) to 9.54.")


def _scale_arms(n: dict) -> list:
    return [a for a in ("wide", "batch2") if pick(n, a)]


def _ms(d: dict) -> str:
    return f"{d['mean']:.2f} ± {d['std']:.2f}" if d["n"] > 1 else f"{d['mean']:.2f} (one seed)"


def scale_verdict(n: dict):
    parts = []
    base_seeds = None
    for arm in _scale_arms(n):
        big = pick(n, arm)
        base_seeds = [r["seed"] for r in big]
        base = pick(n, "ortho", base_seeds)
        a = over_seeds(big, lambda r: at(r, None)["fid"])
        b = over_seeds(base, lambda r: at(r, None)["fid"])
        label = compare_means(a, b, higher_is_better=False)
        if label == REPRODUCED and min(a["n"], b["n"]) < 2:
            label = DIRECTION
        what = "channel unit ×2" if arm == "wide" else "batch ×2"
        parts.append((f"{what}", label,
                      f"FID {_ms(a)} against {_ms(b)} at the same "
                      f"{n['steps']} iterations (seeds {base_seeds}).",
                      "mean FID lower by more than the larger standard deviation over seeds (one seed: same "
                      "direction at best)"))
    return parts


def scale_render(results: dict):
    n = results["numbers"]
    arms = ["ortho"] + _scale_arms(n)
    seeds = sorted({r["seed"] for a in arms[1:] for r in pick(n, a)})
    lines = ["| arm | channel unit | batch | seed | FID | precision | recall | class-faithful share | seconds |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for arm in arms:
        for r in pick(n, arm, seeds):
            t = at(r, None)
            lines.append(f"| {'base' if arm == 'ortho' else arm} | {r['channels']} | {r['batch']} | {r['seed']} | "
                         f"{t['fid']:.2f} | {t['precision']:.3f} | {t['recall']:.3f} | {t['faithful']:.3f} | "
                         f"{r['seconds']:.0f} |")
    lines += ["", f"{_setting(n)}; no truncation. `base` is the `ortho` arm of the section above (the preset as it "
              f"is); `wide` doubles G's and D's channel unit, `batch2` the batch; every arm has the same number of "
              f"updates. Seconds: training time of the run on one thread of a shared 2-core CPU."]
    return SCALE_PAPER, "\n".join(lines), verdict_block(scale_verdict(n))


RENDER = {"ortho": ortho_render, "scale": scale_render}


def plot(pictures: dict, path: str) -> str:
    """Seed pictures of `ortho` and `no-ortho` side by side: 10 rows (classes), 4 thresholds per arm."""
    a, b = (torch.from_numpy(pictures[k]).view(10, len(PICTURE_THRESHOLDS), *pictures[k].shape[1:])
            for k in ("ortho", "no-ortho"))
    x = torch.cat([a, b], dim=1).flatten(0, 1)
    cols = [f"ψ {t:g}" for t in PICTURE_THRESHOLDS] * 2
    return save_labelled_grid(x, path, nrow=2 * len(PICTURE_THRESHOLDS), row_labels=[str(i) for i in range(10)],
                              col_labels=cols, title="left: orthogonal reg. 1e-4   right: none", cell=48)


def _without_partial(argv: list) -> list:
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--partial":
            skip = True
        elif not a.startswith("--partial="):
            out.append(a)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=600, help="iterations per run")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3], help="seeds of ortho / no-ortho")
    ap.add_argument("--wide-seeds", type=int, nargs="*", default=[0, 1],
                    help="seeds of the wide arm (⊆ --seeds); none: measure and publish the orthogonal-"
                         "regularisation section only")
    ap.add_argument("--batch2", action="store_true", help="also the batch ×2 arm on --wide-seeds")
    ap.add_argument("--partial", help="a JSON-lines file of finished runs: read to skip them, appended to")
    ap.add_argument("--out", help="write the two results JSONs under this folder and print the sections")
    ap.add_argument("--render", action="store_true", help="re-render both sections from docs/claims/")
    ap.add_argument("--longer", action="store_true",
                    help="add these --steps to the published orthogonal-regularisation section as a further budget "
                         "(its own table and verdict part; the published runs stay)")
    args = ap.parse_args()
    if args.render:
        return script_cli_render(__file__)
    published = None
    if args.longer:
        if args.wide_seeds or args.batch2 or args.out:
            raise SystemExit("--longer adds ortho / no-ortho runs only: give --wide-seeds with no seeds, no --batch2 "
                             "and no --out")
        published = load_results(ORTHO_SLUG)
        if args.steps == published["numbers"]["steps"]:
            raise SystemExit(f"--longer: {args.steps} iterations is the published budget; give another --steps")
    if not set(args.wide_seeds) <= set(args.seeds):
        raise SystemExit("--wide-seeds must be a subset of --seeds (the scale arms are compared with those runs)")
    torch.set_num_threads(1)
    cfg = load_config(PRESET)
    evaluator = load_evaluator("mnist5k")
    cache = tempfile.mkdtemp(prefix="claim-biggan-ref-")
    plan = [(arm, s) for s in args.seeds for arm in ("ortho", "no-ortho")]
    plan += [(arm, s) for arm in ["wide"] + (["batch2"] if args.batch2 else []) for s in args.wide_seeds]
    done, pictures = {}, {}
    pic_dir = (args.partial + ".pictures") if args.partial else tempfile.mkdtemp()
    os.makedirs(pic_dir, exist_ok=True)
    if args.partial and os.path.isfile(args.partial):
        for line in open(args.partial):
            r = json.loads(line)
            if r["steps"] == args.steps:
                done[(r["arm"], r["seed"])] = r["run"]
    started = time.perf_counter()
    for arm, seed in plan:
        pic = os.path.join(pic_dir, f"{arm}-{seed}.npy")
        if (arm, seed) not in done:
            row, picture = run(arm, seed, args, cache, evaluator)
            np.save(pic, picture)
            done[(arm, seed)] = row
            if args.partial:
                with open(args.partial, "a") as f:
                    f.write(json.dumps({"steps": args.steps, "arm": arm, "seed": seed, "run": row}) + "\n")
        if seed == args.seeds[0] and arm in ("ortho", "no-ortho"):
            pictures[arm] = np.load(pic)
    numbers = {"steps": args.steps, "seeds": args.seeds, "wide_seeds": args.wide_seeds,
               "channels": cfg.generator.channels, "batch": cfg.train.batch_size, "n": N,
               "real_faithful": real_faithful_share(cfg.data, evaluator),
               "runs": [done[k] for k in plan], "seconds": time.perf_counter() - started}
    out_dir = args.out
    command = command_line(_without_partial(sys.argv))  # the partial file resumes runs; it changes no number
    if published is not None:
        plot(pictures, os.path.join(os.path.dirname(PICTURE), longer_picture(args.steps)))
        published["numbers"].setdefault("longer", {})[str(args.steps)] = {
            "seeds": args.seeds, "command": command, "date": datetime.date.today().isoformat(),
            "runs": [done[k] for k in plan], "seconds": numbers["seconds"]}
        publish(published)
        return None
    picture = os.path.join(out_dir, "biggan-ortho-truncation.png") if out_dir else PICTURE
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
    plot(pictures, picture)
    sections = [(ORTHO_SLUG, "ortho", ORTHO_TITLE)] + ([(SCALE_SLUG, "scale", SCALE_TITLE)] if args.wide_seeds else [])
    for slug, claim, title in sections:
        results = make_results(slug, __file__, claim, title, command, numbers)
        if out_dir:
            with open(os.path.join(out_dir, f"{slug}.json"), "w") as f:
                json.dump(results, f, indent=1, ensure_ascii=False, allow_nan=False)
            print(render_section(results))
        else:
            publish(results)
    print(f"done in {numbers['seconds']:.0f}s", flush=True)


if __name__ == "__main__":
    main()
