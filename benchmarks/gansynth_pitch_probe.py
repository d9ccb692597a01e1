"""Does a GANSynth generator follow pitch, and if the shipped pitch classifier says no, why? (issue 21)

Two readouts of "the note plays the asked pitch" on generated notes (Engel et al. 2019, §4.2 pitch accuracy):

* `pa` — the shipped pitch classifier (metrics/audio.py: a CNN on log magnitude + instantaneous frequency of the
  waveform), what `ganforge eval` reports;
* `pa_mag` — a magnitude-only readout: multinomial logistic regression on the time-averaged log magnitude
  (128 bins) of the waveform, fitted here on 2,000 real notes (seed 0). It cannot see phase.

Real held-out notes whose IF channel is replaced by noise keep `pa_mag` (~93 %) but drop `pa` to ~19 %: the
shipped classifier needs a coherent IF channel, so a generator with the right harmonics but incoherent phase
scores near chance on `pa`. The swap rows separate the two channels of generated notes: G's magnitude with the IF
of a real note of the asked pitch, and a real magnitude with G's IF.

    # train a preset with probes every EVERY steps (PA of 200 EMA / raw notes, D's pitch head on reals / fakes)
    OMP_NUM_THREADS=1 python benchmarks/gansynth_pitch_probe.py train RUN STEPS EVERY [key=value ...] [--resume]
    # score a run: pa, pa_mag, and the channel swaps, on --n notes
    OMP_NUM_THREADS=1 python benchmarks/gansynth_pitch_probe.py score RUN [--n 500]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src"))

from ganforge.audio.spectral import STFTSettings, from_model, log_magnitude, to_model  # noqa: E402
from ganforge.audio_eval import pitch_labels, synthesize  # noqa: E402
from ganforge.data.audio import NotesConfig, note_waves  # noqa: E402
from ganforge.metrics.audio import classify, load_pitch_classifier  # noqa: E402


class MagnitudeReadout:
    """Logistic regression on the time-averaged log magnitude, fitted on `n` real notes (seed 0)."""

    def __init__(self, n: int = 2000, steps: int = 600):
        torch.manual_seed(0)
        self.s = STFTSettings()
        w, midi, _, _ = note_waves(NotesConfig(seed=0, n=n))
        f = self.features(w)
        self.mu, self.sd = f.mean(0), f.std(0) + 1e-3
        self.lin = torch.nn.Linear(f.shape[1], NotesConfig.max_pitch - NotesConfig.min_pitch + 1)
        opt = torch.optim.Adam(self.lin.parameters(), 1e-2)
        y = midi - NotesConfig.min_pitch
        for _ in range(steps):
            loss = F.cross_entropy(self.lin((f - self.mu) / self.sd), y)
            opt.zero_grad()
            loss.backward()
            opt.step()

    def features(self, w: torch.Tensor) -> torch.Tensor:
        m = log_magnitude(w, self.s)
        return m.reshape(len(w), -1, m.shape[-1]).mean(1)

    @torch.no_grad()
    def accuracy(self, w: torch.Tensor, y: torch.Tensor) -> float:
        return float((self.lin((self.features(w) - self.mu) / self.sd).argmax(1) == y).float().mean())


def shipped_accuracy(net, w: torch.Tensor, y: torch.Tensor) -> float:
    return float((classify(net, w)[1].argmax(1) == y).float().mean())


def train(args) -> None:
    from ganforge.config import load_config
    from ganforge.train import Trainer

    steps, every = args.steps, args.every
    cfg = load_config(args.preset, ["train.progress=false", "train.threads=1", "train.tensorboard=false",
                                    f"train.steps={steps}", f"train.checkpoint_every={steps}",
                                    f"train.sample_every={steps}", *args.overrides])
    net, mag = load_pitch_classifier(), MagnitudeReadout()
    z = torch.randn(200, cfg.generator.z_dim, generator=torch.Generator().manual_seed(11))
    log = open(args.run.rstrip("/") + ".probe.jsonl", "a")
    t0 = time.time()

    class Probed(Trainer):
        def iteration(self, data, nonfinite):
            logs = super().iteration(data, nonfinite)
            if self.step % every == 0 or self.step == steps:
                with torch.no_grad():
                    y = pitch_labels(self.info, 200, 3)
                    out = {"step": self.step, "cpu_s": round(time.process_time(), 1), "wall_s": round(time.time() - t0)}
                    D = self.method.discriminator
                    for name, g in (("ema", self.sampling_generator()), ("raw", self.method.generator)):
                        wave = synthesize(g, self.info, z, y)
                        out[f"pa_{name}"] = shipped_accuracy(net, wave, y)
                        out[f"pa_mag_{name}"] = mag.accuracy(wave, y)
                        out[f"dhead_fake_acc_{name}"] = float((D.classify(D.forward_with_features(g(z, y))[1])
                                                               .argmax(1) == y).float().mean())
                    k = min(200, len(self.dataset.x) // 4 * 4)
                    xr, yr = self.dataset.x[:k], self.dataset.y[:k]
                    out["dhead_real_acc"] = float((D.classify(D.forward_with_features(xr)[1]).argmax(1) == yr)
                                                  .float().mean())
                    out.update({k: round(float(v), 4) for k, v in logs.items()})
                print(json.dumps(out), file=log, flush=True)
                print(json.dumps(out), flush=True)
            return logs

    Probed(cfg, run_dir=args.run, resume=args.resume, overwrite=not args.resume).fit()


def score(args) -> None:
    from ganforge import api

    torch.set_num_threads(1)
    s, net, mag = STFTSettings(), load_pitch_classifier(), MagnitudeReadout()
    torch.set_grad_enabled(False)
    held, midi, _, _ = note_waves(NotesConfig(seed=1, n=max(args.n, 100)))
    hy = midi - NotesConfig.min_pitch
    g = api.load(args.run)
    rep = dict(g.info.audio)["representation"]
    z = torch.randn(args.n, g.z_dim, generator=torch.Generator().manual_seed(0))
    y = pitch_labels(g.info, args.n, 0)
    x = g.generator(z, y).float()
    out = {"run": args.run, "n": args.n, "representation": rep}
    fake = from_model(x, s, rep)
    out["pa"], out["pa_mag"] = shipped_accuracy(net, fake, y), mag.accuracy(fake, y)
    if x.shape[1] == 2:
        xr = to_model(held, s, rep)
        idx = torch.stack([torch.nonzero(hy == k)[0, 0] for k in y.tolist()])  # a real note of each asked pitch
        swap = x.clone()
        swap[:, 1] = xr[idx, 1]
        out["pa_fake_mag_real_if"] = shipped_accuracy(net, from_model(swap, s, rep), y)
        swap = xr[idx].clone()
        swap[:, 1] = x[:, 1]
        out["pa_real_mag_fake_if"] = shipped_accuracy(net, from_model(swap, s, rep), y)
        noisy = xr.clone()
        noisy[:, 1] = torch.rand(noisy[:, 1].shape, generator=torch.Generator().manual_seed(1)) * 2 - 1
        back = from_model(noisy, s, rep)
        out["reals_if_noise_pa"], out["reals_if_noise_pa_mag"] = shipped_accuracy(net, back, hy), mag.accuracy(back, hy)
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("run")
    t.add_argument("steps", type=int)
    t.add_argument("every", type=int)
    t.add_argument("overrides", nargs="*")
    t.add_argument("--preset", default="gansynth-notes")
    t.add_argument("--resume", action="store_true", help="continue RUN from its last checkpoint up to STEPS")
    c = sub.add_parser("score")
    c.add_argument("run")
    c.add_argument("--n", type=int, default=500)
    args = ap.parse_args()
    (train if args.cmd == "train" else score)(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
