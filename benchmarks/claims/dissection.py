"""Claims of GAN Dissection (Bau et al., "GAN Dissection: Visualizing and Understanding Generative Adversarial
Networks", ICLR 2019, arXiv 1811.10597), in miniature on a DCGAN trained on the procedural shapes scenes and the
shipped shapes segmenter:

1. units specialise: the share of interpretable units per layer (IoU > 0.05 and IQR > 0.01, netdissect's rule)
   and the best IoU per class (paper Fig. 4: layer4 of a living-room ProGAN, 245 of 512 units);
2. ablating the top-20 units of a class removes most of its pixels while the other classes change little (paper
   Fig. 6/ablateeval, ProGAN churches: trees 0.60, domes 0.77 of class pixels removed);
3. inserting those units inside a region makes the class appear there and not elsewhere (ACE inside vs outside);
4. ablating the worst "artifact" units improves FID (paper §4.3, LSUN bedrooms; a random 20-unit ablation does
   not): units ranked by per-unit FID (the FID of each unit's top-activating 10 % of samples against the real
   data), the worst ablated only where they fire above their dissection threshold (and, for comparison,
   everywhere), against as many random units ablated the same way and no ablation; FID of the whole set and of
   the top-artifact subset.

    python benchmarks/claims/dissection.py --run runs/NAME [--layer layer2] [--n 1000]
    python benchmarks/claims/dissection.py --render     # re-render the section from docs/claims/dissection.json

RUN is a `dcgan-shapes` run (its exact training command is written into the section with --train-command). The
verdict is computed from the numbers (criteria: REMOVED, SPECIFIC, INSERT_GAIN, LOCAL below); what the pictures
show is judged by eye and belongs in the JSON's "observations" (no numbers).
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
from claims_common import (NOT_REPRODUCED, REPO, REPRODUCED, command_line, load_results, make_results,  # noqa: E402
                           publish, script_cli_render, verdict_block)

import ganforge  # noqa: E402
from ganforge.api import load_discriminator  # noqa: E402
from ganforge.data import build_dataset  # noqa: E402
from ganforge.dissect import (ace, discriminator_fake_score, dissect, insertion_values, learn_alpha,  # noqa: E402
                              load_segmenter, rank_artifact_units, rank_units_by_ace, repair_fid, unit_score_effects)
from ganforge.dissect.artifacts import artifact_strength  # noqa: E402
from ganforge.dissect.hooks import capture, in_eval_mode  # noqa: E402
from ganforge.dissect.intervene import unit_quantile_values  # noqa: E402
from ganforge.metrics.features import generator_source  # noqa: E402
from ganforge.dissect.intervene import class_fractions  # noqa: E402
from ganforge.dissect.report import unit_strip, _top_images  # noqa: E402
from ganforge.metrics.evaluator import load_evaluator  # noqa: E402
from ganforge.metrics.fid import gaussian_stats  # noqa: E402
from ganforge.utils.images import make_grid, save_png  # noqa: E402

PICTURES = os.path.join(REPO, "docs", "img")
SHAPES = ("circle", "square", "triangle")
PAPER_REMOVED = "trees 0.60, domes 0.77 (doors 0.53, windows 0.47, churches; conference-room person 0.61)"


def real_stats(config, extractor, n: int):
    """((μ, Σ) of the evaluator features, mean pixel roughness) of the first n real scenes."""
    data = build_dataset(config.data)
    batches = [data.get(slice(i, min(i + 500, n))).x for i in range(0, min(n, len(data)), 500)]
    feats = torch.cat([extractor.features(x).double() for x in batches])
    return gaussian_stats(feats), float(torch.cat([roughness(x) for x in batches]).mean())


def roughness(x: torch.Tensor) -> torch.Tensor:
    """N values: mean absolute difference between neighbouring pixels (rows and columns, all channels). The shapes
    scenes are flat colour regions, so dotted or speckled artifacts raise it; an image-level check next to FID."""
    return ((x[:, :, 1:] - x[:, :, :-1]).abs().mean(dim=(1, 2, 3))
            + (x[..., 1:] - x[..., :-1]).abs().mean(dim=(1, 2, 3)))


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


REPLICATE = "per-unit FID, 2nd samples"  # the ranking of a second sample set, repair measured on a third
REPAIR_KEYS = ("where", "fid_before", "fid_after", "fid_random", "top_before", "top_after", "top_random", "top_n",
               "score_before", "score_after", "score_random", "top_score_before", "top_score_after", "top_score_random",
               "edited_share", "random_edited_share", "fid_resample", "units")


def spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman rank correlation of two vectors (no ties expected: FIDs)."""
    ra, rb = (v.argsort().argsort().double() for v in (a, b))
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return float((ra * rb).sum() / (ra.norm() * rb.norm()))


