"""Claims of CycleGAN (Zhu, Park, Isola, Efros, "Unpaired Image-to-Image Translation using Cycle-Consistent
Adversarial Networks", ICCV 2017, §5.1.4 "Analysis of the loss function", Table 4 / Fig. 7): the loss ablation —
GAN alone, cycle alone, GAN + forward cycle, full CycleGAN — in miniature, on two kinds of unpaired data
(``--data``):

  digits  `digits-ab` (MNIST-5k digits A <-> thick coloured digits on a textured background B, 32²), scored by
          label preservation: the share of translations G(a) that the shipped digit-B classifier assigns a's own
          digit (chance ≈ 0.1). The labels are never used in training: B's digits are other digits than A's.
          Miniature: ResNet G with 8 channels and 2 residual blocks, PatchGAN D (16 channels, n_layers 2),
          batch 8 instead of 1.
  labels  the paper's own setting, Cityscapes labels <-> photo, as unpaired `shapes-labels` (colour-coded class
          maps A <-> textured scenes B drawn from a disjoint set of scenes, 32²; the `cyclegan-shapes-labels`
          preset: ResNet G 16 channels / 6 blocks, PatchGAN D 32 channels, batch 4 instead of 1), scored by the
          FCN-score of labels -> scene (Table 4): the shipped `scenes` segmenter's per-pixel accuracy, per-class
          accuracy and class IoU on G(a) against a's labels, on held-out label maps (data seed 1), with the real
          scenes of those maps as the ceiling; FID in the shipped shapes evaluator's features beside it.

Both: the same number of iterations for every row, identity loss 0 for every row (so "GAN alone" is the GAN term
alone; the paper's Cityscapes runs use no identity term either), lr constant for the first half then linear to 0.

    OMP_NUM_THREADS=1 python benchmarks/claims/cyclegan.py [--data digits] [--steps 600 --seeds 0]
    OMP_NUM_THREADS=1 python benchmarks/claims/cyclegan.py --data labels [--steps 1200 --seeds 0 1]
    python benchmarks/claims/cyclegan.py --render

With ``--data labels`` each trained translator G: A -> B is kept under runs/claims/cyclegan-labels/ (safetensors +
JSON) and reused by a later run with the same settings.
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
from claims_common import (DIRECTION, NOT_REPRODUCED, REPRODUCED, command_line, make_results,  # noqa: E402
                           mean_of, publish, script_cli_render, verdict_block)

from ganforge.config import load_config  # noqa: E402
from ganforge.data import build_dataset  # noqa: E402
from ganforge.train import Trainer  # noqa: E402
from ganforge.translation_eval import evaluate_translation  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TITLE = "CycleGAN: the loss ablation on digits A ↔ B (label preservation)"
LABELS_TITLE = "CycleGAN: the loss ablation on unpaired labels ↔ scenes (FCN-score, Table 4)"
LABELS_CACHE = os.path.join(REPO, "runs", "claims", "cyclegan-labels")
# Zhu et al. 2017, Table 4 (Cityscapes labels -> photo, FCN-score: per-pixel acc., per-class acc., class IoU) and
# Table 5 (photo -> labels), as remembered (not re-checked against the PDF here).
PAPER_LABELS = {"cycle": (0.22, 0.07, 0.02), "gan": (0.51, 0.11, 0.08), "gan_fwd": (0.55, 0.18, 0.12),
                "gan_bwd": (0.39, 0.14, 0.06), "full": (0.52, 0.17, 0.11)}
PAPER_PHOTO_TO_LABELS = {"cycle": (0.10, 0.05, 0.02), "gan": (0.53, 0.11, 0.07), "gan_fwd": (0.49, 0.11, 0.07),
                         "gan_bwd": (0.01, 0.06, 0.01), "full": (0.58, 0.22, 0.16)}
PAPER = ("Table 4 / Fig. 7 (Cityscapes labels ↔ photo, FCN-score; numbers as remembered, not re-checked against "
         "the PDF): GAN alone and cycle alone are much worse than the full objective; GAN + forward cycle is close "
         "but shows mode collapse and instability. Labels → photo (per-pixel / per-class / IoU): cycle alone 0.22 / "
         "0.07 / 0.02, GAN alone 0.51 / 0.11 / 0.08, GAN + forward cycle 0.55 / 0.18 / 0.12, GAN + backward cycle "
         "0.39 / 0.14 / 0.06, CycleGAN 0.52 / 0.17 / 0.11; photo → labels (Table 5): cycle alone 0.10 / 0.05 / "
         "0.02, GAN alone 0.53 / 0.11 / 0.07, GAN + forward 0.49 / 0.11 / 0.07, GAN + backward 0.01 / 0.06 / 0.01, "
         "CycleGAN 0.58 / 0.22 / 0.16.")
ROWS = {  # id -> (label, overrides)
    "gan": ("GAN alone", ["method.cycle_forward=0", "method.cycle_backward=0"]),
    "cycle": ("cycle alone", ["method.gan_weight=0"]),
    "gan_fwd": ("GAN + forward cycle", ["method.cycle_backward=0"]),
    "full": ("CycleGAN (GAN + both cycles)", []),
}


def config(steps: int, seed: int, overrides):
    return load_config("cyclegan-digits", [
        "generator.channels=8", "generator.n_blocks=2", "discriminator.channels=16", "train.batch_size=8",
        f"train.steps={steps}", f"train.seed={seed}", "train.progress=false", "train.tensorboard=false",
        "train.eval_every=0", "train.checkpoint_every=1000000", "train.sample_every=1000000", "train.threads=1",
        "method.identity=0", *overrides])


def run(key: str, steps: int, seed: int, eval_n: int) -> dict:
    cfg = config(steps, seed, ROWS[key][1])
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, run_dir=tmp)
        trainer.fit()
    seconds = time.perf_counter() - t0
    g = trainer.method.generator.eval()
    res = evaluate_translation(g, cfg.data, "labels,fid", dataset=trainer.dataset, n=eval_n)
    with torch.no_grad():
        b = trainer.dataset.get(torch.arange(10))
        pictures = g(b.x).clamp(-1, 1)
        back = trainer.method.generator_ba.eval()(pictures).clamp(-1, 1)
    return {"label_acc": res.scores["label_acc"], "label_acc_real": res.scores.get("label_acc_real"),
            "fid": res.scores["fid"], "seconds": seconds, "pictures": pictures, "back": back,
            "inputs": b.x}


def picture(rows: dict, path: str) -> str:
    """Rows: the 10 inputs, then each model's translations G(a) (table order)."""
    from ganforge.utils.images import save_grid

    first = next(iter(rows.values()))
    lines = [first["inputs"].repeat(1, 3, 1, 1)] + [rows[k]["pictures"] for k in ROWS]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    save_grid(torch.cat(lines), path, nrow=10)
    return os.path.relpath(path, REPO)


