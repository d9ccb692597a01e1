"""Train the shapes segmenter that ganforge ships in src/ganforge/assets/ (see ganforge.dissect.segmenter).

    python scripts/train_segmenter.py                # about 8 minutes on one (shared) CPU thread
    python scripts/train_segmenter.py --epochs 12 --out /tmp/assets
    python scripts/train_segmenter.py --name scenes  # the textured scenes of shapes-labels (the FCN-score)

Per-pixel classes: background, circle, square, triangle (the shapes masks), and a second head for the colour of
the object under each pixel ("none" on the background; read off the exact palette colours). Training scenes: seed 0, half with
one object (what dcgan-shapes learns) and half with 1-3 overlapping objects (so occlusions are seen); each batch
is augmented with random shifts, a random blur and Gaussian noise, because generated images have softer edges and
noise that the procedural ones lack. `--name scenes` trains the segmenter of the textured scenes of the
``shapes-labels`` translation data instead (class head only; 1-3 objects, half of them with touching same-class
pairs; held out: seeds 1 and 2; augmented with permuted colour channels and grey images and without blur, so
that it reads shape and texture, not the classes' typical colours, and blurred scenes are not read as sharp ones),
the FCN-score's network (pix2pix, Isola et al. 2017, §4.2). Held out: scenes drawn with seed 1 (one object) and seed 2 (1-3 objects),
disjoint random streams. The mean IoU written to the JSON card is re-measured after reloading the saved file with
load_segmenter, i.e. exactly as users (and tests/test_dissect_segmenter.py) get it.
"""
from __future__ import annotations

import argparse
import logging
import math
import sys
import time

import torch
import torch.nn.functional as F

from ganforge.data import build_dataset
from ganforge.data.shapes import COLORS, MASK_CLASSES, ShapesConfig
from ganforge.dissect.segmenter import SegmenterConfig, SegmenterNet, load_segmenter, mean_iou, save_segmenter

log = logging.getLogger("train_segmenter")

TRAIN = [dict(seed=0, n=6000, max_objects=1), dict(seed=0, n=6000, max_objects=3)]
HELD_OUT = {"one_object": dict(seed=1, n=1000, max_objects=1), "multi_object": dict(seed=2, n=1000, max_objects=3)}


COLOR_CLASSES = ["none"] + list(COLORS)