@in_eval_mode
@torch.no_grad()
def top_artifact_latents(G, layer, units, thresholds, n, seed, k):
    """The latent codes of the k of n samples (seed) where `units` fire most above their thresholds."""
    src = generator_source(G, seed=seed)
    z, maxima = [], []
    for start in range(0, n, 250):
        with capture(G, layer) as out:
            src(start, min(250, n - start))
        z.append(src.latents(start, min(250, n - start))[0])
        maxima.append(out["r"].amax(dim=(2, 3)))
    idx = artifact_strength(torch.cat(maxima), units, thresholds).topk(k).indices
    return torch.cat(z)[idx]


SLUG = "dissection"
TITLE = "GAN Dissection: units draw objects; ablation, insertion, artifact repair (Bau et al. 2019)"
PAPER = ("Paper (ICLR 2019, ProGAN on LSUN scenes, layer4 = 512 units at 8×8, UPerNet segmenter): many units match "
         "object classes (living room layer4: 245 of 512 units interpretable, best IoUs ~0.3); ablating the top-20 "
         f"units of a class removes {PAPER_REMOVED} of its pixels; inserting them adds the class where the context "
         "allows; ablating 20 manually or per-unit-FID flagged artifact units lowers FID on bedrooms (reported "
         "≈43 → ≈27, random 20 units ≈ unchanged).")
