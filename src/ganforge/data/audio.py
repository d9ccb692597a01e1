"""Audio datasets for GANSynth (Engel et al. 2019) and the WaveGAN baseline: the procedural note set (`notes`) and
a folder of WAV files (`audio-folder`).

Samples are what the networks see, chosen by `representation` (audio/spectral.py): `if-mel` (the paper's best),
`if`, `phase`, `mag` — N × C × T × F normalised spectrograms — or `wave`, N × 1 × 1 × L waveforms in [-1, 1].
Labels `y` are pitch classes (MIDI `min_pitch` … `max_pitch`); attrs carry `pitch` (MIDI), `instrument` and
`family`. The STFT settings and the representation travel in `DataInfo.audio`, so a run's JSON is enough to turn
its samples back into sound.

`notes`: `n` notes, exactly balanced over pitches (so the pitch histogram that GANSynth samples fake pitches from
is uniform), instruments drawn uniformly among `per_family` × 6 families; deterministic by `seed`. The instruments
are drawn from `instrument_seed`, so a held-out set (`seed` changed) has the same instruments and new notes.
"""
from __future__ import annotations

import logging
import os
import re
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from ..audio.spectral import REPRESENTATIONS, STFTSettings, to_model
from ..audio.synth import FAMILIES, draw_instruments, midi_name, synth_notes
from ..audio.wav import AudioSkip, read_note
from ..errors import DataError
from ..registry import DATASETS
from .base import DataInfo, TensorDataset

log = logging.getLogger(__name__)
_CACHE: dict = {}


@dataclass
class SpectrogramSettings:
    """What both audio datasets share: the pitch range and the representation's STFT."""

    min_pitch: int = 48
    max_pitch: int = 72
    representation: str = "if-mel"
    sample_rate: int = 8000
    n_fft: int = 256
    hop: int = 64
    n_frames: int = 64


@dataclass
class NotesConfig(SpectrogramSettings):
    """Procedural notes: 8 kHz, 64 frames of hop 64 (0.512 s), n_fft 256 (128 bins) -> 2 × 64 × 128."""

    name: str = "notes"
    n: int = 2000
    per_family: int = 4
    seed: int = 0
    instrument_seed: int = 1234


@dataclass
class AudioFolderConfig(SpectrogramSettings):
    """A folder of WAV files (recursive). Pitch labels come from NSynth-style names `…-PPP-VVV.wav` (PPP the MIDI
    pitch) when `labels` is true; files whose pitch is outside min_pitch…max_pitch are skipped."""

    name: str = "audio-folder"
    path: str = ""
    labels: bool = True
    min_seconds: float = 0.1


def settings_of(cfg) -> STFTSettings:
    problems = []
    if cfg.representation not in REPRESENTATIONS:
        problems.append(f"representation must be one of {', '.join(REPRESENTATIONS)} (got {cfg.representation!r})")
    if cfg.n_fft < 16 or cfg.n_fft & (cfg.n_fft - 1) or cfg.hop < 1 or cfg.n_fft % cfg.hop:
        problems.append(f"n_fft must be a power of two ≥ 16 and a multiple of hop (got {cfg.n_fft}, {cfg.hop})")
    if cfg.n_frames < 4 or cfg.n_frames & (cfg.n_frames - 1) or cfg.sample_rate < 1000:
        problems.append(f"n_frames must be a power of two ≥ 4 and sample_rate ≥ 1000 (got {cfg.n_frames}, "
                        f"{cfg.sample_rate})")
    if not 0 <= cfg.min_pitch <= cfg.max_pitch <= 127:
        problems.append(f"need 0 ≤ min_pitch ≤ max_pitch ≤ 127 (got {cfg.min_pitch}, {cfg.max_pitch})")
    if problems:
        raise DataError(f"{cfg.name}: " + "; ".join(problems))
    return STFTSettings(cfg.sample_rate, cfg.n_fft, cfg.hop, cfg.n_frames)


def audio_info(cfg, s: STFTSettings, shape, y=None) -> DataInfo:
    pitches = range(cfg.min_pitch, cfg.max_pitch + 1)
    audio = {**s.to_json(), "representation": cfg.representation, "min_pitch": cfg.min_pitch}
    if y is not None:  # the pitch histogram GANSynth draws its fake pitches from
        audio["pitch_counts"] = tuple(int(c) for c in torch.bincount(y, minlength=len(pitches)))
    return DataInfo(shape=tuple(shape), num_classes=len(pitches), class_names=tuple(midi_name(p) for p in pitches),
                    attr_names=("pitch", "instrument", "family"), audio=tuple(sorted(audio.items())))


