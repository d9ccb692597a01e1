"""Claims of pix2pix (Isola, Zhu, Zhou, Efros, "Image-to-Image Translation with Conditional Adversarial
Networks", CVPR 2017), in miniature: labels -> scene on `shapes-labels` (32², the Cityscapes labels -> photo task of
§4.2), scored by the FCN-score with the shipped `scenes` segmenter on held-out scenes (another data seed).

  losses   Table 1: the objective ablation — L1, GAN (unconditional D), cGAN, L1+GAN, L1+cGAN — per-pixel
           accuracy, per-class accuracy and class IoU of the segmenter on the translations.
  patches  Table 3: the PatchGAN size ablation with L1+cGAN — 1×1 (PixelGAN), 16×16 (our mid-size patch: half
           the 32-pixel image, as 70×70 is mid-size at 256²), and a patch covering the full image (34×34 ≥ 32;
           the paper's 286×286).

Miniature: U-Net ngf 16 (5 levels, dropout on at test time as the paper), PatchGAN 16 channels, batch 8
instead of 1, 2,000 training scenes, the same number of iterations for every row, one or more training seeds
(``--seeds``: each row's scores are the mean over seeds, the verdicts compare means against the seed spread); FID in
the shipped shapes evaluator's features as a realism check beside the FCN-score.

    OMP_NUM_THREADS=1 python benchmarks/claims/pix2pix.py all [--steps 1000] [--seeds 0 1] [--cache DIR [--train-only]]
    OMP_NUM_THREADS=1 python benchmarks/claims/pix2pix.py budget --steps 3000   # cGAN vs L1+cGAN only, printed
    python benchmarks/claims/pix2pix.py --render
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
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from claims_common import (DIRECTION, NOT_REPRODUCED, REPRODUCED, command_line, compare_means,  # noqa: E402
                           make_results, publish, script_cli_render, verdict_block)

from ganforge.config import load_config  # noqa: E402
from ganforge.data import build_dataset  # noqa: E402
from ganforge.train import Trainer  # noqa: E402
from ganforge.translation_eval import evaluate_translation  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOSS_TITLE = "pix2pix: the objective ablation (L1, GAN, cGAN, L1+GAN, L1+cGAN)"
PATCH_TITLE = "pix2pix: PatchGAN size (1×1, 16×16, full image)"

# Isola et al. 2017, Cityscapes labels -> photo, FCN-scores (per-pixel acc, per-class acc, class IoU).
# Per-pixel accuracies as in the reference notes (next-wave.md §1); per-class and IoU from the paper's Tables
# 1 and 3 as remembered (not re-checked against the PDF here).
PAPER_LOSSES = {"l1": (0.42, 0.15, 0.11), "gan": (0.22, 0.05, 0.01), "cgan": (0.57, 0.22, 0.16),
                "l1_gan": (0.64, 0.20, 0.15), "l1_cgan": (0.66, 0.23, 0.17), "real": (0.80, 0.26, 0.21)}
PAPER_PATCHES = {"p1": (0.39, 0.15, 0.10), "p16": (0.65, 0.21, 0.17), "p70": (0.66, 0.23, 0.17),
                 "pfull": (0.42, 0.16, 0.11)}

LOSS_ROWS = {  # id -> (label, method overrides)
    "l1": ("L1", ["method.gan=false"]),
    "gan": ("GAN (D sees B only)", ["method.l1=false", "method.conditional=false"]),
    "cgan": ("cGAN", ["method.l1=false"]),
    "l1_gan": ("L1+GAN", ["method.conditional=false"]),
    "l1_cgan": ("L1+cGAN", []),
}
PATCH_ROWS = {  # id -> (label, n_layers, paper row it stands for)
    "p1": ("1×1 (PixelGAN, n_layers 0)", 0, "1×1"),
    "p16": ("16×16 (n_layers 1, the preset's)", 1, "16×16 / 70×70"),
    "pfull": ("34×34 ≥ image (n_layers 2)", 2, "286×286"),
}
SCORES = ("pixel_acc", "class_acc", "class_iou")


def base(steps: int, seed: int):
    return ["data.n=2000", "generator.ngf=16", "discriminator.channels=16", "train.batch_size=8",
            f"train.steps={steps}", f"train.seed={seed}", "train.progress=false", "train.tensorboard=false",
            "train.eval_every=0", "train.checkpoint_every=1000000", "train.sample_every=1000000",
            "train.threads=1"]


def held_out(n: int):
    cfg = load_config("pix2pix-shapes-labels", [f"data.n={n}", "data.seed=1"]).data
    return cfg, build_dataset(cfg)


def run(key, overrides, args, data_cfg, data, seed: int) -> dict:
    """Train one row with one seed (or load its generator from --cache, written by an earlier run of the same
    settings)."""
    cfg = load_config("pix2pix-shapes-labels", base(args.steps, seed) + overrides)
    cached = os.path.join(args.cache, f"{key}-{args.steps}-{seed}") if args.cache else None  # .safetensors + .json
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, run_dir=tmp)
        if cached and os.path.exists(cached + ".safetensors"):
            trainer.method.generator.load_state_dict(load_file(cached + ".safetensors"))
            seconds = json.load(open(cached + ".json"))["seconds"]
        else:
            trainer.fit()
            seconds = time.perf_counter() - t0
            if cached:
                os.makedirs(args.cache, exist_ok=True)
                save_file({k: v.contiguous() for k, v in trainer.method.generator.state_dict().items()},
                          cached + ".safetensors")
                with open(cached + ".json", "w") as f:
                    json.dump({"seconds": seconds}, f)
    if args.train_only:
        print(f"{key}: trained in {seconds:.0f} s, kept in {cached}", flush=True)
        return {}
    g = trainer.method.generator.eval()  # dropout stays on (test_dropout), BN uses running statistics
    torch.manual_seed(1234)  # the dropout noise of the scored translations
    res = evaluate_translation(g, data_cfg, "fcn,fid", dataset=data, n=args.eval_n)
    s = res.scores
    with torch.no_grad():
        b = data.get(torch.arange(8))
        torch.manual_seed(99)
        pictures = g(b.x).clamp(-1, 1)
    out = {k: s[f"fcn_{k}"] for k in SCORES}
    out.update({"real_" + k: s[f"fcn_real_{k}"] for k in SCORES})
    out.update({"fid": s["fid"], "seconds": seconds, "pictures": pictures})
    return out


def run_seeds(key, overrides, args, data_cfg, data) -> dict:
    """One row over every seed of --seeds: the mean of each score, the per-seed scores under "seeds" and their
    standard deviation under "std" (0 for one seed); the pictures of the first seed."""
    per = {s: run(key, overrides, args, data_cfg, data, s) for s in args.seeds}
    if args.train_only:
        return {}
    first = per[args.seeds[0]]
    out = {k: sum(r[k] for r in per.values()) / len(per) for k in first if k != "pictures"}
    out["seeds"] = {str(s): {k: r[k] for k in SCORES + ("fid",)} for s, r in per.items()}
    out["std"] = {k: statistics.stdev(r[k] for r in per.values()) if len(per) > 1 else 0.0
                  for k in SCORES + ("fid",)}
    out["pictures"] = first["pictures"]
    return out


def picture(rows, labels, data, path):
    """Columns: input | each row's translation | target, 8 held-out samples."""
    from ganforge.utils.images import save_grid

    b = data.get(torch.arange(8))
    cols = [b.x] + [rows[k]["pictures"] for k in labels] + [b.target]
    save_grid(torch.stack(cols, 1).flatten(0, 1), path, nrow=len(cols))
    return os.path.relpath(path, REPO)


