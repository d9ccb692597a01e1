"""`ganforge synth RUN --pitch 60 --n 8 --out dir/`: notes of a trained audio run (GANSynth, WaveGAN) as WAV files
and a picture of their spectrograms; `--interpolate` walks from one latent (timbre) to another at a fixed pitch
(Engel et al. 2019, §5.3: interpolating the latent at a fixed pitch changes the timbre, not the note)."""
from __future__ import annotations

import os

from .errors import ConfigError, GanforgeError


def add_audio_parsers(sub) -> None:
    s = sub.add_parser("synth", help="notes of a trained GANSynth / WaveGAN run as WAV files + spectrogram picture")
    s.add_argument("run")
    s.add_argument("--pitch", type=int, default=60, help="MIDI pitch (default 60 = C4)")
    s.add_argument("--n", type=int, default=8, help="notes (one latent each; default 8)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", help="folder for the WAVs and spectrograms.png (default RUN/synth)")
    s.add_argument("--interpolate", action="store_true",
                   help="n notes on the straight line from latent --seed to latent --seed2 (one timbre to another)")
    s.add_argument("--seed2", type=int, help="the latent at the end of --interpolate (default seed + 1)")
    s.add_argument("--raw-weights", action="store_true", help="the raw generator, not its EMA copy")


def synth_notes(model, pitch: int, n: int, seed: int, interpolate: bool = False, seed2=None):
    """(waveforms n × L, pitch class) of a loaded audio run at MIDI `pitch`."""
    import torch

    from .audio_eval import synthesize

    info = model.info
    low = dict(info.audio)["min_pitch"]
    if not 0 <= pitch - low < info.num_classes:
        raise ConfigError(f"--pitch {pitch} is outside this run's pitches {low}–{low + info.num_classes - 1}")
    if n < 1 or (interpolate and n < 2):
        raise ConfigError(f"--n must be ≥ 1 (≥ 2 with --interpolate), got {n}")
    if interpolate:
        a = model.latents(1, seed)
        b = model.latents(1, seed + 1 if seed2 is None else seed2)
        t = torch.linspace(0, 1, n)[:, None]
        z = torch.lerp(a.cpu(), b.cpu(), t)
    else:
        z = model.latents(n, seed).cpu()
    y = torch.full((n,), pitch - low, dtype=torch.long)
    return synthesize(model.generator, info, z, y, device=model.device), pitch - low


def spectrogram_picture(waves, settings, path: str) -> str:
    """One tile per note: log magnitude, frequency upwards, time to the right."""
    from .audio.spectral import log_magnitude
    from .utils.images import save_grid

    mag = log_magnitude(waves.float(), settings)
    x = ((mag + 13.8) / 17.8 * 2 - 1).clamp(-1, 1)[:, None].transpose(2, 3).flip(2)
    return save_grid(x, path, nrow=min(8, len(x)))


def cmd_synth(args) -> int:
    from . import api
    from .audio.synth import midi_name
    from .audio.wav import write_wav
    from .audio_eval import settings_of_info

    model = api.load(args.run, ema=not args.raw_weights)
    if not getattr(model.info, "is_audio", False):
        raise GanforgeError(f"{args.run} is not an audio run: `synth` needs a GANSynth / WaveGAN run on notes")
    waves, cls = synth_notes(model, args.pitch, args.n, args.seed, args.interpolate, args.seed2)
    s, _ = settings_of_info(model.info)
    out = args.out or os.path.join(args.run, "synth")
    os.makedirs(out, exist_ok=True)
    stem = "interp" if args.interpolate else "note"
    for i, w in enumerate(waves):
        write_wav(os.path.join(out, f"{stem}-{args.pitch:03d}-{i:03d}.wav"), w.numpy(), s.sample_rate)
    pic = spectrogram_picture(waves, s, os.path.join(out, f"{stem}-{args.pitch:03d}.png"))
    print(f"{len(waves)} notes at {midi_name(args.pitch)} ({s.n_samples / s.sample_rate:.3f} s, {s.sample_rate} Hz) "
          f"-> {out}")
    print(f"spectrograms: {pic}")
    try:
        from .metrics.audio import classify, load_pitch_classifier

        logits = classify(load_pitch_classifier(), waves)[1]
    except GanforgeError:
        return 0
    heard = logits.argmax(1)
    print(f"the pitch classifier hears {midi_name(args.pitch)} in {int((heard == cls).sum())} of {len(waves)} notes")
    return 0


def write_audio_samples(model, n: int, seed: int, out: str, cls=None) -> str:
    """`ganforge sample` for an audio run: n notes (pitches cycling through the run's pitches, or class `cls`) as
    WAVs beside `out`, and their spectrograms in `out` (.png)."""
    import torch

    from .audio.wav import write_wav
    from .audio_eval import settings_of_info, synthesize
    from .models.base import check_classes

    k = model.info.num_classes
    y = torch.arange(n) % k if cls is None else check_classes(torch.full((n,), int(cls)), k)
    waves = synthesize(model.generator, model.info, model.latents(n, seed).cpu(), y, device=model.device)
    s, _ = settings_of_info(model.info)
    stem = os.path.splitext(out)[0]
    for i, w in enumerate(waves):
        write_wav(f"{stem}-{i:03d}.wav", w.numpy(), s.sample_rate)
    return spectrogram_picture(waves, s, stem + ".png")


AUDIO_COMMANDS = {"synth": cmd_synth}
