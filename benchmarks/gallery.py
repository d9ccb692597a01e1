"""docs/gallery.md: what every shipped preset draws with its default settings, how long it takes, its scores.

For each preset named (or `--all`), this script trains it exactly as a user would (`python -m ganforge train
PRESET`, default settings, progress off), times the whole process, copies the final sample grid to
`docs/img/gallery/PRESET.png`, scores the run, and replaces that preset's section of docs/gallery.md (the other
sections stay). Translation presets show their grid of input | output | target columns and the data's own
translation scores (FCN-score against the input labels with its real-image ceiling, label preservation, PSNR /
SSIM; see ganforge.translation_eval). Scores: FID / precision / recall on the data's shipped evaluator for image presets, mode counts
and high-quality share for 2-D mixtures, and the task score of the family: the share of samples the shipped
classifier recognises with probability ≥ 0.9 (digits, shapes), beside the same share on the real data.

    python benchmarks/gallery.py dcgan-mnist gan-ring8          # train, score, write two sections
    python benchmarks/gallery.py --all --threads 2               # every preset (hours on 2 cores)
    python benchmarks/gallery.py dcgan-mnist --run runs/x        # score an existing default run (its own time)
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import REPO, cpu_model, write_section  # noqa: E402
from _quality import legibility, real_legibility  # noqa: E402

GALLERY_MD = os.path.join(REPO, "docs", "gallery.md")
IMG_DIR = os.path.join(REPO, "docs", "img", "gallery")
EVAL_N = 2000
TASK_EVALUATOR = {"mnist5k": "mnist5k", "shapes": "shapes"}  # data set -> classifier of the task score

INTRO = """# Gallery: what each preset draws

