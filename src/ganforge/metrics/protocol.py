"""The evaluation protocol: everything a score depends on besides the generator, stored next to every score.

FID, KID, IS and PR values move with the feature extractor and its weights, the reference set, the sample
counts, the resize and quantisation of the inputs, and the metric conventions (covariance normaliser, IS splits,
KID subsets, k of PR) — reference/metrics.md §2-§4 lists differences of 5-20 % between libraries from these alone.
Heusel et al. (NeurIPS 2017) define FID with the Inception pool_3 features of ≥ 10,000 samples, and warn that
FID is biased by N; :class:`EvalProtocol` names all of these, :meth:`EvalProtocol.key` hashes them, and
:func:`check_comparable` warns when two scores were made under different protocols. Reference statistics of the
real data depend on a subset of the protocol (:meth:`EvalProtocol.reference_key`) and are cached per that key,
together with a fingerprint of the data's files (:func:`data_fingerprint`), so data changed in place is re-read.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Sequence, Union

import torch

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1

# The standard conventions of reference/metrics.md §3-§4, as keyword arguments of the metric functions of
# ganforge.metrics (fid, inception_score, kid, precision_recall, prdc): `protocol.metric_kwargs("kid")`.
DEFAULT_CONVENTIONS = {
    "fid": {"ddof": 1, "method": "symmetric"},  # np.cov normaliser (StyleGAN2-ADA: 0)
    "inception_score": {"splits": 10, "std_ddof": 0, "shuffle_seed": None},
    "kid": {"num_subsets": 100, "subset_size": 1000, "degree": 3, "gamma": None, "coef0": 1.0, "seed": 0,
            "std_ddof": 0},
    "precision_recall": {"k": 3},  # improved P&R: balls with <=
    "prdc": {"k": 5},  # density/coverage: balls with strict <
}
# Fields of the protocol that determine the reference (real-data) statistics.
_REFERENCE_FIELDS = ("version", "extractor", "extractor_sha256", "feature", "logits", "dataset", "n_real",
                     "resize", "quantize")


class ProtocolMismatchWarning(UserWarning):
    """Two scores being compared were computed under different evaluation protocols."""


def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _digest(obj) -> str:
    return hashlib.sha256(_canonical(obj).encode()).hexdigest()[:20]


def merge_conventions(overrides: Optional[Dict]) -> Dict:
    """DEFAULT_CONVENTIONS updated metric by metric with `overrides`; unknown metrics or keys are errors."""
    out = {m: dict(v) for m, v in DEFAULT_CONVENTIONS.items()}
    for metric, kw in (overrides or {}).items():
        if metric not in out:
            raise ValueError(f"unknown metric {metric!r} in conventions: use {', '.join(out)}")
        unknown = sorted(set(kw) - set(out[metric]))
        if unknown:
            raise ValueError(f"unknown {metric} conventions {unknown}: use {', '.join(out[metric])}")
        out[metric].update(kw)
    return out


@dataclass
class EvalProtocol:
    """How a score was made (DESIGN.md §3).

    extractor: "inception-2015-12-05" or "evaluator-<name>"; extractor_sha256: its weights file's SHA-256.
    feature: which embedding ("pool_3", "pooled"); logits: which class scores IS uses ("unbiased": Inception's
    FC without its bias; "<head>": an evaluator head). dataset: the reference dataset's config as a dict (with
    its name and split). n_real: reference images (None = the whole dataset); n_fake: generated images.
    resize / quantize: the input rule (RESIZE_MODES of ``metrics.inception``; uint8 rounding of float inputs).
    seed: latent codes of the fake samples and the choice of a real subset. conventions: keyword arguments of
    the metric functions, per metric (defaults: DEFAULT_CONVENTIONS; give only what differs).
    """

    extractor: str
    extractor_sha256: str
    dataset: Dict
    n_real: Optional[int] = None
    n_fake: int = 10_000
    resize: str = "tf1"
    quantize: bool = True
    seed: int = 0
    feature: str = "pool_3"
    logits: str = "unbiased"
    conventions: Dict = field(default_factory=dict)
    version: int = PROTOCOL_VERSION

    def __post_init__(self):
        if dataclasses.is_dataclass(self.dataset):
            self.dataset = dataclasses.asdict(self.dataset)
        self.dataset = json.loads(_canonical(self.dataset))  # JSON-able, key order irrelevant
        self.conventions = merge_conventions(self.conventions)
        if self.n_real is not None and int(self.n_real) < 1:
            raise ValueError(f"n_real must be positive or None (whole dataset), got {self.n_real}")
        if int(self.n_fake) < 1:
            raise ValueError(f"n_fake must be positive, got {self.n_fake}")

    @classmethod
    def from_extractor(cls, extractor, dataset, **kwargs) -> "EvalProtocol":
        """A protocol for a loaded extractor (FIDInceptionV3 or a shipped evaluator): name, weights hash, resize,
        quantisation and feature name are read from it; the rest are keyword arguments."""
        from .evaluator import EvaluatorNet
        from .inception import FIDInceptionV3

        if isinstance(extractor, FIDInceptionV3):
            name, feature, logits, resize = "inception-2015-12-05", "pool_3", "unbiased", extractor.resize
        elif isinstance(extractor, EvaluatorNet):
            name, feature, logits, resize = (f"evaluator-{extractor.config.name}", "pooled",
                                             extractor.config.primary, "torch_bilinear_aa")
        else:
            raise TypeError(f"unknown extractor type {type(extractor).__name__}: build EvalProtocol directly")
        if not extractor.weights_sha256:
            raise ValueError("the extractor has no weights hash: load it with load_fid_inception / load_evaluator")
        return cls(extractor=name, extractor_sha256=extractor.weights_sha256, dataset=dataset, feature=feature,
                   logits=logits, resize=resize, quantize=extractor.quantize, **kwargs)

    def to_json(self) -> dict:
        """A JSON-able dict (store it next to the score)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Union[str, dict]) -> "EvalProtocol":
        d = json.loads(data) if isinstance(data, str) else dict(data)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown evaluation protocol fields {unknown}")
        if int(d.get("version", PROTOCOL_VERSION)) > PROTOCOL_VERSION:
            raise ValueError(f"protocol version {d['version']} is newer than this ganforge ({PROTOCOL_VERSION})")
        return cls(**d)

    def metric_kwargs(self, metric: str) -> Dict:
        """Keyword arguments for the metric function `metric` ("fid", "kid", "inception_score", ...)."""
        if metric not in self.conventions:
            raise ValueError(f"no conventions for {metric!r}: known {', '.join(self.conventions)}")
        return dict(self.conventions[metric])

    def key(self) -> str:
        """Stable hash of the whole protocol: equal keys <=> comparable scores."""
        return _digest(self.to_json())

    def reference_key(self) -> str:
        """Stable hash of what the real-data statistics depend on (not n_fake nor the fake-side seed)."""
        d = {k: getattr(self, k) for k in _REFERENCE_FIELDS}
        d["fid_ddof"] = self.conventions["fid"]["ddof"]  # sigma of the cached statistics
        if self.n_real is not None:  # the seed picks the real subset only when there is one
            d["seed"] = self.seed
        return _digest(d)