REMOVED = 0.5  # share of a class's pixels an ablation must remove ("most of its pixels"; the paper: 0.47-0.77)
SPECIFIC = 0.2  # |relative change| of the other shapes' pixels allowed for a specific ablation
INSERT_GAIN = 0.02  # class pixel fraction an insertion must add inside the box
LOCAL = 0.25  # ... while adding less than this share of that outside


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", help="a dcgan-shapes run directory")
    ap.add_argument("--numbers", metavar="JSON", help="publish a results JSON written by an earlier measurement "
                    "(e.g. with --no-write, or on another machine): copy it to docs/claims/ and render the section")
    ap.add_argument("--render", action="store_true", help="re-render the section from docs/claims/dissection.json")
    ap.add_argument("--layer", default="layer2", help="main layer for interventions (8×8, like the paper's layer4)")
    ap.add_argument("--n", type=int, default=1000, help="samples for dissection and for each measurement")
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--fid-n", type=int, default=2000)
    ap.add_argument("--artifact-q", type=float, default=0.99, help="artifact units are ablated where they exceed "
                    "their dissection threshold, and (a second measurement) where they exceed this quantile of their "
                    "activations")
    ap.add_argument("--no-score-ranking", action="store_true", help="skip the discriminator-score ranking of "
                    "artifact units (per-unit FID only, the paper's automatic ranking)")
    ap.add_argument("--raw-weights", action="store_true", help="the raw generator instead of its EMA copy")
    ap.add_argument("--train-command", default="", help="how RUN was trained (written into the section)")
    ap.add_argument("--out", default=os.path.join(REPO, "runs", "claims", "dissection"))
    ap.add_argument("--no-write", action="store_true", help="write the results JSON under --out only; leave "
                    "docs/claims/ and docs/claims.md alone")
    args = ap.parse_args()
    if args.render:
        return script_cli_render(__file__)
    if args.numbers:
        return publish(load_results(args.numbers))
    if not args.run:
        ap.error("--run, --numbers or --render is required")
    torch.set_num_threads(1)
    t0 = time.time()
    loaded = ganforge.load(args.run, ema=not args.raw_weights)
    G = loaded.generator
    seg = load_segmenter("shapes")
    os.makedirs(args.out, exist_ok=True)
    pictures_dir = args.out if args.no_write else PICTURES  # --no-write leaves docs/ alone, pictures included
    os.makedirs(pictures_dir, exist_ok=True)

    # 1. dissection of every layer
    layers = {}
    for name in G.feature_layers():
        layers[name] = dissect(G, seg, name, n=args.n, top_k=6)
        print(name, layers[name].summary(), flush=True)
    main = layers[args.layer]
    U = main.num_units
    small = max(1, round(U * 20 / 512))  # the paper's share: 20 of 512 units

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
    table_small = ablation_table(G, seg, args.layer, rankings, base, args.n, 11, small)

    # 3. insertion inside a box (the top-left quarter) with the class-conditioned constant
    box = (0, 0, 16, 16)
    inserts = {}
    for cls in rankings:
        best = max(("iou", "ace", "alpha"), key=lambda r: table[(cls, r)]["removed"])
        units = rankings[cls][best][: args.top]
        inserts[cls] = dict(ace(G, seg, args.layer, units, cls, region=box, n=args.n), ranking=best)
        print(cls, "insert", inserts[cls]["inside"], inserts[cls]["outside"], flush=True)

    # 4. artifact units (§4.3): rank by per-unit FID (and by the discriminator's fake score); FID with no ablation,
    # the worst units ablated where they fire above their threshold (the artifact regions) or everywhere, and as
    # many random other units ablated the same way
    extractor = load_evaluator("shapes")
    stats, real_roughness = real_stats(loaded.config, extractor, 5000)
    q_name = f"q{args.artifact_q:g}"
    threshold_sets = {"dissection": main.thresholds,
                      q_name: unit_quantile_values(G, args.layer, q=args.artifact_q, n=500, seed=10)}
    ranked = rank_artifact_units(G, args.layer, extractor, stats, n=args.fid_n, top=args.fid_n // 10)
    again = rank_artifact_units(G, args.layer, extractor, stats, n=args.fid_n, top=args.fid_n // 10, seed=18)
    repeat = {"spearman": spearman(ranked["fid"], again["fid"]),
              **{f"overlap_top{k}": len(set(ranked["order"][:k]) & set(again["order"][:k])) / k
                 for k in sorted({small, args.top})}}
    print("per-unit FID", {k: v for k, v in ranked.items() if k != "fid"}, repeat, flush=True)
    orders = {"per-unit FID": ranked["order"]}
    if not args.no_score_ranking:
        try:
            D = load_discriminator(args.run)
            effects = unit_score_effects(G, args.layer, discriminator_fake_score(D), n=500,
                                         thresholds=threshold_sets["dissection"])
            orders["D fake score"] = effects.argsort(descending=True).tolist()
        except ganforge.errors.GanforgeError as e:  # a run without a discriminator
            print("no discriminator:", e)
    repairs = []
    for name, order in orders.items():
        for k in sorted({small, args.top}):
            for where, level in (("active", "dissection"), ("active", q_name), ("everywhere", None)):
                # "everywhere" rows pick their top-artifact subset with the dissection thresholds too
                r = repair_fid(G, args.layer, order[:k], extractor, stats, where=where,
                               thresholds=threshold_sets[level or "dissection"], n=args.fid_n,
                               image_score=roughness)
                repairs.append({"ranking": name, "k": k, "threshold": level, **{key: r[key] for key in REPAIR_KEYS}})
                print("repair", repairs[-1], flush=True)
    # the procedure end to end on fresh samples: the second sample set's ranking, repair measured on a third set
    for k in sorted({small, args.top}):
        for level in ("dissection", q_name):
            r = repair_fid(G, args.layer, again["order"][:k], extractor, stats, where="active",
                           thresholds=threshold_sets[level], n=args.fid_n, seed=19, image_score=roughness)
            repairs.append({"ranking": REPLICATE, "k": k, "threshold": level, **{key: r[key] for key in REPAIR_KEYS}})
            print("repair", repairs[-1], flush=True)

    # pictures: top units of each class with regions outlined; ablation before/after
    strips = []
    for cls in SHAPES:
        for u in main.ranking(cls)[:2]:
            images, acts = _top_images(G, main, u)
            strips.append(unit_strip(images, acts, main.units[u].threshold, scale=3))
    width = max(s.shape[1] for s in strips)
    sheet = np.concatenate([np.pad(s, ((2, 2), (0, width - s.shape[1]), (0, 0)), constant_values=255)
                            for s in strips])
    units_png = save_png(sheet, os.path.join(pictures_dir, "dissection-units.png"), min_size=256)
    edits = []
    for cls in rankings:
        before, after = ganforge.intervene(G, args.layer, table[(cls, inserts[cls]["ranking"])]["units"], "ablate",
                                           n=8, seed=21)
        edits += [before, after]
    ablate_png = (save_png(make_grid(torch.cat(edits), nrow=8), os.path.join(pictures_dir, "dissection-ablate.png"))
                  if edits else None)
    worst = ranked["order"][:small]
    z = top_artifact_latents(G, args.layer, worst, threshold_sets[q_name], n=args.fid_n, seed=9, k=8)
    rows = [ganforge.intervene(G, args.layer, worst, "ablate", above=threshold_sets[level], z=z)
            for level in (q_name, "dissection")]
    rows.append(ganforge.intervene(G, args.layer, worst, "ablate", z=z))
    artifact_png = save_png(make_grid(torch.cat([rows[0][0]] + [after for _, after in rows]), nrow=8),
                            os.path.join(pictures_dir, "dissection-artifacts.png"), min_size=512)

    def layer_numbers(name, d):
        s = d.summary()
        b = s["best_per_class"]
        colours = [c for c in b if c not in ("background",) + SHAPES]
        best_colour = max(colours, key=lambda c: b[c]["iou"]) if colours else None
        return {"name": name, "feature_size": list(d.feature_size), "units": s["units"],
                "interpretable": s["interpretable"], "share_pct": 100 * s["share_interpretable"],
                "best_iou": {c: b[c]["iou"] for c in ("background",) + SHAPES if c in b},
                "best_colour": {"label": best_colour, "iou": b[best_colour]["iou"]} if best_colour else None,
                "interpretable_by_label": {c: k for c, k in s["interpretable_per_class"].items() if k},
                "summary": s}

    numbers = {
        "layers": [layer_numbers(k, v) for k, v in layers.items()],
        "layer": args.layer, "units": U, "top": args.top, "small": small,
        "base_fractions": [float(v) for v in base.tolist()],
        "ablation": [{"class": c, "ranking": r, "removed_top": v["removed"], "other_top": v["other_shapes_change"],
                      "removed_small": table_small[(c, r)]["removed"],
                      "other_small": table_small[(c, r)]["other_shapes_change"], "units_top": v["units"]}
                     for (c, r), v in table.items()],
        "insertion": [{"class": c, "ranking": v["ranking"], "gain_inside": float(v["inside"]["insert_gain"]),
                       "gain_outside": float(v["outside"]["insert_gain"]), "ace_inside": float(v["inside"]["ace"]),
                       "ace_outside": float(v["outside"]["ace"])} for c, v in inserts.items()],
        "repair": repairs, "unit_fid_repeat": repeat, "real_roughness": real_roughness,
        "unit_fid": {"worst": [{"unit": u, "fid": float(ranked["fid"][u])} for u in ranked["order"][:args.top]],
                     "median": float(ranked["fid"].median()), "null_mean": ranked["null_mean"],
                     "null_std": ranked["null_std"], "top": ranked["top"],
                     "above_null": int((ranked["fid"] > ranked["null_mean"] + 3 * ranked["null_std"]).sum())},
        "steps": int(loaded.checkpoint.rstrip("/").rsplit("-", 1)[-1]),
        "train_command": args.train_command or None, "raw_weights": args.raw_weights,
        "n": args.n, "fid_n": args.fid_n, "minutes": (time.time() - t0) / 60,
        "pictures": [os.path.relpath(p, os.path.join(REPO, "docs")) for p in (units_png, ablate_png, artifact_png)]
        if ablate_png and not args.no_write else [],
    }
    results = make_results(SLUG, __file__, "dissection", TITLE, command_line(), numbers)
    with open(os.path.join(args.out, "numbers.json"), "w") as f:
        json.dump(results, f, indent=1, ensure_ascii=False)
    print(json.dumps(numbers)[:3000])
    if not args.no_write:
        publish(results)


def verdict(n: dict):
    """Part by part, from the numbers: specialisation, ablation, insertion, artifact repair."""
    parts = []
    # 1. units specialise, and by what
    shape_units = sum(k for layer in n["layers"] for c, k in layer["interpretable_by_label"].items() if c in SHAPES)
    colour_units = sum(k for layer in n["layers"] for c, k in layer["interpretable_by_label"].items()
                       if c not in SHAPES + ("background",))
    shares = " / ".join(f"{layer['share_pct']:.0f} %" for layer in n["layers"])
    best_shape = max((layer["best_iou"].get(c, 0.0), c, layer["name"]) for layer in n["layers"] for c in SHAPES)
    parts.append(("Units match object classes (shapes)", REPRODUCED if shape_units else NOT_REPRODUCED,
                  f"Interpretable units per layer: {shares} ({', '.join(l['name'] for l in n['layers'])}); "
                  f"{shape_units} labelled by a shape class, {colour_units} by an object colour; best shape IoU "
                  f"{best_shape[0]:.2f} ({best_shape[1]}, {best_shape[2]}).",
                  "at least one unit passes the IoU/IQR rule for a shape class"))
    # 2. ablation removes the class, specifically
    for cls in dict.fromkeys(r["class"] for r in n["ablation"]):
        rows = [r for r in n["ablation"] if r["class"] == cls]
        options = [(r[f"removed_{size}"], r[f"other_{size}"], r["ranking"], n[size]) for r in rows
                   for size in ("top", "small")]
        specific = [o for o in options if o[0] >= REMOVED and abs(o[1]) <= SPECIFIC]
        removing = [o for o in options if o[0] >= REMOVED]
        best = max(specific or removing or options)
        label = (REPRODUCED if specific else "removes the class, but not specifically" if removing
                 else NOT_REPRODUCED)
        parts.append((f"Ablating the top {cls} units removes {cls}s", label,
                      f"Best: the top {best[3]} by {best[2]} remove {best[0]:.2f} of {cls} pixels, the other shapes "
                      f"change by {best[1]:+.2f}.",
                      f"some ranking (top {n['top']} or top {n['small']}) removes ≥ {REMOVED} of the class's pixels "
                      f"while the other shapes change by at most ±{SPECIFIC} (removes but changes the others more: "
                      f"not specific)"))
    # 3. insertion is local
    local = [r["class"] for r in n["insertion"]
             if r["gain_inside"] >= INSERT_GAIN and r["gain_outside"] < LOCAL * r["gain_inside"]]
    parts.append(("Inserting a class's units adds it inside the box only",
                  REPRODUCED if len(local) == len(n["insertion"]) else NOT_REPRODUCED if not local
                  else f"reproduced for {', '.join(local)}",
                  "Gain inside / outside: " + "; ".join(f"{r['class']} {r['gain_inside']:+.3f} / "
                                                        f"{r['gain_outside']:+.3f}" for r in n["insertion"]) + ".",
                  f"the class gains ≥ {INSERT_GAIN} of the pixels inside the box and less than {LOCAL} of that "
                  f"outside"))
    # 4. artifact repair lowers FID
    parts.append(artifact_verdict(n["repair"], n.get("real_roughness")))
    return parts


def artifact_verdict(repairs, real_roughness=None):
    """Part 4: the paper's procedure is the per-unit-FID ranking ablated where the units fire ("active"); older
    results (ablation everywhere only) are judged on every row."""
    rows = [r for r in repairs if r["ranking"] == "per-unit FID" and r.get("where") == "active"]
    if not rows:  # results from before the region-restricted ablation
        better = [r for r in repairs if r["fid_after"] < r["fid_before"]]
        lowest = min(repairs, key=lambda r: r["fid_after"])
        return ("Ablating artifact units lowers FID", REPRODUCED if better else NOT_REPRODUCED,
                f"FID before {lowest['fid_before']:.2f}; lowest after an ablation {lowest['fid_after']:.2f} "
                f"({lowest['ranking']}, top {lowest['k']}, everywhere); {len(better)} of {len(repairs)} ablations "
                f"lower it.", "FID after ablating the flagged units below FID before")

    def noise(r):
        return abs(r["fid_resample"] - r["fid_before"])

    def lowers_whole(r):
        return r["fid_before"] - r["fid_after"] > noise(r) and r["fid_after"] < r["fid_random"]

    def lowers_subset(r):
        return r["top_after"] < r["top_before"] and r["top_after"] < r["top_random"]

    def rougher(r):  # the flagged ablation takes the top-artifact subset further from the real scenes' roughness
        return (real_roughness is not None and "top_score_after" in r
                and abs(r["top_score_after"] - real_roughness) > abs(r["top_score_before"] - real_roughness))

    again = {(r["k"], r["threshold"]): r for r in repairs if r["ranking"] == REPLICATE}

    def replicates(r):
        twin = again.get((r["k"], r["threshold"]))
        return twin is not None and lowers_whole(twin)

    whole = [r for r in rows if lowers_whole(r)]
    replicated = [r for r in whole if replicates(r)]
    repaired = [r for r in replicated if not rougher(r) and not rougher(again[(r["k"], r["threshold"])])]
    subset = [r for r in rows if lowers_subset(r)]
    best = min(repaired or replicated or whole or subset or rows, key=lambda r: r["fid_after"] - r["fid_before"])
    if repaired:
        label = REPRODUCED
    elif replicated:
        label = "FID lower on two sample sets, but the flagged images get rougher"
    elif whole and again:
        label = "lowers FID on one sample set, not on a second"
    elif whole:  # results without the repeat on fresh samples
        label = "FID lower, but the flagged images get rougher" if rougher(best) else REPRODUCED
    else:
        label = "lowers FID only on the top-artifact subset" if subset else NOT_REPRODUCED
    rep = again.get((best["k"], best["threshold"]))
    evidence = (f"Top {best['k']}, where above the {best.get('threshold') or 'dissection'} threshold: whole set "
                f"{best['fid_before']:.2f} → {best['fid_after']:.2f} (random units {best['fid_random']:.2f}; a "
                f"second unedited sample set {best['fid_resample']:.2f}); top-artifact subset "
                f"{best['top_before']:.2f} → {best['top_after']:.2f} (random {best['top_random']:.2f}).")
    if rep:
        evidence += (f" Repeated on fresh samples (ranking and measurement): {rep['fid_before']:.2f} → "
                     f"{rep['fid_after']:.2f} (random {rep['fid_random']:.2f}, second unedited set "
                     f"{rep['fid_resample']:.2f}).")
    if real_roughness is not None and "top_score_after" in best:
        evidence += (f" Roughness of the top-artifact subset {best['top_score_before']:.3f} → "
                     f"{best['top_score_after']:.3f} (real scenes {real_roughness:.3f}).")
    return ("Ablating artifact units (per-unit FID, where they fire) lowers FID", label, evidence,
            "for some k and threshold, the whole-set FID after ablating the per-unit-FID units where they fire is "
            "lower than before by more than the difference between two unedited sample sets, and lower than after "
            "as many random units ablated the same way, and so again when ranking and measurement are repeated on "
            "fresh samples, without taking the top-artifact subset's pixel roughness further from the real scenes' "
            "(the stand-in for the paper's human judgement; only the top-artifact subset's FID lower than before "
            "and than random: partial)")


def render(results: dict):
    """The section's text from the results (also what --render and --numbers write)."""
    n = results["numbers"]
    U, top, small = n["units"], n["top"], n["small"]
    lines = ["| layer | featuremap | units | interpretable | share | best IoU: background / circle / square / "
             "triangle | best colour IoU | interpretable units by label |", "|---|---|---:|---:|---:|---|---|---|"]
    for s in n["layers"]:
        b, c = s["best_iou"], s["best_colour"]
        by_label = ", ".join(f"{k} {v}" for k, v in s["interpretable_by_label"].items()) or "none"
        lines.append(f"| {s['name']} | {'×'.join(map(str, s['feature_size']))} | {s['units']} | {s['interpretable']} "
                     f"| {s['share_pct']:.0f}% | " + " / ".join(f"{b[k]:.2f}" for k in ("background",) + SHAPES)
                     + (f" | {c['iou']:.2f} ({c['label']})" if c else " | —") + f" | {by_label} |")
    lines += ["", f"Ablating the top units of a class in {n['layer']} ({U} units) everywhere; share of the class's "
              f"pixels removed, and the relative change of the other shape classes' pixels (pooled; base fractions "
              f"background/circle/square/triangle = " + " / ".join(f"{v:.3f}" for v in n["base_fractions"]) + "):",
              "", f"| class | ranking | removed, top {top} | other shapes change, top {top} | removed, top "
              f"{small} ({small}/{U} ≈ 20/512) | other shapes change, top {small} |", "|---|---|---:|---:|---:|---:|"]
    lines += [f"| {r['class']} | {r['ranking']} | {r['removed_top']:.2f} | {r['other_top']:+.2f} | "
              f"{r['removed_small']:.2f} | {r['other_small']:+.2f} |" for r in n["ablation"]]
    lines += ["", f"Inserting the top {top} units of a class (the ranking that removed most above) with the "
              f"class-conditioned mean activation, inside the top-left 16×16 box only; class pixel fraction gained "
              f"inside vs outside the box, and ACE (inserted − ablated) inside vs outside:", "",
              "| class | ranking | gain inside | gain outside | ACE inside | ACE outside |",
              "|---|---|---:|---:|---:|---:|"]
    lines += [f"| {r['class']} | {r['ranking']} | {r['gain_inside']:+.3f} | {r['gain_outside']:+.3f} | "
              f"{r['ace_inside']:+.3f} | {r['ace_outside']:+.3f} |" for r in n["insertion"]]
    lines += artifact_lines(n)
    pictures = n.get("pictures") or []
    q_name = next((r["threshold"] for r in n["repair"] if r.get("threshold") not in (None, "dissection")), "q0.99")
    trained = f" (`{n['train_command']}`)" if n.get("train_command") else ""
    lines += ["", f"Generator: {n['steps']} iterations{trained}"
              + f", {'raw' if n['raw_weights'] else 'EMA (if any)'} weights; {n['n']} samples per measurement; "
              f"{n['minutes']:.0f} min on one shared CPU thread."
              + (f" Pictures: [top units per class]({pictures[0]}) (two best units of circle, square, triangle; region "
                 f"above the threshold outlined), [ablations]({pictures[1]}) (row pairs: before / after ablating a "
                 f"class's top units)" if len(pictures) >= 2 else "")
              + (f", [artifact repair]({pictures[2]}) (the 8 samples where the top {small} per-unit-FID units fire "
                 f"most above their {q_name} level: as drawn / those units ablated where above {q_name} / where above "
                 f"the dissection threshold / everywhere)" if len(pictures) >= 3 else "")
              + ("." if len(pictures) >= 2 else "")]
    return PAPER, "\n".join(lines), verdict_block(verdict(n))


def artifact_lines(n: dict):
    """The artifact-repair part of the section: per-unit FIDs and the FID table."""
    small, top = n["small"], n["top"]
    rows = n["repair"]
    if not any("where" in r for r in rows):  # results from before the region-restricted ablation
        lines = ["", f"Artifact repair: FID (shapes-evaluator features, {n['fid_n']} samples vs 5,000 real) before and "
                 f"after ablating the units that most raise the artifact score everywhere (the top {small} = the "
                 f"paper's 20/512 share, and the top {top}), and after as many random units (mean of 3 draws):", "",
                 "| artifact ranking | FID before | FID after | FID random units |", "|---|---:|---:|---:|"]
        return lines + [f"| {r['ranking']}, top {r['k']} | {r['fid_before']:.2f} | {r['fid_after']:.2f} | "
                        f"{r['fid_random']:.2f} |" for r in rows]
    u, rep = n["unit_fid"], n["unit_fid_repeat"]
    rough = "real_roughness" in n and all("top_score_before" in r for r in rows)
    q_name = next((r["threshold"] for r in rows if r.get("threshold") not in (None, "dissection")), "q0.99")
    lines = ["", f"Artifact units (§4.3): per-unit FID = FID of the {u['top']} of {n['fid_n']} samples where the "
             f"unit's maximum activation is highest, against 5,000 real scenes (shapes-evaluator features). Worst "
             f"units: " + ", ".join(f"{w['unit']} ({w['fid']:.1f})" for w in u["worst"][:8])
             + f"; median over the {n['units']} units {u['median']:.1f}; random subsets of {u['top']} samples "
             + f"{u['null_mean']:.1f} ± {u['null_std']:.1f}; {u['above_null']} units above that mean + 3 sd. The same "
             f"ranking on another {n['fid_n']} samples: Spearman {rep['spearman']:.2f}; "
             + ", ".join(f"{100 * v:.0f} % of the top {k[len('overlap_top'):]} shared" for k, v in rep.items()
                         if k.startswith("overlap_top")) + ".", "",
             f"Repair: the top {small} (= the paper's 20/512 share) and top {top} units of a ranking ablated "
             f"only where each exceeds its threshold (“where active”: its dissection threshold, as outlined in "
             f"the units picture, or its {q_name[1:]} activation quantile), or zeroed everywhere; random: as many "
             f"random other units ablated the same way (mean of 3 draws). FID of all {n['fid_n']} samples (a "
             f"second unedited set: {rows[0]['fid_resample']:.2f}) and of the top-artifact subset (the "
             f"{rows[0]['top_n']} samples where the flagged units fire most above the row's thresholds, the "
             f"dissection ones for “everywhere”; same latent codes in the three columns)"
             + (f", and that subset's pixel roughness (mean absolute difference between neighbouring pixels; real "
                f"scenes {n['real_roughness']:.3f}: flat colour regions), which dotted or speckled artifacts raise"
                if rough else "") + ":", "",
             "| ranking | units | ablated | cells edited: flagged / random | FID all: none / flagged / random | "
             "FID top-artifact subset: none / flagged / random |"
             + (" roughness, top-artifact subset: none / flagged / random |" if rough else ""),
             "|---|---:|---|---:|---:|---:|" + ("---:|" if rough else "")]
    for r in rows:
        how = f"where active ({r['threshold']})" if r["where"] == "active" else "everywhere"
        lines.append(f"| {r['ranking']} | {r['k']} | {how} | "
                     f"{100 * r['edited_share']:.1f} % / {100 * r['random_edited_share']:.1f} % | "
                     f"{r['fid_before']:.2f} / {r['fid_after']:.2f} / {r['fid_random']:.2f} | "
                     f"{r['top_before']:.2f} / {r['top_after']:.2f} / {r['top_random']:.2f} |"
                     + (f" {r['top_score_before']:.3f} / {r['top_score_after']:.3f} / {r['top_score_random']:.3f} |"
                        if rough else ""))
    return lines + artifact_diagnosis(n)


def artifact_diagnosis(n: dict) -> list:
    """Candidate causes of a failed repair, each checked against the numbers (paper procedure: per-unit FID,
    top `small` units, ablated where active)."""
    rows = {(r["ranking"], r["k"], r.get("threshold")): r for r in n["repair"]}
    small, u, rep = n["small"], n["unit_fid"], n["unit_fid_repeat"]
    q_name = next((r["threshold"] for r in n["repair"] if r.get("threshold") not in (None, "dissection")), "q0.99")
    act_d, act_q = rows.get(("per-unit FID", small, "dissection")), rows.get(("per-unit FID", small, q_name))
    full, twin = rows.get(("per-unit FID", small, None)), rows.get((REPLICATE, small, q_name))
    if not (act_d and act_q and full and "top_score_before" in act_q):
        return []
    out = [f"- Where the ablation acts: the top {small} per-unit-FID units zeroed everywhere (as this claim did "
           f"before) give FID {full['fid_after']:.2f}; zeroed only where above their dissection threshold "
           f"({100 * act_d['edited_share']:.0f} % of their cells) {act_d['fid_after']:.2f}; only where above "
           f"{q_name} ({100 * act_q['edited_share']:.1f} %) {act_q['fid_after']:.2f} (none: "
           f"{act_q['fid_before']:.2f})."]
    noise = abs(act_q["fid_resample"] - act_q["fid_before"])
    out.append(f"- Sampling noise: two unedited sample sets differ by {noise:.2f} FID"
               + (f"; on fresh samples the {q_name} repair gives {twin['fid_before']:.2f} → {twin['fid_after']:.2f} "
                  f"(random {twin['fid_random']:.2f})" if twin else "") + ".")
    top_key = f"overlap_top{small}"
    out.append(f"- The ranking: per-unit FID repeats on another sample set with Spearman {rep['spearman']:.2f}"
               + (f", but only {100 * rep[top_key]:.0f} % of its top {small} units" if top_key in rep else "")
               + f". Every unit's top-activating subset is far from the real data ({u['above_null']} of "
               f"{n['units']} units above random subsets of the same size + 3 sd; median {u['median']:.1f} vs "
               f"{u['null_mean']:.1f}): on these scenes the per-unit FID measures how uniform a unit's top images are "
               f"as much as how flawed.")
    real = n["real_roughness"]
    smoother = act_q["top_score_before"] < real
    out.append(f"- What the flagged units draw: their top-artifact subset is {'smoother' if smoother else 'rougher'} "
               f"than real scenes (roughness {act_q['top_score_before']:.3f} vs {real:.3f}); ablating them where above "
               f"{q_name} {'raises' if act_q['top_score_after'] > act_q['top_score_before'] else 'lowers'} it to "
               f"{act_q['top_score_after']:.3f} (random units: {act_q['top_score_random']:.3f})"
               + (": these units hold speckle back rather than draw it, so switching them off cannot repair the images "
                  "(the evaluator's FID still drops a little)." if smoother and act_q["top_score_after"] > real
                  else "."))
    return ["", "Candidate causes, checked against the numbers above:", ""] + out


RENDER = {"dissection": render}


if __name__ == "__main__":
    main()
