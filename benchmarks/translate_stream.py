"""`ganforge translate` on a folder: images/s and peak memory against the number of images, beside a plain script.

What is measured
  * ganforge: `python -m ganforge translate RUN --input DIR --out OUT` as a separate process, for folders of
    N_small and N_large label maps (PNG, the run's resolution); wall time and the process's peak RSS.
  * plain: a hand-written script in a separate process doing the same work the usual way — read every image with
    PIL, stack them, one forward pass of the loaded network per 64 images, save PNGs — which holds the whole
    folder in memory.
Reported: images/s of each (large folder), the ratio time_ganforge / time_plain, and peak RSS for both folder sizes
(streaming: ganforge's peak should not grow with the folder).

    python benchmarks/translate_stream.py [--small 50 --large 500]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import BENCHMARKS_MD, cpu_model, write_section  # noqa: E402

PLAIN = r'''
import os, sys, numpy as np, torch
from PIL import Image
import ganforge
run, src, out = sys.argv[1:4]
torch.set_num_threads(1)
net = ganforge.load(run).generator
files = sorted(os.listdir(src))
x = torch.stack([torch.from_numpy(np.asarray(Image.open(os.path.join(src, f)).convert("RGB")).copy())
                 .permute(2, 0, 1).float() / 127.5 - 1 for f in files])
os.makedirs(out, exist_ok=True)
with torch.no_grad():
    y = torch.cat([net(x[i:i + 64]).clamp(-1, 1) for i in range(0, len(x), 64)])
for f, im in zip(files, y):
    Image.fromarray(((im.permute(1, 2, 0) + 1) * 127.5).round().byte().numpy()).save(os.path.join(out, f))
import resource
print("PEAK", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
'''
GANFORGE = r'''
import resource, sys
from ganforge.cli import main
main(["translate", *sys.argv[1:]])
print("PEAK", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
'''


def child(cmd) -> tuple:
    """(wall seconds, the child's own peak RSS in MiB, which it prints last as "PEAK <KiB>")."""
    t0 = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    wall = time.perf_counter() - t0
    peak = [line.split()[1] for line in out.stdout.splitlines() if line.startswith("PEAK")][-1]
    return wall, int(peak) / 1024


def folder(n: int, root: str) -> str:
    import torch
    from PIL import Image

    from ganforge.data.translation import ShapesPairsConfig, build_shapes_labels

    path = os.path.join(root, f"in{n}")
    os.makedirs(path)
    x = build_shapes_labels(ShapesPairsConfig(n=n, resolution=32)).get(torch.arange(n)).x
    for i, im in enumerate(x):
        Image.fromarray(((im.permute(1, 2, 0) + 1) * 127.5).round().byte().numpy()).save(f"{path}/{i:05d}.png")
    return path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--small", type=int, default=50)
    p.add_argument("--large", type=int, default=500)
    args = p.parse_args(argv)
    root = tempfile.mkdtemp(prefix="translate-bench-")
    run = os.path.join(root, "run")
    subprocess.run([sys.executable, "-m", "ganforge", "train", "pix2pix-shapes-labels", "--out", run,
                    "train.steps=2", "train.progress=false", "data.n=64", "train.threads=1"], check=True,
                   stdout=subprocess.DEVNULL)
    rows = {}
    for n in (args.small, args.large):
        src = folder(n, root)
        rows[("plain", n)] = child([sys.executable, "-c", PLAIN, run, src, os.path.join(root, f"plain{n}")])
        rows[("ganforge", n)] = child([sys.executable, "-c", GANFORGE, run, "--input", src, "--out",
                                       os.path.join(root, f"gf{n}")])
    big = args.large
    lines = ["| | images/s (" + str(big) + " images) | peak RSS, " + str(args.small) + " images | peak RSS, "
             + str(big) + " images |", "|---|---|---|---|"]
    for who in ("plain", "ganforge"):
        (ws, ms), (wl, ml) = rows[(who, args.small)], rows[(who, big)]
        lines.append(f"| {who} | {big / wl:.1f} | {ms:.0f} MiB | {ml:.0f} MiB |")
    ratio = rows[("ganforge", big)][0] / rows[("plain", big)][0]
    body = (f"`python benchmarks/translate_stream.py --small {args.small} --large {big}` on {cpu_model()}, one "
            f"thread, whole processes (start-up included, so small folders are dominated by it); peak RSS is each "
            f"process's own.\n\n"
            + "\n".join(lines) + f"\n\ntime ganforge / plain on {big} images: **{ratio:.2f}×**. ganforge reads, translates and "
            f"writes 16 images at a time; the plain script holds the folder and batches 64 images a forward pass.")
    write_section("Translate a folder (streaming)", body, BENCHMARKS_MD)
    print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
