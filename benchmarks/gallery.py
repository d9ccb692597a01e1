"""docs/gallery.md: what every shipped preset draws with its default settings, how long it takes, its scores.

For each preset named (or `--all`), this script trains it exactly as a user would (`python -m ganforge train
PRESET`, default settings, progress off), times the whole process, copies the final sample grid to
`docs/img/gallery/PRESET.png`, scores the run, and replaces that preset's section of docs/gallery.md (the other
sections stay; the intro is rewritten from INTRO). The scores depend on the kind of run (benchmarks/_gallery_kinds.py,
all through the library's own scorers): images — FID / precision / recall in the data's shipped evaluator and the
share the shipped classifier recognises with p ≥ 0.9 (digits, shapes) beside real data; 2-D mixtures — modes;
image translation and super-resolution — the data's translation scores (FCN-score, label preservation, PSNR /
SSIM); the DiscoGAN toy — B modes hit and the injectivity of the A -> B mode map; audio — pitch accuracy (real notes
beside), pitch entropy, FID, NDB, with spectrograms as the picture; text — a few in-filled and sampled sentences,
perplexity under a reference LM, unique n-grams, the grammatical share on the grammar corpus; talking heads — the
few-shot scores of `ganforge eval` (CSIM, SSIM, landmark error, FID).

    python benchmarks/gallery.py dcgan-mnist gan-ring8          # train, score, write two sections
    python benchmarks/gallery.py --all --threads 2               # every preset (hours on 2 cores)
    python benchmarks/gallery.py dcgan-mnist --run runs/x        # score an existing default run (its own time)
    python benchmarks/gallery.py dcgan-mnist --run runs/gallery/dcgan-mnist --note "legible digits, a few 4/9 blends"
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
from _gallery_kinds import score  # noqa: E402

GALLERY_MD = os.path.join(REPO, "docs", "gallery.md")
IMG_DIR = os.path.join(REPO, "docs", "img", "gallery")
TIMING = "gallery-timing.json"  # written into a run this script trained: its time survives a later re-scoring

INTRO = """# Gallery: what each preset draws

Written by `python benchmarks/gallery.py PRESET…` (one section per preset; rerun a preset to refresh its section).
Each section is the preset's **default run** (`ganforge train PRESET`, nothing overridden), its final sample grid
(the EMA generator where the preset keeps one), the wall-clock of the whole command on the stated CPU, and its
scores, each section saying what was scored:

* image generators: FID / precision / recall on 2,000 samples in the shipped evaluator's feature space (lower /
  higher is better; comparable between presets on the same data only), and the share of samples the shipped
  classifier recognises with probability ≥ 0.9 beside the same share on real data;
* 2-D mixtures: modes covered, high-quality share, KL to the uniform mode histogram;
* image translation and super-resolution: the grid's columns are input | output | target; the data's own scores
  (FCN-score with its real-image ceiling, label preservation by the domain-B classifier, PSNR / SSIM on luma);
* the DiscoGAN toy: translations G_AB(A) over B's 10 modes, the B modes hit and how one-to-one the A → B map is;
* audio: log-magnitude spectrograms of the last samples; pitch accuracy (beside the real notes'), pitch entropy,
  FID on the pitch classifier's features, NDB;
* text: a few in-filled and unconditional sentences; perplexity under a reference LM, unique n-grams, and the
  share of grammatical sentences on the grammar corpus, beside the real rows;
* talking heads: the run's sample grid; the few-shot protocol of `ganforge eval` (unseen people, K frames,
  fine-tuned): identity similarity CSIM, SSIM, landmark error, FID on identity features.

A "Seen in the picture" ("Read in the sentences") line is a person's one-sentence reading of the picture (the
sentences), written when the section was.
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
    timing = (time.perf_counter() - t0, cpu, load)
    with open(os.path.join(run_dir, TIMING), "w") as f:
        json.dump({"wall": timing[0], "cpu": timing[1], "load": timing[2], "threads": threads,
                   "date": datetime.date.today().isoformat(),
                   "command": f"python benchmarks/gallery.py {preset} --threads {threads}"}, f)
    return timing


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def run_seconds(run_dir: str) -> float:
    """Training time of an existing run: from its first to its last metrics.jsonl record (a lower bound)."""
    times = [json.loads(line)["time"] for line in open(os.path.join(run_dir, "metrics.jsonl")) if line.strip()]
    return max(times) - min(times)


