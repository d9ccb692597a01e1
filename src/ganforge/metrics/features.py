"""Streaming feature extraction: images in, N×D features (and optionally logits) out, one batch at a time.

The metrics are functions of feature matrices (TF-GAN's ``classifier_fn`` design); this module produces those
matrices without ever holding more than one batch of images: 50,000 samples at 299×299 would be 53 GB as floats,
their 2048-d features 0.4 GB. The FID protocol of Heusel et al. (NeurIPS 2017) uses ≥ 10,000 (usually 50,000)
samples, so this matters.

A *source* is a dataset (anything with ``get(index) -> Batch`` and ``len``, e.g. ``TensorDataset``), an image
tensor, or a callable ``batch_fn(start, count) -> images``. :func:`generator_source` makes such a callable from a
generator, drawing its latent codes from a seed so that sample i is the same whatever the batch size.
"""
from __future__ import annotations

import hashlib
import logging
import warnings
from typing import Callable, Optional, Sequence, Tuple

import torch
from torch import nn

log = logging.getLogger(__name__)

BatchFn = Callable[[int, int], torch.Tensor]


def as_batch_fn(source, indices: Optional[Sequence[int]] = None) -> Tuple[BatchFn, Optional[int]]:
    """(batch_fn, number of available samples or None) for a dataset, image tensor or callable.

    `indices` (dataset or tensor sources only) restricts and orders the samples: sample i is ``indices[i]``.
    """
    if isinstance(source, torch.Tensor):
        data, n = source, len(source)
        getter = (lambda idx: data[idx])
    elif hasattr(source, "get") and hasattr(source, "__len__"):
        data, n = source, len(source)
        getter = (lambda idx: data.get(idx).x)
    elif callable(source):
        if indices is not None:
            raise ValueError("indices only apply to dataset or tensor sources")
        return source, None
    else:
        raise TypeError(f"a source is a dataset, an image tensor or a batch_fn(start, count), not "
                        f"{type(source).__name__}")
    if indices is None:
        return (lambda start, count: getter(slice(start, start + count))), n
    idx = torch.as_tensor(indices, dtype=torch.long)
    if len(idx) and (int(idx.min()) < 0 or int(idx.max()) >= n):
        raise IndexError(f"indices must lie in [0, {n}), got range [{int(idx.min())}, {int(idx.max())}]")
    return (lambda start, count: getter(idx[start: start + count])), len(idx)


def _run(extractor, x: torch.Tensor, with_logits: bool):
    if with_logits:
        if hasattr(extractor, "features_and_logits"):
            return extractor.features_and_logits(x)
        return extractor.features(x), extractor.logits(x)
    return extractor.features(x) if hasattr(extractor, "features") else extractor(x)


@torch.no_grad()
def extract(extractor, source, n: Optional[int] = None, batch_size: int = 256, device="cpu",
            logits: bool = False, indices: Optional[Sequence[int]] = None):
    """Features of the first `n` samples of `source`, computed batch by batch.

    extractor: a module with ``features(x)`` (and ``features_and_logits(x)`` or ``logits(x)`` when `logits`), e.g.
        :class:`FIDInceptionV3` or a shipped evaluator; or any callable ``x -> N×D``. It is used as it is: put
        it in eval mode first (a warning is issued otherwise, since BatchNorm would then use batch statistics).
    source: dataset, image tensor, or ``batch_fn(start, count)`` (which is never asked for more than
        `batch_size` images; it must return exactly `count`). n: default all samples of a dataset/tensor.
    Returns N×D float32 features on the CPU, or (features, N×K logits) when `logits`. Only these stay in memory.
    """
    batch_fn, available = as_batch_fn(source, indices)
    if n is None:
        if available is None:
            raise ValueError("n is required when the source is a batch_fn")
        n = available
    if available is not None and n > available:
        raise ValueError(f"asked for {n} samples but the source has only {available}")
    if batch_size < 1 or n < 1:
        raise ValueError(f"need n ≥ 1 and batch_size ≥ 1, got n={n}, batch_size={batch_size}")
    if isinstance(extractor, nn.Module):
        if extractor.training:
            warnings.warn("the feature extractor is in training mode: call .eval() first", stacklevel=2)
        extractor.to(device)
    feats = outs = None
    for start in range(0, n, batch_size):
        count = min(batch_size, n - start)
        images = batch_fn(start, count)
        if len(images) != count:
            raise ValueError(f"the source returned {len(images)} images for a request of {count}")
        result = _run(extractor, images.to(device), logits)
        f, lg = result if logits else (result, None)
        if feats is None:  # allocate once: no list of batches, no final concatenation copy
            feats = torch.empty((n,) + tuple(f.shape[1:]), dtype=torch.float32)
            outs = torch.empty((n,) + tuple(lg.shape[1:]), dtype=torch.float32) if logits else None
        feats[start: start + count] = f.float().cpu()
        if logits:
            outs[start: start + count] = lg.float().cpu()
        del images, result, f, lg
        log.debug("extracted %d/%d", start + count, n)
    return (feats, outs) if logits else feats


