"""Scoring an image-to-image translator on two-domain data (the glue between :mod:`ganforge.metrics.translation`
and a run; :func:`ganforge.evaluation.evaluate` hands two-domain data here).

Metric names:
* ``psnr``, ``ssim``: output against the paired target (super-resolution: on the luma channel, the border of
  `scale` pixels left out, as SRGAN reports them);
* ``fcn``: the FCN-score (pix2pix §4.2): the shipped ``scenes`` segmenter labels each output; per-pixel accuracy,
  per-class accuracy and class IoU against the input's label map (``fcn_*``), and of the real targets when paired
  (``fcn_real_*``, the ceiling);
* ``labels``: the share of outputs that the shipped classifier of domain B assigns the input's label
  (``label_acc``), and of real B images their own label (``label_acc_real``);
* ``fid``, ``kid``: outputs against the real images of domain B, in the features of the evaluator network of the
  data (``FEATURES``), or of the FID Inception-v3 for other data.
Every sample i of [0, n) is sample i of the dataset, so scores repeat exactly.
"""
from __future__ import annotations

import difflib
import hashlib
import json
import time
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F

from .errors import ConfigError
from .metrics import frechet_distance, gaussian_stats, kid
from .metrics.translation import confusion_matrix, label_accuracy, psnr, segmentation_scores, ssim

TRANSLATION_METRICS = ("psnr", "ssim", "fcn", "labels", "fid", "kid")
SEGMENTER_FOR = {"shapes-labels": "scenes", "shapes-edges": "scenes"}
CLASSIFIER_FOR = {"digits-ab": "digits-b"}
FEATURES = {"shapes-labels": "shapes", "shapes-edges": "shapes", "digits-ab": "digits-b", "sr-shapes": "shapes"}


def default_translation_metrics(data_name: str) -> List[str]:
    if data_name in SEGMENTER_FOR:
        return ["fcn", "fid"]
    if data_name in CLASSIFIER_FOR:
        return ["labels", "fid"]
    return ["psnr", "ssim"]


def parse_translation_metrics(names: Sequence[str], data_name: str) -> List[str]:
    """Validated metric names for two-domain data ("auto": see :func:`default_translation_metrics`)."""
    if not names or list(names) == ["auto"]:
        return default_translation_metrics(data_name)
    out = []
    for name in names:
        if name not in TRANSLATION_METRICS:
            close = difflib.get_close_matches(name, TRANSLATION_METRICS, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"unknown translation metric {name!r}.{hint} Known: {', '.join(TRANSLATION_METRICS)}")
        if name == "fcn" and data_name not in SEGMENTER_FOR:
            raise ConfigError(f"the FCN-score needs a segmenter of the target domain: there is one for "
                              f"{', '.join(SEGMENTER_FOR)}, not for {data_name}")
        if name == "labels" and data_name not in CLASSIFIER_FOR:
            raise ConfigError(f"label preservation needs a classifier of the target domain: there is one for "
                              f"{', '.join(CLASSIFIER_FOR)}, not for {data_name}")
        if name not in out:
            out.append(name)
    return out


