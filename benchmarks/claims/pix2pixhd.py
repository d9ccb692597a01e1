"""pix2pixHD's claims (Wang et al., CVPR 2018, §4.2 Table 1 and the ablations of §4.3 / §3.3), in miniature on the
touching-shapes label maps at 32×32 (``pix2pixhd-shapes`` preset, shortened runs).

* ``pix2pixhd`` — with the same number of iterations and batch: the FCN-score (per-pixel accuracy, class IoU of the
  shipped ``scenes`` segmenter on the translated images against the input labels) of pix2pixHD above pix2pix
  (``pix2pix-shapes-labels`` on the same touching data); the ablations single-scale D (num_d 1) and no feature
  matching; and whether the instance boundary map separates touching same-class objects: the boundary F-score
  between adjacent same-class objects (edges of the output — Sobel magnitude above a threshold — inside the pair's
  union eroded by 2 px, matched within 1 px to the true inter-instance boundary), with the boundary map vs without
  (`generator.instance_map=false`) and on the real images (the ceiling).

    python benchmarks/claims/pix2pixhd.py [--steps N] [--eval-n N] [--seeds 0 1]
    python benchmarks/claims/pix2pixhd.py --render
    python benchmarks/claims/pix2pixhd.py --styles RUN   # one label map in several K-means styles (instance_feat)

Runs are kept under runs/claims/pix2pixhd-<variant> (training seed 0) and pix2pixhd-<variant>-s<seed> (other seeds)
and reused when complete. With several ``--seeds`` every score is the mean over the seeds and the verdicts compare
the means against the spread between seeds (the larger of the two rows' standard deviations, and at least a fixed
floor).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from claims_common import (DIRECTION, NOT_REPRODUCED, REPO, REPRODUCED, command_line, make_results,  # noqa: E402
                           publish, script_cli_render, verdict_block)

from ganforge.config import load_config  # noqa: E402
from ganforge.data import build_dataset  # noqa: E402
from ganforge.train import Trainer  # noqa: E402
from ganforge.train.checkpoint import latest_checkpoint  # noqa: E402

RUNS = os.path.join(REPO, "runs", "claims")
TITLE = "pix2pixHD: multi-scale D + feature matching beat pix2pix; instance boundaries separate touching objects"
PAPER = ("Wang et al. (CVPR 2018), Table 1 (Cityscapes, PSPNet on the synthesised images): pix2pixHD pixel accuracy "
         "83.78, mean IoU 0.6389; pix2pix 78.34 / 0.3948; CRN 77.06 / 0.5238; real images 85.64 / 0.6857. §4.3 and "
         "the supplementary ablations: the feature-matching loss, the multi-scale discriminators and the perceptual "
         "loss each improve results; §3.3 (Fig. 4): the instance boundary map sharpens the boundaries between "
         "adjacent objects of the same class. (Table values as recalled in reference/next-wave.md §4 [mem].)")
THRESHOLD = 0.5  # Sobel magnitude (images in [-1, 1]) above which a pixel is an edge

VARIANTS = [  # name, preset, overrides
    ("pix2pixhd", "pix2pixhd-shapes", []),
    ("single-scale", "pix2pixhd-shapes", ["discriminator.num_d=1"]),
    ("no-fm", "pix2pixhd-shapes", ["method.feature_matching=false"]),
    ("no-boundary", "pix2pixhd-shapes", ["generator.instance_map=false"]),
    ("pix2pix", "pix2pix-shapes-labels", ["data.touching=true"]),
]


def run_dir(name: str, seed: int) -> str:
    return os.path.join(RUNS, f"pix2pixhd-{name}" + (f"-s{seed}" if seed else ""))


def logged_seconds(run: str):
    """Training wall-clock seconds from the run's metrics.jsonl (time of the last logged step minus the first,
    scaled to the whole run), so a reused run keeps its time; None without a log."""
    path = os.path.join(run, "metrics.jsonl")
    if not os.path.exists(path):
        return None
    recs = [r for r in (json.loads(line) for line in open(path) if line.strip()) if "time" in r and "step" in r]
    if len(recs) < 2 or recs[-1]["step"] <= recs[0]["step"]:
        return None
    return (recs[-1]["time"] - recs[0]["time"]) * recs[-1]["step"] / (recs[-1]["step"] - recs[0]["step"])


def train(name: str, preset: str, overrides, steps: int, threads: int, seed: int = 0) -> Trainer:
    run = run_dir(name, seed)
    cfg = load_config(preset, ["train.progress=false", "train.tensorboard=false", f"train.steps={steps}",
                               "train.batch_size=8", "train.eval_every=0", f"train.threads={threads}",
                               f"train.seed={seed}", f"train.checkpoint_every={steps}",
                               f"train.sample_every={steps}", *overrides])
    ckpt = latest_checkpoint(os.path.join(run, "checkpoints"))
    done = ckpt is not None and ckpt.endswith(f"step-{steps:06d}")
    t = Trainer(cfg, run_dir=run, resume=done, overwrite=not done)
    started = time.perf_counter()
    if not done:
        print(f"training {name} ({preset}, {steps} iterations, seed {seed}) ...", flush=True)
        t.fit()
    t.seconds = time.perf_counter() - started if not done else logged_seconds(run)
    return t


def sobel(x: torch.Tensor) -> torch.Tensor:
    """N×H×W gradient magnitude of N×C×H×W images (Sobel per channel, channels' magnitudes averaged)."""
    k = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]) / 4
    c = x.shape[1]
    w = torch.stack([k, k.t()])[:, None].repeat(c, 1, 1, 1)
    g = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), w, groups=c).reshape(x.shape[0], c, 2, *x.shape[-2:])
    return g.pow(2).sum(2).sqrt().mean(1)