def differences(a: EvalProtocol, b: EvalProtocol) -> Dict[str, tuple]:
    """{field: (value in a, value in b)} for every field (conventions entry by entry) that differs."""
    da, db = a.to_json(), b.to_json()
    out = {}
    for k in da:
        if k == "conventions":
            for m in sorted(set(da[k]) | set(db[k])):
                ca, cb = da[k].get(m, {}), db[k].get(m, {})
                for c in sorted(set(ca) | set(cb)):
                    if ca.get(c) != cb.get(c):
                        out[f"conventions.{m}.{c}"] = (ca.get(c), cb.get(c))
        elif da[k] != db[k]:
            out[k] = (da[k], db[k])
    return out


def _as_protocol(p) -> Optional[EvalProtocol]:
    if p is None or isinstance(p, EvalProtocol):
        return p
    return EvalProtocol.from_json(p)


def check_comparable(a, b, what: str = "scores") -> bool:
    """True when two scores' protocols (EvalProtocol, dict or JSON) are the same; otherwise log a warning, issue a
    ``ProtocolMismatchWarning`` naming the differences, and return False. A missing protocol is a mismatch."""
    a, b = _as_protocol(a), _as_protocol(b)
    if a is None or b is None:
        msg = f"comparing {what} of which one has no evaluation protocol: they may not be comparable"
    else:
        diff = differences(a, b)
        if not diff:
            return True
        shown = "; ".join(f"{k}: {va!r} vs {vb!r}" for k, (va, vb) in diff.items())
        msg = f"comparing {what} made under different evaluation protocols ({shown})"
    log.warning(msg)
    warnings.warn(msg, ProtocolMismatchWarning, stacklevel=2)
    return False


# --------------------------------------------------------------------------------------------- reference cache
def default_refstats_dir() -> str:
    """``~/.cache/ganforge/refstats``."""
    return os.path.join(os.path.expanduser("~"), ".cache", "ganforge", "refstats")


def data_fingerprint(dataset: Dict) -> Optional[str]:
    """A digest of the current content of the files a dataset config names (its fields ending in "path"), or None
    when it names none (bundled and procedural data: their config parameters define them).

    A folder: the sorted relative paths of its files (hidden folders skipped, as the folder dataset does) with sizes
    and modification times — cheap, no file is read. A file (.npz): its size and the SHA-256 of its bytes (remembered
    per inode, size and change time — which every write updates and `touch` cannot set back — so periodic
    evaluations do not re-read an unchanged file). Not part of the protocol: a copy of the same data elsewhere
    makes comparable scores; the fingerprint only decides whether cached statistics are still valid.
    """
    parts = []
    for name in sorted(dataset):
        value = dataset[name]
        if not (name.endswith("path") and isinstance(value, str) and value):
            continue
        path = os.path.expanduser(value)
        if os.path.isdir(path):
            parts.append([name, "dir", _folder_listing(path)])
        elif os.path.isfile(path):
            st = os.stat(path)
            stamp = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
            parts.append([name, "file", st.st_size, _file_sha256(os.path.abspath(path), stamp)])
    return _digest(parts) if parts else None


