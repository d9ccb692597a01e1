"""Train the small evaluator CNNs that ganforge ships in src/ganforge/assets/ (see ganforge.metrics.evaluator).

    python scripts/train_evaluators.py                 # mnist5k and shapes
    python scripts/train_evaluators.py mnist5k --epochs 20
    python scripts/train_evaluators.py digits-b        # the B style of digits-ab (translation label scores)

mnist5k: trained on the 4,000-image "train" split of MNIST-5k (32×32), accuracy measured on the 1,000-image
"test" split. shapes: trained on seed-0 scenes, measured on scenes drawn with seed 1 (a disjoint random stream).
digits-b: MNIST-5k's train split drawn in the B style of the digits-ab translation data (thick coloured strokes
on texture; three style seeds), measured on the test split in an unseen style seed; it scores whether an A -> B
translation keeps the digit. The accuracy written to each JSON card is re-measured after reloading the saved file with load_evaluator, i.e.
exactly as a user (and tests/test_evaluator.py) gets it.
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
from ganforge.data.bundled import DIGIT_NAMES, MNISTConfig
from ganforge.data.shapes import BACKGROUNDS, COLORS, SHAPES, ShapesConfig
from ganforge.metrics.evaluator import EvaluatorConfig, EvaluatorNet, load_evaluator, save_evaluator

log = logging.getLogger("train_evaluators")

SHAPES_TRAIN = dict(seed=0, n=8000)
SHAPES_TEST = dict(seed=1, n=2000)


def task(name: str):
    """(config, train dataset, held-out dataset, {head: label attribute}, data description) of one evaluator."""
    if name == "mnist5k":
        cfg = EvaluatorConfig(name, in_channels=1, resolution=32, heads={"digit": list(DIGIT_NAMES)},
                              primary="digit")
        train, test = (build_dataset(MNISTConfig(resolution=32, split=s)) for s in ("train", "test"))
        data = {"dataset": "mnist5k", "resolution": 32, "train": "split=train (4,000)", "held_out": "split=test (1,000)"}
        return cfg, train, test, {"digit": "y"}, data
    if name == "shapes":
        heads = {"shape": list(SHAPES), "color": list(COLORS), "background": list(BACKGROUNDS)}
        cfg = EvaluatorConfig(name, in_channels=3, resolution=32, heads=heads, primary="shape")
        train = build_dataset(ShapesConfig(resolution=32, **SHAPES_TRAIN))
        test = build_dataset(ShapesConfig(resolution=32, **SHAPES_TEST))
        data = {"dataset": "shapes", "resolution": 32, "max_objects": 1,
                "train": f"ShapesConfig(seed={SHAPES_TRAIN['seed']}, n={SHAPES_TRAIN['n']})",
                "held_out": f"ShapesConfig(seed={SHAPES_TEST['seed']}, n={SHAPES_TEST['n']})"}
        return cfg, train, test, {k: k for k in heads}, data
    if name == "digits-b":
        cfg = EvaluatorConfig(name, in_channels=3, resolution=32, heads={"digit": list(DIGIT_NAMES)},
                              primary="digit")
        train = _digits_b("train", DIGITS_B_TRAIN_STYLES)
        test = _digits_b("test", [DIGITS_B_TEST_STYLE])
        data = {"dataset": "mnist5k in the digits-ab B style", "resolution": 32,
                "train": f"split=train, style seeds {DIGITS_B_TRAIN_STYLES}",
                "held_out": f"split=test, style seed {DIGITS_B_TEST_STYLE}"}
        return cfg, train, test, {"digit": "y"}, data
    raise SystemExit(f"unknown evaluator {name!r}: use mnist5k, shapes or digits-b")


DIGITS_B_TRAIN_STYLES = [0, 1, 2]
DIGITS_B_TEST_STYLE = 99


def _digits_b(split: str, styles):
    """MNIST-5k `split` drawn in the digits-ab B style once per style seed, as one labelled dataset."""
    from ganforge.data import DataInfo, TensorDataset
    from ganforge.data.translation import digits_b_style

    plain = build_dataset(MNISTConfig(resolution=32, split=split))
    x = torch.cat([digits_b_style(plain.x, s) for s in styles])
    y = plain.y.repeat(len(styles))
    return TensorDataset(x, y, info=DataInfo(shape=(3, 32, 32), num_classes=10, class_names=DIGIT_NAMES))


def labels(batch, attr: str) -> torch.Tensor:
    return batch.y if attr == "y" else batch.attrs[attr]


def random_shift(x: torch.Tensor, max_shift: int, gen: torch.Generator) -> torch.Tensor:
    """Translate each image by an integer offset in [-max_shift, max_shift]² (border pixels repeated)."""
    if max_shift == 0:
        return x
    n, _, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4, mode="replicate")
    dx, dy = (torch.randint(0, 2 * max_shift + 1, (n,), generator=gen) for _ in range(2))
    return torch.stack([padded[i, :, dy[i]: dy[i] + h, dx[i]: dx[i] + w] for i in range(n)])


def train(model: EvaluatorNet, data, heads: dict, epochs: int, batch_size: int, lr: float, shift: int,
          seed: int) -> None:
    """AdamW with a one-cycle schedule; the loss is the sum of the heads' cross-entropies."""
    gen = torch.Generator().manual_seed(seed)
    steps = epochs * math.ceil(len(data) / batch_size)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.2)
    model.train()
    for epoch in range(epochs):
        perm, total = torch.randperm(len(data), generator=gen), 0.0
        for i in range(0, len(data), batch_size):
            batch = data.get(perm[i: i + batch_size])
            f = model.embed(random_shift(batch.x, shift, gen))
            loss = sum(F.cross_entropy(model.heads[h](f), labels(batch, a)) for h, a in heads.items())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(batch)
        log.info("epoch %d/%d: loss %.4f", epoch + 1, epochs, total / len(data))
    model.eval()