def _dilate(m: torch.Tensor, r: int) -> torch.Tensor:
    return F.max_pool2d(m[:, None].float(), 2 * r + 1, 1, r)[:, 0] > 0


def pair_boundaries(labels: torch.Tensor, inst: torch.Tensor):
    """For every sample whose instances 1 and 2 share a class and touch: (region R, true boundary B), N×H×W bool;
    R = their union eroded by 2 px, B = pixels of one with a 4-neighbour in the other, inside R."""
    regions, bounds, keep = [], [], []
    for b in range(len(labels)):
        a, c = inst[b] == 1, inst[b] == 2
        if not a.any() or not c.any() or labels[b][a][0] != labels[b][c][0]:
            continue
        union = a | c
        region = ~_dilate(~union[None], 2)[0]
        near_c = F.max_pool2d(c[None, None].float(), 3, 1, 1)[0, 0] > 0
        near_a = F.max_pool2d(a[None, None].float(), 3, 1, 1)[0, 0] > 0
        bound = ((a & near_c) | (c & near_a)) & region
        if bound.sum() >= 3:
            regions.append(region), bounds.append(bound), keep.append(b)
    return keep, torch.stack(regions), torch.stack(bounds)


def boundary_fscore(images: torch.Tensor, regions: torch.Tensor, bounds: torch.Tensor) -> dict:
    """Precision / recall / F of the images' edges inside the regions against the true boundaries (1 px slack)."""
    edges = (sobel(images) > THRESHOLD) & regions
    tp_p = (edges & _dilate(bounds, 1)).sum().item()
    tp_r = (bounds & _dilate(edges, 1)).sum().item()
    p = tp_p / max(1, edges.sum().item())
    r = tp_r / max(1, bounds.sum().item())
    return {"precision": p, "recall": r, "f": 2 * p * r / max(1e-9, p + r)}


