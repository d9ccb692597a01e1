"""GANSynth's claims in miniature (Engel et al., "GANSynth: Adversarial Neural Audio Synthesis", ICLR 2019):
the representation ablation (IF-Mel and IF beat phase and the WaveGAN waveform baseline on pitch accuracy, FID
and NDB at the same budget), timbre interpolation at a fixed pitch keeps the pitch, and whole-note parallel
generation against an autoregressive sample-by-sample baseline. Publishes docs/claims/gansynth.json and its
section of docs/claims.md.

Arms (the same ProGAN networks, schedule, loss and steps; only the representation changes; WaveGAN: its own 1-D
networks, the same loss, steps and batch): `gansynth-notes` with data.representation = if-mel / if / phase, and
`wavegan-notes`. Scores (metrics/audio.py, shipped pitch classifier): --n generated notes (pitches from the
training histogram) against --n held-out real notes (NotesConfig seed 1): PA, PE, FID on the classifier features,
NDB (K = 50). Also the ceiling of each representation: the held-out reals passed through it and back.
Interpolation (each IF arm; judged on the best IF arm by PA, the arm the ablation judges — the paper interpolates its
best model): 16 pairs of latents, 9 points each at a fixed pitch: PA along the paths, and the largest step between
neighbours in the classifier's feature space over the mean step (1 = evenly spaced).
Speed: benchmarks/gansynth_speed.py's measurement.

    OMP_NUM_THREADS=1 python benchmarks/claims/gansynth.py [--steps 600] [--n 500]   # trains what is missing
    python benchmarks/claims/gansynth.py --render
"""
from __future__ import annotations

import argparse
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
from claims_common import (NOT_REPRODUCED, REPO, REPRODUCED, command_line, make_results, publish,  # noqa: E402
                           render_section, script_cli_render, verdict_block)

sys.path.insert(0, os.path.join(REPO, "src"))

from ganforge import api  # noqa: E402
from ganforge.audio.spectral import STFTSettings, from_model, to_model  # noqa: E402
from ganforge.audio_eval import audio_scores, pitch_labels, synthesize  # noqa: E402
from ganforge.config import load_config  # noqa: E402
from ganforge.data.audio import NotesConfig, note_waves  # noqa: E402
from ganforge.metrics.audio import classify, load_pitch_classifier  # noqa: E402
from ganforge.train import Trainer  # noqa: E402
from ganforge.train.checkpoint import latest_checkpoint  # noqa: E402

RUNS = os.path.join(REPO, "runs", "claims")
ARMS = {"if-mel": ("gansynth-notes", []), "if": ("gansynth-notes", ["data.representation=if"]),
        "phase": ("gansynth-notes", ["data.representation=phase"]), "wave": ("wavegan-notes", [])}
METRICS = ["pa", "pe", "fid", "ndb"]
IF_ARMS = ("if-mel", "if")


def train(name: str, steps: int) -> str:
    preset, extra = ARMS[name]
    run = os.path.join(RUNS, f"gansynth-claim-{name}")
    ckpt = latest_checkpoint(os.path.join(run, "checkpoints"))
    if not ckpt or int(ckpt.rsplit("-", 1)[1]) != steps:
        print(f"training {name} ({steps} steps) ...", flush=True)
        cfg = load_config(preset, ["train.progress=false", "train.tensorboard=false", "train.threads=1",
                                   "train.eval_every=0", f"train.steps={steps}", f"train.checkpoint_every={steps}",
                                   *extra])
        Trainer(cfg, run_dir=run, overwrite=True).fit()
    return run


def generated(run: str, n: int, seed: int = 0):
    g = api.load(run)
    z = torch.randn(n, g.z_dim, generator=torch.Generator().manual_seed(seed))
    y = pitch_labels(g.info, n, seed)
    return synthesize(g.generator, g.info, z, y), y, g