def _folder_listing(root: str) -> list:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in sorted(filenames):
            path = os.path.join(dirpath, f)
            try:
                st = os.stat(path)
                out.append([os.path.relpath(path, root), st.st_size, st.st_mtime_ns])
            except OSError:  # a broken link or a file removed meanwhile: the dataset skips it too
                out.append([os.path.relpath(path, root), -1, -1])
    return out


@functools.lru_cache(maxsize=64)
def _file_sha256(path: str, stamp: tuple) -> str:  # stamp: the memo's key only
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def real_indices(protocol: EvalProtocol, available: int) -> torch.Tensor:
    """The reference samples: all of them (n_real None), or n_real of them chosen with the protocol's seed."""
    if protocol.n_real is None:
        return torch.arange(available)
    if protocol.n_real > available:
        raise ValueError(f"the protocol asks for n_real={protocol.n_real} but the reference set has {available}")
    if protocol.n_real == available:
        return torch.arange(available)
    perm = torch.randperm(available, generator=torch.Generator().manual_seed(protocol.seed))
    return perm[: protocol.n_real].sort().values


def cached_reference(protocol: EvalProtocol, compute: Callable[[], Dict[str, torch.Tensor]],
                     cache_dir: Optional[str] = None, required: Sequence[str] = ()) -> Dict[str, torch.Tensor]:
    """Reference tensors of `protocol` from the cache, or `compute()`d once and stored there.

    The file is ``<cache_dir>/<reference_key>.safetensors`` (default folder ~/.cache/ganforge/refstats), written
    atomically with the protocol and the data's fingerprint (:func:`data_fingerprint` of ``protocol.dataset``) in
    its metadata. A file written for another key, for other content of the data's files, or lacking one of the
    `required` tensors, is recomputed and replaced.
    """
    from ..utils.safeio import read_tensors, write_tensors

    folder = cache_dir or default_refstats_dir()
    key = protocol.reference_key()
    fingerprint = data_fingerprint(protocol.dataset) or ""
    path = os.path.join(folder, f"{key}.safetensors")
    if os.path.isfile(path):
        from safetensors import safe_open

        with safe_open(path, framework="pt") as f:
            meta = f.metadata() or {}
        if meta.get("reference_key") != key:
            log.warning("ignoring %s: it was written for another protocol", path)
        elif meta.get("data_fingerprint", "") != fingerprint:
            log.warning("ignoring %s: the files of the reference data changed since it was written", path)
        else:
            tensors = read_tensors(path)
            if all(k in tensors for k in required):
                log.info("reference statistics: cache hit %s", path)
                return tensors
            log.info("%s lacks some of %s: recomputing", path, list(required))
    tensors = compute()
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
    os.close(fd)
    try:
        write_tensors(tmp, tensors, metadata={"reference_key": key, "protocol": _canonical(protocol.to_json()),
                                              "data_fingerprint": fingerprint})
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    log.info("reference statistics: computed and cached at %s", path)
    return tensors


def reference_statistics(protocol: EvalProtocol, extractor, dataset, batch_size: int = 256, device="cpu",
                         cache_dir: Optional[str] = None, keep_features: bool = True,
                         logits: bool = False) -> Dict[str, torch.Tensor]:
    """Features (N×D float32, if `keep_features`), mu and sigma (float64) — and logits if asked — of the
    protocol's reference samples of `dataset`, extracted in batches and cached per ``protocol.reference_key()``.

    `extractor` must be the one the protocol names (its weights hash is checked); `dataset` the one it describes.
    """
    from .features import extract
    from .fid import gaussian_stats

    sha = getattr(extractor, "weights_sha256", None)
    if sha is not None and sha != protocol.extractor_sha256:
        raise ValueError(f"the extractor's weights ({sha[:16]}…) are not the protocol's "
                         f"({protocol.extractor_sha256[:16]}…)")

    def compute():
        idx = real_indices(protocol, len(dataset))
        out = extract(extractor, dataset, n=len(idx), batch_size=batch_size, device=device, logits=logits,
                      indices=idx)
        feats, lg = out if logits else (out, None)
        mu, sigma = gaussian_stats(feats, ddof=protocol.conventions["fid"]["ddof"])
        stats = {"mu": mu, "sigma": sigma}
        if keep_features:
            stats["features"] = feats
        if lg is not None:
            stats["logits"] = lg
        return stats

    required = ["mu", "sigma"] + (["features"] if keep_features else []) + (["logits"] if logits else [])
    return cached_reference(protocol, compute, cache_dir, required)