class _Scores:
    """Running sums over batches of every requested metric."""

    def __init__(self, metrics, data_name: str, num_classes: int, device):
        from .dissect.segmenter import load_segmenter
        from .evaluation import load_extractor
        from .metrics.evaluator import load_evaluator

        self.metrics = metrics
        self.k = num_classes
        self.segmenter = load_segmenter(SEGMENTER_FOR[data_name], device=device) if "fcn" in metrics else None
        self.classifier = load_evaluator(CLASSIFIER_FOR[data_name], device=device) if "labels" in metrics else None
        self.features = load_extractor(FEATURES.get(data_name, "inception"), device=device) \
            if {"fid", "kid"} & set(metrics) else None
        self.sums: Dict[str, float] = {}
        self.hist = {"fake": None, "real": None}
        self.feats: Dict[str, list] = {"fake": [], "real": []}
        self.count = 0

    def add(self, batch, out: torch.Tensor, paired: bool, sr_scale: int) -> None:
        n = len(out)
        self.count += n
        if {"psnr", "ssim"} & set(self.metrics):
            y_channel, crop = sr_scale > 1, sr_scale if sr_scale > 1 else 0
            if "psnr" in self.metrics:
                self._sum("psnr", psnr(out, batch.target, y_channel, crop).clamp(max=100).sum())
            if "ssim" in self.metrics:
                self._sum("ssim", ssim(out, batch.target, y_channel, crop).sum())
        if self.segmenter is not None:
            self._hist("fake", out, batch.mask)
            if paired:
                self._hist("real", batch.target, batch.mask)
        if self.classifier is not None:
            self._sum("label_acc", label_accuracy(self.classifier.predict(out)["digit"], batch.y) * n)
            if "target_label" in batch.attrs:
                real = self.classifier.predict(batch.target)["digit"]
                self._sum("label_acc_real", label_accuracy(real, batch.attrs["target_label"]) * n)
        if self.features is not None:
            self.feats["fake"].append(self.features.features(out).double().cpu())
            self.feats["real"].append(self.features.features(batch.target).double().cpu())

    def _sum(self, key: str, value) -> None:
        self.sums[key] = self.sums.get(key, 0.0) + float(value)

    def _hist(self, key: str, images: torch.Tensor, mask: torch.Tensor) -> None:
        size = self.segmenter.config.resolution
        if images.shape[-1] != size:  # the FCN-score resizes images to the label resolution
            images = F.interpolate(images.float(), size=(size, size), mode="area")
            mask = F.interpolate(mask[:, None].float(), size=(size, size), mode="nearest")[:, 0].long()
        h = confusion_matrix(self.segmenter(images).argmax(1).cpu(), mask.cpu(), self.k)
        self.hist[key] = h if self.hist[key] is None else self.hist[key] + h

    def result(self, seed: int) -> Dict[str, float]:
        out = {k: v / self.count for k, v in self.sums.items()}
        for key, prefix in (("fake", "fcn_"), ("real", "fcn_real_")):
            if self.hist[key] is not None:
                out.update({prefix + k: v for k, v in segmentation_scores(self.hist[key]).items()})
        if self.features is not None:
            fake, real = torch.cat(self.feats["fake"]), torch.cat(self.feats["real"])
            if "fid" in self.metrics:
                out["fid"] = frechet_distance(*gaussian_stats(real), *gaussian_stats(fake))
            if "kid" in self.metrics:
                m = kid(real, fake, subset_size=min(1000, len(real)), seed=seed)
                out["kid"], out["kid_std"] = float(m.mean), float(m.std)
        return out


@torch.no_grad()
def evaluate_translation(generator, data_config, metrics="auto", *, dataset, n: int = 10_000, device="cpu",
                         batch_size: int = 256, started: Optional[float] = None, seed: int = 0, rank: int = 0,
                         world_size: int = 1, gather=None):
    """Translate the first n samples of `dataset` with `generator` (a Translator in eval mode, or a loaded run)
    and score them. Under data parallelism rank 0 does all the work and the other ranks return None."""
    from .evaluation import EvalResult
    from .models.base import translate_batch, translates

    started = started if started is not None else time.perf_counter()
    module = generator.generator if isinstance(getattr(generator, "generator", None), torch.nn.Module) else generator
    if not translates(module):
        raise ConfigError(f"{data_config.name} is two-domain data: it scores image-to-image translators, not "
                          f"{type(module).__name__}")
    names = parse_translation_metrics([m.strip().lower() for m in metrics.split(",")] if isinstance(metrics, str)
                                      else list(metrics), data_config.name)
    info = dataset.info
    if {"psnr", "ssim"} & set(names) and not info.paired:
        raise ConfigError(f"PSNR and SSIM compare each output with its own target: {data_config.name} is unpaired")
    if rank != 0:
        return None
    n = min(int(n), len(dataset))
    scores = _Scores(names, data_config.name, len(info.mask_classes), device)
    sr_scale = info.target_shape[-1] // info.shape[-1] if info.target_shape[-1] > info.shape[-1] else 1
    for start in range(0, n, batch_size):
        batch = dataset.get(torch.arange(start, min(n, start + batch_size))).to(device)
        scores.add(batch, translate_batch(module, batch).float().clamp(-1, 1), info.paired, sr_scale)
    proto = {"kind": "translation", "dataset": _plain(data_config), "n": n, "seed": seed,
             "segmenter": SEGMENTER_FOR.get(data_config.name) if "fcn" in names else None,
             "classifier": CLASSIFIER_FOR.get(data_config.name) if "labels" in names else None,
             "features": FEATURES.get(data_config.name, "inception") if {"fid", "kid"} & set(names) else None,
             "luma": sr_scale > 1}
    key = hashlib.sha256(json.dumps(proto, sort_keys=True, default=str).encode()).hexdigest()[:20]
    return EvalResult(scores.result(seed), proto, key, time.perf_counter() - started, names)


def _plain(cfg) -> dict:
    import dataclasses

    return dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else dict(cfg)