def measure(args) -> None:
    rows, first = {}, {}
    for key in ROWS:
        per_seed = []
        for seed in args.seeds:
            r = run(key, args.steps, seed, args.eval_n)
            print(key, seed, {k: round(v, 3) for k, v in r.items() if isinstance(v, float)}, flush=True)
            if seed == args.seeds[0]:
                first[key] = r
            per_seed.append({k: v for k, v in r.items() if not isinstance(v, torch.Tensor)})
        rows[key] = per_seed
    fig = picture(first, os.path.join(REPO, "docs", "img", "cyclegan-ablation.png"))
    numbers = {"rows": rows, "steps": args.steps, "seeds": args.seeds, "eval_n": args.eval_n, "figure": fig}
    publish(make_results("cyclegan-ablation", __file__, "ablation", TITLE, command_line(), numbers))


# -- rendering ----------------------------------------------------------------------------------------------------------
def render(results):
    n = results["numbers"]
    paper = (PAPER + " The claim here (issue 17): on digits A ↔ B the digit is preserved far above chance only "
                     "with the cycle loss.")
    lines = ["| objective | seed | label preservation G(a) | FID (digit-B features) | seconds |",
             "|---|---:|---:|---:|---:|"]
    for key, (label, _) in ROWS.items():
        for seed, r in zip(n["seeds"], n["rows"][key]):
            lines.append(f"| {label} | {seed} | {r['label_acc']:.3f} | {r['fid']:.1f} | {r['seconds']:.0f} |")
    real = n["rows"]["full"][0].get("label_acc_real")
    lines += ["", f"Chance ≈ 0.10; the classifier on real B images: {real:.3f}. {n['steps']} iterations per row "
              f"(batch 8), scored on the first {n['eval_n']} A digits (their labels were never used). Picture "
              f"(first row the inputs, then one row per objective in table order): `{n['figure']}`."]
    return paper, "\n".join(lines), verdict_block(verdicts(n))