@torch.no_grad()
def accuracy(model: EvaluatorNet, data, heads: dict, batch_size: int = 500) -> dict:
    """{head: fraction of correct predictions} over the whole dataset."""
    correct = {h: 0 for h in heads}
    for i in range(0, len(data), batch_size):
        batch = data.get(slice(i, i + batch_size))
        pred = model.predict(batch.x)
        for h, a in heads.items():
            correct[h] += int((pred[h] == labels(batch, a)).sum())
    return {h: c / len(data) for h, c in correct.items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("names", nargs="*", default=["mnist5k", "shapes"])
    p.add_argument("--epochs", type=int, default=None, help="default: 15 (mnist5k), 4 (shapes)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--shift", type=int, default=2, help="random translation augmentation, in pixels")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=None, help="assets folder (default: the package's ganforge/assets)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    for name in args.names:
        cfg, train_set, test_set, heads, data = task(name)
        epochs = args.epochs or {"mnist5k": 15, "shapes": 4, "digits-b": 5}[name]
        torch.manual_seed(args.seed)
        model = EvaluatorNet(cfg)
        start = time.time()
        train(model, train_set, heads, epochs, args.batch_size, args.lr, args.shift, args.seed)
        seconds = time.time() - start
        command = " ".join(["python scripts/train_evaluators.py"] + (argv if argv is not None else sys.argv[1:]))
        card = {"task": name, "data": data, "train_accuracy": accuracy(model, train_set, heads),
                "training": {"epochs": epochs, "batch_size": args.batch_size, "lr": args.lr, "optimizer": "AdamW",
                             "schedule": "one-cycle", "augmentation": f"random shift ±{args.shift}px",
                             "seed": args.seed, "threads": args.threads, "seconds": round(seconds, 1),
                             "torch": torch.__version__, "command": command}}
        save_evaluator(model, dict(card, held_out_accuracy=None), args.out)
        reloaded = load_evaluator(name, assets_dir=args.out)
        card["held_out_accuracy"] = accuracy(reloaded, test_set, heads)
        card["held_out_n"] = len(test_set)
        card = save_evaluator(reloaded, card, args.out)  # same weights: only the card changes
        log.info("%s: held-out accuracy %s, train %s, %.0f s, %d bytes", name, card["held_out_accuracy"],
                 card["train_accuracy"], seconds, card["bytes"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
