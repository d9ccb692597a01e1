"""Scoring a generator against its training data under one recorded EvalProtocol (DESIGN.md §3 and §7).

This is the glue between the pure metric functions of :mod:`ganforge.metrics` and a run: it picks the feature
extractor for the data (a shipped evaluator network for the bundled data, the FID Inception-v3 otherwise), streams
the generator's samples through it batch by batch, reads or computes the cached statistics of the real data, and
returns flat scores together with the protocol that made them. ``ganforge eval RUN`` and the Trainer's periodic
evaluation both call :func:`evaluate`.

Metric names: ``fid`` (Heusel et al. 2017), ``kid`` (Bińkowski et al. 2018), ``is`` (Salimans et al. 2016),
``pr`` (improved precision/recall, Kynkäänniemi et al. 2019), ``dc`` (density/coverage, Naeem et al. 2020),
``swd`` (Karras et al. 2018), ``modes`` (mode coverage of the toy mixtures, or of Stacked MNIST's 1000 modes),
``probe`` (held-out class accuracy of a logistic regression on the discriminator's frozen features of labelled real
images, Chen et al. 2019: scores a discriminator, so it needs one — the Trainer passes its method's).
"""
from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch

from .errors import ConfigError
from .metrics import (frechet_distance, gaussian_stats, inception_score, kid, mode_coverage, precision_recall, prdc,
                      stacked_mnist_modes, swd)
from .metrics.features import extract, generator_source
from .metrics.protocol import EvalProtocol, reference_statistics, real_indices

log = logging.getLogger(__name__)

METRICS = ("fid", "kid", "is", "pr", "dc", "swd", "modes", "probe")
ALIASES = {"inception_score": "is", "precision_recall": "pr", "prdc": "dc", "density_coverage": "dc",
           "mode_coverage": "modes", "linear_probe": "probe"}
# The shipped evaluator network that judges each bundled dataset; every other image dataset uses Inception.
EXTRACTOR_FOR_DATASET = {"mnist5k": "mnist5k", "digits": "mnist5k", "stacked-mnist": "mnist5k", "shapes": "shapes"}
SWD_MAX_IMAGES = 16_384  # ProGAN's standard set size
# The linear probe of D's features: 1,000 labelled real images to fit, 1,000 others to test (next-wave.md §6).
# BatchNorm layers of D normalise by each probe batch's statistics, as D does in training (see metrics.linear_probe).
PROBE = {"n_train": 1000, "n_test": 1000, "pool": "avg", "C": 1.0, "standardize": True, "batch_stats": True}


def default_metrics(data_name: str, is_image: bool) -> List[str]:
    """What `metrics="auto"` means: mode counts for 2-D mixtures; FID/KID/IS/PR/DC (+ modes on Stacked MNIST)."""
    if not is_image:
        return ["modes"]
    return ["fid", "kid", "is", "pr", "dc"] + (["modes"] if data_name == "stacked-mnist" else [])


def wants_probe(spec: Union[str, Sequence[str]]) -> bool:
    """Whether a metrics spec asks for the discriminator probe (so the caller must supply a discriminator)."""
    names = spec.split(",") if isinstance(spec, str) else spec
    return any(ALIASES.get(m.strip().lower(), m.strip().lower()) == "probe" for m in names)


