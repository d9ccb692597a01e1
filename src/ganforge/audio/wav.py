"""WAV in and out. Writing uses the standard library's `wave` (16-bit PCM, mono), always available; reading uses
`soundfile` (libsndfile: every WAV sub-format, plus FLAC/OGG) when the optional `audio` extra is installed, and
`wave` (8/16/24/32-bit integer PCM WAV) otherwise.

Rules for users' files (`read_note`): stereo and multichannel are down-mixed by averaging channels; another
sample rate is resampled to the target rate by band-limited (windowed-sinc, Kaiser β = 8.6, 32 zero crossings)
interpolation; the note is cut or zero-padded at the end to the target length. Files shorter than `min_seconds`,
silent (peak below 1e-4) or unreadable are refused with a reason (the dataset skips and counts them). Clipped
files (more than 1% of samples at full scale) are refused too.
"""
from __future__ import annotations

import math
import os
import wave as _wave

import numpy as np


class AudioSkip(Exception):
    """A file that is not a usable note; the message is the reason."""


def write_wav(path: str, samples, sample_rate: int) -> str:
    """Mono float samples in [-1, 1] -> 16-bit PCM WAV (values outside are clipped)."""
    x = np.clip(np.asarray(samples, dtype=np.float64).reshape(-1), -1.0, 1.0)
    pcm = np.round(x * 32767.0).astype("<i2")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with _wave.open(path, "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(int(sample_rate))
        f.writeframes(pcm.tobytes())
    return path


def _read_with_wave(path: str):
    with _wave.open(path, "rb") as f:
        ch, width, sr, n = f.getnchannels(), f.getsampwidth(), f.getframerate(), f.getnframes()
        raw = f.readframes(n)
    if width == 1:
        x = (np.frombuffer(raw, np.uint8).astype(np.float64) - 128.0) / 128.0
    elif width == 2:
        x = np.frombuffer(raw, "<i2").astype(np.float64) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = np.where(v >= 1 << 23, v - (1 << 24), v).astype(np.float64) / float(1 << 23)
    elif width == 4:
        x = np.frombuffer(raw, "<i4").astype(np.float64) / float(1 << 31)
    else:
        raise AudioSkip(f"unsupported sample width {width}")
    return x.reshape(-1, ch), sr


def read_wav(path: str):
    """-> (samples float64 frames × channels, sample_rate)."""
    try:
        import soundfile
    except ImportError:
        soundfile = None
    try:
        if soundfile is not None:
            x, sr = soundfile.read(path, dtype="float64", always_2d=True)
            return x, int(sr)
        return _read_with_wave(path)
    except AudioSkip:
        raise
    except Exception as e:  # noqa: BLE001  (any decoder failure means: not a usable file)
        raise AudioSkip(f"unreadable ({type(e).__name__})") from None


def resample(x: np.ndarray, sr_in: int, sr_out: int, zeros: int = 32) -> np.ndarray:
    """Band-limited resampling of a 1-D signal by windowed-sinc interpolation (cut-off at the lower Nyquist)."""
    if sr_in == sr_out:
        return x
    n_out = int(round(len(x) * sr_out / sr_in))
    ratio = min(1.0, sr_out / sr_in)
    pos = np.arange(n_out) * sr_in / sr_out  # output sample positions in input samples
    half = int(math.ceil(zeros / ratio))
    taps = np.arange(-half, half + 1)
    idx = np.floor(pos).astype(np.int64)[:, None] + taps[None]
    d = pos[:, None] - idx
    window = np.i0(8.6 * np.sqrt(np.clip(1 - (d / (half + 1)) ** 2, 0, 1))) / np.i0(8.6)  # Kaiser, β = 8.6
    kernel = ratio * np.sinc(ratio * d) * window
    valid = (idx >= 0) & (idx < len(x))
    return (np.where(valid, x[np.clip(idx, 0, len(x) - 1)], 0.0) * kernel).sum(1)


def read_note(path: str, sample_rate: int, n_samples: int, min_seconds: float) -> np.ndarray:
    """A user's file as one mono note at `sample_rate`, `n_samples` long; AudioSkip with the reason if unusable."""
    x, sr = read_wav(path)
    if x.size == 0:
        raise AudioSkip("empty")
    if not 1000 <= sr <= 768_000:
        raise AudioSkip(f"sample rate {sr} Hz is not an audio rate (a damaged header?)")
    if not np.isfinite(x).all():
        raise AudioSkip("non-finite samples (NaN or infinite)")
    if len(x) < min_seconds * sr:
        raise AudioSkip(f"too short ({len(x) / sr:.2f} s < {min_seconds} s)")
    if (np.abs(x) >= 0.999).mean() > 0.01:
        raise AudioSkip("clipped (more than 1% of samples at full scale)")
    mono = x.mean(1)
    if np.abs(mono).max() < 1e-4:
        raise AudioSkip("silent")
    # only the input that the kept n_samples draw on (plus the filter's reach): a long file costs no more
    reach = int(math.ceil(32 * max(1.0, sr / sample_rate))) + 2
    mono = resample(mono[: int(math.ceil(n_samples * sr / sample_rate)) + reach], sr, sample_rate)[:n_samples]
    return np.pad(mono, (0, n_samples - len(mono)))
