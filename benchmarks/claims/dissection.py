"""Claims of GAN Dissection (Bau et al., "GAN Dissection: Visualizing and Understanding Generative Adversarial
Networks", ICLR 2019, arXiv 1811.10597), in miniature on a DCGAN trained on the procedural shapes scenes and the
shipped shapes segmenter:

1. units specialise: the share of interpretable units per layer (IoU > 0.05 and IQR > 0.01, netdissect's rule)
   and the best IoU per class (paper Fig. 4: layer4 of a living-room ProGAN, 245 of 512 units);
2. ablating the top-20 units of a class removes most of its pixels while the other classes change little (paper
   Fig. 6/ablateeval, ProGAN churches: trees 0.60, domes 0.77 of class pixels removed);
3. inserting those units inside a region makes the class appear there and not elsewhere (ACE inside vs outside);
4. ablating the worst "artifact" units improves FID (paper §4.3, LSUN bedrooms; a random 20-unit ablation does
   not).

    python benchmarks/claims/dissection.py --run runs/NAME [--layer layer2] [--n 1000]

RUN is a `dcgan-shapes` run (its exact training command is written into the section with --train-command).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from claims_common import REPO, write_claims_section  # noqa: E402

import ganforge  # noqa: E402
from ganforge.api import load_discriminator  # noqa: E402
from ganforge.data import build_dataset  # noqa: E402
from ganforge.dissect import (ace, discriminator_fake_score, dissect, insertion_values, learn_alpha,  # noqa: E402
                              load_segmenter, rank_units_by_ace, repair_fid, unit_fid, unit_score_effects)
from ganforge.dissect.intervene import class_fractions  # noqa: E402
from ganforge.dissect.report import unit_strip, _top_images  # noqa: E402
from ganforge.metrics.evaluator import load_evaluator  # noqa: E402
from ganforge.metrics.fid import gaussian_stats  # noqa: E402
from ganforge.utils.images import make_grid, save_png  # noqa: E402

PICTURES = os.path.join(REPO, "docs", "img")
SHAPES = ("circle", "square", "triangle")
PAPER_REMOVED = "trees 0.60, domes 0.77 (doors 0.53, windows 0.47, churches; conference-room person 0.61)"


def real_stats(config, extractor, n: int):
    data = build_dataset(config.data)
    feats = torch.cat([extractor.features(data.get(slice(i, min(i + 500, n))).x).double()
                       for i in range(0, min(n, len(data)), 500)])
    return gaussian_stats(feats)


def ablation_table(G, seg, layer, rankings, base, n, seed, top):
    """Per class and ranking: class pixel fractions after ablating its top units everywhere."""
    rows = {}
    for cls, ranks in rankings.items():
        c = list(seg.class_names).index(cls)
        for name, order in ranks.items():
            after = class_fractions(G, seg, layer, order[:top], n=n, seed=seed)
            others = [k for k in range(len(base)) if k != c and k != 0]
            rows[(cls, name)] = {
                "removed": float(1 - after[c] / base[c]),
                # pooled: the other shape classes' pixels together (a rare class alone would be noise)
                "other_shapes_change": float(after[others].sum() / base[others].sum() - 1),
                "background_change": float(after[0] / base[0] - 1),
                "units": order[:top]}
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", help="a dcgan-shapes run directory")
    ap.add_argument("--numbers", help="write the section from a numbers.json of an earlier run (no recomputing)")
    ap.add_argument("--layer", default="layer2", help="main layer for interventions (8×8, like the paper's layer4)")
    ap.add_argument("--n", type=int, default=1000, help="samples for dissection and for each measurement")
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--fid-n", type=int, default=2000)
    ap.add_argument("--raw-weights", action="store_true", help="the raw generator instead of its EMA copy")
    ap.add_argument("--train-command", default="", help="how RUN was trained (written into the section)")
    ap.add_argument("--out", default=os.path.join(REPO, "runs", "claims", "dissection"))
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if args.numbers:
        with open(args.numbers) as f:
            return write_section(args, json.load(f))
    if not args.run:
        ap.error("--run or --numbers is required")
    torch.set_num_threads(1)
    t0 = time.time()
    loaded = ganforge.load(args.run, ema=not args.raw_weights)
    G = loaded.generator
    seg = load_segmenter("shapes")
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(PICTURES, exist_ok=True)

    # 1. dissection of every layer
    layers = {}
    for name in G.feature_layers():
        layers[name] = dissect(G, seg, name, n=args.n, top_k=6)
        print(name, layers[name].summary(), flush=True)
    main = layers[args.layer]
    U = main.num_units

    # 2. ablation of the top units of each shape class, by three rankings: IoU, single-unit ACE, learned α
    base = class_fractions(G, seg, n=args.n, seed=11)
    rankings = {}
    for cls in SHAPES:
        if base[list(seg.class_names).index(cls)] < 1e-3:
            continue
        k = insertion_values(G, seg, args.layer, cls, n=args.n)
        by_ace = rank_units_by_ace(G, seg, args.layer, cls, value=k, n=200).argsort(descending=True).tolist()
        iou = main.iou_matrix()[:, list(seg.class_names).index(cls)]
        alpha = learn_alpha(G, seg, args.layer, cls, value=k, n=400, steps=200, init=iou / iou.max().clamp_min(1e-8))
        rankings[cls] = {"iou": main.ranking(cls), "ace": by_ace,
                         "alpha": alpha.argsort(descending=True).tolist()}
        print(cls, "ranked", flush=True)
    table = ablation_table(G, seg, args.layer, rankings, base, args.n, 11, args.top)
    table_small = ablation_table(G, seg, args.layer, rankings, base, args.n, 11, max(1, round(U * 20 / 512)))

    # 3. insertion inside a box (the top-left quarter) with the class-conditioned constant
    box = (0, 0, 16, 16)
    inserts = {}
    for cls in rankings:
        best = max(("iou", "ace", "alpha"), key=lambda r: table[(cls, r)]["removed"])
        units = rankings[cls][best][: args.top]
        inserts[cls] = dict(ace(G, seg, args.layer, units, cls, region=box, n=args.n), ranking=best)
        print(cls, "insert", inserts[cls]["inside"], inserts[cls]["outside"], flush=True)

    # 4. artifact units: by the discriminator's fake score and by per-unit FID; FID before/after ablating them
    extractor = load_evaluator("shapes")
    stats = real_stats(loaded.config, extractor, 5000)
    repairs, orders = {}, {}
    try:
        D = load_discriminator(args.run)
        orders["D fake score"] = unit_score_effects(G, args.layer, discriminator_fake_score(D), n=500)
    except ganforge.errors.GanforgeError as e:  # a run without a discriminator
        print("no discriminator:", e)
    orders["per-unit FID"] = unit_fid(G, args.layer, extractor, stats, n=args.fid_n, top=args.fid_n // 10)
    small = max(1, round(U * 20 / 512))  # the paper's share: 20 of 512 units
    for name, scores in orders.items():
        for k in sorted({small, args.top}):
            repairs[f"{name}, top {k}"] = repair_fid(G, args.layer, scores.argsort(descending=True)[:k].tolist(),
                                                     extractor, stats, n=args.fid_n)
    for name, r in repairs.items():
        print("repair", name, r, flush=True)

    # pictures: top units of each class with regions outlined; ablation before/after
    strips = []
    for cls in SHAPES:
        for u in main.ranking(cls)[:2]:
            images, acts = _top_images(G, main, u)
            strips.append(unit_strip(images, acts, main.units[u].threshold, scale=3))
    width = max(s.shape[1] for s in strips)
    sheet = np.concatenate([np.pad(s, ((2, 2), (0, width - s.shape[1]), (0, 0)), constant_values=255)
                            for s in strips])
    units_png = save_png(sheet, os.path.join(PICTURES, "dissection-units.png"), min_size=256)
    edits = []
    for cls in rankings:
        before, after = ganforge.intervene(G, args.layer, table[(cls, inserts[cls]["ranking"])]["units"], "ablate",
                                           n=8, seed=21)
        edits += [before, after]
    ablate_png = save_png(make_grid(torch.cat(edits), nrow=8), os.path.join(PICTURES, "dissection-ablate.png"))
    numbers = {"layers": {k: dict(v.summary(), feature_size=v.feature_size) for k, v in layers.items()},
               "base_fractions": base.tolist(), "units": U, "steps": int(loaded.checkpoint.rstrip("/").rsplit("-", 1)[-1]),
               "pictures": [units_png, ablate_png],
               "ablation": {f"{c}/{r}": v for (c, r), v in table.items()},
               "ablation_small": {f"{c}/{r}": v for (c, r), v in table_small.items()},
               "insertion": inserts, "repair": repairs, "seconds": round(time.time() - t0, 1), "n": args.n,
               "fid_n": args.fid_n}
    with open(os.path.join(args.out, "numbers.json"), "w") as f:
        json.dump(numbers, f, indent=1)
    print(json.dumps(numbers)[:3000])
    if not args.no_write:
        write_section(args, numbers)


def write_section(args, numbers):
    """docs/claims.md section from the numbers (also: --numbers FILE rewrites it without recomputing)."""
    steps, U, seconds, pictures = numbers["steps"], numbers["units"], numbers["seconds"], numbers["pictures"]
    base = torch.tensor(numbers["base_fractions"])
    table = {tuple(k.split("/")): v for k, v in numbers["ablation"].items()}
    table_small = {tuple(k.split("/")): v for k, v in numbers["ablation_small"].items()}
    inserts, repairs = numbers["insertion"], numbers["repair"]
    lines = ["| layer | featuremap | units | interpretable | share | best IoU: background / circle / square / "
             "triangle | best colour IoU | interpretable units by label |", "|---|---|---:|---:|---:|---|---|---|"]
    for name, s in numbers["layers"].items():
        b = s["best_per_class"]
        colours = [c for c in b if c not in ("background",) + SHAPES]
        best_colour = max(colours, key=lambda c: b[c]["iou"]) if colours else None
        by_label = ", ".join(f"{c} {k}" for c, k in s["interpretable_per_class"].items() if k) or "none"
        lines.append(f"| {name} | {'×'.join(map(str, s['feature_size']))} | {s['units']} | {s['interpretable']} | "
                     f"{100 * s['share_interpretable']:.0f}% | "
                     + " / ".join(f"{b[c]['iou']:.2f}" for c in ("background",) + SHAPES)
                     + (f" | {b[best_colour]['iou']:.2f} ({best_colour})" if best_colour else " | —")
                     + f" | {by_label} |")
    small = max(1, round(U * 20 / 512))
    lines += ["", f"Ablating the top units of a class in {args.layer} ({U} units) everywhere; share of the class's "
              f"pixels removed, and the relative change of the other shape classes' pixels (pooled; base fractions "
              f"background/circle/square/triangle = " + " / ".join(f"{v:.3f}" for v in base.tolist()) + "):", "",
              f"| class | ranking | removed, top {args.top} | other shapes change, top {args.top} | removed, top "
              f"{small} ({small}/{U} ≈ 20/512) | other shapes change, top {small} |", "|---|---|---:|---:|---:|---:|"]
    for (cls, r), v in table.items():
        w = table_small[(cls, r)]
        lines.append(f"| {cls} | {r} | {v['removed']:.2f} | {v['other_shapes_change']:+.2f} | {w['removed']:.2f} | "
                     f"{w['other_shapes_change']:+.2f} |")
    lines += ["", f"Inserting the top {args.top} units of a class (best ranking above) with the class-conditioned "
              f"mean activation, inside the top-left 16×16 box only; class pixel fraction gained inside vs "
              f"outside the box, and ACE (inserted − ablated) inside vs outside:", "",
              "| class | gain inside | gain outside | ACE inside | ACE outside |", "|---|---:|---:|---:|---:|"]
    for cls, v in inserts.items():
        lines.append(f"| {cls} | {v['inside']['insert_gain']:+.3f} | {v['outside']['insert_gain']:+.3f} | "
                     f"{v['inside']['ace']:+.3f} | {v['outside']['ace']:+.3f} |")
    lines += ["", f"Artifact repair: FID (shapes-evaluator features, {numbers['fid_n']} samples vs 5,000 real) before and "
              f"after ablating the units that most raise the artifact score (the top {max(1, round(U * 20 / 512))} = "
              f"the paper's 20/512 share, and the top {args.top}), and after as many random units (mean of 3 "
              f"draws):", "", "| artifact ranking | FID before | FID after | FID random units |",
              "|---|---:|---:|---:|"]
    for name, r in repairs.items():
        lines.append(f"| {name} | {r['fid_before']:.2f} | {r['fid_after']:.2f} | {r['fid_random']:.2f} |")
    rel = [os.path.relpath(p, os.path.join(REPO, "docs")) for p in pictures]
    lines += ["", f"Generator: {steps} iterations" + (f" (`{args.train_command}`)" if args.train_command else "")
              + f", {'raw' if args.raw_weights else 'EMA (if any)'} weights; {numbers['n']} samples per measurement; "
              f"{seconds / 60:.0f} min on one shared CPU thread. Pictures: "
              f"[top units per class]({rel[0]}) (two best units of circle, square, triangle; region above the "
              f"threshold outlined), [ablations]({rel[1]}) (row pairs: before / after ablating a class's top "
              f"units).", "", VERDICT]
    write_claims_section(
        "GAN Dissection: units draw objects; ablation, insertion, artifact repair (Bau et al. 2019)",
        "Paper (ICLR 2019, ProGAN on LSUN scenes, layer4 = 512 units at 8×8, UPerNet segmenter): many units match "
        "object classes (living room layer4: 245 of 512 units interpretable, best IoUs ~0.3); ablating the top-20 "
        f"units of a class removes {PAPER_REMOVED} of its pixels; inserting them adds the class where the context "
        "allows; ablating 20 manually or per-unit-FID flagged artifact units lowers FID on bedrooms (reported "
        "≈43 → ≈27, random 20 units ≈ unchanged).",
        "\n".join(lines),
        f"python benchmarks/claims/dissection.py --run RUN --n {numbers['n']} --fid-n {numbers['fid_n']}"
        + (" --raw-weights" if args.raw_weights else ""))


# What the numbers mean, written after looking at the last run's numbers and pictures (update when re-running).
VERDICT = (
    "Verdict on the 7,500-iteration seed-0 run (n = 500). **Units specialise, but by colour, not by shape**: "
    "every interpretable unit (16% of layer1, 9% of layer2, 8% of layer3) is labelled by an object colour "
    "(mostly blue and magenta); no unit passes the IoU/IQR rule for a shape class, whose best IoUs stay at "
    "0.13-0.18 (triangle 0.05): this DCGAN draws rounded blobs whose shape the segmenter often reads as circle or "
    "square from one sample to the next, and units that track \"an object here\" overlap each shape class only "
    "partly. **Ablation reproduces for circles**: the top units by per-unit ACE remove 0.92 of circle pixels "
    "(top 20 of 96) and the top 4 by IoU (the paper's 20/512 share) remove 0.69, while the other shapes' pixels "
    "change by −6% / −8% (the paper: 0.60 trees, 0.77 domes). For squares only the learned-α ranking removes most "
    "pixels (0.70) and then it also removes 74% of the other shapes: not specific. Triangles (1.4% of pixels, "
    "rarely drawn) are not removable; ablations mostly turn other blobs into triangle-looking ones. **Insertion "
    "is local**: square units inserted in the top-left box add 25% square pixels there and 1% elsewhere; circle "
    "units +5% inside, −1% outside; triangle ≈ 0. **Artifact repair does not reproduce**: the generator's "
    "visible artifacts (dotted black backgrounds, see the top images of unit 81) are tied to units that also "
    "draw objects, and zeroing any 4 or 20 units of 96 raises FID (5.6 → 11.8 for the discriminator-ranked "
    "top 4, vs 16.6 for 4 random units; per-unit-FID ranking 20.4): the rankings are less harmful than random, "
    "but no ablation improves FID. Ablating 20 of 96 units (21%, vs 4% in the paper) visibly damages the images "
    "(ablation picture).")


if __name__ == "__main__":
    main()
