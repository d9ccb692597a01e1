"""Spectral representations of notes as GANSynth uses them (Engel et al. 2019, "GANSynth: Adversarial Neural
Audio Synthesis", ICLR 2019, §3; official magenta `gansynth/lib/specgrams_helper.py` and `spectral_ops.py`).

A waveform (N × L) becomes a 2-channel "image" N × 2 × T × F (T time frames, F = n_fft / 2 frequency bins, the DC
bin dropped as in the official code):

* channel 0, log magnitude ``log(|S| + 1e-6)`` (mel variant: ``log(|S|² · M + 1e-6)``);
* channel 1, one of: the wrapped phase / π (``phase``); the instantaneous frequency (``if``): the time difference
  of the unwrapped phase / π, the first frame keeping its phase; or the mel IF (``if-mel``): the unwrapped phase
  projected onto the mel bands, then differenced. ``mag`` keeps channel 0 only (phase is rebuilt as zeros).

Every transform is vectorised over notes, frames and bins (frames by ``unfold``, overlap-add by ``fold``). The
inverses are exact for ``phase`` and ``if`` (up to float error and the dropped DC bin); the mel ones use the
official pseudo-inverse ``Mᵀ·diag(1/colsum(M Mᵀ))`` and are approximate.

One deviation, stated: the official code pads all of the n_fft − hop samples on the left; here they are split
half and half, so that every sample lies under at least two windows with weight > 0.4 and the inverse STFT is
well conditioned at both ends.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

REPRESENTATIONS = ("if-mel", "if", "phase", "mag", "wave")
LOG_EPS = 1e-6


@dataclass(frozen=True)
class STFTSettings:
    """Sample rate, FFT size and hop; `n_frames` frames of `hop` samples make a note of n_frames·hop samples."""

    sample_rate: int = 8000
    n_fft: int = 256
    hop: int = 64
    n_frames: int = 64

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2

    @property
    def n_samples(self) -> int:
        return self.n_frames * self.hop

    def to_json(self) -> dict:
        return asdict(self)


def hann(n: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """The periodic Hann window (tf.signal.hann_window(periodic=True), the official code's window)."""
    return torch.hann_window(n, periodic=True, device=device, dtype=dtype)


def _pad(s: STFTSettings):
    total = s.n_fft - s.hop
    return total // 2, total - total // 2


def stft(wave: torch.Tensor, s: STFTSettings) -> torch.Tensor:
    """N × L real waveforms (L = s.n_samples) -> N × T × F complex STFT, DC bin dropped."""
    left, right = _pad(s)
    x = F.pad(wave, (left, right))
    frames = x.unfold(-1, s.n_fft, s.hop) * hann(s.n_fft, wave.device, wave.dtype)  # N × T × n_fft
    return torch.fft.rfft(frames, dim=-1)[..., 1:]


def istft(spec: torch.Tensor, s: STFTSettings) -> torch.Tensor:
    """Inverse of `stft` (weighted overlap-add, divided by the summed squared window): N × T × F -> N × L."""
    spec = F.pad(spec, (1, 0))  # the dropped DC bin back, as 0
    w = hann(s.n_fft, spec.device, spec.real.dtype)
    frames = torch.fft.irfft(spec, n=s.n_fft, dim=-1) * w  # N × T × n_fft
    n, t, _ = frames.shape
    left, right = _pad(s)
    length = (t - 1) * s.hop + s.n_fft
    out = F.fold(frames.transpose(1, 2), (1, length), (1, s.n_fft), stride=(1, s.hop)).reshape(n, length)
    env = F.fold((w * w).expand(1, t, -1).transpose(1, 2), (1, length), (1, s.n_fft), stride=(1, s.hop))
    out = out / env.reshape(1, length).clamp_min(1e-8)
    return out[:, left:length - right]


def wrap(phase: torch.Tensor) -> torch.Tensor:
    """Angles into [-π, π)."""
    return torch.remainder(phase + math.pi, 2 * math.pi) - math.pi


def instantaneous_frequency(phase: torch.Tensor) -> torch.Tensor:
    """N × T × F phase -> IF / π: the first frame's phase, then the wrapped frame-to-frame differences (the time
    derivative of the unwrapped phase)."""
    d = wrap(phase[:, 1:] - phase[:, :-1])
    return torch.cat([phase[:, :1], d], dim=1) / math.pi


def phase_from_if(inst_freq: torch.Tensor) -> torch.Tensor:
    """Inverse of `instantaneous_frequency`: the unwrapped phase, cumsum(IF·π) over time."""
    return torch.cumsum(inst_freq * math.pi, dim=1)


def hz_to_mel(f):
    return 1127.0 * torch.log1p(torch.as_tensor(f, dtype=torch.float64) / 700.0)


def mel_matrix(s: STFTSettings) -> torch.Tensor:
    """F × F linear-to-mel weights (triangular bands equally spaced in HTK mel between 0 Hz and Nyquist, the
    official `linear_to_mel_weight_matrix` with as many mel bands as linear bins)."""
    f_bins = torch.arange(1, s.n_bins + 1, dtype=torch.float64) * s.sample_rate / s.n_fft
    mel_bins = hz_to_mel(f_bins)
    edges = torch.linspace(0.0, float(hz_to_mel(s.sample_rate / 2)), s.n_bins + 2, dtype=torch.float64)
    lo, mid, hi = edges[:-2], edges[1:-1], edges[2:]
    up = (mel_bins[:, None] - lo) / (mid - lo)
    down = (hi - mel_bins[:, None]) / (hi - mid)
    return torch.clamp(torch.minimum(up, down), min=0.0).float()


def mel_inverse(m: torch.Tensor) -> torch.Tensor:
    """The official approximate inverse of `mel_matrix`: Mᵀ·diag(1/colsum(M Mᵀ)) (zero columns left alone)."""
    d = (m @ m.T).sum(0)
    d = torch.where(d.abs() > 1e-8, 1.0 / d, d)
    return m.T * d


def _mats(s: STFTSettings, like: torch.Tensor):
    m = mel_matrix(s).to(like.device, like.real.dtype)
    return m, mel_inverse(m)


def wave_to_spec(wave: torch.Tensor, s: STFTSettings, representation: str) -> torch.Tensor:
    """N × L waveforms -> N × C × T × F (C = 2, or 1 for `mag`), unnormalised (see `normalize`)."""
    S = stft(wave, s)
    mag, phase = S.abs(), torch.angle(S)
    if representation in ("if-mel",):
        m, _ = _mats(s, wave)
        logmag = torch.log(mag ** 2 @ m + LOG_EPS)
        unwrapped = phase_from_if(instantaneous_frequency(phase))
        second = instantaneous_frequency(unwrapped @ m)
    else:
        logmag = torch.log(mag + LOG_EPS)
        second = {"if": lambda: instantaneous_frequency(phase), "phase": lambda: phase / math.pi,
                  "mag": lambda: None}[representation]()
    return logmag[:, None] if second is None else torch.stack([logmag, second], dim=1)


def spec_to_wave(spec: torch.Tensor, s: STFTSettings, representation: str) -> torch.Tensor:
    """Inverse of `wave_to_spec`: N × C × T × F -> N × L."""
    logmag = spec[:, 0]
    if representation == "if-mel":
        _, minv = _mats(s, spec)
        mag = torch.sqrt((torch.exp(logmag) - LOG_EPS).clamp_min(0.0) @ minv)
        phase = phase_from_if(spec[:, 1]) @ minv
    else:
        mag = (torch.exp(logmag) - LOG_EPS).clamp_min(0.0)
        if representation == "if":
            phase = phase_from_if(spec[:, 1])
        elif representation == "phase":
            phase = spec[:, 1] * math.pi
        else:
            phase = torch.zeros_like(mag)
    return istft(torch.polar(mag, phase), s)


# Fixed affine maps of the log magnitude into about [-1, 1] (the official code's "prespecified normalizer" idea:
# x ← a·x + b per channel with constants chosen for the data). Values below the floor are clipped.
LOGMAG_RANGE = {"if-mel": (-13.8, 8.0), "default": (-13.8, 4.0)}


def normalize(spec: torch.Tensor, representation: str) -> torch.Tensor:
    lo, hi = LOGMAG_RANGE.get(representation, LOGMAG_RANGE["default"])
    out = spec.clone()
    out[:, 0] = ((spec[:, 0] - lo) / (hi - lo) * 2 - 1).clamp(-1.0, 1.0)
    return out


def denormalize(spec: torch.Tensor, representation: str) -> torch.Tensor:
    lo, hi = LOGMAG_RANGE.get(representation, LOGMAG_RANGE["default"])
    out = spec.clone()
    out[:, 0] = (spec[:, 0] + 1) / 2 * (hi - lo) + lo
    return out


def to_model(wave: torch.Tensor, s: STFTSettings, representation: str) -> torch.Tensor:
    """Waveforms -> what the networks see: normalised spectrograms, or N × 1 × 1 × L waveforms (`wave`)."""
    if representation == "wave":
        return wave[:, None, None, :].clamp(-1.0, 1.0)
    return normalize(wave_to_spec(wave, s, representation), representation)


def from_model(x: torch.Tensor, s: STFTSettings, representation: str) -> torch.Tensor:
    """Inverse of `to_model`: network outputs -> N × L waveforms."""
    if representation == "wave":
        return x.reshape(x.shape[0], -1)
    return spec_to_wave(denormalize(x.float(), representation), s, representation)


def log_magnitude(wave: torch.Tensor, s: STFTSettings) -> torch.Tensor:
    """N × T × F log magnitude of waveforms (for pictures, NDB and the pitch classifier's input)."""
    return torch.log(stft(wave, s).abs() + LOG_EPS)
