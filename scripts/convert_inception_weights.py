"""Convert the FID Inception weights from torch's pickle format to safetensors, once.

    python scripts/convert_inception_weights.py pt_inception-2015-12-05-6726825d.pth
    python scripts/convert_inception_weights.py weights.pth out.safetensors
    ganforge eval RUN --weights pt_inception-2015-12-05-6726825d.safetensors

ganforge reads FID Inception weights from safetensors only and never unpickles a file itself. This script is your
explicit, one-off conversion of a file you trust — normally pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth``
(torch-fidelity's ``weights-inception-2015-12-05-6726825d.pth`` is the same file), published at
ganforge.metrics.inception.FID_WEIGHTS_URL. It reads the file with ``torch.load(weights_only=True)`` (tensors and
plain containers only), says whether it is the official file (SHA-256), and writes the tensors with the source's
SHA-256 in the safetensors metadata, so scores made with the converted file keep the official weights' identity.
The output (default: the input with a .safetensors suffix) is checked to load as the FID Inception-v3.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from ganforge.errors import GanforgeError
from ganforge.metrics.inception import FID_WEIGHTS_SHA256, convert_weights, load_fid_inception, sha256_file


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("src", help="the .pth / .pt file to convert")
    p.add_argument("dst", nargs="?", help="output .safetensors (default: SRC with a .safetensors suffix)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    dst = args.dst or os.path.splitext(args.src)[0] + ".safetensors"
    try:
        if not os.path.isfile(args.src):
            raise GanforgeError(f"{args.src} does not exist")
        official = sha256_file(args.src) == FID_WEIGHTS_SHA256
        if not official:
            print(f"note: {args.src} is not the official FID Inception file (SHA-256 differs): its scores will not "
                  f"be comparable with published FIDs", file=sys.stderr)
        convert_weights(args.src, dst, trusted=True)
        try:
            load_fid_inception(dst, download=False)  # the result loads strictly as the FID Inception-v3
        except GanforgeError:
            os.remove(dst)
            raise
    except GanforgeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(dst)
    print(f"use it with: ganforge eval RUN --weights {dst}   (or GANFORGE_INCEPTION_WEIGHTS={dst})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
