"""Claims of StyleGAN (Karras, Laine & Aila 2019) and ProGAN (Karras et al. 2018), in miniature.

  mixing  On shapes, one trained StyleGAN (`stylegan-shapes`, runs/claims/stylegan-shapes): (a) style mixing
          localises — copying B's coarse styles into A makes the image take B's shape, copying fine styles B's
          colour (§3.1, Fig. 3), measured with the shapes evaluator as the share of mixed images whose predicted
          attribute follows B, among pairs where A and B differ in it; (b) noise inputs only change stochastic
          detail (§3.2, Fig. 4): the evaluator's attribute predictions stay the same across noise draws.
  mixing-curve  The mixing shares at every kept checkpoint of one run (when localisation appears, and whether it
          lasts).
  ppl     Perceptual path length in W below that in Z and linear separability in W below that in Z for the same
          StyleGAN (§4, Tables 3-4), with a traditional DCGAN generator on shapes (Z only) for comparison.
  progan  Progressive growing reaches a given FID sooner than the same networks trained at full resolution from the
          start (§2, Fig. 4 / Table 1 "time to converge"), on MNIST-5k at equal wall-clock.

    OMP_NUM_THREADS=1 python benchmarks/claims/stylegan.py mixing [--run runs/claims/stylegan-shapes]
    OMP_NUM_THREADS=1 python benchmarks/claims/stylegan.py mixing-curve --run RUN
    OMP_NUM_THREADS=1 python benchmarks/claims/stylegan.py ppl [--run ...] [--dcgan-run ...]
    OMP_NUM_THREADS=1 python benchmarks/claims/stylegan.py progan [--minutes 10] [--data shapes:64] [--seed 1]
    python benchmarks/claims/stylegan.py --render      # re-render the sections from docs/claims/*.json
"""
from __future__ import annotations

import argparse
import datetime
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from claims_common import (NOT_REPRODUCED, REPO, REPRODUCED, command_line, load_results, make_results, pct,  # noqa: E402
                           publish, script_cli_render, verdict_block)

import ganforge  # noqa: E402
from ganforge.config import load_config  # noqa: E402
from ganforge.evaluation import evaluate, load_extractor  # noqa: E402
from ganforge.latent.style import layer_ranges  # noqa: E402
from ganforge.train import Trainer  # noqa: E402

RUNS = os.path.join(REPO, "runs", "claims")
DEFAULT_PROGAN_DATA = "mnist5k:32"  # `progan --data`: the claim's own setting


@torch.no_grad()
def predict(ev, x: torch.Tensor) -> dict:
    out = {}
    for i in range(0, len(x), 500):
        for k, v in ev.predict(x[i:i + 500]).items():
            out.setdefault(k, []).append(v)
    return {k: torch.cat(v) for k, v in out.items()}


def silhouette(x: torch.Tensor) -> torch.Tensor:
    """The object's mask: pixels farther than 0.5 (RGB in [-1, 1]) from the background colour, taken as the median
    of the border pixels. Colour-blind, so it measures where the object is and how big, not what colour."""
    border = torch.cat([x[:, :, 0], x[:, :, -1], x[:, :, :, 0], x[:, :, :, -1]], dim=2)
    return (x - border.median(dim=2).values[:, :, None, None]).norm(dim=1) > 0.5


def iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a & b).flatten(1).sum(1) / (a | b).flatten(1).sum(1).clamp(min=1)


def share_numbers(follows: torch.Tensor) -> dict:
    """{"pct", "pairs"} of a boolean per counted pair (pct None when no pair counts)."""
    n = len(follows)
    return {"pct": float(100 * follows.double().mean()) if n else None, "pairs": n}


def share_text(cell: dict) -> str:
    return f"{cell['pct']:.0f} % ({cell['pairs']} pairs)" if cell["pairs"] else "— (0 pairs)"