def color_labels(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """N×H×W: 1 + index of the palette colour of each object pixel (exact colours), 0 on the background."""
    palette = torch.tensor(list(COLORS.values()), dtype=torch.float32) / 127.5 - 1  # K×3
    dist = ((x[:, None] - palette[None, :, :, None, None]) ** 2).sum(2)  # N×K×H×W
    return torch.where(mask > 0, dist.argmin(1) + 1, torch.zeros_like(mask))


SCENES_TRAIN = [dict(seed=0, n=6000), dict(seed=0, n=3000, touching=True)]
SCENES_HELD_OUT = {"scenes": dict(seed=1, n=1000), "touching": dict(seed=2, n=1000, touching=True)}


def load_scenes(specs, resolution: int):
    """Textured scenes of shapes-labels (its targets, float in [-1, 1]) and N×1×H×W class labels."""
    from ganforge.data.translation import ShapesPairsConfig

    sets = [build_dataset(ShapesPairsConfig(resolution=resolution, **s)) for s in specs]
    batches = [s.get(slice(0, len(s))) for s in sets]
    return torch.cat([b.target for b in batches]), torch.cat([b.mask for b in batches])[:, None]


def load_data(specs, resolution: int):
    """Images (float in [-1, 1]) and N×2×H×W labels: shape class, colour class."""
    sets = [build_dataset(ShapesConfig(resolution=resolution, **s)) for s in specs]
    x = torch.cat([s.get(slice(0, len(s))).x for s in sets])
    mask = torch.cat([s.get(slice(0, len(s))).mask for s in sets])
    return x, torch.stack([mask, color_labels(x, mask)], 1)


def augment(x: torch.Tensor, mask: torch.Tensor, gen: torch.Generator, shift: int = 2, blur: bool = True,
            recolour: bool = False):
    """Same random integer shift for image and mask (border repeated), random 3×3 blur, Gaussian noise; with
    `recolour`, each image's RGB channels in a random order and a third of the images in grey, so that colour
    says nothing about the class (the scenes segmenter must read shape and texture)."""
    n, _, h, w = x.shape
    if shift:
        px = F.pad(x, (shift,) * 4, mode="replicate")
        pm = F.pad(mask.float(), (shift,) * 4, mode="replicate").long()
        dx, dy = (torch.randint(0, 2 * shift + 1, (n,), generator=gen) for _ in range(2))
        x = torch.stack([px[i, :, dy[i]: dy[i] + h, dx[i]: dx[i] + w] for i in range(n)])
        mask = torch.stack([pm[i, :, dy[i]: dy[i] + h, dx[i]: dx[i] + w] for i in range(n)])
    if blur:
        amount = torch.rand(n, 1, 1, 1, generator=gen) * 0.6
        x = (1 - amount) * x + amount * F.avg_pool2d(F.pad(x, (1,) * 4, mode="replicate"), 3, 1)
    if recolour:
        order = torch.stack([torch.randperm(3, generator=gen) for _ in range(n)])
        x = torch.gather(x, 1, order[:, :, None, None].expand(-1, -1, h, w))
        grey = torch.rand(n, 1, 1, 1, generator=gen) < 1 / 3
        x = torch.where(grey, x.mean(1, keepdim=True).expand_as(x), x)
    noise = torch.rand(n, 1, 1, 1, generator=gen) * 0.08
    return (x + noise * torch.randn(x.shape, generator=gen)).clamp(-1, 1), mask


def train(model, x, mask, epochs: int, batch_size: int, lr: float, seed: int, **aug) -> None:
    """AdamW, one-cycle schedule, per-pixel cross-entropy of both heads."""
    gen = torch.Generator().manual_seed(seed)
    steps = epochs * math.ceil(len(x) / batch_size)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.2)
    model.train()
    for epoch in range(epochs):
        perm, total = torch.randperm(len(x), generator=gen), 0.0
        for i in range(0, len(x), batch_size):
            idx = perm[i: i + batch_size]
            xb, mb = augment(x[idx], mask[idx], gen, **aug)
            logits = model.head_logits(xb)
            loss = F.cross_entropy(logits["class"], mb[:, 0])
            if "color" in logits:
                loss = loss + F.cross_entropy(logits["color"], mb[:, 1])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        log.info("epoch %d/%d: loss %.4f", epoch + 1, epochs, total / len(x))
    model.eval()