Written by `python benchmarks/gallery.py PRESET…` (one section per preset; rerun a preset to refresh its section).
Each section is the preset's **default run** (`ganforge train PRESET`, nothing overridden), its final sample grid
(the EMA generator where the preset keeps one), the wall-clock of the whole command on the stated CPU, and its
scores on 2,000 samples: FID / precision / recall in the shipped evaluator's feature space (lower / higher is
better; the numbers are comparable between presets on the same data only), mode counts for 2-D mixtures, and
the share of samples the shipped classifier recognises with probability ≥ 0.9 beside the same share on real data.
"""


def train(preset: str, run_dir: str, threads: int) -> tuple:
    """Run the preset's default training; (wall seconds, CPU seconds of the process, load average at the start).
    On a shared machine the CPU time is the steadier number: wall time grows with whatever else runs."""
    cmd = [sys.executable, "-m", "ganforge", "train", preset, "--out", run_dir, "--overwrite",
           "train.progress=false", f"train.threads={threads}"]
    print("$ " + " ".join(cmd[1:]), flush=True)
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return time.perf_counter() - t0, cpu, load


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def run_seconds(run_dir: str) -> float:
    """Training time of an existing run: from its first to its last metrics.jsonl record (a lower bound)."""
    times = [json.loads(line)["time"] for line in open(os.path.join(run_dir, "metrics.jsonl")) if line.strip()]
    return max(times) - min(times)


def scores(run_dir: str) -> dict:
    import ganforge

    g = ganforge.load(run_dir)
    data = g.config.data.name
    if g.info.two_domain:  # translation: the data's own scores (FCN-score, label preservation, PSNR/SSIM, FID)
        return dict(ganforge.evaluate(run_dir, metrics="auto", n=EVAL_N, record=False).scores)
    if not g.info.is_image:
        out = dict(ganforge.evaluate(run_dir, metrics="modes", n=EVAL_N, record=False).scores)
    else:
        out = dict(ganforge.evaluate(run_dir, metrics="fid,pr", n=EVAL_N, record=False).scores)
    if data in TASK_EVALUATOR and g.info.is_image:
        leg = legibility(run_dir, TASK_EVALUATOR[data], n=EVAL_N)
        out["legible"], out["legible_classes"] = leg["confident_share"], leg["classes_covered"]
        out["n_classes"] = len(leg["class_counts"])
    return out


def fmt(scores_: dict, real_share) -> str:
    rows = []
    names = {"fid": "FID", "precision": "precision", "recall": "recall", "modes": "modes covered",
             "high_quality": "high-quality share", "kl": "KL(modes ‖ uniform)"}
    for key, label in names.items():
        if key in scores_:
            rows.append(f"| {label} | {scores_[key]:.3f} |")
    for key, value in scores_.items():  # translation scores (fcn_*, label_acc*, psnr, ssim, kid)
        if key not in names and key not in ("legible", "legible_classes", "n_classes") and isinstance(value, float):
            rows.append(f"| {key} | {value:.3f} |")
    if "legible" in scores_:
        rows.append(f"| recognised with p ≥ 0.9 | {scores_['legible']:.2f} (real data {real_share:.2f}); they cover "
                    f"{scores_['legible_classes']} of {scores_['n_classes']} classes |")
    return "| score | value |\n|---|---|\n" + "\n".join(rows)


def minutes(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    return f"{m} min {s:02d} s"


def section(preset: str, run_dir: str, timing: tuple, threads: int, measured_by: str) -> str:
    import ganforge
    from ganforge.config import load_config

    cfg = load_config(preset)
    os.makedirs(IMG_DIR, exist_ok=True)
    shutil.copyfile(os.path.join(run_dir, "samples", "latest.png"), os.path.join(IMG_DIR, f"{preset}.png"))
    s = scores(run_dir)
    g = ganforge.load(run_dir)
    real = None
    if "legible" in s:
        real = real_legibility(preset, TASK_EVALUATOR[g.config.data.name])
    wall, cpu, load = timing
    took = (f"**{minutes(wall)}** wall-clock between the run's first and last log records (an existing run: its "
            f"machine's load was not recorded)" if cpu is None else
            f"**{minutes(wall)}** wall-clock, {minutes(cpu)} CPU time (load average {load:.1f} at the start)")
    return (f"{cfg.description}\n\n"
            f"![{preset} samples](img/gallery/{preset}.png)\n\n"
            f"{datetime.date.today().isoformat()} · `{measured_by}` · {cfg.train.steps} iterations, batch "
            f"{cfg.train.batch_size} · {took} on {cpu_model()}, {threads} threads · "
            f"torch {__import__('torch').__version__}\n\n{fmt(s, real)}")


def main(argv=None) -> int:
    from ganforge.config import preset_names

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("presets", nargs="*")
    p.add_argument("--all", action="store_true", help="every shipped preset")
    p.add_argument("--threads", type=int, default=2, help="torch threads of each training (default 2)")
    p.add_argument("--runs", default=os.path.join(REPO, "runs", "gallery"), help="where the runs go")
    p.add_argument("--run", help="score this existing default run of the (single) preset instead of training")
    p.add_argument("--md", default=GALLERY_MD)
    args = p.parse_args(argv)
    presets = preset_names() if args.all else args.presets
    unknown = sorted(set(presets) - set(preset_names()))
    if unknown or not presets:
        p.error(f"unknown presets {unknown}" if unknown else "name presets or pass --all")
    if args.run and len(presets) != 1:
        p.error("--run scores one existing run: name exactly one preset")
    for preset in presets:
        if args.run:
            import ganforge

            run_dir, timing = args.run, (run_seconds(args.run), None, None)
            threads = ganforge.load(run_dir).config.train.threads or torch_threads()
            by = f"python benchmarks/gallery.py {preset} --run {args.run}"
        else:
            run_dir = os.path.join(args.runs, preset)
            timing = train(preset, run_dir, args.threads)
            threads, by = args.threads, f"python benchmarks/gallery.py {preset} --threads {args.threads}"
        body = section(preset, run_dir, timing, threads, by)
        intro_missing = not os.path.isfile(args.md)
        if intro_missing:
            with open(args.md, "w") as f:
                f.write(INTRO)
        write_section(f"`{preset}`", body, args.md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