def parse_metrics(spec: Union[str, Sequence[str]], data_name: str, is_image: bool,
                  two_domain: bool = False) -> List[str]:
    """A comma-separated string or list of metric names (or "auto") -> validated canonical names. Two-domain
    (translation) data have their own metrics: see :mod:`ganforge.translation_eval`."""
    names = [s.strip().lower() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    if not names:
        raise ConfigError("no metric named: give metric names (e.g. fid,kid) or auto")
    if two_domain:
        from .translation_eval import parse_translation_metrics

        return parse_translation_metrics(names, data_name)
    if not names or names == ["auto"]:
        return default_metrics(data_name, is_image)
    out = []
    for name in names:
        name = ALIASES.get(name, name)
        if name not in METRICS:
            close = difflib.get_close_matches(name, list(METRICS) + list(ALIASES), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"unknown metric {name!r}.{hint} Known: {', '.join(METRICS)}")
        if name not in out:
            out.append(name)
    if not is_image and out != ["modes"]:
        raise ConfigError(f"{data_name} is 2-D point data: only the 'modes' metric applies, not {out}")
    if "modes" in out and is_image and data_name != "stacked-mnist":
        raise ConfigError(f"'modes' counts modes of the toy mixtures and of stacked-mnist, not of {data_name}")
    return out


def load_extractor(name: str, device="cpu", weights: Optional[str] = None, resize: str = "tf1"):
    """A feature extractor by name: "inception" (the FID Inception-v3; weights from `weights`,
    $GANFORGE_INCEPTION_WEIGHTS or the cache; `resize` one of metrics.inception.RESIZE_MODES) or a shipped
    evaluator ("mnist5k", "shapes")."""
    if name == "inception":
        from .metrics.inception import RESIZE_MODES, canonical_resize, load_fid_inception

        try:
            resize = canonical_resize(resize)
        except (KeyError, ValueError):
            raise ConfigError(f"unknown resize {resize!r}: use one of {', '.join(RESIZE_MODES)}") from None
        return load_fid_inception(weights, device=device, resize=resize)
    from .metrics.evaluator import EVALUATOR_NAMES, load_evaluator

    if name not in EVALUATOR_NAMES:
        raise ConfigError(f"unknown feature extractor {name!r}: use auto, inception, {', '.join(EVALUATOR_NAMES)}")
    return load_evaluator(name, device=device)


@dataclass
class EvalResult:
    """Flat scores (``fid``, ``kid``/``kid_std``, ``is``/``is_std``, ``precision``/``recall``,
    ``density``/``coverage``, ``swd`` and ``swd_<res>``, ``modes``/``high_quality``/``kl``) and the protocol."""

    scores: Dict[str, float]
    protocol: dict
    protocol_key: str
    seconds: float
    metrics: List[str] = field(default_factory=list)

    def record(self) -> dict:
        """The metrics.jsonl fields: ``eval/<score>`` numbers plus the protocol they were made under."""
        out = {f"eval/{k}": v for k, v in self.scores.items()}
        out.update({"eval_protocol": self.protocol, "eval_protocol_key": self.protocol_key,
                    "eval_seconds": round(self.seconds, 3)})
        return out


def _shard(n: int, rank: int, world: int) -> Tuple[int, int]:
    start = n * rank // world
    return start, n * (rank + 1) // world - start


def _as_uint8(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] floats -> uint8 the way the metrics quantise them (round half to even, clip)."""
    return (x.float() * 127.5 + 127.5).round().clamp(0, 255).to(torch.uint8)


def _toy_scores(points: torch.Tensor, data_name: str) -> Dict[str, float]:
    from .data.toy import mode_centers, mode_std

    r = mode_coverage(points, mode_centers(data_name), mode_std(data_name))
    return {"modes": r["modes"], "modes_total": len(r["counts"]), "high_quality": r["high_quality"], "kl": r["kl"]}


def _stacked_digits(classifier) -> Callable[[torch.Tensor], torch.Tensor]:
    """images N×3×H×W -> N×(3 + 3 + 3·D) rows (floats, for `extract`): per channel the digit the classifier
    assigns, then its probability, then the classifier's D features (for the off-distribution check)."""
    def read(x: torch.Tensor) -> torch.Tensor:
        out = [classifier.features_and_logits(x[:, c:c + 1]) for c in range(3)]
        best = [torch.softmax(logits.double(), 1).max(1) for _, logits in out]
        digit = torch.stack([b.indices for b in best], 1).float()
        prob = torch.stack([b.values for b in best], 1).float()
        return torch.cat([digit, prob, *(f.float() for f, _ in out)], 1)
    return read


def _stacked_digit_scores(rows: torch.Tensor, classifier, dataset, batch_size: int) -> Dict[str, float]:
    """Stacked-MNIST mode counts from `_stacked_digits` rows. A channel is unrecognised when its feature lies
    beyond the 0.99 quantile of real channels' Mahalanobis distance to their class (fitted on up to 2,000 real
    stacked images, calibrated on up to 1,000 others): such samples count for no mode (metrics.modes)."""
    from .metrics.modes import class_distances, fit_class_gaussians

    dim = classifier.feature_dim
    digits, prob, feats = rows[:, :3].long(), rows[:, 3:6], rows[:, 6:].reshape(len(rows), 3, dim)
    m = min(len(dataset), 3000)
    fit_n = max(1, m * 2 // 3)
    read = _stacked_digits(classifier)
    with torch.no_grad():
        real = torch.cat([read(dataset.get(torch.arange(i, min(i + batch_size, m))).x).cpu()
                          for i in range(0, m, batch_size)])
    real_digits, real_feats = real[:, :3].long(), real[:, 6:].reshape(m, 3, dim)
    truth = dataset.attrs.get("digits")
    truth = truth[:m].long().cpu() if truth is not None else real_digits
    ref = fit_class_gaussians(real_feats[:fit_n].reshape(-1, dim), truth[:fit_n].reshape(-1), 10,
                              real_feats[fit_n:].reshape(-1, dim), real_digits[fit_n:].reshape(-1))
    recognised = class_distances(feats, digits, ref) <= ref["threshold"]
    r = stacked_mnist_modes(digits, recognised=recognised, confidence=prob)
    return {"modes": r["modes"], "modes_total": 1000, "kl": r["kl"], "unrecognised": r["unrecognised"],
            "digit_confidence": r["confidence"]}


def _feature_scores(metrics, protocol: EvalProtocol, ref: dict, fake: torch.Tensor,
                    logits: Optional[torch.Tensor]) -> Dict[str, float]:
    scores: Dict[str, float] = {}
    if "fid" in metrics:
        kw = protocol.metric_kwargs("fid")
        mu, sigma = gaussian_stats(fake, ddof=kw["ddof"])
        scores["fid"] = frechet_distance(ref["mu"], ref["sigma"], mu, sigma, method=kw["method"])
    if "kid" in metrics:
        scores["kid"], scores["kid_std"] = (float(v) for v in kid(ref["features"], fake,
                                                                   **protocol.metric_kwargs("kid")))
    if "is" in metrics:
        scores["is"], scores["is_std"] = (float(v) for v in inception_score(
            logits, **protocol.metric_kwargs("inception_score")))
    if "pr" in metrics:
        r = precision_recall(ref["features"], fake, **protocol.metric_kwargs("precision_recall"))
        scores["precision"], scores["recall"] = r["precision"], r["recall"]
    if "dc" in metrics:
        r = prdc(ref["features"], fake, **protocol.metric_kwargs("prdc"))
        scores["density"], scores["coverage"] = r["density"], r["coverage"]
    return scores


def _swd_scores(generator, dataset, protocol: EvalProtocol, n: int, seed: int, batch_size: int) -> Dict[str, float]:
    """ProGAN SWD on min(n, reference size, 16384) images of each side (held as uint8)."""
    idx = real_indices(protocol, len(dataset))[: min(n, SWD_MAX_IMAGES)]
    m = len(idx)
    real = torch.cat([_as_uint8(dataset.get(idx[i:i + batch_size]).x.cpu()) for i in range(0, m, batch_size)])
    src = generator_source(generator, seed=seed)
    fake = torch.cat([_as_uint8(src(i, min(batch_size, m - i)).cpu()) for i in range(0, m, batch_size)])
    r = swd(real, fake, seed=seed, batch_size=batch_size)
    out = {"swd": r["avg"]}
    out.update({f"swd_{res}": v for res, v in zip(r["resolutions"], r["levels"])})
    return out


def _probe_scores(discriminator, dataset, seed: int, batch_size: int) -> Dict[str, float]:
    """``probe``: held-out accuracy of the linear probe on D's pooled features (settings: PROBE)."""
    from .metrics.linear_probe import discriminator_features, linear_probe_accuracy, probe_split

    if discriminator is None:
        raise ConfigError("the 'probe' metric scores a discriminator's features: pass discriminator= "
                          "(ganforge.evaluate(run, 'probe') loads the run's)")
    if not dataset.info.num_classes:
        raise ConfigError("the 'probe' metric needs labelled data (class accuracy); this dataset has no classes")
    train_idx, test_idx = probe_split(len(dataset), PROBE["n_train"], PROBE["n_test"], seed)

    def rows(idx):
        batch = dataset.get(idx)
        try:
            return discriminator_features(discriminator, batch.x, PROBE["pool"], batch_size,
                                          PROBE["batch_stats"]), batch.y
        except ValueError as e:
            raise ConfigError(f"the 'probe' metric reads an unconditional discriminator's features: "
                              f"{str(e).splitlines()[0]}") from None

    (xtr, ytr), (xte, yte) = rows(train_idx), rows(test_idx)
    return {"probe": linear_probe_accuracy(xtr, ytr, xte, yte, C=PROBE["C"], standardize=PROBE["standardize"],
                                           seed=seed)}


def evaluate(generator, data_config, metrics: Union[str, Sequence[str]] = "auto", *, n: int = 10_000,
             seed: int = 0, extractor: str = "auto", weights: Optional[str] = None, resize: str = "tf1",
             device="cpu", batch_size: int = 256, n_real: Optional[int] = None,
             cache_dir: Optional[str] = None, dataset=None, rank: int = 0, world_size: int = 1,
             gather: Optional[Callable] = None, discriminator=None) -> Optional[EvalResult]:
    """Score `generator` (an nn.Module in eval mode, or a loaded run) on the data of `data_config`.

    n: generated samples (sample i always uses the same latent code for a given `seed`); n_real: reference
    images (None: the whole dataset); extractor: "auto" (shipped evaluator for bundled data, else Inception),
    "inception", "mnist5k" or "shapes"; weights, resize: the Inception weights file and resize rule. Reference
    statistics are cached per protocol in `cache_dir` (default ~/.cache/ganforge/refstats) and recomputed when the
    files of a folder or .npz dataset changed. `dataset` saves rebuilding it.
    Data parallel: each of `world_size` ranks generates its share of the n samples and `gather(rows)` must
    return all ranks' rows, in rank order, on rank 0 (None elsewhere); only rank 0 returns a result.
    discriminator: the network the ``probe`` metric reads (unconditional; its train/eval mode is left as it was).
    """
    from .data import build_dataset

    started = time.perf_counter()
    if n < max(1, world_size):
        raise ConfigError(f"the number of generated samples must be ≥ 1 per rank, got n={n} on {world_size}")
    dataset = dataset if dataset is not None else build_dataset(data_config)
    if dataset.info.two_domain:
        from .translation_eval import evaluate_translation

        return evaluate_translation(generator, data_config, metrics, dataset=dataset, n=n, device=device,
                                    batch_size=batch_size, started=started, seed=seed, rank=rank,
                                    world_size=world_size, gather=gather)
    if getattr(dataset.info, "is_audio", False):  # notes: the pitch classifier's scores and NDB
        from .audio_eval import evaluate_audio

        if rank != 0:
            return None
        return evaluate_audio(generator, data_config, metrics, dataset=dataset, n=n, seed=seed, device=device,
                              n_real=n_real, started=started)
    if dataset.info.target_shape:  # two domains of 2-D points (the DiscoGAN toy): no sample-quality protocol
        raise ConfigError(f"{data_config.name} pairs two domains of 2-D points: `ganforge eval` scores generators "
                          f"and image translators; the toy's mode counts come from benchmarks/claims/discogan.py")
    name, is_image = data_config.name, dataset.info.is_image
    metrics = parse_metrics(metrics, name, is_image)
    module = generator.generator if isinstance(getattr(generator, "generator", None), torch.nn.Module) else generator
    data_dict = dataclasses.asdict(data_config)
    main = rank == 0
    if metrics == ["probe"]:  # D's features only: no feature extractor, no generated samples
        proto = {"extractor": "discriminator", "dataset": data_dict, "seed": seed, "probe": PROBE}
        scores = _probe_scores(discriminator, dataset, seed, batch_size) if main else {}
        return EvalResult(scores, proto, _key(proto), time.perf_counter() - started, metrics) if main else None
    start, count = _shard(n, rank, world_size)
    source = generator_source(module, seed=seed, device=device)

    def shard(fn):  # this rank's rows of the samples [0, n), gathered on rank 0
        rows = extract(fn, lambda s, c: source(start + s, c), n=count, batch_size=batch_size, device=device)
        return gather(rows) if world_size > 1 else rows

    if not is_image:
        points = shard(lambda x: x)
        proto = {"extractor": "none", "dataset": data_dict, "n_fake": n, "seed": seed, "k_sigma": 3.0}
        if not main:
            return None
        return EvalResult(_toy_scores(points, name), proto, _key(proto), time.perf_counter() - started, metrics)

    ext_name = EXTRACTOR_FOR_DATASET.get(name, "inception") if extractor == "auto" else extractor
    ext = load_extractor(ext_name, device=device, weights=weights, resize=resize)
    if n_real is not None and not 1 <= n_real <= len(dataset):
        raise ConfigError(f"n_real must be between 1 and the {len(dataset)} reference images, got {n_real}")
    protocol = EvalProtocol.from_extractor(ext, dataset=data_dict, n_real=n_real, n_fake=n, seed=seed)
    splits = protocol.metric_kwargs("inception_score")["splits"]
    if "is" in metrics and n < splits:
        raise ConfigError(f"the Inception Score averages over {splits} splits: it needs n ≥ {splits}, got n={n}")
    n_ref = n_real if n_real is not None else len(dataset)
    for names, kw, need in ((("fid", "kid"), None, 2), (("pr",), "precision_recall", None), (("dc",), "prdc", None)):
        used = [m for m in names if m in metrics]
        least = need if kw is None else int(protocol.metric_kwargs(kw).get("k", 1)) + 1
        if used and min(n, n_ref) < least:
            raise ConfigError(f"{'/'.join(used)} need{'s' if len(used) == 1 else ''} at least {least} generated and "
                              f"{least} reference samples, got n={n} and {n_ref}")
    feature_metrics = [m for m in metrics if m in ("fid", "kid", "is", "pr", "dc")]
    scores: Dict[str, float] = {}
    if feature_metrics:
        want_logits = "is" in metrics
        out = shard(lambda x: torch.cat(ext.features_and_logits(x), 1) if want_logits else ext.features(x))
        if main:
            dim = ext.fc.in_features if hasattr(ext, "fc") else ext.feature_dim  # Inception: 2048, evaluators: 128
            fake, logits = (out[:, :dim], out[:, dim:]) if want_logits else (out, None)
            needs_features = any(m in metrics for m in ("kid", "pr", "dc"))
            ref = reference_statistics(protocol, ext, dataset, batch_size=batch_size, device=device,
                                       cache_dir=cache_dir, keep_features=needs_features)
            scores.update(_feature_scores(metrics, protocol, ref, fake, logits))
    if "modes" in metrics:
        classifier = load_extractor("mnist5k", device=device)
        rows = shard(_stacked_digits(classifier))
        if main:
            scores.update(_stacked_digit_scores(rows.cpu(), classifier, dataset, batch_size))
    if "swd" in metrics and main:
        scores.update(_swd_scores(module, dataset, protocol, n, seed, batch_size))
    if "probe" in metrics and main:
        scores.update(_probe_scores(discriminator, dataset, seed, batch_size))
    if not main:
        return None
    proto = {**protocol.to_json(), "probe": PROBE} if "probe" in metrics else protocol.to_json()
    return EvalResult(scores, proto, protocol.key(), time.perf_counter() - started, metrics)


def _key(proto: dict) -> str:
    """A short stable hash of a protocol dict (the toy protocol has no extractor, so no EvalProtocol)."""
    return hashlib.sha256(json.dumps(proto, sort_keys=True).encode()).hexdigest()[:20]


def format_table(result: EvalResult) -> str:
    """The scores as an aligned two-column table, followed by the protocol's key facts."""
    rows = []
    for k, v in result.scores.items():
        text = f"{v:.6g}" if isinstance(v, float) and math.isfinite(v) else str(v)
        rows.append(f"  {k:<14s}{text:>14s}")
    p = result.protocol
    facts = f"extractor {p.get('extractor')}, {p.get('n_fake')} generated"
    if "n_real" in p:
        facts += f" vs {p['n_real'] or 'all'} real"
    facts += f", seed {p.get('seed')}, protocol {result.protocol_key}, {result.seconds:.1f}s"
    return "\n".join(rows + [f"  ({facts})"])


def append_to_run(run_dir: str, result: EvalResult, counters: Dict[str, int]) -> Tuple[str, Optional[str]]:
    """Append `result` (at the checkpoint's `counters`) to the run's metrics.jsonl and redraw scores.png.

    Scores of earlier evaluations made under another protocol are not comparable with these: that is warned
    about (``ProtocolMismatchWarning``), naming the fields that differ. Returns (metrics path, plot path).
    """
    import os
    import warnings

    from .metrics.protocol import ProtocolMismatchWarning
    from .train.logger import RunLogger, plot_scores, read_metrics

    path = os.path.join(run_dir, "metrics.jsonl")
    earlier = [r for r in read_metrics(path) if "eval_protocol_key" in r]
    other = [r for r in earlier if r["eval_protocol_key"] != result.protocol_key]
    if other:
        prev = other[-1]["eval_protocol"]
        diff = sorted(k for k in set(prev) | set(result.protocol) if prev.get(k) != result.protocol.get(k))
        msg = (f"{run_dir} already holds scores made under another evaluation protocol (differing in "
               f"{', '.join(diff)}): they are not comparable with these; scores.png shows the newest protocol only")
        warnings.warn(msg, ProtocolMismatchWarning, stacklevel=2)
    logger = RunLogger(run_dir, tensorboard=False)
    logger.write({**counters, **result.record(), "time": round(time.time(), 3)})
    return path, plot_scores(path, os.path.join(run_dir, "scores.png"))