@torch.no_grad()
def evaluate(model, x, labels, batch_size: int = 500):
    """Mean IoU and pixel accuracy of the shape head, and of the colour head on object pixels."""
    logits = [model.head_logits(x[i: i + batch_size]) for i in range(0, len(x), batch_size)]
    pred = torch.cat([lg["class"].argmax(1) for lg in logits])
    if "color" not in logits[0]:
        miou, per_class = mean_iou(pred, labels[:, 0], len(MASK_CLASSES))
        return {"mean_iou": round(miou, 4), "iou": {c: round(v, 4) for c, v in zip(MASK_CLASSES, per_class)},
                "pixel_accuracy": round(float((pred == labels[:, 0]).float().mean()), 4)}
    color = torch.cat([lg["color"].argmax(1) for lg in logits])
    mask, col = labels[:, 0], labels[:, 1]
    miou, per_class = mean_iou(pred, mask, len(MASK_CLASSES))
    on = mask > 0  # colour is scored on object pixels, over the 7 colours ("none" is never a target there)
    _, per_color = mean_iou(torch.where(on, color, -1), torch.where(on, col, -1), len(COLOR_CLASSES))
    cmiou = sum(per_color[1:]) / len(per_color[1:])
    return {"mean_iou": round(miou, 4), "iou": {c: round(v, 4) for c, v in zip(MASK_CLASSES, per_class)},
            "pixel_accuracy": round(float((pred == mask).float().mean()), 4),
            "color_mean_iou_on_objects": round(cmiou, 4),
            "color_accuracy_on_objects": round(float((color == col)[mask > 0].float().mean()), 4)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--name", choices=("shapes", "scenes"), default="shapes")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=None, help="assets folder (default: the package's ganforge/assets)")
    p.add_argument("--evaluate-only", action="store_true", help="re-measure the saved segmenter, rewrite its card")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.evaluate_only:
        from ganforge.dissect.segmenter import read_segmenter_card

        card = read_segmenter_card("shapes", args.out)
        reloaded = load_segmenter("shapes", assets_dir=args.out)
        card["held_out"] = {k: evaluate(reloaded, *load_data([s], 32)) for k, s in HELD_OUT.items()}
        card["held_out_mean_iou"] = card["held_out"]["one_object"]["mean_iou"]
        for k in ("name", "architecture", "weights", "sha256", "bytes"):
            card.pop(k)
        card = save_segmenter(reloaded, card, args.out)
        log.info("held-out %s", card["held_out"])
        return 0
    scenes = args.name == "scenes"
    train_specs, held_specs, load = (SCENES_TRAIN, SCENES_HELD_OUT, load_scenes) if scenes else \
        (TRAIN, HELD_OUT, load_data)
    x, mask = load(train_specs, 32)
    model = SegmenterNet(SegmenterConfig(args.name, list(MASK_CLASSES), resolution=32,
                                         extra_heads={} if scenes else {"color": COLOR_CLASSES}))
    start = time.time()
    aug = {"blur": False, "recolour": True} if scenes else {}  # scenes: read shape and texture, not colour or blur
    train(model, x, mask, args.epochs, args.batch_size, args.lr, args.seed, **aug)
    seconds = time.time() - start
    command = " ".join(["python scripts/train_segmenter.py"] + (argv if argv is not None else sys.argv[1:]))
    data_cls = "ShapesPairsConfig" if scenes else "ShapesConfig"
    card = {"task": "per-pixel shape class of textured shapes-labels scenes" if scenes
            else "per-pixel shape class (+ colour head)", "classes": list(MASK_CLASSES),
            "data": {"dataset": "shapes-labels (targets)" if scenes else "shapes", "resolution": 32,
                     "train": [f"{data_cls}({', '.join(f'{k}={v}' for k, v in s.items())})" for s in train_specs],
                     "held_out": {k: f"{data_cls}({', '.join(f'{a}={b}' for a, b in s.items())})"
                                  for k, s in held_specs.items()}},
            "training": {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "optimizer": "AdamW",
                         "schedule": "one-cycle",
                         "augmentation": "shift ±2px, channel order permuted, 1/3 grey, Gaussian noise (no blur)"
                         if scenes else "shift ±2px, blur, Gaussian noise",
                         "seed": args.seed, "threads": args.threads, "seconds": round(seconds, 1),
                         "torch": torch.__version__, "command": command},
            "parameters": sum(t.numel() for t in model.parameters())}
    if not scenes:
        card["color_classes"] = COLOR_CLASSES
    save_segmenter(model, dict(card, held_out=None), args.out)
    reloaded = load_segmenter(args.name, assets_dir=args.out)
    card["held_out"] = {k: evaluate(reloaded, *load([s], 32)) for k, s in held_specs.items()}
    card["held_out_mean_iou"] = card["held_out"][next(iter(held_specs))]["mean_iou"]
    card = save_segmenter(reloaded, card, args.out)  # same weights: only the card changes
    log.info("held-out %s, %.0f s, %d bytes", card["held_out"], seconds, card["bytes"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