def minutes(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    return f"{m} min {s:02d} s"


def section(preset: str, run_dir: str, timing: tuple, threads: int, measured_by: str, note: str = "") -> str:
    from ganforge.config import load_config

    cfg = load_config(preset)
    scored = score(run_dir, preset)
    picture = ""
    if scored.picture:
        os.makedirs(IMG_DIR, exist_ok=True)
        shutil.copyfile(os.path.join(run_dir, "samples", "latest.png"), os.path.join(IMG_DIR, f"{preset}.png"))
        picture = f"![{preset} samples](img/gallery/{preset}.png)\n\n"
    wall, cpu, load = timing
    took = (f"**{minutes(wall)}** wall-clock between the run's first and last log records (an existing run: its "
            f"machine's load was not recorded)" if cpu is None else
            f"**{minutes(wall)}** wall-clock, {minutes(cpu)} CPU time (load average {load:.1f} at the start)")
    seen = f"{'Seen in the picture' if scored.picture else 'Read in the sentences'}: {note}\n\n" if note else ""
    extra = f"\n\n{scored.extra}" if scored.extra else ""
    return (f"{cfg.description}\n\n{picture}{seen}"
            f"{datetime.date.today().isoformat()} · {measured_by} · {cfg.train.steps} iterations, batch "
            f"{cfg.train.batch_size} · {took} on {cpu_model()}, {threads} threads · "
            f"torch {__import__('torch').__version__}\n\n"
            f"Scored ({scored.kind}): {scored.what}.\n\n{scored.table()}{extra}")


def existing(preset: str, run_dir: str) -> tuple:
    """(timing, threads, command) of an existing run: the timing this script recorded when it trained the run,
    else the span of its log records."""
    import ganforge

    path = os.path.join(run_dir, TIMING)
    if os.path.isfile(path):
        t = json.load(open(path))
        again = f"python benchmarks/gallery.py {preset} --run {run_dir}"
        by = f"`{t['command']}` ({t['date']}; scored again with `{again}`)"
        return (t["wall"], t["cpu"], t["load"]), t["threads"], by
    threads = ganforge.load(run_dir).config.train.threads or torch_threads()
    return (run_seconds(run_dir), None, None), threads, f"`python benchmarks/gallery.py {preset} --run {run_dir}`"


def refresh_intro(path: str) -> None:
    """The file's intro (everything before its first section) becomes INTRO."""
    text = open(path).read() if os.path.isfile(path) else ""
    at = text.find("\n## ")
    with open(path, "w") as f:
        f.write(INTRO.rstrip("\n") + "\n" + (text[at:] if at >= 0 else ""))


def main(argv=None) -> int:
    from ganforge.config import preset_names

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("presets", nargs="*")
    p.add_argument("--all", action="store_true", help="every shipped preset")
    p.add_argument("--threads", type=int, default=2, help="torch threads of each training (default 2)")
    p.add_argument("--runs", default=os.path.join(REPO, "runs", "gallery"), help="where the runs go")
    p.add_argument("--run", help="score this existing default run of the (single) preset instead of training")
    p.add_argument("--md", default=GALLERY_MD)
    p.add_argument("--note", default="", help="one sentence on what the (single) preset's picture shows, written "
                   "into its section; look at the picture first (a rerun without --note drops it)")
    args = p.parse_args(argv)
    presets = preset_names() if args.all else args.presets
    unknown = sorted(set(presets) - set(preset_names()))
    if unknown or not presets:
        p.error(f"unknown presets {unknown}" if unknown else "name presets or pass --all")
    if (args.run or args.note) and len(presets) != 1:
        p.error("--run and --note are about one run: name exactly one preset")
    for preset in presets:
        if args.run:
            run_dir = args.run
            timing, threads, by = existing(preset, run_dir)
        else:
            run_dir = os.path.join(args.runs, preset)
            timing = train(preset, run_dir, args.threads)
            threads, by = args.threads, f"`python benchmarks/gallery.py {preset} --threads {args.threads}`"
        body = section(preset, run_dir, timing, threads, by, args.note)
        write_section(f"`{preset}`", body, args.md)
        refresh_intro(args.md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
