"""A procedural, NSynth-like set of single notes (the miniature of NSynth, Engel et al. 2017, that GANSynth trains
on; plan in reference/next-wave.md §7).

Six instrument families, each a small synthesis recipe whose timbre parameters are drawn once per instrument:

==========  ======================================================================================================
saw         additive, partial k at amplitude k^-p (p ≈ 1: saw-like), gentle per-partial decay
square      additive, odd partials only, k^-p (clarinet-like), vibrato
flute       additive, steep exponential roll-off e^(-r·k), breathy onset noise, vibrato
fm          two-operator FM: sin(2π f t + I(t)·sin(2π·ratio·f t)), index I decaying from I₀
pluck       additive with per-partial decay growing with k (a plucked string's brightness fading), short attack
bell        slightly inharmonic partials f·k·√(1 + B k²) (stiff string / bell stretch), long decay
==========  ======================================================================================================

Every note has an ADSR envelope (per-instrument attack, decay, sustain level, release), optional vibrato (rate,
depth), an onset noise burst, and per-note random partial phases and loudness, all from one seed. Partials above
0.95 × Nyquist are dropped (band-limited, no aliasing). Synthesis is vectorised over notes and partials.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

FAMILIES = ("saw", "square", "flute", "fm", "pluck", "bell")
N_PARTIALS = 16
_CHUNK = 128


def midi_to_hz(m) -> np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(m, dtype=np.float64) - 69.0) / 12.0)


NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def midi_name(m: int) -> str:
    return f"{NOTE_NAMES[m % 12]}{m // 12 - 1}"


@dataclass(frozen=True)
class Instrument:
    family: int
    slope: float  # amplitude exponent / roll-off
    decay: float  # overall decay rate (1/s)
    partial_decay: float  # extra decay per partial index (1/s)
    attack: float
    sustain: float
    release: float
    vibrato_rate: float
    vibrato_depth: float  # fraction of f
    noise: float  # onset noise burst amplitude
    ratio: float  # FM modulator ratio
    index: float  # FM index
    stretch: float  # inharmonicity B


def draw_instruments(per_family: int, rng: np.random.Generator):
    """per_family instruments of each family, parameters drawn from family-specific ranges."""
    out = []
    for fam, name in enumerate(FAMILIES):
        for _ in range(per_family):
            u = rng.uniform
            out.append(Instrument(
                family=fam,
                slope={"saw": u(0.8, 1.3), "square": u(0.9, 1.4), "flute": u(0.6, 1.2), "fm": 0.0,
                       "pluck": u(0.8, 1.2), "bell": u(0.5, 1.0)}[name],
                decay={"saw": u(0.0, 0.8), "square": u(0.0, 0.5), "flute": u(0.0, 0.3), "fm": u(0.5, 2.0),
                       "pluck": u(2.0, 4.0), "bell": u(0.8, 2.0)}[name],
                partial_decay={"pluck": u(0.3, 0.8), "bell": u(0.1, 0.3)}.get(name, u(0.0, 0.05)),
                attack={"pluck": u(0.002, 0.006), "bell": u(0.002, 0.008), "flute": u(0.04, 0.09)}.get(
                    name, u(0.01, 0.05)),
                sustain=u(0.5, 0.9),
                release=u(0.03, 0.08),
                vibrato_rate=u(4.0, 6.5),
                vibrato_depth={"square": u(0.0, 0.004), "flute": u(0.002, 0.006)}.get(name, 0.0),
                noise={"flute": u(0.05, 0.15), "pluck": u(0.1, 0.3)}.get(name, u(0.0, 0.05)),
                ratio=float(rng.choice([1.0, 2.0, 3.0])) if name == "fm" else 0.0,
                index=u(1.0, 4.0) if name == "fm" else 0.0,
                stretch=u(2e-4, 1e-3) if name == "bell" else 0.0,
            ))
    return out


def _envelope(ins: list, t: torch.Tensor, length_s: float) -> torch.Tensor:
    """ADSR per note: linear attack, exponential decay towards the sustain level, release over the last
    `release` seconds. N × L."""
    a = torch.tensor([i.attack for i in ins], dtype=t.dtype)[:, None]
    s = torch.tensor([i.sustain for i in ins], dtype=t.dtype)[:, None]
    r = torch.tensor([i.release for i in ins], dtype=t.dtype)[:, None]
    k = torch.tensor([i.decay for i in ins], dtype=t.dtype)[:, None]
    attack = (t / a).clamp(max=1.0)
    body = s + (1 - s) * torch.exp(-12.0 * (t - a).clamp(min=0.0))  # the "D" of ADSR, ~0.1 s
    body = body * torch.exp(-k * (t - a).clamp(min=0.0))  # the family's overall decay
    release = ((length_s - t) / r).clamp(0.0, 1.0)
    return attack * body * release


def synth_notes(midi: np.ndarray, ins: list, sample_rate: int, n_samples: int, rng: np.random.Generator,
                loudness: np.ndarray = None) -> torch.Tensor:
    """Waveforms N × L (float32, peak ≤ 1) of notes with MIDI pitches `midi` played by instruments `ins`."""
    out = []
    for start in range(0, len(midi), _CHUNK):
        sl = slice(start, start + _CHUNK)
        out.append(_synth_chunk(midi[sl], ins[sl], sample_rate, n_samples, rng,
                                None if loudness is None else loudness[sl]))
    return torch.cat(out)


def _synth_chunk(midi, ins, sr, n_samples, rng, loudness):
    n = len(midi)
    t = torch.arange(n_samples, dtype=torch.float64) / sr
    f0 = torch.from_numpy(midi_to_hz(midi))[:, None]  # N × 1
    k = torch.arange(1, N_PARTIALS + 1, dtype=torch.float64)  # partial numbers
    fam = [FAMILIES[i.family] for i in ins]
    col = lambda attr: torch.tensor([getattr(i, attr) for i in ins], dtype=torch.float64)[:, None]  # noqa: E731
    slope, pdecay, stretch = col("slope"), col("partial_decay"), col("stretch")
    vib = 1.0 + col("vibrato_depth") * torch.sin(2 * math.pi * col("vibrato_rate") * t + torch.from_numpy(
        rng.uniform(0, 2 * math.pi, (n, 1))))  # N × L frequency multiplier
    base_phase = 2 * math.pi * torch.cumsum(f0 * vib, dim=1) / sr  # N × L, phase of the fundamental
    # partial frequency ratios and amplitudes, N × K
    ratio = k * torch.sqrt(1.0 + stretch * k ** 2)
    amp = k[None] ** -slope
    is_square = torch.tensor([f == "square" for f in fam])[:, None]
    amp = torch.where(is_square & (k[None] % 2 == 0), torch.zeros_like(amp), amp)
    is_flute = torch.tensor([f == "flute" for f in fam])[:, None]
    amp = torch.where(is_flute, torch.exp(-slope * 1.5 * (k[None] - 1)), amp)
    amp = torch.where(f0 * ratio < 0.95 * sr / 2, amp, torch.zeros_like(amp))
    phases = torch.from_numpy(rng.uniform(0, 2 * math.pi, (n, N_PARTIALS)))
    # N × K × L in float32: the phases are reduced modulo 2π in float64 first
    arg = torch.remainder(ratio[:, :, None] * base_phase[:, None, :] + phases[:, :, None], 2 * math.pi).float()
    decay = torch.exp(-(pdecay * (k[None] - 1)).float()[:, :, None] * t.float())
    wave = torch.einsum("nk,nkl->nl", amp.float(), decay * torch.sin(arg)).double()
    is_fm = torch.tensor([f == "fm" for f in fam])
    if is_fm.any():
        idx = col("index") * torch.exp(-2.0 * t)
        fm = torch.sin(base_phase + idx * torch.sin(col("ratio") * base_phase))
        wave = torch.where(is_fm[:, None], fm, wave)
    wave = wave / wave.abs().amax(1, keepdim=True).clamp_min(1e-9)
    noise = torch.from_numpy(rng.standard_normal((n, n_samples))) * torch.exp(-t / 0.02) * col("noise")
    env = _envelope(ins, t, n_samples / sr)
    wave = (wave + noise) * env
    gain = torch.from_numpy(loudness if loudness is not None else rng.uniform(0.5, 0.9, n))[:, None]
    wave = gain * wave / wave.abs().amax(1, keepdim=True).clamp_min(1e-9)
    return wave.float()
