"""Train the in-house content network of SRGAN's `content: features` loss (ganforge.methods.srgan), shipped as
src/ganforge/assets/sr-content-photos.safetensors + .json.

    OMP_NUM_THREADS=1 python scripts/train_sr_content_net.py

The paper's content loss uses VGG19 φ5,4 features (ImageNet-trained); no such weights are available offline, so
this script trains a small "where does this patch come from" classifier on the HR patches of sr-photos' train
split (32×32, the bundled photos reduced ×2): the classes are the cells of a 3×4 grid over each photo's train
region (2 photos → 24 classes), so the features must tell textures, edges and colours of different places apart.
Architecture: ganforge's EvaluatorNet trunk (conv3×3-BN-ReLU, widths 32, 64 s2, 64, 128 s2) with one linear head;
the content loss reads the last trunk feature maps (8×8×128 for a 32×32 patch, after ReLU, before pooling).
Accuracy is measured on fresh crops (another seed) of the same train region; the test region is never seen.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

from ganforge.data import build_dataset
from ganforge.data.super_resolution import SRPhotosConfig, crop_regions, load_photo, photo_paths
from ganforge.metrics.evaluator import ASSETS_DIR, EvaluatorConfig, EvaluatorNet
from ganforge.utils.assets import save_asset

NAME = "sr-content-photos"
GRID = (3, 4)  # rows × columns of cells over each photo's train region


def labels(ds, cfg: SRPhotosConfig) -> torch.Tensor:
    """Cell index of each crop's centre: photo · rows · cols + row · cols + col."""
    sizes = {n: tuple(load_photo(p, cfg.downscale).shape[1:]) for n, p in photo_paths(cfg.photos).items()}
    regions = {r[0]: r for r in crop_regions(cfg, sizes)}
    rows, cols = GRID
    out = torch.empty(len(ds), dtype=torch.int64)
    for i in range(len(ds)):
        photo = ds.photo_names[int(ds.attrs["photo"][i])]
        _, lo, hi = regions[photo]
        h = sizes[photo][0]
        cy = int(ds.attrs["top"][i]) + cfg.hr_size / 2
        cx = int(ds.attrs["left"][i]) + cfg.hr_size / 2 - lo
        r, c = min(rows - 1, int(cy * rows / h)), min(cols - 1, int(cx * cols / (hi - lo)))
        out[i] = int(ds.attrs["photo"][i]) * rows * cols + r * cols + c
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--n", type=int, default=12000)
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    started = time.time()
    train_cfg, test_cfg = SRPhotosConfig(n=args.n, seed=100), SRPhotosConfig(n=2000, seed=101)
    train, test = build_dataset(train_cfg), build_dataset(test_cfg)
    y_train, y_test = labels(train, train_cfg), labels(test, test_cfg)
    k = len(train.photo_names) * GRID[0] * GRID[1]
    cfg = EvaluatorConfig(NAME, in_channels=3, resolution=32, trunk=[(32, 1), (64, 2), (64, 1), (128, 2)],
                          heads={"cell": [f"{p}:{i}" for p in train.photo_names for i in range(GRID[0] * GRID[1])]},
                          primary="cell")
    net = EvaluatorNet(cfg, quantize=False)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    bs = 64
    steps = args.epochs * (len(train) // bs)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    g = torch.Generator().manual_seed(0)
    for epoch in range(args.epochs):
        net.train()
        perm = torch.randperm(len(train), generator=g)
        for i in range(len(train) // bs):
            idx = perm[i * bs:(i + 1) * bs]
            loss = F.cross_entropy(net.logits(train.get(idx).target), y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        print(f"epoch {epoch + 1}: loss {loss.item():.3f}", file=sys.stderr)
    net.eval()
    with torch.no_grad():
        acc_train = (net.logits(train.get(torch.arange(2000)).target).argmax(1) == y_train[:2000]).float().mean()
        acc_test = (net.logits(test.get(torch.arange(len(test))).target).argmax(1) == y_test).float().mean()
    card = {
        "task": f"which cell of a {GRID[0]}×{GRID[1]} grid over which photo's train region a 32×32 HR patch is from",
        "use": "SRGAN content loss (method.content=features): last trunk feature maps, the stand-in for VGG19 φ5,4",
        "data": {"dataset": "sr-photos", "train": f"SRPhotosConfig(split=train, seed=100, n={args.n})",
                 "held_out": "SRPhotosConfig(split=train, seed=101, n=2000) (fresh crops of the same region; the "
                             "test region is never used)", "classes": k},
        "train_accuracy": round(float(acc_train), 4),
        "held_out_accuracy": round(float(acc_test), 4),
        "training": {"epochs": args.epochs, "batch_size": bs, "optimizer": "AdamW", "schedule": "one-cycle 3e-3",
                     "seed": 0, "threads": 1, "seconds": round(time.time() - started, 1), "torch": torch.__version__,
                     "command": "python scripts/train_sr_content_net.py"},
    }
    base = os.path.join(ASSETS_DIR, NAME)
    card = save_asset(net, cfg.to_json(), card, base + ".safetensors", base + ".json")
    print(f"held-out accuracy {card['held_out_accuracy']}, train {card['train_accuracy']}; wrote {base}.*")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
