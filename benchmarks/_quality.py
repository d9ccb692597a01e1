"""Sample quality a person can read off: the shipped task classifier's confidence on a run's samples.

Shared by `main_job.py` (the README job's legibility before/after) and `gallery.py` (every preset's section).
"""
from __future__ import annotations

import torch


@torch.no_grad()
def classifier_logits(images: torch.Tensor, evaluator_name: str, batch_size: int = 500) -> torch.Tensor:
    """N×K logits of the shipped evaluator's primary head (digit class / shape)."""
    from ganforge.metrics.evaluator import load_evaluator

    net = load_evaluator(evaluator_name)
    return torch.cat([net.logits(images[i : i + batch_size]) for i in range(0, len(images), batch_size)])


def has_ema(run_dir: str) -> bool:
    """Whether the run's newest checkpoint keeps an EMA generator."""
    import ganforge
    from ganforge.train.checkpoint import read_meta

    return "ema" in read_meta(ganforge.load(run_dir).checkpoint)["state"]


def legibility(run_dir: str, evaluator_name: str = "mnist5k", n: int = 5000, seed: int = 0,
               threshold: float = 0.9, ema: bool = True) -> dict:
    """Share of n samples (the run's EMA generator when it kept one and `ema`, else the live one) the evaluator
    labels with p ≥ threshold, and how many distinct classes those confident samples cover."""
    import ganforge
    from ganforge.metrics import confident_classes, confident_share

    images = ganforge.load(run_dir, ema=ema).sample(n, seed=seed)
    logits = classifier_logits(images, evaluator_name)
    classes = confident_classes(logits, threshold)
    return {"confident_share": confident_share(logits, threshold), "n": n, "threshold": threshold,
            "classes_covered": sum(1 for v in classes.values() if v > 0), "class_counts": classes}


def real_legibility(preset: str = "dcgan-mnist", evaluator_name: str = "mnist5k", threshold: float = 0.9) -> float:
    """The same share on a preset's real data set (the ceiling a generator can be held to)."""
    from ganforge.config import load_config
    from ganforge.data import build_dataset
    from ganforge.metrics import confident_share

    ds = build_dataset(load_config(preset).data)
    x = ds.get(torch.arange(len(ds))).x
    return confident_share(classifier_logits(x, evaluator_name), threshold)
