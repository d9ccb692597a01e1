"""iGAN's three projectors and its colour-stroke edit, and the Neural Photo Editor's locality, in miniature
(Zhu et al., ECCV 2016, §3.1 Fig. 3 / §5; Brock et al., ICLR 2017, §2). Prints markdown tables; writes no docs.

On a trained DCGAN-32 on MNIST-5k (default: the dcgan-mnist preset's run, trained here if missing):

1. projection of real digits (MNIST-5k test split: held out when the run trained on split=train, as a run this
   script trains does) and of G's own samples by `encoder`, `opt` (one random
   start) and `hybrid` (encoder start): pixel MSE, feature MSE (the mnist5k evaluator's third block) and wall time
   per image (one image at a time, one CPU thread);
2. a colour stroke (a white bar) on the hybrid projections of real digits: the stroke region's colour cost before
   and after iGAN's constrained edit, how much the rest of the generation moved, and the discriminator's mean
   score of the edited generations against that of plain samples (realism);
3. the same stroke by the NPE rule: mean change of the photo outside the mask (0 by construction beyond the
   mask's reach) and inside the painted region.

    OMP_NUM_THREADS=1 python benchmarks/claims/igan.py [--run runs/claims/igan-dcgan-mnist] [--n 32]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys

import torch

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "src"))

from ganforge import api  # noqa: E402
from ganforge.config import load_config  # noqa: E402
from ganforge.data import build_dataset  # noqa: E402
from ganforge.editing import (EditSession, load_encoder, project, save_encoder, train_encoder)  # noqa: E402
from ganforge.editing.features import default_feature_net  # noqa: E402
from ganforge.editing.npe import dilate  # noqa: E402
from ganforge.train import Trainer  # noqa: E402
from ganforge.train.checkpoint import latest_checkpoint  # noqa: E402

STROKE = [{"type": "color", "points": [[8, 6], [24, 6]], "width": 3, "color": 255}]


def ensure_run(run: str) -> str:
    if not latest_checkpoint(os.path.join(run, "checkpoints")):
        print(f"training dcgan-mnist into {run} (about 5 CPU-minutes) ...", flush=True)
        Trainer(load_config("dcgan-mnist", ["train.progress=false", "train.tensorboard=false", "data.split=train"]),
                run_dir=run, overwrite=True).fit()
    return run


def ensure_encoder(g, folder: str, steps: int):
    if os.path.isfile(os.path.join(folder, "encoder.json")):
        return load_encoder(folder)
    print(f"training the encoder ({steps} steps) into {folder} ...", flush=True)
    enc, report = train_encoder(g, steps=steps, batch_size=32)
    save_encoder(enc, folder, report, g.checkpoint)
    print(f"  {report['seconds']:.0f}s, loss {report['loss_first']:.3f} -> {report['loss_last']:.3f}", flush=True)
    return enc


def mean_sd(v):
    return f"{statistics.mean(v):.4f} ± {statistics.stdev(v):.4f}" if len(v) > 1 else f"{v[0]:.4f}"


def projection_table(g, enc, images, steps: int, feats):
    rows = []
    for method in ("encoder", "opt", "hybrid"):
        err, ferr, secs = [], [], []
        for i in range(len(images)):
            x = images[i : i + 1]
            p = project(g, x, method, enc, steps=steps, seed=i)
            err.append(float(p.error[0]))
            with torch.no_grad():
                ferr.append(float(((feats(p.image) - feats(x)) ** 2).mean()))
            secs.append(p.seconds)
        rows.append((method, 0 if method == "encoder" else steps, mean_sd(err), mean_sd(ferr),
                     f"{1000 * statistics.mean(secs):.1f}"))
    return rows


def print_table(title, header, rows):
    print(f"\n{title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        print("| " + " | ".join(str(c) for c in r) + " |")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default=os.path.join(REPO, "runs", "claims", "igan-dcgan-mnist"))
    ap.add_argument("--encoder", help="encoder folder (default: RUN/encoder, trained if missing)")
    ap.add_argument("--encoder-steps", type=int, default=1500)
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--edit-steps", type=int, default=50)
    args = ap.parse_args()
    torch.set_num_threads(1)
    g = api.load(ensure_run(args.run))
    enc = ensure_encoder(g, args.encoder or os.path.join(args.run, "encoder"), args.encoder_steps)
    feats = default_feature_net(1)
    ds = build_dataset(load_config("dcgan-mnist", ["data.split=test"]).data)
    real = ds.get(torch.arange(args.n)).x
    own = g.sample(args.n, seed=12345)
    header = ["projector", "opt steps", "pixel MSE", "feature MSE", "ms / image"]
    split = g.config.data.split
    seen = "held out from training" if split == "train" else f"seen in training (the run trained on split={split})"
    print(f"run {args.run}, checkpoint {os.path.basename(g.checkpoint)}; {args.n} images each; 1 CPU thread")
    print_table(f"Projection of real digits (MNIST-5k test split, {seen})", header,
                projection_table(g, enc, real, args.steps, feats))
    print_table("Projection of the generator's own samples", header, projection_table(g, enc, own, args.steps, feats))

    disc = api.load_discriminator(args.run)
    before, after, moved, d_edit, npe_out, npe_in, step_ms = [], [], [], [], [], [], []
    npe_before, npe_after, npe_far = [], [], []
    for i in range(args.n):
        s = EditSession(g, real[i : i + 1], encoder=enc, project_steps=args.steps, edit_steps=args.edit_steps)
        r = s.stroke(STROKE)
        info = s.summary()
        before.append(info["colour_cost_before"])
        after.append(info["colour_cost_after"])
        outside = ~s.painted
        moved.append(float((r.generated - s.recon0).abs()[0, 0][outside].mean()))
        step_ms.append(1000 * r.seconds)
        with torch.no_grad():
            d_edit.append(float(disc(r.generated).mean()))
        n = EditSession(g, real[i : i + 1], method="npe", encoder=enc, projector="hybrid", project_steps=args.steps)
        n.stroke(STROKE)
        ni = n.summary()
        npe_out.append(ni["change_outside_painted"])
        npe_in.append(ni["change_inside_painted"])
        npe_before.append(ni["colour_cost_before"])
        npe_after.append(ni["colour_cost_after"])
        far = ~dilate(n.painted, 3 + 3)
        npe_far.append(float((n.result.output - n.original).abs()[..., far].max()))
    with torch.no_grad():
        d_samples = float(disc(g.sample(256, seed=7)).mean())
        d_real = float(disc(real).mean())
    print_table(f"iGAN colour stroke (white bar, {args.edit_steps} Adam steps, smoothness 5) on the hybrid "
                f"projections", ["measure", "value"],
                [("stroke-region colour cost, projection", mean_sd(before)),
                 ("stroke-region colour cost, after the edit", mean_sd(after)),
                 ("mean abs change of the generation outside the stroke", mean_sd(moved)),
                 ("D score (logit) of edited generations", mean_sd(d_edit)),
                 ("D score of 256 plain samples", f"{d_samples:.4f}"),
                 ("D score of the real digits", f"{d_real:.4f}"),
                 ("edit time per stroke (ms, incl. flow transfer)", f"{statistics.mean(step_ms):.0f}")])
    print_table("NPE rule, same stroke (10 steps, reach 3)", ["measure", "value"],
                [("stroke-region colour cost, reconstruction", mean_sd(npe_before)),
                 ("stroke-region colour cost, after the strokes", mean_sd(npe_after)),
                 ("mean abs change of the photo inside the painted pixels", mean_sd(npe_in)),
                 ("mean abs change of the photo outside the painted pixels", mean_sd(npe_out)),
                 ("max abs change farther than reach + blur radius (6 px)", f"{max(npe_far):.1e}")])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