@torch.no_grad()
def mixing_shares(g, ev, wa, wb, noise):
    """For each layer range (coarse / middle / fine) and attribute, a boolean per counted pair (A, B): does the
    image with that range's styles copied from B into A show B's attribute? An attribute counts the pairs where A
    and B differ in it; the silhouette (position, size) the pairs whose masks overlap by IoU < 0.3, and it follows B
    when the mixed mask overlaps B's more than A's."""
    xa, xb = g.synthesis(wa, noise), g.synthesis(wb, noise)
    pa, pb = predict(ev, xa), predict(ev, xb)
    sa, sb = silhouette(xa), silhouette(xb)
    apart = iou(sa, sb) < 0.3  # pairs whose objects barely overlap: position or size differ
    out = {}
    for name, (lo, hi) in layer_ranges(g.num_ws).items():
        mixed = wa.clone()
        mixed[:, lo:hi] = wb[:, lo:hi]
        xm = g.synthesis(mixed, noise)
        pm, sm = predict(ev, xm), silhouette(xm)
        out[name] = {h: (pm[h] == pb[h])[pa[h] != pb[h]] for h in pa}
        out[name]["silhouette"] = (iou(sm, sb) > iou(sm, sa))[apart]
    return out


def mixing_pairs(g, n: int, gen: torch.Generator):
    """n pairs of broadcast styles (A, B) and one fixed noise, from `gen`."""
    wa, wb = (g.broadcast(g.mapping(g.sample_z(n, generator=gen))) for _ in range(2))
    return wa, wb, [t.expand(n, -1, -1, -1) for t in g.make_noise(1, gen)]


@torch.no_grad()
def mixing_numbers(g, ev, n: int, gen: torch.Generator) -> dict:
    """The mixing shares of one generator (share of mixed images whose attribute follows B, per layer range), the
    noise stability and the per-layer pixel changes."""
    wa, wb, noise = mixing_pairs(g, n, gen)
    shares = mixing_shares(g, ev, wa, wb, noise)
    heads = [h for h in next(iter(shares.values())) if h != "silhouette"]
    mixing = [{"range": name, "layers": [lo, hi - 1],
               "cells": {h: share_numbers(shares[name][h]) for h in [*heads, "silhouette"]}}
              for name, (lo, hi) in layer_ranges(g.num_ws).items()]
    for row in mixing:
        print(row, flush=True)
    # noise: the same w under many noise draws
    draws, m = 8, min(n, 200)
    stable = {h: 0 for h in heads}
    for i in range(m):
        ws = wa[i:i + 1].expand(draws, -1, -1)
        p = predict(ev, g.synthesis(ws, g.make_noise(draws, gen)))
        for h in heads:
            stable[h] += int((p[h] == p[h].mode().values).all())
    # Where the image is decided: the pixel change made by swapping one layer's style (or noise) from A's to B's,
    # relative to the change made by swapping all of them.
    k = min(n, 64)
    wa, wb = wa[:k], wb[:k]
    na, nb = [t[:k] for t in noise], [t[:k] for t in g.make_noise(k, gen)]
    xa = g.synthesis(wa, na)
    style_share, noise_share = [], []
    full_style = (g.synthesis(wb, na) - xa).abs().mean()
    full_noise = (g.synthesis(wa, nb) - xa).abs().mean()
    for i in range(g.num_ws):
        ws = wa.clone()
        ws[:, i] = wb[:, i]
        style_share.append(float((g.synthesis(ws, na) - xa).abs().mean() / full_style))
        noise_i = list(na)
        noise_i[i] = nb[i]
        noise_share.append(float((g.synthesis(wa, noise_i) - xa).abs().mean() / full_noise))
    return {"attributes": heads, "mixing": mixing,
            "noise": {"latents": m, "draws": draws, "stable_pct": {h: 100 * stable[h] / m for h in heads}},
            "per_layer": {"style_share": style_share, "noise_share": noise_share, "full_style": float(full_style),
                          "full_noise": float(full_noise)}}


def run_settings(config) -> dict:
    """The settings that tell the compared StyleGAN runs apart, read from the run's config."""
    out = {}
    for section, key in (("method", "r1_gamma"), ("method", "lr_g"), ("method", "lr_d"), ("train", "ema"),
                         ("train", "ema_kimg"), ("generator", "const_init")):
        value = getattr(getattr(config, section, None), key, None)
        if isinstance(value, (int, float, str, bool)):
            out[f"{section}.{key}"] = value
    return out


MIXING_TITLE = "StyleGAN: style mixing localises, noise only adds stochastic detail (Karras et al. 2019)"
MIXING_PAPER = ("Paper (§3.1, Fig. 3): copying coarse styles (4²–8²) from source B brings B's pose, face shape and "
                "glasses; middle styles (16²–32²) smaller features; fine styles (64²–1024²) mainly the colour scheme. "
                "§3.2, Fig. 4: the noise changes only stochastic detail (hair, freckles) and leaves identity and pose "
                "intact.")