def strip(rows):
    return {k: {kk: vv for kk, vv in v.items() if kk != "pictures"} for k, v in rows.items()}


def claim_losses(args, data_cfg, data):
    rows = {}
    for key, (label, ov) in LOSS_ROWS.items():
        rows[key] = run_seeds(key, ov, args, data_cfg, data)
        print(key, {k: round(v, 3) for k, v in strip({key: rows[key]})[key].items() if isinstance(v, float)},
              flush=True)
    if args.train_only:
        return rows
    fig = picture(rows, list(LOSS_ROWS), data, os.path.join(REPO, "docs", "img", "pix2pix-losses.png"))
    numbers = {"rows": strip(rows), "steps": args.steps, "eval_n": args.eval_n, "seeds": args.seeds, "figure": fig}
    publish(make_results("pix2pix-losses", __file__, "losses", LOSS_TITLE, command_line(), numbers))
    return rows


def claim_patches(args, data_cfg, data, shared=None):
    rows = {}
    for key, (label, n_layers, _) in PATCH_ROWS.items():
        if key == "p16" and shared is not None:
            rows[key] = shared
        else:
            rows[key] = run_seeds(key, [f"discriminator.n_layers={n_layers}"], args, data_cfg, data)
        print(key, {k: round(v, 3) for k, v in strip({key: rows[key]})[key].items() if isinstance(v, float)},
              flush=True)
    if args.train_only:
        return
    fig = picture(rows, list(PATCH_ROWS), data, os.path.join(REPO, "docs", "img", "pix2pix-patches.png"))
    numbers = {"rows": strip(rows), "steps": args.steps, "eval_n": args.eval_n, "seeds": args.seeds, "figure": fig}
    publish(make_results("pix2pix-patches", __file__, "patches", PATCH_TITLE, command_line(), numbers))