@torch.no_grad()
def score(generator, batch, pix2pixhd: bool, segmenter, pairs) -> dict:
    from ganforge.metrics.translation import confusion_matrix, segmentation_scores

    out = [batch.target]  # generator None: the real images (the ceiling)
    if generator is not None:
        generator.eval()
        out = []
        for s in range(0, len(batch), 100):
            b = batch[s:s + 100]
            out.append(generator(b.x, instance=b.attrs["instance"]) if pix2pixhd else generator(b.x))
    out = torch.cat(out).clamp(-1, 1)
    hist = confusion_matrix(segmenter(out).argmax(1), batch.mask, 4)
    seg = segmentation_scores(hist)
    keep, regions, bounds = pairs
    return {"pixel_acc": seg["pixel_acc"], "class_iou": seg["class_iou"], "class_acc": seg.get("class_acc"),
            "boundary": boundary_fscore(out[keep], regions, bounds), "images": out[keep][:8]}


def picture(test, pairs, images, path: str) -> str:
    """Held-out scenes with two touching same-class objects (the first 8 the boundary columns score): label map |
    instance boundary map | each run in table order | target."""
    from ganforge.methods.translation import as_display
    from ganforge.models.pix2pixhd import get_edges
    from ganforge.utils.images import save_grid

    keep = pairs[0]
    x, inst = test.x[keep][:8], test.attrs["instance"][keep][:8]
    size = tuple(images[0].shape[-2:])
    cols = [as_display(x, size), get_edges(inst).float().repeat(1, 3, 1, 1) * 2 - 1] + list(images)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    save_grid(torch.stack(cols, 1).flatten(0, 1), path, nrow=len(cols))
    return os.path.relpath(path, REPO)


def claim(args) -> None:
    from ganforge.dissect.segmenter import load_segmenter

    torch.set_num_threads(args.threads)
    test_cfg = load_config("pix2pixhd-shapes", [f"data.n={args.eval_n}", "data.seed=1"])  # held-out scenes
    test = build_dataset(test_cfg.data).get(torch.arange(args.eval_n))
    pairs = pair_boundaries(test.mask, test.attrs["instance"])
    per_seed = {}  # seed -> [(name, preset, Trainer)]; every run is trained before anything is scored
    for seed in args.seeds:
        chosen = None if seed == args.seeds[0] else args.variants  # the first seed always trains every variant
        per_seed[seed] = [(name, preset, train(name, preset, over, args.steps, args.threads, seed))
                          for name, preset, over in VARIANTS if not chosen or name in chosen]
    segmenter = load_segmenter("scenes")  # after training: a missing segmenter fails here, the runs are kept
    scored, pictures = {}, []  # name -> {seed: row}
    for seed, trainers in per_seed.items():
        for name, preset, t in trainers:
            row = {"seconds": t.seconds, **score(t.method.generator, test, preset.startswith("pix2pixhd"),
                                                 segmenter, pairs)}
            images = row.pop("images")
            if seed == args.seeds[0]:
                pictures.append(images)
            scored.setdefault(name, {})[seed] = row
            print(name, seed, row, flush=True)
    rows = [aggregate(name, scored[name]) for name, _, _ in VARIANTS]
    real = score(None, test, True, segmenter, pairs)
    pictures.append(real.pop("images"))
    fig = picture(test, pairs, pictures, os.path.join(REPO, "docs", "img", "pix2pixhd-touching.png"))
    numbers = {"steps": args.steps, "batch": 8, "resolution": 32, "eval_n": args.eval_n, "pairs": len(pairs[0]),
               "threshold": THRESHOLD, "seeds": list(args.seeds), "rows": rows, "real": real, "figure": fig}
    publish(make_results("pix2pixhd", __file__, "pix2pixhd", TITLE, command_line(), numbers))


SEED_KEYS = ("pixel_acc", "class_iou", "class_acc", "boundary_f")


def flat(row: dict) -> dict:
    return {"pixel_acc": row["pixel_acc"], "class_iou": row["class_iou"], "class_acc": row.get("class_acc"),
            "boundary_f": row["boundary"]["f"]}