def note_waves(cfg: NotesConfig):
    """(waveforms N × L, MIDI pitches, instrument ids, family ids) of the procedural set, cached per config."""
    key = (cfg.n, cfg.min_pitch, cfg.max_pitch, cfg.per_family, cfg.seed, cfg.instrument_seed, cfg.sample_rate,
           cfg.hop * cfg.n_frames)
    if key not in _CACHE:
        instruments = draw_instruments(cfg.per_family, np.random.default_rng(cfg.instrument_seed))
        rng = np.random.default_rng(cfg.seed)
        k = cfg.max_pitch - cfg.min_pitch + 1
        midi = cfg.min_pitch + rng.permutation(np.arange(cfg.n) % k)  # balanced over pitches
        which = rng.integers(0, len(instruments), cfg.n)
        ins = [instruments[i] for i in which]
        waves = synth_notes(midi, ins, cfg.sample_rate, cfg.hop * cfg.n_frames, rng)
        if len(_CACHE) >= 4:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = (waves, torch.from_numpy(midi), torch.from_numpy(which),
                       torch.tensor([i.family for i in ins]))
    return _CACHE[key]


def _dataset(waves, midi, instrument, family, cfg, s) -> TensorDataset:
    x = to_model(waves, s, cfg.representation)
    y = (midi - cfg.min_pitch).long()
    attrs = {"pitch": midi.long(), "instrument": instrument.long(), "family": family.long()}
    return TensorDataset(x, y, attrs=attrs, info=audio_info(cfg, s, x.shape[1:], y))


@DATASETS.register("notes", NotesConfig)
def build_notes(cfg: NotesConfig) -> TensorDataset:
    s = settings_of(cfg)
    if cfg.n < 1 or cfg.per_family < 1:
        raise DataError(f"notes: n and per_family must be ≥ 1 (got {cfg.n}, {cfg.per_family})")
    return _dataset(*note_waves(cfg), cfg, s)


NSYNTH_NAME = re.compile(r"-(\d{3})-(\d{3})\.(wav|flac)$", re.IGNORECASE)


def list_wavs(root: str):
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found += [os.path.join(dirpath, f) for f in sorted(filenames) if f.lower().endswith((".wav", ".flac"))]
    return found


@DATASETS.register("audio-folder", AudioFolderConfig)
def build_audio_folder(cfg: AudioFolderConfig) -> TensorDataset:
    s = settings_of(cfg)
    if not cfg.path or not os.path.isdir(cfg.path):
        raise DataError(f"audio-folder: data.path {cfg.path!r} is not a folder")
    files = list_wavs(cfg.path)
    waves, pitches, skipped = [], [], []
    for path in files:
        try:
            pitch = -1
            if cfg.labels:
                m = NSYNTH_NAME.search(os.path.basename(path))
                if not m:
                    raise AudioSkip("no pitch in the name (expected …-PPP-VVV.wav)")
                pitch = int(m.group(1))
                if not cfg.min_pitch <= pitch <= cfg.max_pitch:
                    raise AudioSkip(f"pitch {pitch} outside {cfg.min_pitch}…{cfg.max_pitch}")
            waves.append(read_note(path, s.sample_rate, s.n_samples, cfg.min_seconds))
            pitches.append(pitch)
        except AudioSkip as e:
            skipped.append((path, str(e)))
    if skipped:
        names = "; ".join(f"{os.path.basename(p)}: {why}" for p, why in skipped[:10])
        warnings.warn(f"audio-folder: skipped {len(skipped)} of {len(files)} files ({names})", stacklevel=2)
    if not waves:
        raise DataError(f"audio-folder: no usable WAV file in {cfg.path} ({len(files)} found, {len(skipped)} "
                        f"skipped" + (f"; first: {skipped[0][1]}" if skipped else "") + ")")
    w = torch.from_numpy(np.stack(waves)).float()
    midi = torch.tensor(pitches)
    n = len(w)
    ds = _dataset(w, midi.clamp(min=cfg.min_pitch), torch.full((n,), -1), torch.full((n,), -1), cfg, s)
    if not cfg.labels:
        ds.y = None
        ds.info = DataInfo(**{**ds.info.__dict__, "num_classes": 0, "class_names": ()})
    ds.skipped = skipped
    return ds


__all__ = ["NotesConfig", "AudioFolderConfig", "FAMILIES", "note_waves", "settings_of"]
