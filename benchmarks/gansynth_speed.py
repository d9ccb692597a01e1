"""Synthesis throughput of GANSynth (and the WaveGAN baseline) on this machine, and the parallel-vs-autoregressive
speed ratio of Engel et al. 2019 (§5: GANSynth generates a whole note in one pass, "about 50,000× faster than
WaveNet" on GPU). Prints a markdown table and writes it as one section of BENCHMARKS.md (`--no-write`: print only).

Notes/s counts the whole path from latent to waveform: G(z, pitch) in batches of --batch, then the
representation's inverse (IF-Mel -> STFT -> overlap-add). Seconds of audio per second = notes/s × note length.
The autoregressive baseline is a WaveNet-style stack (causal dilated convolutions, gated tanh·sigmoid units,
residual and skip 1×1 convolutions, 256-way μ-law softmax output) with about as many parameters as the GANSynth
generator, sampling one sample at a time with a cache of each layer's past inputs (the "fast WaveNet" queue
scheme, Paine et al. 2016), so its cost is the honest per-sample one, not a recomputation of the receptive field.
Timings use untrained weights: generation cost does not depend on the weights' values.

    OMP_NUM_THREADS=1 python benchmarks/gansynth_speed.py [--batch 64] [--repeats 3] [--ar-samples 2048]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import cpu_model, provenance, write_section  # noqa: E402

from ganforge.audio_eval import synthesize  # noqa: E402
from ganforge.config import load_config  # noqa: E402
from ganforge.data.audio import audio_info, settings_of  # noqa: E402
from ganforge.models import build_generator  # noqa: E402


def preset_generator(preset: str, *overrides: str):
    cfg = load_config(preset, list(overrides))
    s = settings_of(cfg.data)
    shape = (1, 1, s.n_samples) if cfg.data.representation == "wave" else \
        ((1 if cfg.data.representation == "mag" else 2), s.n_frames, s.n_fft // 2)
    info = audio_info(cfg.data, s, shape)
    return build_generator(cfg.generator, info).eval(), info, s


class WaveNet(nn.Module):
    """Causal dilated-convolution stack (van den Oord et al. 2016, §2.3–2.4) sampled one step at a time."""

    def __init__(self, channels: int = 64, layers: int = 10, classes: int = 256, skip: int = 128):
        super().__init__()
        self.dilations = [2 ** (i % 10) for i in range(layers)]
        self.embed = nn.Embedding(classes, channels)
        self.filt = nn.ModuleList([nn.Linear(2 * channels, 2 * channels) for _ in range(layers)])  # 2-tap conv
        self.res = nn.ModuleList([nn.Linear(channels, channels) for _ in range(layers)])
        self.skip = nn.ModuleList([nn.Linear(channels, skip) for _ in range(layers)])
        self.out = nn.Sequential(nn.ReLU(), nn.Linear(skip, skip), nn.ReLU(), nn.Linear(skip, classes))

    @torch.no_grad()
    def generate(self, n: int, length: int, seed: int = 0) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        c = self.embed.embedding_dim
        queues = [torch.zeros(n, d, c) for d in self.dilations]  # each layer's inputs of the last d steps
        x = torch.full((n,), 128, dtype=torch.long)
        out = torch.empty(n, length, dtype=torch.long)
        for t in range(length):
            h, skips = self.embed(x), 0
            for i, d in enumerate(self.dilations):
                past = queues[i][:, t % d]
                queues[i][:, t % d] = h
                a, b = self.filt[i](torch.cat([past, h], 1)).chunk(2, 1)
                z = torch.tanh(a) * torch.sigmoid(b)
                skips = skips + self.skip[i](z)
                h = h + self.res[i](z)
            x = torch.multinomial(F.softmax(self.out(skips), 1), 1, generator=g).squeeze(1)
            out[:, t] = x
        return out


def params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def time_it(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def measure(batch: int = 64, repeats: int = 3, ar_samples: int = 2048, ar_batch: int = 1) -> dict:
    rows = {}
    for preset in ("gansynth-notes", "wavegan-notes"):
        g, info, s = preset_generator(preset)
        z = torch.randn(batch, g.z_dim)
        y = torch.randint(0, info.num_classes, (batch,))
        sec = time_it(lambda: synthesize(g, info, z, y, batch_size=batch), repeats)
        rows[preset] = {"params": params(g), "notes_per_s": batch / sec,
                        "audio_s_per_s": batch * s.n_samples / s.sample_rate / sec, "note_s": s.n_samples / s.sample_rate}
    g_params = rows["gansynth-notes"]["params"]
    ch = 16
    while params(WaveNet(ch + 8)) <= g_params:  # the widest stack not larger than the GANSynth generator
        ch += 8
    wn = WaveNet(ch)
    sec = time_it(lambda: wn.generate(ar_batch, ar_samples), 1)
    s = preset_generator("gansynth-notes")[2]
    per_note = sec / ar_batch * s.n_samples / ar_samples  # seconds for one whole note, sample by sample
    rows["wavenet-ar"] = {"params": params(wn), "notes_per_s": 1 / per_note,
                          "audio_s_per_s": s.n_samples / s.sample_rate / per_note, "note_s": s.n_samples / s.sample_rate,
                          "channels": ch, "timed_samples": ar_samples, "batch": ar_batch}
    rows["ratio_parallel_vs_ar"] = rows["gansynth-notes"]["notes_per_s"] / rows["wavenet-ar"]["notes_per_s"]
    return rows


def table(rows: dict) -> str:
    lines = ["| generator | parameters | notes/s | seconds of audio per second |", "|---|---:|---:|---:|"]
    for k in ("gansynth-notes", "wavegan-notes", "wavenet-ar"):
        r = rows[k]
        lines.append(f"| {k} | {r['params']:,} | {r['notes_per_s']:.2f} | {r['audio_s_per_s']:.2f} |")
    lines.append(f"\nGANSynth (parallel) / autoregressive WaveNet-style, notes per second: "
                 f"{rows['ratio_parallel_vs_ar']:.0f}×")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ar-samples", type=int, default=2048, help="samples the autoregressive baseline is timed on")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-write", action="store_true", help="print the table; leave BENCHMARKS.md alone")
    args = ap.parse_args()
    prov = provenance()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rows = measure(args.batch, args.repeats, args.ar_samples)
    print(f"torch {torch.__version__}, {args.threads} thread(s), batch {args.batch}")
    print(table(rows))
    if not args.no_write:
        write_section(f"GANSynth synthesis speed — CPU: {cpu_model()}, {args.threads} thread(s)",
                      f"{prov}\n\n{table(rows)}\n\nWhole path from latent to waveform (G in batches of {args.batch}, "
                      "then the representation's inverse); the autoregressive baseline is a WaveNet-style stack of "
                      "about the generator's size sampling one sample at a time with cached layer inputs (untrained "
                      "weights: the cost does not depend on them). The paper: about 50,000× faster than WaveNet on a "
                      "GPU.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