def verdicts(n):
    acc = {k: mean_of(n["rows"][k], "label_acc") for k in ROWS}
    with_cycle = min(acc["full"], acc["gan_fwd"])
    parts = []
    ok = acc["gan"] < 0.3 and with_cycle > 0.6
    dirn = with_cycle > acc["gan"] + 0.1
    parts.append(("label kept only with the cycle loss", REPRODUCED if ok else DIRECTION if dirn else NOT_REPRODUCED,
                  "label preservation " + ", ".join(f"{ROWS[k][0]} {v:.2f}" for k, v in acc.items()) + ".",
                  "GAN alone below 0.3 (near chance) and both GAN + cycle objectives above 0.6; same direction "
                  "when the cycle objectives are at least 0.1 above GAN alone"))
    best = max(acc, key=acc.get)
    parts.append(("full objective best", REPRODUCED if best == "full" else DIRECTION
                  if acc["full"] >= max(acc.values()) - 0.02 else NOT_REPRODUCED,
                  f"highest: {ROWS[best][0]} {acc[best]:.2f}; full {acc['full']:.2f}.",
                  "the full CycleGAN has the highest label preservation (within 0.02: same direction)"))
    return parts


# -- labels <-> scenes (the paper's Cityscapes setting) ----------------------------------------------------------------
SCORES = ("pixel_acc", "class_acc", "class_iou")
FLOOR = 0.02  # the smallest class-IoU difference that counts as a difference, whatever the seed spread
MUCH = 0.10  # "much worse": class IoU lower than the full objective's by more than this


def labels_config(steps: int, seed: int, overrides):
    return load_config("cyclegan-shapes-labels", [
        f"train.steps={steps}", f"train.seed={seed}", "train.progress=false", "train.tensorboard=false",
        "train.eval_every=0", "train.checkpoint_every=1000000", "train.sample_every=1000000", "train.threads=1",
        "method.identity=0", *overrides])


def held_out(n: int):
    """Held-out *paired* scenes (data seed 1): a translation G(a) is scored against a's labels, the real scene of
    the same label map gives the ceiling."""
    cfg = load_config("cyclegan-shapes-labels", [f"data.n={n}", "data.seed=1", "data.unpaired=false"]).data
    return cfg, build_dataset(cfg)