FOLLOWS = 50.0  # % of pairs: a layer range "brings" B's attribute when more than this share follows B
STABLE = 90.0  # % of latents: the noise "leaves the attribute intact" when at least this share keeps it


def claim_mixing(args) -> None:
    ev = load_extractor("shapes")
    runs = []
    for run in args.run or [os.path.join(RUNS, "stylegan-shapes")]:
        loaded = ganforge.load(run)
        m = loaded.config.method
        how = f"progressive growing from {4 * 2 ** m.start_level}²" if m.name == "progressive" else "fixed resolution"
        runs.append({"run": os.path.relpath(run, REPO), "how": how,
                     "checkpoint": os.path.basename(loaded.checkpoint), "settings": run_settings(loaded.config),
                     **mixing_numbers(loaded.generator, ev, args.n, torch.Generator().manual_seed(0))})
    numbers = {"n": args.n, "runs": runs}
    publish(make_results("stylegan-mixing", __file__, "mixing", MIXING_TITLE, command_line(), numbers))


def run_name(path: str) -> str:
    """'stylegan-shapes' for runs/claims/stylegan-shapes, 'stylegan-shapes-r1low at step-004000' for a checkpoint."""
    parts = os.path.normpath(path).split(os.sep)
    if "checkpoints" in parts[1:]:
        i = parts.index("checkpoints")
        return f"{parts[i - 1]} at {parts[i + 1]}" if i + 1 < len(parts) else parts[i - 1]
    return parts[-1]


def cell_pct(cells: dict, attribute: str) -> float:
    """A cell's share in %, -1 when no pair counted (never passes a criterion)."""
    c = cells.get(attribute)
    return -1.0 if c is None or c["pct"] is None else c["pct"]


def split_ok(cells_by_range: dict) -> bool:
    """Coarse styles bring B's silhouette and fine styles B's colour: the paper's pose / colour-scheme split."""
    return (cell_pct(cells_by_range["coarse"], "silhouette") > FOLLOWS
            and cell_pct(cells_by_range["fine"], "color") > FOLLOWS)


def verdict_mixing(n: dict):
    split, shape, noise = [], [], []
    for r in n["runs"]:
        cells = {row["range"]: row["cells"] for row in r["mixing"]}
        name = run_name(r["run"])
        (split if split_ok(cells) else []).append(name)
        (shape if cell_pct(cells["coarse"], "shape") > FOLLOWS else []).append(name)
        if all(v >= STABLE for v in r["noise"]["stable_pct"].values()):
            noise.append(name)

    def label(ok):
        return REPRODUCED if len(ok) == len(n["runs"]) else NOT_REPRODUCED if not ok else (
            f"reproduced in {len(ok)} of {len(n['runs'])} runs")

    def which(ok):
        return ", ".join(f"`{x}`" for x in ok) if ok else "none"

    def per_run(fmt):
        return "; ".join(f"`{run_name(r['run'])}` {fmt(r)}" for r in n["runs"])

    def cells(r):
        return {row["range"]: row["cells"] for row in r["mixing"]}

    return [
        ("Coarse styles bring B's position and size, fine styles B's colour", label(split),
         f"Runs where both hold: {which(split)}. Coarse → silhouette / fine → colour: "
         + per_run(lambda r: f"{pct(cells(r)['coarse']['silhouette']['pct'])} / "
                             f"{pct(cells(r)['fine']['color']['pct'])}")
         + ".", f"more than {FOLLOWS:.0f} % of the pairs follow B in both cells"),
        ("Coarse styles bring B's shape class", label(shape),
         f"Runs where it holds: {which(shape)}. Coarse → shape / fine → shape: "
         + per_run(lambda r: f"{pct(cells(r)['coarse']['shape']['pct'])} / {pct(cells(r)['fine']['shape']['pct'])}")
         + ".", f"more than {FOLLOWS:.0f} % of the pairs differing in shape take B's shape with B's coarse styles"),
        ("Noise leaves the image's attributes intact", label(noise),
         f"Runs where it holds: {which(noise)}. Lowest share of latents unchanged across noise draws: "
         + per_run(lambda r: pct(min(r["noise"]["stable_pct"].values()), "{:.1f}")) + ".",
         f"every predicted attribute unchanged across the noise draws for at least {STABLE:.0f} % of latents"),
    ]