# -- rendering ------------------------------------------------------------------------------------------------------
def seeds_of(n):
    return n.get("seeds", [n.get("seed", 0)])


def score(n, key, what="class_iou"):
    """{"mean", "std"} of one row's score over the seeds (std 0 for one seed)."""
    r = n["rows"][key]
    return {"mean": r[what], "std": r.get("std", {}).get(what, 0.0)}


def fmt(d, f="{:.3f}"):
    return f.format(d["mean"]) + (f" ± {f.format(d['std'])}" if d["std"] else "")


def table(n, labels, paper, paper_name=None):
    multi = len(seeds_of(n)) > 1
    head = ("| objective | per-pixel acc | per-class acc | class IoU | "
            + ("class IoU per seed | " if multi else "") + "FID (shapes features) | paper (pixel / class / IoU) |")
    rows = [head, "|---|---:|---:|---:|" + ("---|" if multi else "") + "---:|---|"]
    for key, label in labels.items():
        r = n["rows"][key]
        p = paper.get(key)
        per = (" / ".join(f"{r['seeds'][str(s)]['class_iou']:.3f}" for s in seeds_of(n)) + " | ") if multi else ""
        rows.append(f"| {label} | {r['pixel_acc']:.3f} | {r['class_acc']:.3f} | {fmt(score(n, key))} | {per}"
                    f"{fmt(score(n, key, 'fid'), '{:.1f}')} | {' / '.join(f'{v:.2f}' for v in p) if p else '–'} |")
    any_row = next(iter(n["rows"].values()))
    rows.append(f"| real targets (ceiling) | {any_row['real_pixel_acc']:.3f} | {any_row['real_class_acc']:.3f} | "
                f"{any_row['real_class_iou']:.3f} | " + ("– | " if multi else "") + "– | "
                f"{' / '.join(f'{v:.2f}' for v in PAPER_LOSSES['real'])} |")
    return rows


def common_note(n):
    seeds = seeds_of(n)
    if len(seeds) > 1:
        how = (f"training seeds {', '.join(map(str, seeds))}; scores are means over the seeds, ± the standard "
               f"deviation between them")
        tail = "The picture shows the first seed's translations."
    else:
        how = f"one training seed {seeds[0]}"
        tail = ("One seed: differences of a few points are within what a second training seed could change (not "
                "measured).")
    return (f"{n['steps']} iterations per row (batch 8, {how}), FCN-score of the shipped `scenes` segmenter on "
            f"{n['eval_n']} held-out scenes (data seed 1), translations in eval mode with dropout on; FID in the "
            f"shipped shapes evaluator's features against the held-out targets. Picture (input | rows in table "
            f"order | target): `{n['figure']}`. {tail}")


def above_all(n, key, others, what="class_iou", higher=True):
    """REPRODUCED when key beats every other row by more than the seed spread, DIRECTION when it beats each by less
    than that for some, NOT_REPRODUCED when some row is better."""
    labels = [compare_means(score(n, key, what), score(n, o, what), higher) for o in others]
    if all(lb == REPRODUCED for lb in labels):
        return REPRODUCED
    return NOT_REPRODUCED if NOT_REPRODUCED in labels else DIRECTION


def listing(n, names, what="class_iou", f="{:.3f}"):
    return ", ".join(f"{names[k]} {fmt(score(n, k, what), f)}" for k in n["rows"] if k in names)


SPREAD = "by more than the larger seed standard deviation (by less: same direction)"


def verdict_losses(n):
    names = {k: v[0] for k, v in LOSS_ROWS.items()}
    rest = [k for k in LOSS_ROWS if k != "l1_cgan"]
    parts = [("L1+cGAN best", above_all(n, "l1_cgan", rest), f"class IoU: {listing(n, names)}.",
              f"L1+cGAN's class IoU above every other row's {SPREAD}")]
    others = [k for k in LOSS_ROWS if k != "gan"]
    lowest = min(others, key=lambda k: n["rows"][k]["class_iou"])
    parts.append(("unconditional GAN alone worst", above_all(n, "gan", others, higher=False),
                  f"GAN {fmt(score(n, 'gan'))} against the others' lowest {fmt(score(n, lowest))} "
                  f"({names[lowest]}).", f"GAN (D sees B only, no L1) has the lowest class IoU, as the paper's "
                  f"0.01, {SPREAD}"))
    parts.append(("cGAN above L1", compare_means(score(n, "cgan"), score(n, "l1")),
                  f"cGAN {fmt(score(n, 'cgan'))} vs L1 {fmt(score(n, 'l1'))}.",
                  f"cGAN's class IoU above L1's (paper 0.16 vs 0.11) {SPREAD}"))
    parts.append(("L1 alone blurry (realism, FID)", above_all(n, "l1", ["cgan", "l1_cgan"], "fid", higher=True),
                  f"FID: {listing(n, {k: names[k] for k in ('l1', 'cgan', 'l1_cgan')}, 'fid', '{:.1f}')}.",
                  f"L1's FID above cGAN's and L1+cGAN's {SPREAD}; the paper shows this in Fig. 4 (L1 blurry, the GAN "
                  f"terms sharp), not as a number"))
    return parts