def aggregate(name: str, by_seed: dict) -> dict:
    """One table row from {seed: scored row}: the mean of every score over the seeds, the per-seed scores under
    "seeds" and the standard deviation between seeds under "std" (0 for one seed)."""
    rows = list(by_seed.values())

    def mean(values):
        values = [v for v in values if v is not None]
        return sum(values) / len(values) if values else None

    out = {"run": name, "seconds": mean(r["seconds"] for r in rows),
           "pixel_acc": mean(r["pixel_acc"] for r in rows), "class_iou": mean(r["class_iou"] for r in rows),
           "class_acc": mean(r.get("class_acc") for r in rows),
           "boundary": {k: mean(r["boundary"][k] for r in rows) for k in ("precision", "recall", "f")}}
    out["seeds"] = {str(s): {**flat(r), "seconds": r["seconds"]} for s, r in by_seed.items()}
    out["std"] = {k: statistics.stdev(flat(r)[k] for r in rows) if len(rows) > 1 else 0.0
                  for k in ("pixel_acc", "class_iou", "boundary_f")}
    return out


def spread(row: dict, key: str) -> float:
    return row.get("std", {}).get(key, 0.0)


def pm(row: dict, key: str, fmt: str = "{:.3f}") -> str:
    value = row["boundary"]["f"] if key == "boundary_f" else row[key]
    sd = spread(row, key)
    return fmt.format(value) + (f" ± {fmt.format(sd)}" if sd else "")


IOU_FLOOR, F_FLOOR = 0.02, 0.05  # the smallest difference that counts, whatever the seed spread


def verdicts(n: dict):
    r = {row["run"]: row for row in n["rows"]}
    hd = r["pix2pixhd"]
    multi = len(n.get("seeds", [0])) > 1

    def bar(floor):
        return f"the larger of {floor} and the larger seed standard deviation" if multi else f"{floor}"

    parts = []

    def cmp(name, other, what, key="class_iou"):
        a, b = hd[key], r[other][key]
        margin = max(IOU_FLOOR, spread(hd, key), spread(r[other], key))
        label = REPRODUCED if a > b + margin else DIRECTION if a > b else NOT_REPRODUCED
        parts.append((name, label, f"class IoU {pm(hd, key)} (pix2pixHD) against {pm(r[other], key)} ({what}); "
                      f"pixel accuracy {pm(hd, 'pixel_acc')} against {pm(r[other], 'pixel_acc')}.",
                      f"pix2pixHD's class IoU higher by more than {bar(IOU_FLOOR)} (higher by less: same "
                      f"direction only)"))

    cmp("above pix2pix", "pix2pix", "pix2pix")
    cmp("multi-scale D helps", "single-scale", "single-scale D")
    cmp("feature matching helps", "no-fm", "no feature matching")
    nb = r["no-boundary"]
    a, b = hd["boundary"]["f"], nb["boundary"]["f"]
    margin = max(F_FLOOR, spread(hd, "boundary_f"), spread(nb, "boundary_f"))
    label = REPRODUCED if a > b + margin else DIRECTION if a > b else NOT_REPRODUCED
    parts.append(("boundary map separates touching same-class objects", label,
                  f"boundary F-score {pm(hd, 'boundary_f', '{:.2f}')} with the boundary map against "
                  f"{pm(nb, 'boundary_f', '{:.2f}')} without (real images {n['real']['boundary']['f']:.2f}).",
                  f"F-score higher by more than {bar(F_FLOOR)} (by less: same direction)"))
    return parts