def render_mixing(results: dict):
    n = results["numbers"]
    parts = []
    for r in n["runs"]:
        heads = r["attributes"]
        settings = "".join(f"; {k}={v}" for k, v in r.get("settings", {}).items())
        parts += [f"**{r['run']}** ({r['how']}; checkpoint {r['checkpoint']}{settings}):", "",
                  "| styles copied from B | " + " | ".join(f"{h}: follows B" for h in heads)
                  + " | silhouette (position, size): follows B |", "|---|" + "---:|" * (len(heads) + 1)]
        for row in r["mixing"]:
            lo, hi = row["layers"]
            parts.append(f"| {row['range']} (layers {lo}–{hi}) | "
                         + " | ".join(share_text(row["cells"][h]) for h in [*heads, "silhouette"]) + " |")
        nz, pl = r["noise"], r["per_layer"]
        fmt = lambda v: " / ".join(f"{x:.2f}" for x in v)  # noqa: E731
        parts += ["", f"Noise inputs: for {nz['latents']} latents × {nz['draws']} noise draws, the share of latents "
                      f"whose predicted attribute is the same under every draw: **"
                  + ", ".join(f"{h} {nz['stable_pct'][h]:.1f} %" for h in heads) + "**.", "",
                  f"Per layer 0–{len(pl['style_share']) - 1}, the mean pixel change from swapping only that layer's "
                  f"style A → B, relative to swapping all styles: {fmt(pl['style_share'])}; the same for that layer's "
                  f"noise (relative to new noise everywhere, which changes pixels by {pl['full_noise']:.3f} against "
                  f"{pl['full_style']:.3f} for new styles): {fmt(pl['noise_share'])}.", ""]
    measured = "\n".join(parts + [f"{n['n']} pairs (A, B) per generator (EMA), one fixed noise; attributes predicted "
                                   f"by the shipped shapes evaluator; a cell counts the pairs where A and B differ "
                                   f"in that attribute; the silhouette is the mask of pixels away from the "
                                   f"background colour, and a pair counts when A's and B's masks overlap by IoU "
                                   f"< 0.3; it follows B when the mixed mask overlaps B's more than A's."])
    return MIXING_PAPER, measured, verdict_block(verdict_mixing(n))


CURVE_PAPER = ("Paper (§3.1, Fig. 3): coarse styles bring the source's pose and shape, fine styles its colour scheme. "
               "Here: the same measurement at every checkpoint of one run.")
CURVE_CELLS = [("coarse", "shape"), ("coarse", "silhouette"), ("middle", "shape"), ("fine", "color"),
               ("fine", "background"), ("fine", "shape")]


