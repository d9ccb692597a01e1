"""Cost of StyleGAN2's weight demodulation (Karras et al. 2020) against StyleGAN v1's AdaIN (Karras et al. 2019):
one `stylegan-mnist` iteration through ganforge's `Trainer.iteration` with `generator.modulation=demod` (each
layer a per-sample modulated convolution, run as one grouped convolution over the batch) against the preset as
shipped (AdaIN: a shared convolution, then instance norm and the style's scale and bias). Interleaved blocks in
one process (see throughput.py).

    python benchmarks/stylegan_speed.py [--threads 1] [--quick]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _speed import add_args, load_preset, publish, row, start, time_loops  # noqa: E402
from throughput import GanforgeLoop  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_args(p, blocks=7, iters=5, warmup=2)
    args = p.parse_args(argv)
    device, label, prov = start(args)
    rows = ["| nets | AdaIN ms/it | demodulated ms/it | **demod / AdaIN** (paired) | block spread |",
            "|---|---:|---:|---:|---:|"]
    with tempfile.TemporaryDirectory() as tmp:
        loops = {"plain": GanforgeLoop(load_preset("stylegan-mnist", device), os.path.join(tmp, "adain")),
                 "ganforge": GanforgeLoop(load_preset("stylegan-mnist", device, "generator.modulation=demod"),
                                          os.path.join(tmp, "demod"))}
        s = time_loops(loops, device, args)
    rows.append(row("stylegan-mnist (32², batch 16, R1 every step)", s))
    print(rows[-1], flush=True)
    publish(args, f"StyleGAN weight demodulation cost — {label}", prov, rows,
            "One iteration with StyleGAN2's modulated, demodulated convolutions against the same preset with "
            "StyleGAN v1's AdaIN: the price of the per-sample weights (the R1 penalty's double backward included).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