def render(results: dict):
    n = results["numbers"]
    seeds = n.get("seeds", [0])
    multi = len(seeds) > 1
    rows = ["| run | pixel acc. | class IoU | " + ("class IoU per seed | " if multi else "")
            + "boundary P | boundary R | boundary F | train s |",
            "|---|---:|---:|" + ("---|" if multi else "") + "---:|---:|---:|---:|"]
    for row in n["rows"] + [{"run": "real images (ceiling)", **n["real"], "seconds": None}]:
        bd = row["boundary"]
        sec = "—" if row.get("seconds") is None else f"{row['seconds']:.0f}"
        per = ""
        if multi:
            per = (" / ".join(f"{row['seeds'][str(s)]['class_iou']:.3f}" if str(s) in row["seeds"] else "–"
                              for s in seeds) if "seeds" in row else "–") + " | "
        rows.append(f"| {row['run']} | {pm(row, 'pixel_acc')} | {pm(row, 'class_iou')} | {per}{bd['precision']:.2f} | "
                    f"{bd['recall']:.2f} | {pm(row, 'boundary_f', '{:.2f}')} | {sec} |")
    partial = [row["run"] for row in n["rows"] if len(row.get("seeds", {})) < len(seeds)]
    how = (f"training seeds {', '.join(map(str, seeds))} (scores: means over the seeds, ± the standard deviation "
           f"between them; train s: the mean wall-clock per run"
           + (f"; {', '.join(partial)} with seed {seeds[0]} only" if partial else "") + ")"
           if multi else f"one training seed {seeds[0]}")
    note = (f"{n['steps']} iterations, batch {n['batch']}, {n['resolution']}×{n['resolution']} (the paper: 2048×1024 "
            f"Cityscapes, 200 epochs), {how}: shrunk to fit a few CPU-minutes per run, so every number is early in "
            f"training. "
            f"Scores on {n['eval_n']} held-out scenes (data seed 1); the boundary columns on the {n['pairs']} scenes "
            f"whose two touching same-class objects share a boundary of ≥ 3 pixels inside their union eroded by 2 px "
            f"(edges: Sobel magnitude > {n['threshold']}). pix2pixHD runs use the pix2pixhd-shapes preset (G1 only, "
            f"2-scale D, LSGAN, FM λ 10, perceptual loss on the shipped shapes evaluator instead of the paper's "
            f"VGG19 — no ImageNet weights offline); the pix2pix run its own preset (U-Net, PatchGAN, L1 λ 100) on the "
            f"same touching data. pix2pixHD is evaluated with the data's instance maps. Runs: runs/claims/pix2pixhd-*."
            + (f" Picture (held-out scenes with a touching same-class pair: label map | instance boundary map | runs "
               f"in table order | real image; the first seed's runs): `{n['figure']}`." if n.get("figure") else ""))
    return PAPER, "\n".join(rows + ["", note]), verdict_block(verdicts(n))


RENDER = {"pix2pixhd": render}


@torch.no_grad()
def styles(run: str, out: str, n_maps: int = 4, n_styles: int = 6) -> str:
    """docs/img/pix2pixhd-styles.png: rows = label maps (label | boundary map | one output per cluster k), from a run
    trained with generator.instance_feat (its generator holds the per-class K-means centres)."""
    import ganforge
    from ganforge.methods.translation import as_display
    from ganforge.models.pix2pixhd import get_edges, sample_features
    from ganforge.utils.images import save_grid

    g = ganforge.load(run).generator.eval()
    cfg = load_config(os.path.join(run, "config.yaml"), [f"data.n={n_maps}", "data.seed=1"])
    b = build_dataset(cfg.data).get(torch.arange(n_maps))
    inst = b.attrs["instance"]
    cols = [b.x, get_edges(inst).repeat(1, 3, 1, 1) * 2 - 1]
    cols += [g(b.mask, inst, sample_features(g, b.mask, inst, cluster=k)) for k in range(n_styles)]
    size = tuple(cols[-1].shape[-2:])
    grid = torch.stack([as_display(c, size) for c in cols], 1).flatten(0, 1)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    return save_grid(grid, out, nrow=len(cols))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--eval-n", type=int, default=500)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds (scores: mean over them)")
    ap.add_argument("--variants", nargs="+", choices=[v[0] for v in VARIANTS],
                    help="the variants trained with the seeds after the first (default: all)")
    ap.add_argument("--render", action="store_true")
    ap.add_argument("--styles", metavar="RUN", help="draw docs/img/pix2pixhd-styles.png from a trained run")
    args = ap.parse_args()
    if args.render:
        return script_cli_render(__file__)
    if args.styles:
        print(styles(args.styles, os.path.join(REPO, "docs", "img", "pix2pixhd-styles.png")))
        return None
    claim(args)


if __name__ == "__main__":
    main()
