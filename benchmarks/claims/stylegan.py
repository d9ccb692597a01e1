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
    OMP_NUM_THREADS=1 python benchmarks/claims/stylegan.py progan [--minutes 10] [--data shapes:64]
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from claims_common import REPO, write_claims_section  # noqa: E402

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


def share(follows: torch.Tensor) -> str:
    """'p % (n pairs)' for a boolean per counted pair; '— (0 pairs)' when no pair counts."""
    n = len(follows)
    return f"{100 * follows.double().mean():.0f} % ({n} pairs)" if n else "— (0 pairs)"


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
def mixing_table(g, ev, n: int, gen: torch.Generator):
    """Rows of the mixing table for one generator (share of mixed images whose attribute follows B) and the
    noise-stability line."""
    wa, wb, noise = mixing_pairs(g, n, gen)
    shares = mixing_shares(g, ev, wa, wb, noise)
    heads = [h for h in next(iter(shares.values())) if h != "silhouette"]
    rows = ["| styles copied from B | " + " | ".join(f"{h}: follows B" for h in heads)
            + " | silhouette (position, size): follows B |", "|---|" + "---:|" * (len(heads) + 1)]
    for name, (lo, hi) in layer_ranges(g.num_ws).items():
        rows.append(f"| {name} (layers {lo}–{hi - 1}) | " + " | ".join(share(shares[name][h]) for h in heads)
                    + f" | {share(shares[name]['silhouette'])} |")
        print(rows[-1], flush=True)
    # noise: the same w under many noise draws
    draws, m = 8, min(n, 200)
    stable = {h: 0 for h in heads}
    for i in range(m):
        ws = wa[i:i + 1].expand(draws, -1, -1)
        p = predict(ev, g.synthesis(ws, g.make_noise(draws, gen)))
        for h in heads:
            stable[h] += int((p[h] == p[h].mode().values).all())
    noise_row = ", ".join(f"{h} {100 * stable[h] / m:.1f} %" for h in heads)
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
    fmt = lambda v: " / ".join(f"{x:.2f}" for x in v)  # noqa: E731
    return rows, (f"Noise inputs: for {m} latents × {draws} noise draws, the share of latents whose predicted "
                  f"attribute is the same under every draw: **{noise_row}**.\n\n"
                  f"Per layer 0–{g.num_ws - 1}, the mean pixel change from swapping only that layer's style A → B, "
                  f"relative to swapping all styles: {fmt(style_share)}; the same for that layer's noise (relative "
                  f"to new noise everywhere, which changes pixels by {float(full_noise):.3f} against "
                  f"{float(full_style):.3f} for new styles): {fmt(noise_share)}.")


def claim_mixing(args) -> None:
    ev = load_extractor("shapes")
    parts = []
    for run in args.run or [os.path.join(RUNS, "stylegan-shapes")]:
        loaded = ganforge.load(run)
        rows, noise_line = mixing_table(loaded.generator, ev, args.n, torch.Generator().manual_seed(0))
        m = loaded.config.method
        how = f"progressive growing from {4 * 2 ** m.start_level}²" if m.name == "progressive" else "fixed resolution"
        parts += [f"**{os.path.relpath(run, REPO)}** ({how}; checkpoint {os.path.basename(loaded.checkpoint)}):", "",
                  *rows, "", noise_line, ""]
    measured = "\n".join(parts + [f"{args.n} pairs (A, B) per generator (EMA), one fixed noise; attributes predicted "
                                    f"by the shipped shapes evaluator; a cell counts the pairs where A and B differ "
                                    f"in that attribute; the silhouette is the mask of pixels away from the "
                                    f"background colour, and a pair counts when A's and B's masks overlap by IoU "
                                    f"< 0.3; it follows B when the mixed mask overlaps B's more than A's."])
    runs = " ".join(f"--run {os.path.relpath(r, REPO)}" for r in (args.run or []))
    write_claims_section("StyleGAN: style mixing localises, noise only adds stochastic detail (Karras et al. 2019)",
                         "Paper (§3.1, Fig. 3): copying coarse styles (4²–8²) from source B brings B's pose, "
                         "face shape and glasses; middle styles (16²–32²) smaller features; fine styles (64²–1024²) "
                         "mainly the colour scheme. §3.2, Fig. 4: the noise changes only stochastic detail (hair, "
                         "freckles) and leaves identity and pose intact.", measured,
                         f"OMP_NUM_THREADS=1 python benchmarks/claims/stylegan.py mixing {runs}".rstrip())


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
    cells = [("coarse", "shape"), ("coarse", "silhouette"), ("middle", "shape"), ("fine", "color"),
             ("fine", "background"), ("fine", "shape")]
    rows = ["| step | FID | " + " | ".join(f"{r} → {a}" for r, a in cells) + " |",
            "|---:|---:|" + "---:|" * len(cells)]
    for name in ckpts:
        g = ganforge.load(os.path.join(run, "checkpoints", name)).generator.eval()
        shares = mixing_shares(g, ev, *mixing_pairs(g, args.n, torch.Generator().manual_seed(0)))
        step = int(name.split("-")[1])
        f = f"{fid[step]:.1f}" if step in fid else "—"
        rows.append(f"| {step} | {f} | " + " | ".join(share(shares[r][a]) for r, a in cells) + " |")
        print(rows[-1], flush=True)
    measured = "\n".join(rows + ["", f"`{os.path.relpath(run, REPO)}`: every kept checkpoint's EMA generator, {args.n} "
                                     f"pairs (A, B), the same seed at every step; a cell is the share of pairs whose "
                                     f"mixed image follows B among the pairs where A and B differ (silhouette: whose "
                                     f"objects overlap by IoU < 0.3), as in the table above; FID from the run's own "
                                     f"evaluations (shapes evaluator)."])
    write_claims_section(f"StyleGAN: style mixing along one run — {os.path.basename(run)}",
                         "Paper (§3.1, Fig. 3): coarse styles bring the source's pose and shape, fine styles its "
                         "colour scheme. Here: the same measurement at every checkpoint of one run.", measured,
                         f"OMP_NUM_THREADS=1 python benchmarks/claims/stylegan.py mixing-curve --run "
                         f"{os.path.relpath(run, REPO)}")


