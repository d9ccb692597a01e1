"""Cost of the self-supervised GAN's rotation loss (Chen et al. 2019): one `ssgan-mnist` iteration through
ganforge's `Trainer.iteration` with the rotation losses on (D's rotation cross-entropy on 4 rotations of the
reals, G's on 4 rotations of its samples) against the same preset with both rotation weights 0, which is exactly
the `standard` recipe on the same networks (tests/test_ssgan.py checks it bitwise). Interleaved blocks in one
process (see throughput.py). Optionally the paper's SN-ResNet (`--resnet`: `sngan-mnist method.name=ssgan`).

    python benchmarks/ssgan_speed.py [--threads 1] [--resnet] [--quick]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _speed import add_args, load_preset, publish, start, time_loops  # noqa: E402
from throughput import GanforgeLoop  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--resnet", action="store_true", help="also the SN-ResNet of sngan-mnist (slow on a CPU)")
    add_args(p, blocks=7, iters=5, warmup=2)
    args = p.parse_args(argv)
    device, label, prov = start(args)
    setups = [("ssgan-mnist", "DCGAN nets (ssgan-mnist), batch 32", [])]
    if args.resnet:
        setups.append(("sngan-mnist", "SN-ResNet ch 32, 5 D steps (sngan-mnist method.name=ssgan), batch 64",
                       ["method.name=ssgan"]))
    rows = ["| nets | without rotation ms/it | with rotation ms/it | **with / without** (paired) | block spread |",
            "|---|---:|---:|---:|---:|"]
    for preset, name, extra in setups:
        with tempfile.TemporaryDirectory() as tmp:
            off = load_preset(preset, device, *extra, "method.rotation_weight_d=0", "method.rotation_weight_g=0")
            on = load_preset(preset, device, *extra)
            loops = {"plain": GanforgeLoop(off, os.path.join(tmp, "off")),
                     "ganforge": GanforgeLoop(on, os.path.join(tmp, "on"))}
            s = time_loops(loops, device, args)
        rows.append(f"| {name} | {s['ms']['plain']:.1f} | {s['ms']['ganforge']:.1f} | **{s['ratio']:.2f}×** "
                    f"({s['paired']:.2f}×) | {s['spread']:.2f} |")
        print(rows[-1], flush=True)
    publish(args, f"SSGAN rotation-loss cost — {label}", prov, rows,
            "One iteration with the rotation losses against the same preset with both rotation weights 0 (the "
            "`standard` recipe on the same networks): the price of the four rotated batches and the head.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