def render_losses(results):
    n = results["numbers"]
    paper = ("Table 1 (Cityscapes labels → photo, FCN-score): L1+cGAN is best (per-pixel 0.66), L1+GAN next "
             "(0.64), cGAN alone 0.57, L1 alone 0.42 (blurry), an unconditional GAN alone 0.22 (it ignores the "
             "input: mode collapse to outputs unrelated to the labels).")
    measured = "\n".join(table(n, {k: v[0] for k, v in LOSS_ROWS.items()}, PAPER_LOSSES) + ["", common_note(n)])
    return paper, measured, verdict_block(verdict_losses(n))


def verdict_patches(n):
    def pair(other):
        return (f"class IoU 16×16 {fmt(score(n, 'p16'))} vs {fmt(score(n, other))}; FID "
                f"{fmt(score(n, 'p16', 'fid'), '{:.1f}')} vs {fmt(score(n, other, 'fid'), '{:.1f}')}.")

    return [("mid-size patch above 1×1 (PixelGAN)", compare_means(score(n, "p16"), score(n, "p1")), pair("p1"),
             f"the 16×16 patch's class IoU above the 1×1's {SPREAD}"),
            ("mid-size patch above the full image", compare_means(score(n, "p16"), score(n, "pfull")), pair("pfull"),
             f"the 16×16 patch's class IoU above the full-image patch's (34×34) {SPREAD}")]


def render_patches(results):
    n = results["numbers"]
    paper = ("Table 3 (Cityscapes, L1+cGAN): 1×1 0.39 / 0.15 / 0.10, 16×16 0.65 / 0.21 / 0.17, 70×70 0.66 / 0.23 / "
             "0.17, 286×286 0.42 / 0.16 / 0.11 (per-pixel / per-class / IoU): a mid-size patch is best; the "
             "full-image ImageGAN is harder to train and scores lower.")
    labels = {k: f"{v[0]} ↔ paper {v[2]}" for k, v in PATCH_ROWS.items()}
    paper_rows = {"p1": PAPER_PATCHES["p1"], "p16": PAPER_PATCHES["p70"], "pfull": PAPER_PATCHES["pfull"]}
    measured = "\n".join(table(n, labels, paper_rows) + ["", common_note(n)])
    return paper, measured, verdict_block(verdict_patches(n))


RENDER = {"losses": render_losses, "patches": render_patches}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("claim", nargs="?", choices=["losses", "patches", "all", "budget"],
                    help="budget: only the cGAN and L1+cGAN rows, printed (a check of the budget as the cause of "
                         "the losses verdict; docs/claims.md is left alone)")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds (scores: mean over them)")
    ap.add_argument("--eval-n", type=int, default=500)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cache", default="", help="folder keeping each row's trained generator (reused if present)")
    ap.add_argument("--train-only", action="store_true", help="train and keep the rows in --cache, score nothing")
    ap.add_argument("--render", action="store_true")
    args = ap.parse_args()
    if args.render:
        return script_cli_render(__file__)
    if args.claim is None:
        ap.error("a claim (or --render) is required")
    if args.train_only and not args.cache:
        ap.error("--train-only needs --cache")
    torch.set_num_threads(args.threads)
    data_cfg, data = held_out(args.eval_n)
    shared = None
    if args.claim == "budget":
        for key in ("l1_cgan", "cgan"):
            r = run_seeds(key, LOSS_ROWS[key][1], args, data_cfg, data)
            if r:
                print(f"{LOSS_ROWS[key][0]} at {args.steps} iterations, seeds {args.seeds}: " + ", ".join(
                    f"{k} {r[k]:.3f}" for k in SCORES + ("fid",)), flush=True)
        return
    if args.claim in ("losses", "all"):
        shared = claim_losses(args, data_cfg, data)["l1_cgan"]
    if args.claim in ("patches", "all"):
        claim_patches(args, data_cfg, data, shared)


if __name__ == "__main__":
    main()
