"""Helpers shared by the benchmark scripts: device labels and writing one section of BENCHMARKS.md."""
from __future__ import annotations

import datetime
import os
import platform
import re
import shlex
import sys

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCHMARKS_MD = os.path.join(REPO, "BENCHMARKS.md")

INTRO = """# Benchmarks

Written by the scripts in `benchmarks/` (DESIGN.md §9); nothing here is asserted by the tests.

How to read it. **Throughput** sections time one ganforge training iteration (`Trainer.iteration`: the
method's step, the EMA update and the non-finite guard — `Trainer.fit` minus logging and checkpoints) against
a hand-written plain-PyTorch loop of the *same* networks, batch and optimiser, interleaved block by block in
the *same process*. Machines (and this shared 2-core CPU above all) are noisy, so the absolute img/s move from
run to run; the **ratio** `time_ganforge / time_plain` is the number to watch (target ≤ 1.05: ganforge costs at
most 5 % over plain PyTorch). The block spread (slowest / fastest block) says how disturbed a run was; above 1.5
the script does not write its section (`--force` does). GFLOP/s counts the convolution FLOPs of one iteration
(`torch.utils.flop_counter.FlopCounterMode`, forward + backward of the D and G steps; batch norm, activations
and the optimiser are not counted) divided by the measured time. The **Main job** section is the README job
(`python -m ganforge train dcgan-mnist`) run end to end: wall time and peak memory of the whole process.

Reproduce:

    python benchmarks/throughput.py --device cpu      # or --device cuda; --quick for a smoke run
    python benchmarks/main_job.py                     # the README main job (minutes)

Each script replaces its own section (keyed by the heading, i.e. the device) and keeps the others.
"""


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_label(device: torch.device) -> str:
    """'CPU: <model>, N threads' or 'GPU: <name>' — the key of a BENCHMARKS.md section."""
    if device.type == "cuda":
        return f"GPU: {torch.cuda.get_device_name(device)}"
    return f"CPU: {cpu_model()}, {torch.get_num_threads()} threads"


def resolve(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def command_line() -> str:
    """The command that ran, without `--md PATH` (where the result was written is not how to reproduce it)."""
    args, skip = [], False
    for a in sys.argv[1:]:
        if skip or a.startswith("--md="):
            skip = False
            continue
        if a == "--md":
            skip = True
            continue
        args.append(a)
    return "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0], REPO), *args])


def provenance() -> str:
    """Date, command and versions, as a markdown line."""
    date = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    return (f"{date} · `{command_line()}` · torch {torch.__version__} · Python {platform.python_version()}"
            f" · {os.cpu_count()} CPU cores visible · load average {os.getloadavg()[0]:.1f} at the start")


def write_section(heading: str, body: str, path: str = BENCHMARKS_MD) -> None:
    """Put `## heading` + body into the markdown file, replacing a section with the same heading, keeping
    every other section (and the intro; a missing file starts with INTRO)."""
    text = open(path).read() if os.path.isfile(path) else INTRO
    # Split into the intro and `## ` sections; each chunk keeps its own heading line.
    chunks = re.split(r"(?m)^(?=## )", text)
    intro, sections = chunks[0], chunks[1:]
    title = f"## {heading}"
    new = f"{title}\n\n{body.strip()}\n\n"
    out, replaced = [], False
    for sec in sections:
        if sec.splitlines()[0].strip() == title:
            out.append(new)
            replaced = True
        else:
            out.append(sec if sec.endswith("\n\n") else sec.rstrip("\n") + "\n\n")
    if not replaced:
        out.append(new)
    intro = intro.rstrip("\n") + "\n\n"
    with open(path, "w") as f:
        f.write((intro + "".join(out)).rstrip("\n") + "\n")
    print(f"wrote section '{title}' to {path}")