def train_labels(key: str, steps: int, seed: int):
    """G: labels -> scene of one row and seed, trained (or loaded from the cache of an earlier run with the same
    settings), and its training time (wall-clock and CPU seconds)."""
    cfg = labels_config(steps, seed, ROWS[key][1])
    cached = os.path.join(LABELS_CACHE, f"{key}-{steps}-s{seed}")
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, run_dir=tmp)
        if os.path.exists(cached + ".safetensors"):
            trainer.method.generator.load_state_dict(load_file(cached + ".safetensors"))
            times = json.load(open(cached + ".json"))
        else:
            print(f"training {key} ({steps} iterations, seed {seed}) ...", flush=True)
            t0, c0 = time.perf_counter(), time.process_time()
            trainer.fit()
            times = {"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}
            os.makedirs(LABELS_CACHE, exist_ok=True)
            save_file({k: v.contiguous() for k, v in trainer.method.generator.state_dict().items()},
                      cached + ".safetensors")
            with open(cached + ".json", "w") as f:
                json.dump(times, f)
    return trainer.method.generator.eval(), times


def score_labels(g, data_cfg, data, eval_n: int) -> dict:
    s = evaluate_translation(g, data_cfg, "fcn,fid", dataset=data, n=eval_n).scores
    out = {k: s[f"fcn_{k}"] for k in SCORES}
    out.update({"real_" + k: s[f"fcn_real_{k}"] for k in SCORES})
    out["fid"] = s["fid"]
    return out


def measure_labels(args) -> None:
    data_cfg, data = held_out(args.eval_n)
    generators, rows = {}, {}
    for seed in args.seeds:  # train every row first (seed by seed, the full objective first; each kept in the
        for key in sorted(ROWS, key=lambda k: k != "full"):  # cache, so an interrupted run loses one row), then score
            generators[key, seed] = train_labels(key, args.steps, seed)
    for key in ROWS:
        per = {}
        for seed in args.seeds:
            g, times = generators[key, seed]
            per[seed] = {**score_labels(g, data_cfg, data, args.eval_n), **times}
            print(key, seed, {k: round(v, 3) for k, v in per[seed].items()}, flush=True)
        rows[key] = aggregate(per)
    with torch.no_grad():
        b = data.get(torch.arange(8))
        cols = [b.x] + [generators[k, args.seeds[0]][0](b.x).clamp(-1, 1) for k in ROWS] + [b.target]
    from ganforge.utils.images import save_grid

    path = os.path.join(REPO, "docs", "img", "cyclegan-labels-ablation.png")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    save_grid(torch.stack(cols, 1).flatten(0, 1), path, nrow=len(cols))
    numbers = {"rows": rows, "steps": args.steps, "seeds": args.seeds, "eval_n": args.eval_n, "batch": 4,
               "figure": os.path.relpath(path, REPO)}
    publish(make_results("cyclegan-labels", __file__, "labels", LABELS_TITLE, command_line(), numbers))


def aggregate(per: dict) -> dict:
    """One row from {seed: scores}: the mean of every number over the seeds, the per-seed scores under "seeds" and
    the standard deviation between seeds under "std" (0 for one seed)."""
    first = next(iter(per.values()))
    out = {k: sum(r[k] for r in per.values()) / len(per) for k in first}
    out["seeds"] = {str(s): {k: r[k] for k in SCORES + ("fid",)} for s, r in per.items()}
    out["std"] = {k: statistics.stdev(r[k] for r in per.values()) if len(per) > 1 else 0.0
                  for k in SCORES + ("fid",)}
    return out


def mean_sd(row: dict, key: str, fmt: str = "{:.3f}") -> str:
    sd = row.get("std", {}).get(key, 0.0)
    return fmt.format(row[key]) + (f" ± {fmt.format(sd)}" if sd else "")


def verdicts_labels(n: dict):
    rows = n["rows"]
    multi = len(n["seeds"]) > 1

    def margin(a, b):
        return max(FLOOR, rows[a]["std"]["class_iou"], rows[b]["std"]["class_iou"])

    bar = f"the larger of {FLOOR} and the larger seed standard deviation" if multi else f"{FLOOR}"
    iou = {k: rows[k]["class_iou"] for k in ROWS}
    listing = ", ".join(f"{ROWS[k][0]} {mean_sd(rows[k], 'class_iou')}" for k in ROWS)
    others = [k for k in ROWS if k != "full"]
    if all(iou["full"] > iou[k] + margin("full", k) for k in others):
        best = REPRODUCED
    elif all(iou["full"] > iou[k] for k in others):
        best = DIRECTION
    else:
        best = NOT_REPRODUCED
    parts = [("full objective best", best, f"class IoU: {listing}.",
              f"the full CycleGAN's class IoU above every other row's by more than {bar} (above by less: same "
              f"direction); in the paper's own labels → photo table GAN + forward cycle is level with the full "
              f"objective (IoU 0.12 against 0.11)")]
    weak = ("gan", "cycle")
    gaps = {k: iou["full"] - iou[k] for k in weak}
    if all(gaps[k] > max(MUCH, margin("full", k)) for k in weak):
        much = REPRODUCED
    elif all(gaps[k] > 0 for k in weak):
        much = DIRECTION
    else:
        much = NOT_REPRODUCED
    parts.append(("GAN alone and cycle alone much worse", much,
                  f"class IoU below the full objective's by {gaps['gan']:.3f} (GAN alone) and {gaps['cycle']:.3f} "
                  f"(cycle alone).",
                  f"both below the full objective's class IoU by more than {MUCH} and by more than {bar} (below it "
                  f"by less: same direction)"))
    return parts


def render_labels(results):
    n = results["numbers"]
    multi = len(n["seeds"]) > 1
    lines = ["| objective | per-pixel acc | per-class acc | class IoU | " + ("class IoU per seed | " if multi else "")
             + "FID (shapes features) | train CPU s | paper labels → photo (pixel / class / IoU) |",
             "|---|---:|---:|---:|" + ("---|" if multi else "") + "---:|---:|---|"]
    for key, (label, _) in ROWS.items():
        r = n["rows"][key]
        per = (" / ".join(f"{r['seeds'][str(s)]['class_iou']:.3f}" for s in n["seeds"]) + " | ") if multi else ""
        lines.append(f"| {label} | {mean_sd(r, 'pixel_acc')} | {mean_sd(r, 'class_acc')} | "
                     f"{mean_sd(r, 'class_iou')} | {per}{mean_sd(r, 'fid', '{:.1f}')} | {r['cpu_seconds']:.0f} | "
                     f"{' / '.join(f'{v:.2f}' for v in PAPER_LABELS[key])} |")
    real = n["rows"]["full"]
    lines.append(f"| real scenes (ceiling) | {real['real_pixel_acc']:.3f} | {real['real_class_acc']:.3f} | "
                 f"{real['real_class_iou']:.3f} | " + ("– | " if multi else "") + "– | – | – |")
    seeds = n["seeds"]
    how = (f"training seeds {', '.join(map(str, seeds))}; scores are means over the seeds, ± the standard deviation "
           f"between them" if multi else f"one training seed {seeds[0]}")
    lines += ["", f"{n['steps']} iterations per row (batch {n['batch']}, {how}; the preset's 3,000 shortened to fit "
              f"the CPU budget), the cyclegan-shapes-labels preset's networks with the identity term off for every "
              f"row. Trained on unpaired label maps and scenes (domain B drawn from a disjoint set of scenes); "
              f"FCN-score of the shipped `scenes` segmenter on the translations G(a) of {n['eval_n']} held-out label "
              f"maps (data seed 1) against their labels, the ceiling on the real scenes of the same maps; FID in "
              f"the shipped shapes evaluator's features against those real scenes. The paper's GAN + backward "
              f"cycle row was not run. Picture (label map | rows in table order | the real scene of that map, "
              f"never seen in training; the first seed's translations): `{n['figure']}`."]
    return PAPER, "\n".join(lines), verdict_block(verdicts_labels(n))


RENDER = {"ablation": render, "labels": render_labels}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", choices=["digits", "labels"], default="digits",
                    help="digits: digits-ab, label preservation; labels: shapes-labels, FCN-score")
    ap.add_argument("--steps", type=int, default=None, help="iterations per row (default 600 digits, 1200 labels)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--eval-n", type=int, default=None, help="scored samples (default 1000 digits, 500 labels)")
    ap.add_argument("--render", action="store_true")
    args = ap.parse_args()
    if args.render:
        return script_cli_render(__file__)
    torch.set_num_threads(1)
    labels = args.data == "labels"
    args.steps = args.steps or (1200 if labels else 600)
    args.eval_n = args.eval_n or (500 if labels else 1000)
    (measure_labels if labels else measure)(args)


if __name__ == "__main__":
    main()