def claim_ppl(args) -> None:
    from ganforge.metrics.ppl import perceptual_path_length
    from ganforge.metrics.separability import linear_separability

    run = (args.run or [os.path.join(RUNS, "stylegan-shapes")])[0]
    gens = {"StyleGAN (`stylegan-shapes`)": (ganforge.load(run).generator, ("z", "w")),
            "traditional DCGAN (`dcgan-shapes`)": (ganforge.load(args.dcgan_run).generator, ("z",))}
    rows = ["| generator | space | PPL full | PPL end | separability (2^ΣH, bits) |", "|---|---|---:|---:|---:|"]
    protocol = None
    for name, (g, spaces) in gens.items():
        g.eval()
        for space in spaces:
            ppl = {s: perceptual_path_length(g, n=args.n, space=space, sampling=s, seed=0) for s in ("full", "end")}
            sep = linear_separability(g, "shapes", space=space, n=args.n, seed=0)
            protocol = ppl["full"].protocol.get("distance", protocol)
            rows.append(f"| {name} | {space.upper()} | {ppl['full'].score:.1f} | {ppl['end'].score:.1f} | "
                        f"{sep.score:.2f} |")
            print(rows[-1], flush=True)
    measured = "\n".join(rows + ["", f"{args.n} samples per number; PPL with ε = 1e-4, the 1st-99th percentile "
                                     f"filter and the default perceptual distance (LPIPS-form distance on the shipped "
                                     f"shapes evaluator's features: {protocol}); separability over the shapes "
                                     f"evaluator's 13 one-vs-rest attributes (shape, colour, background), LinearSVC, "
                                     f"most confident half kept."])
    write_claims_section("StyleGAN: W is less entangled than Z — path length and linear separability "
                         "(Karras et al. 2019)",
                         "Paper (Table 3-4, FFHQ): for the style-based generator PPL is lower in W than in Z "
                         "(e.g. full path 234.0 in W vs 412.0 for the traditional generator's Z; end-point 195.9 "
                         "vs 415.3) and linear separability is lower in W (3.79 with 8 mapping layers vs 10.78 for "
                         "the traditional Z).", measured,
                         f"OMP_NUM_THREADS=1 python benchmarks/claims/stylegan.py ppl --n {args.n}")


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


def claim_progan(args) -> None:
    seconds, every = 60 * args.minutes, 60 * args.minutes / 8
    data_name, _, res = args.data.partition(":")
    res = int(res or 32)
    top = int(round(math.log2(res / 4)))
    data = [f"data.name={data_name}", f"data.resolution={res}", *args.set]
    tag = "" if args.data == DEFAULT_PROGAN_DATA else f"-{data_name}{res}"
    curves = {f"progressive (4² → {res}²)": timed_fid_curve("progan-mnist", data, seconds, every,
                                                              os.path.join(RUNS, f"progan-progressive{tag}")),
              "full resolution from the start": timed_fid_curve("progan-mnist", [*data, f"method.start_level={top}"],
                                                                seconds, every, os.path.join(RUNS, f"progan-fixed{tag}"))}
    best = min(f for c in curves.values() for point in c for f in point[2:] if f == f)
    targets = sorted({round(t, 1) for t in (4 * best, 2 * best)}, reverse=True)
    rows = ["| training | generator | FID along the run (training seconds: FID) | " +
            " | ".join(f"seconds to FID ≤ {t:g}" for t in targets) + " |", "|---|---|---|" + "---:|" * len(targets)]
    for name, c in curves.items():
        for which, col in (("EMA", 2), ("live", 3)):
            reach = [next((f"{p[0]:.0f}" for p in c if p[col] <= t), "not reached") for t in targets]
            rows.append(f"| {name} | {which} | " + ", ".join(f"{p[0]:.0f}: {p[col]:.1f}" for p in c) + " | "
                        + " | ".join(reach) + " |")
    measured = "\n".join(rows + ["", f"`progan-mnist` with data {data_name} at {res}² (the same networks and "
                                     f"optimiser), {args.minutes:g} minutes of training time each on one CPU thread "
                                     f"(evaluation excluded); FID on 1,000 samples of the EMA generator and of the "
                                     f"live one, the data's shipped evaluator. Samples: "
                                     f"runs/claims/progan-*{tag}/samples/."])
    where = "" if not tag else f" — {data_name} at {res}²"
    write_claims_section(f"ProGAN: progressive growing reaches a given quality sooner (Karras et al. 2018){where}",
                         "Paper (§2, App. A; Fig. 4b): progressive growing speeds training up — on CelebA-HQ 1024² "
                         "about 5.4× faster to the same sliced-Wasserstein distance than training all layers "
                         "from the start, and it also stabilises training.", measured,
                         f"OMP_NUM_THREADS=1 python benchmarks/claims/stylegan.py progan --minutes {args.minutes:g}"
                         + (f" --data {args.data}" if tag else "") + "".join(f" --set {o}" for o in args.set))



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("claim", choices=["mixing", "mixing-curve", "ppl", "progan"])
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
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    claims = {"mixing": claim_mixing, "mixing-curve": claim_mixing_curve, "ppl": claim_ppl, "progan": claim_progan}
    claims[args.claim](args)


if __name__ == "__main__":
    main()