def claim_mixing_curve(args) -> None:
    """The mixing shares at every kept checkpoint of one run: when (and whether) localisation appears."""
    import json

    ev = load_extractor("shapes")
    run = (args.run or [os.path.join(RUNS, "stylegan-shapes")])[0]
    ckpts = sorted(d for d in os.listdir(os.path.join(run, "checkpoints")) if d.startswith("step-"))
    fid = {}
    with open(os.path.join(run, "metrics.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            if "eval/fid" in r:
                fid[r["step"]] = r["eval/fid"]
    rows = []
    for name in ckpts:
        g = ganforge.load(os.path.join(run, "checkpoints", name)).generator.eval()
        shares = mixing_shares(g, ev, *mixing_pairs(g, args.n, torch.Generator().manual_seed(0)))
        step = int(name.split("-")[1])
        rows.append({"step": step, "fid": fid.get(step),
                     "cells": [{"range": r, "attribute": a, **share_numbers(shares[r][a])} for r, a in CURVE_CELLS]})
        print(rows[-1], flush=True)
    name = os.path.basename(os.path.normpath(run))
    numbers = {"run": os.path.relpath(run, REPO), "n": args.n, "settings": run_settings(ganforge.load(run).config),
               "rows": rows}
    publish(make_results(f"stylegan-mixing-curve-{name}", __file__, "mixing-curve",
                         f"StyleGAN: style mixing along one run — {name}", command_line(), numbers))


def verdict_mixing_curve(n: dict):
    def cells(row):
        return {(c["range"], c["attribute"]): c for c in row["cells"]}

    def at(row, r, a):
        c = cells(row)[(r, a)]
        return -1.0 if c["pct"] is None else c["pct"]

    rows = n["rows"]
    split = [row["step"] for row in rows
             if at(row, "coarse", "silhouette") > FOLLOWS and at(row, "fine", "color") > FOLLOWS]
    shape = [row["step"] for row in rows if at(row, "coarse", "shape") > FOLLOWS]
    last = rows[-1]
    scored = [row for row in rows if row["fid"] is not None]
    best = min(scored, key=lambda row: row["fid"]) if scored else None
    if split:
        after = [row["step"] for row in rows if row["step"] >= split[0]]
        split_text = (f"First at step {split[0]}; it holds at {len(split)} of the {len(after)} checkpoints from there "
                      f"(steps {', '.join(map(str, split))}).")
    else:
        split_text = "At no checkpoint."
    split_text += (f" At the last checkpoint (step {last['step']}) coarse → silhouette "
                   f"{pct(at(last, 'coarse', 'silhouette') if at(last, 'coarse', 'silhouette') >= 0 else None)}, "
                   f"fine → colour {pct(at(last, 'fine', 'color') if at(last, 'fine', 'color') >= 0 else None)}.")
    if best:
        split_text += f" Lowest FID {best['fid']:.1f} at step {best['step']}."
    return [("Coarse styles bring B's position and size, fine styles B's colour",
             REPRODUCED if split and split[-1] == last["step"] else
             f"reproduced at {len(split)} of {len(rows)} checkpoints" if split else NOT_REPRODUCED, split_text,
             f"more than {FOLLOWS:.0f} % of the pairs follow B in both cells; reproduced when it holds at the last "
             f"checkpoint"),
            ("Coarse styles bring B's shape class",
             REPRODUCED if shape and shape[-1] == last["step"] else
             f"reproduced at {len(shape)} of {len(rows)} checkpoints" if shape else NOT_REPRODUCED,
             (f"At step{'s' if len(shape) > 1 else ''} {', '.join(map(str, shape))}." if shape else "At no checkpoint.")
             + f" Highest coarse → shape share: {pct(max(at(row, 'coarse', 'shape') for row in rows))}.",
             f"more than {FOLLOWS:.0f} % of the pairs take B's shape with B's coarse styles")]


def render_mixing_curve(results: dict):
    n = results["numbers"]
    rows = ["| step | FID | " + " | ".join(f"{c['range']} → {c['attribute']}" for c in n["rows"][0]["cells"]) + " |",
            "|---:|---:|" + "---:|" * len(n["rows"][0]["cells"])]
    for row in n["rows"]:
        f = "—" if row["fid"] is None else f"{row['fid']:.1f}"
        rows.append(f"| {row['step']} | {f} | " + " | ".join(share_text(c) for c in row["cells"]) + " |")
    settings = "".join(f"; {k}={v}" for k, v in n.get("settings", {}).items())
    measured = "\n".join(rows + ["", f"`{n['run']}`{' (' + settings[2:] + ')' if settings else ''}: every kept "
                                     f"checkpoint's EMA generator, {n['n']} pairs (A, B), the same seed at every step; "
                                     f"a cell is the share of pairs whose mixed image follows B among the pairs where "
                                     f"A and B differ (silhouette: whose objects overlap by IoU < 0.3), as in the "
                                     f"mixing section; FID from the run's own evaluations (shapes evaluator)."])
    return CURVE_PAPER, measured, verdict_block(verdict_mixing_curve(n))


PPL_TITLE = ("StyleGAN: W is less entangled than Z — path length and linear separability (Karras et al. 2019)")
PPL_PAPER = ("Paper (Table 3-4, FFHQ): for the style-based generator PPL is lower in W than in Z (e.g. full path 234.0 "
             "in W vs 412.0 for the traditional generator's Z; end-point 195.9 vs 415.3) and linear separability is "
             "lower in W (3.79 with 8 mapping layers vs 10.78 for the traditional Z).")
PPL_GENERATORS = {"stylegan": "StyleGAN (`stylegan-shapes`)", "dcgan": "traditional DCGAN (`dcgan-shapes`)"}


def claim_ppl(args) -> None:
    from ganforge.metrics.ppl import perceptual_path_length
    from ganforge.metrics.separability import linear_separability

    run = (args.run or [os.path.join(RUNS, "stylegan-shapes")])[0]
    gens = {"stylegan": (ganforge.load(run).generator, ("z", "w")),
            "dcgan": (ganforge.load(args.dcgan_run).generator, ("z",))}
    rows, protocol = [], None
    for kind, (g, spaces) in gens.items():
        g.eval()
        for space in spaces:
            ppl = {s: perceptual_path_length(g, n=args.n, space=space, sampling=s, seed=0) for s in ("full", "end")}
            sep = linear_separability(g, "shapes", space=space, n=args.n, seed=0)
            protocol = ppl["full"].protocol.get("distance", protocol)
            rows.append({"generator": kind, "space": space.upper(), "ppl_full": ppl["full"].score,
                         "ppl_end": ppl["end"].score, "separability": sep.score})
            print(rows[-1], flush=True)
    numbers = {"n": args.n, "distance": protocol, "rows": rows,
               "runs": {"stylegan": os.path.relpath(run, REPO), "dcgan": os.path.relpath(args.dcgan_run, REPO)}}
    publish(make_results("stylegan-ppl", __file__, "ppl", PPL_TITLE, command_line(), numbers))


def verdict_ppl(n: dict):
    rows = {(r["generator"], r["space"]): r for r in n["rows"]}
    w, z, trad = rows[("stylegan", "W")], rows[("stylegan", "Z")], rows.get(("dcgan", "Z"))
    parts = []
    for key, what in (("ppl_full", "PPL (full paths)"), ("ppl_end", "PPL (end points)"),
                      ("separability", "Linear separability")):
        fmt = "{:.2f}" if key == "separability" else "{:.1f}"
        evidence = (f"StyleGAN W {fmt.format(w[key])} against Z {fmt.format(z[key])}"
                    + (f" and the traditional generator's Z {fmt.format(trad[key])}" if trad else "") + ".")
        ok = w[key] < z[key] and (trad is None or w[key] < trad[key])
        parts.append((f"{what} lower in W", REPRODUCED if ok else NOT_REPRODUCED, evidence,
                      "W below the same generator's Z" + (" and below the traditional generator's Z" if trad else "")))
    return parts


def render_ppl(results: dict):
    n = results["numbers"]
    rows = ["| generator | space | PPL full | PPL end | separability (2^ΣH, bits) |", "|---|---|---:|---:|---:|"]
    rows += [f"| {PPL_GENERATORS[r['generator']]} | {r['space']} | {r['ppl_full']:.1f} | {r['ppl_end']:.1f} | "
             f"{r['separability']:.2f} |" for r in n["rows"]]
    measured = "\n".join(rows + ["", f"{n['n']} samples per number; PPL with ε = 1e-4, the 1st-99th percentile "
                                     f"filter and the default perceptual distance (LPIPS-form distance on the shipped "
                                     f"shapes evaluator's features: {n['distance']}); separability over the shapes "
                                     f"evaluator's 13 one-vs-rest attributes (shape, colour, background), LinearSVC, "
                                     f"most confident half kept."])
    return PPL_PAPER, measured, verdict_block(verdict_ppl(n))


def timed_fid_curve(preset: str, overrides, seconds: float, every: float, out: str):
    """Train for `seconds` of training time (evaluation excluded), scoring FID every `every` seconds for the EMA
    generator and for the live one: [(s, step, fid_ema, fid_live)]."""
    cfg = load_config(preset, ["train.progress=false", "train.tensorboard=false", "train.eval_every=0",
                               "train.steps=1000000000", "train.checkpoint_every=1000000000", *overrides])
    trainer = Trainer(cfg, run_dir=out, overwrite=True)
    data, nonfinite = trainer.data_stream(), torch.zeros((), dtype=torch.bool)
    spent, curve, next_eval = 0.0, [], every

    def fid(g):
        return evaluate(g, cfg.data, "fid", n=1000, seed=0, dataset=trainer.dataset).scores["fid"]

    trainer.method.train()
    while spent < seconds:
        t0 = time.perf_counter()
        trainer.iteration(data, nonfinite)
        spent += time.perf_counter() - t0
        if spent >= next_eval or spent >= seconds:
            live = trainer.method.generator.eval()
            fids = (fid(trainer.sampling_generator()) if trainer.ema is not None else float("nan"), fid(live))
            live.train()
            curve.append((spent, trainer.step, *fids))
            print(f"  {preset} {overrides}: {spent:.0f}s step {trainer.step} FID EMA {fids[0]:.1f} "
                  f"live {fids[1]:.1f}", flush=True)
            next_eval += every
    trainer.write_samples()
    return curve


PROGAN_PAPER = ("Paper (§2, App. A; Fig. 4b): progressive growing speeds training up — on CelebA-HQ 1024² about 5.4× "
                "faster to the same sliced-Wasserstein distance than training all layers from the start, and it also "
                "stabilises training.")


def claim_progan(args) -> None:
    seconds, every = 60 * args.minutes, 60 * args.minutes / 8
    data_name, _, res = args.data.partition(":")
    res = int(res or 32)
    top = int(round(math.log2(res / 4)))
    data = [f"data.name={data_name}", f"data.resolution={res}", *args.set]
    tag = "" if args.data == DEFAULT_PROGAN_DATA else f"-{data_name}{res}"
    slug = f"progan{tag or '-' + data_name + str(res)}"
    if args.seed:  # a further seed of a published comparison: same settings and FID targets, appended to its JSON
        try:
            results = load_results(slug)
        except FileNotFoundError:
            raise SystemExit(f"progan --seed {args.seed}: run seed 0 first (no docs/claims/{slug}.json)")
        data, tag = [*data, f"train.seed={args.seed}"], f"{tag}-seed{args.seed}"
    curves = {"progressive": timed_fid_curve("progan-mnist", data, seconds, every,
                                             os.path.join(RUNS, f"progan-progressive{tag}")),
              "fixed": timed_fid_curve("progan-mnist", [*data, f"method.start_level={top}"], seconds, every,
                                       os.path.join(RUNS, f"progan-fixed{tag}"))}
    curves = {k: [{"seconds": p[0], "step": p[1], "fid_ema": p[2] if p[2] == p[2] else None, "fid_live": p[3]}
                  for p in c] for k, c in curves.items()}
    if args.seed:
        results["numbers"].setdefault("more_seeds", {})[str(args.seed)] = {
            "command": command_line(), "date": datetime.date.today().isoformat(), "curves": curves}
        return publish(results)
    best = min(p[k] for c in curves.values() for p in c for k in ("fid_ema", "fid_live") if p[k] is not None)
    numbers = {"data": data_name, "resolution": res, "minutes": args.minutes, "eval_n": 1000, "tag": tag,
               "targets": sorted({round(t, 1) for t in (4 * best, 2 * best)}, reverse=True), "curves": curves}
    where = "" if not tag else f" — {data_name} at {res}²"
    publish(make_results(slug, __file__, "progan",
                         f"ProGAN: progressive growing reaches a given quality sooner (Karras et al. 2018){where}",
                         command_line(), numbers))


def seconds_to(points, key: str, target: float):
    """Training seconds of the first evaluation at FID ≤ target (None if never)."""
    return next((p["seconds"] for p in points if p[key] is not None and p[key] <= target), None)


def verdict_progan_curves(targets, prog, fixed, seed: str = ""):
    """Per generator (EMA, live): does the progressive run reach each FID target no later than the fixed one?"""
    parts = []
    for key, which in (("fid_ema", "EMA generator"), ("fid_live", "live generator")):
        said, ok, faster = [], True, False
        for t in targets:
            a, b = seconds_to(prog, key, t), seconds_to(fixed, key, t)
            if a is None and b is None:
                said.append(f"FID ≤ {t:g}: reached by neither")
                continue
            if a is None or (b is not None and a > b):
                ok = False
            if a is not None and (b is None or a < b):
                faster = True
            said.append(f"FID ≤ {t:g}: progressive {'not reached' if a is None else f'{a:.0f} s'}, full resolution "
                        f"{'not reached' if b is None else f'{b:.0f} s'}"
                        + (f" (speed-up {b / a:.1f}×)" if a and b else ""))
        end = f"; at the end {prog[-1][key] or float('nan'):.1f} against {fixed[-1][key] or float('nan'):.1f}"
        parts.append((which + (f", seed {seed}" if seed else ""), REPRODUCED if ok and faster else NOT_REPRODUCED,
                      "; ".join(said) + end + ".",
                      "the progressive run reaches every FID target no later than the full-resolution run, and one "
                      "sooner (" + ("the same targets for every seed, one run per seed)" if seed else
                                    "one run each, no repeats)")))
    return parts


def verdict_progan(n: dict):
    """verdict_progan_curves for the first seed's runs, then for each further seed's at the same targets."""
    more = n.get("more_seeds", {})
    parts = verdict_progan_curves(n["targets"], n["curves"]["progressive"], n["curves"]["fixed"],
                                  "0" if more else "")
    for seed, m in sorted(more.items(), key=lambda kv: int(kv[0])):
        parts += verdict_progan_curves(n["targets"], m["curves"]["progressive"], m["curves"]["fixed"], seed)
    return parts


def progan_rows(curves: dict, targets, names: dict):
    rows = []
    for kind, c in curves.items():
        for which, key in (("EMA", "fid_ema"), ("live", "fid_live")):
            reach = [seconds_to(c, key, t) for t in targets]
            rows.append(f"| {names[kind]} | {which} | "
                        + ", ".join(f"{p['seconds']:.0f}: " + ("—" if p[key] is None else f"{p[key]:.1f}") for p in c)
                        + " | " + " | ".join("not reached" if r is None else f"{r:.0f}" for r in reach) + " |")
    return rows


def render_progan(results: dict):
    n = results["numbers"]
    res, targets = n["resolution"], n["targets"]
    names = {"progressive": f"progressive (4² → {res}²)", "fixed": "full resolution from the start"}
    head = ["| training | generator | FID along the run (training seconds: FID) | " +
            " | ".join(f"seconds to FID ≤ {t:g}" for t in targets) + " |", "|---|---|---|" + "---:|" * len(targets)]
    more = n.get("more_seeds", {})
    rows = (["Seed 0:", ""] if more else []) + head + progan_rows(n["curves"], targets, names)
    for seed, m in sorted(more.items(), key=lambda kv: int(kv[0])):
        rows += ["", f"Seed {seed} ({m['date']}, `{m['command']}`; the FID targets of seed 0):", "",
                 *head, *progan_rows(m["curves"], targets, names)]
    measured = "\n".join(rows + ["", f"`progan-mnist` with data {n['data']} at {res}² (the same networks and "
                                     f"optimiser), {n['minutes']:g} minutes of training time each on one CPU thread "
                                     f"(evaluation excluded); FID on {n['eval_n']:,} samples of the EMA generator and "
                                     f"of the live one, the data's shipped evaluator; the targets are 4× and 2× the "
                                     f"best FID seen. Samples: runs/claims/progan-*{n['tag']}/samples/."])
    return PROGAN_PAPER, measured, verdict_block(verdict_progan(n))


RENDER = {"mixing": render_mixing, "mixing-curve": render_mixing_curve, "ppl": render_ppl, "progan": render_progan}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("claim", nargs="?", choices=["mixing", "mixing-curve", "ppl", "progan"])
    ap.add_argument("--run", action="append", help="trained StyleGAN run(s) (mixing: repeat to compare several; "
                    "default runs/claims/stylegan-shapes)")
    ap.add_argument("--dcgan-run", default=os.path.join(REPO, "runs", "dissect-dcgan2-5000"),
                    help="a traditional generator trained on shapes (for `ppl`)")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--data", default=DEFAULT_PROGAN_DATA,
                    help="for `progan`: dataset and resolution as NAME:RES (e.g. shapes:64)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="for `progan`: a config override applied to both runs (repeatable)")
    ap.add_argument("--seed", type=int, default=0,
                    help="for `progan`: a further seed, added to the published seed-0 comparison at its FID targets")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--render", action="store_true", help="re-render this script's sections from docs/claims/*.json")
    args = ap.parse_args()
    if args.render:
        return script_cli_render(__file__)
    if args.claim is None:
        ap.error("a claim (or --render) is required")
    torch.set_num_threads(args.threads)
    claims = {"mixing": claim_mixing, "mixing-curve": claim_mixing_curve, "ppl": claim_ppl, "progan": claim_progan}
    claims[args.claim](args)


if __name__ == "__main__":
    main()
