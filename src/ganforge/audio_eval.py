"""Scoring and synthesising with audio runs (GANSynth, WaveGAN): the audio branch of `ganforge eval` (chosen by the
data's modality, `DataInfo.is_audio`, never by a method's name) and what `ganforge synth` draws.

Metrics (metrics/audio.py; Engel et al. 2019, §4.2): ``pa`` pitch accuracy, ``pe`` pitch entropy, ``is`` the
pitch classifier's Inception-style score, ``fid`` on its features, ``ndb`` (K = 50). Generated notes get pitches
drawn from the training set's pitch histogram with the seed; reals are the dataset's own waveforms (rebuilt with
``representation: wave``, so no representation's inverse stands between the data and the classifier).
"""
from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import time
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch

from .audio.spectral import STFTSettings, from_model
from .errors import ConfigError

AUDIO_METRICS = ("pa", "pe", "is", "fid", "ndb")
ALIASES = {"pitch_accuracy": "pa", "pitch_entropy": "pe", "inception_score": "is"}
NDB_K = 50


def settings_of_info(info) -> Tuple[STFTSettings, str]:
    a = dict(info.audio)
    return STFTSettings(a["sample_rate"], a["n_fft"], a["hop"], a["n_frames"]), a["representation"]


def parse_audio_metrics(spec: Union[str, Sequence[str]]) -> List[str]:
    names = [s.strip().lower() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    if not names or names == ["auto"]:
        return list(AUDIO_METRICS)
    out = []
    for name in names:
        name = ALIASES.get(name, name)
        if name not in AUDIO_METRICS:
            close = difflib.get_close_matches(name, AUDIO_METRICS, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"unknown audio metric {name!r}.{hint} Audio runs know: {', '.join(AUDIO_METRICS)}")
        if name not in out:
            out.append(name)
    return out


def pitch_labels(info, n: int, seed: int) -> torch.Tensor:
    """n pitch classes drawn from the data's pitch histogram (uniform without one), reproducibly from `seed`."""
    counts = dict(info.audio).get("pitch_counts")
    p = torch.tensor(counts, dtype=torch.float64) if counts else torch.ones(info.num_classes, dtype=torch.float64)
    return torch.multinomial(p / p.sum(), n, replacement=True, generator=torch.Generator().manual_seed(seed + 7))


@torch.no_grad()
def synthesize(generator, info, z: torch.Tensor, y: Optional[torch.Tensor], batch_size: int = 64,
               device=None) -> torch.Tensor:
    """Waveforms N × L from a spectrogram or waveform generator: G(z, y), then the representation's inverse."""
    s, rep = settings_of_info(info)
    device = device or next(generator.parameters()).device
    out = []
    for i in range(0, len(z), batch_size):
        yy = None if y is None else y[i:i + batch_size].to(device)
        x = generator(z[i:i + batch_size].to(device), yy).float().cpu()
        out.append(from_model(x, s, rep))
    return torch.cat(out)


def real_waves(data_config, n_real: Optional[int] = None):
    """(waveforms, pitch classes) of the data: the same data config rebuilt as raw waveforms."""
    from .data import build_dataset

    ds = build_dataset(dataclasses.replace(data_config, representation="wave"))
    n = len(ds) if n_real is None else min(n_real, len(ds))
    return ds.x[:n].reshape(n, -1), (ds.y[:n] if ds.y is not None else None)


def audio_scores(fake: torch.Tensor, fake_pitch: torch.Tensor, real: torch.Tensor, metrics: List[str],
                 settings: STFTSettings, seed: int = 0, splits: int = 10) -> Dict[str, float]:
    """The scores of generated waveforms (asked to play `fake_pitch`) against real ones."""
    from .metrics import frechet_distance, gaussian_stats, inception_score
    from .metrics.audio import classify, load_pitch_classifier, ndb, ndb_points, pitch_accuracy, pitch_entropy

    scores: Dict[str, float] = {}
    if any(m in metrics for m in ("pa", "pe", "is", "fid")):
        net = load_pitch_classifier()
        feats, logits = classify(net, fake)
        if "pa" in metrics:
            scores["pa"] = pitch_accuracy(logits, fake_pitch)
        if "pe" in metrics:
            scores["pe"] = pitch_entropy(logits)
        if "is" in metrics:
            if len(fake) < splits:
                raise ConfigError(f"the Inception-style score averages over {splits} splits: it needs n ≥ {splits}")
            scores["is"], scores["is_std"] = inception_score(logits, splits=splits)
        if "fid" in metrics:
            real_feats, _ = classify(net, real)
            scores["fid"] = frechet_distance(*gaussian_stats(real_feats), *gaussian_stats(feats))
    if "ndb" in metrics:
        r = ndb_points(real, settings)
        k = min(NDB_K, len(r) // 2)
        scores.update(ndb(r, ndb_points(fake, settings), k=k, seed=seed))
    return scores


def evaluate_audio(generator, data_config, metrics, *, dataset, n: int, seed: int = 0, device="cpu",
                   batch_size: int = 64, n_real: Optional[int] = None, started: Optional[float] = None):
    """`ganforge eval` for an audio run -> EvalResult (rank 0 only; audio runs are scored on one process)."""
    from .evaluation import EvalResult

    started = started if started is not None else time.perf_counter()
    metrics = parse_audio_metrics(metrics)
    module = generator.generator if isinstance(getattr(generator, "generator", None), torch.nn.Module) else generator
    info = dataset.info
    s, rep = settings_of_info(info)
    z = torch.randn(n, module.z_dim, generator=torch.Generator().manual_seed(seed))
    y = pitch_labels(info, n, seed) if getattr(module, "num_classes", 0) else None
    fake = synthesize(module, info, z, y, batch_size, device)
    real, _ = real_waves(data_config, n_real)
    if y is None and any(m in metrics for m in ("pa",)):
        raise ConfigError("pitch accuracy needs a pitch-conditional generator")
    scores = audio_scores(fake, y, real, metrics, s, seed)
    from .metrics.audio import classifier_paths
    from .utils.assets import file_sha256

    proto = {"extractor": "pitch-notes", "extractor_sha256": file_sha256(classifier_paths()[0])[:16],
             "dataset": dataclasses.asdict(data_config), "n_fake": n, "n_real": len(real), "seed": seed,
             "ndb_k": NDB_K, "ndb_alpha": 0.05, "representation": rep}
    key = hashlib.sha256(json.dumps(proto, sort_keys=True).encode()).hexdigest()[:20]
    return EvalResult(scores, proto, key, time.perf_counter() - started, metrics)