@torch.no_grad()
def interpolation(g, pairs: int = 16, points: int = 9) -> dict:
    net = load_pitch_classifier()
    gen = torch.Generator().manual_seed(5)
    correct, total, ratios = 0, 0, []
    for i in range(pairs):
        a, b = torch.randn(2, g.z_dim, generator=gen)
        z = torch.lerp(a[None], b[None], torch.linspace(0, 1, points)[:, None])
        y = torch.full((points,), (3 * i) % g.info.num_classes)
        feats, logits = classify(net, synthesize(g.generator, g.info, z, y))
        correct += int((logits.argmax(1) == y).sum())
        total += points
        steps = (feats[1:] - feats[:-1]).norm(dim=1)
        ratios.append(float(steps.max() / steps.mean().clamp_min(1e-12)))
    ends = pairs * 2
    return {"pa_path": correct / total, "max_step_over_mean": sorted(ratios)[len(ratios) // 2], "pairs": pairs,
            "points": points, "n_ends": ends}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--arms", default=",".join(ARMS))
    ap.add_argument("--render", action="store_true", help="re-render the section from its JSON; measure nothing")
    args = ap.parse_args()
    if args.render:
        return script_cli_render(__file__) or 0
    torch.set_num_threads(1)
    s = STFTSettings()
    held, held_midi, _, _ = note_waves(NotesConfig(seed=1, n=args.n))
    held_y = held_midi - NotesConfig.min_pitch
    rows, ceilings, interp, batches = {}, {}, {}, {}
    for name in args.arms.split(","):
        run = train(name, args.steps)
        fake, y, g = generated(run, args.n)
        batches[name] = g.config.train.batch_size
        rows[name] = audio_scores(fake, y, held, METRICS, s)
        back = from_model(to_model(held, s, name), s, name)
        ceilings[name] = audio_scores(back, held_y, note_waves(NotesConfig(seed=2, n=args.n))[0], METRICS, s)
        print(name, rows[name], "ceiling", ceilings[name], flush=True)
        if name in IF_ARMS:
            interp[name] = interpolation(g)
            print("interpolation", name, interp[name], flush=True)
    from gansynth_speed import measure

    speed = measure(batch=64, repeats=3, ar_samples=1024)
    batch = batches.get("if-mel", next(iter(batches.values()), None))  # the runs' own batch, not today's preset's
    numbers = {"steps": args.steps, "n": args.n, "batch": batch, "batches": batches,
               "rows": rows, "ceilings": ceilings, "interpolation": interp or None,
               "speed": {"gansynth_notes_per_s": speed["gansynth-notes"]["notes_per_s"],
                         "wavenet_notes_per_s": speed["wavenet-ar"]["notes_per_s"],
                         "ratio": speed["ratio_parallel_vs_ar"], "gansynth_params": speed["gansynth-notes"]["params"],
                         "wavenet_params": speed["wavenet-ar"]["params"]}}
    results = make_results(SLUG, __file__, "gansynth", TITLE, command_line(), numbers)
    publish(results)
    print(render_section(results))
    return 0


# --- the section ----------------------------------------------------------------------------------------------

SLUG = "gansynth"
TITLE = "GANSynth: IF-Mel beats phase and waveform, interpolation keeps pitch, parallel synthesis (Engel et al. 2019)"
PAPER = ("Paper (Engel et al., ICLR 2019, Table 1 and §5, NSynth acoustic instruments, 4 s at 16 kHz, 128 × 1024 "
         "spectrograms): of the GAN representations, instantaneous frequency — best with mel frequency scaling "
         "and high frequency resolution (IF-Mel + H) — gives the best pitch accuracy, FID and NDB, ahead of the "
         "raw-phase spectrogram GAN and the WaveGAN waveform baseline; interpolating latents at a fixed pitch "
         "changes the timbre smoothly; generating all of a note at once is about 50,000× faster than WaveNet. "
         "The table's numbers are not quoted here (not re-checked against the paper).")


def _pa_margin(a: float, b: float, n: int) -> float:
    """Two binomial standard errors of the difference of two pitch accuracies measured on n notes each."""
    return 2 * math.sqrt((a * (1 - a) + b * (1 - b)) / n)


def verdict_ablation(n: dict) -> list:
    """The paper's table ordering, one part per score: the best IF arm (IF-Mel or IF, by PA) against both phase and
    waveform — PA higher by more than two standard errors of the difference, FID lower, NDB lower."""
    r = n["rows"]
    if not all(k in r for k in ("if-mel", "if", "phase", "wave")):
        return [("representation ablation", NOT_REPRODUCED, "Not all four arms were run.", "all four arms")]
    best = _best_if_arm(r)
    others = ("phase", "wave")
    text = "; ".join(f"{k}: PA {100 * v['pa']:.1f} %, FID {v['fid']:.1f}, NDB {v['ndb']:.0f}" for k, v in r.items())
    text += f" ({n['n']} notes per arm; the best IF arm by PA: {best})."
    tests = [("pitch accuracy", lambda o: r[best]["pa"] - r[o]["pa"] > _pa_margin(r[best]["pa"], r[o]["pa"], n["n"]),
              "PA above the phase and waveform arms' by more than two standard errors of the difference"),
             ("FID", lambda o: r[best]["fid"] < r[o]["fid"], "FID below the phase and waveform arms'"),
             ("NDB", lambda o: r[best]["ndb"] < r[o]["ndb"], "NDB below the phase and waveform arms' (a tie does "
              "not beat)")]
    return [(f"IF beats phase and waveform on {name}", REPRODUCED if all(map(ok, others)) else NOT_REPRODUCED,
             text if i == 0 else "As above.", f"the best IF arm's {crit}") for i, (name, ok, crit) in enumerate(tests)]


def _best_if_arm(rows: dict) -> str:
    return max((k for k in IF_ARMS if k in rows), key=lambda k: rows[k]["pa"])


def _interpolations(n: dict) -> dict:
    """Interpolation numbers by arm (older results hold one IF-Mel measurement)."""
    i = n.get("interpolation") or {}
    return {"if-mel": i} if "pa_path" in i else i


def verdict_interp(n: dict):
    """On the best IF arm by PA (the arm the ablation judges): REPRODUCED when it follows pitch at all (PA ≥ 50 % on
    random notes), PA along the interpolation paths is at least that minus 5 points, and the median largest-step /
    mean-step ratio is below 3 (no jump)."""
    interps, rows = _interpolations(n), n["rows"]
    arm = _best_if_arm(rows) if any(k in rows for k in IF_ARMS) else None
    if arm not in interps:
        return ("interpolation keeps pitch", NOT_REPRODUCED, "Not measured on the best IF arm.",
                "the best IF arm by PA")
    i, r = interps[arm], rows[arm]
    ok = r["pa"] >= 0.5 and i["pa_path"] >= r["pa"] - 0.05 and i["max_step_over_mean"] < 3
    others = "".join(f"; {k}: path PA {100 * v['pa_path']:.1f} % against {100 * rows[k]['pa']:.1f} % on random "
                     f"notes, step ratio {v['max_step_over_mean']:.2f}" for k, v in interps.items() if k != arm)
    return ("interpolation keeps pitch", REPRODUCED if ok else NOT_REPRODUCED,
            f"{arm} (the best IF arm by PA): PA along {i['pairs']} paths of {i['points']} points: "
            f"{100 * i['pa_path']:.1f} % (random notes: {100 * r['pa']:.1f} %); median largest step / mean step in "
            f"the classifier's features: {i['max_step_over_mean']:.2f}{others}.",
            "on the best IF arm by PA: the arm follows pitch (random-note PA ≥ 50 %; otherwise there is no pitch "
            "to keep), path PA ≥ random-note PA − 5 points and median step ratio < 3")


def verdict_speed(n: dict):
    sp = n["speed"]
    ok = sp["ratio"] >= 100
    return ("parallel vs autoregressive", REPRODUCED if ok else NOT_REPRODUCED,
            f"GANSynth {sp['gansynth_notes_per_s']:.2f} notes/s ({sp['gansynth_params']:,} parameters) vs an "
            f"autoregressive WaveNet-style stack {sp['wavenet_notes_per_s']:.4f} notes/s "
            f"({sp['wavenet_params']:,} parameters): {sp['ratio']:.0f}× on this CPU.",
            "a ratio of at least 100× (orders of magnitude; the paper's 50,000× is on a GPU at 64,000 samples)")


def render(results: dict):
    n = results["numbers"]
    lines = ["| arm | PA | PE | FID | NDB (of 50) | ceiling PA | ceiling FID |", "|---|---:|---:|---:|---:|---:|---:|"]
    for k, v in n["rows"].items():
        c = n["ceilings"].get(k, {})
        lines.append(f"| {k} | {100 * v['pa']:.1f} % | {v['pe']:.3f} | {v['fid']:.1f} | {v['ndb']:.0f} | "
                     f"{100 * c.get('pa', float('nan')):.1f} % | {c.get('fid', float('nan')):.1f} |")
    measured = "\n".join(lines) + (
        f"\n\nEach arm trained {n['steps']} iterations at batch {n['batch']} on the procedural notes (one seed); "
        f"{n['n']} generated notes against {n['n']} held-out real notes. Ceiling = the held-out real notes passed "
        f"through the representation and its inverse, scored against other real notes (the best an arm could "
        f"reach: the IF-Mel inverse is lossy at 128 bins).")
    return PAPER, measured, verdict_block([*verdict_ablation(n), verdict_interp(n), verdict_speed(n)])


RENDER = {"gansynth": render}


if __name__ == "__main__":
    raise SystemExit(main())