def _chunk_seed(seed: int, chunk: int) -> int:
    """A 63-bit seed for latent chunk `chunk` of stream `seed` (independent streams for different seeds)."""
    digest = hashlib.sha256(f"ganforge-latents:{int(seed)}:{int(chunk)}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


class GeneratorSource:
    """``batch_fn(start, count)`` over samples of a generator with latent codes fixed by `seed`.

    Sample i uses the code drawn for index i of chunk i // `chunk` from its own seeded RNG stream, so the images
    do not depend on the batch size or on the order of requests, and two runs with the same seed get the same
    samples. Conditional generators (``num_classes > 0``) get uniform random labels from the same stream, or
    the labels `y` (an int, or one label per sample). `generator` is a Generator module (with ``z_dim`` and
    optionally ``sample_z``) or a loaded run exposing it as ``.generator``.
    """

    def __init__(self, generator, seed: int = 0, y=None, chunk: int = 1024, device=None):
        module = generator.generator if isinstance(getattr(generator, "generator", None), nn.Module) else generator
        self.module, self.seed, self.chunk, self.y = module, int(seed), int(chunk), y
        self.num_classes = int(getattr(module, "num_classes", 0) or 0)
        params = list(module.parameters()) if isinstance(module, nn.Module) else []
        self.device = device if device is not None else (params[0].device if params else "cpu")
        self._cache: Tuple[int, torch.Tensor, Optional[torch.Tensor]] = (-1, None, None)
        if isinstance(module, nn.Module) and module.training:
            warnings.warn("the generator is in training mode: call .eval() first (BatchNorm would use batch "
                          "statistics, so samples would depend on the batch size)", stacklevel=3)

    def _chunk(self, k: int):
        if self._cache[0] != k:
            g = torch.Generator().manual_seed(_chunk_seed(self.seed, k))
            if hasattr(self.module, "sample_z"):
                z = self.module.sample_z(self.chunk, generator=g, device="cpu")
            else:
                z = torch.randn(self.chunk, self.module.z_dim, generator=g)
            y = torch.randint(0, self.num_classes, (self.chunk,), generator=g) if self.num_classes else None
            self._cache = (k, z, y)
        return self._cache[1], self._cache[2]

    def latents(self, start: int, count: int):
        """(z, y) of samples start..start+count-1 (y is None for unconditional generators)."""
        zs, ys = [], []
        for k in range(start // self.chunk, (start + count - 1) // self.chunk + 1):
            z, y = self._chunk(k)
            lo, hi = max(start - k * self.chunk, 0), min(start + count - k * self.chunk, self.chunk)
            zs.append(z[lo:hi])
            ys.append(None if y is None else y[lo:hi])
        z = torch.cat(zs)
        if not self.num_classes:
            return z, None
        if self.y is None:
            return z, torch.cat(ys)
        y = torch.as_tensor(self.y, dtype=torch.long)
        return z, (y.expand(count) if y.dim() == 0 else y[start: start + count])

    @torch.no_grad()
    def __call__(self, start: int, count: int) -> torch.Tensor:
        z, y = self.latents(start, count)
        z = z.to(self.device)
        out = self.module(z) if y is None else self.module(z, y.to(self.device))
        return out.float()


def generator_source(generator, seed: int = 0, y=None, chunk: int = 1024, device=None) -> GeneratorSource:
    """A seeded ``batch_fn(start, count)`` of generator samples for :func:`extract` (see GeneratorSource)."""
    return GeneratorSource(generator, seed=seed, y=y, chunk=chunk, device=device)
