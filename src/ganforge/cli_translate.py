"""`ganforge translate` and `ganforge upscale`: apply a trained image-to-image run (pix2pix, CycleGAN, DiscoGAN,
pix2pixHD, SRGAN) to an image or a folder of images, streamed in batches of 16 (memory stays flat in the
folder's size).

translate: each image is converted to the run's input channels and resized by the folder rule (shorter side to the
trained resolution, centre crop); upscale: images keep their size (the super-resolution network is fully
convolutional) and come out `scale` times larger; an image larger than `--tile` goes through in tiles with
`--overlap` pixels of context (utils/tiles.py), so memory stays that of one tile. Outputs are PNGs named after the inputs; unreadable files are
skipped and counted.
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np
import torch
from PIL import Image

from .cli_paths import output_paths
from .errors import GanforgeError
from .utils.images import save_pil

BATCH = 16  # images translated per forward pass


def add_translate_parsers(sub) -> None:
    t = sub.add_parser("translate", help="translate an image or a folder with an image-to-image run (A -> B)")
    t.add_argument("run")
    t.add_argument("--input", required=True, help="an image file or a folder (searched recursively)")
    t.add_argument("--out", required=True, help="output folder")
    t.add_argument("--direction", default="AtoB", choices=("AtoB", "BtoA"))
    u = sub.add_parser("upscale", help="super-resolve an image or a folder with an SRGAN / SRResNet run")
    u.add_argument("run")
    u.add_argument("--input", required=True, help="an image file or a folder (searched recursively)")
    u.add_argument("--out", required=True, help="output folder")
    u.add_argument("--tile", type=int, default=128,
                   help="images larger than TILE×TILE pixels go through the network in tiles of that size "
                        "(memory stays that of one tile; default 128, 0: whole images)")
    u.add_argument("--overlap", type=int, default=24,
                   help="pixels of context around each tile (default 24; the result equals the whole-image one "
                        "when this reaches the network's receptive-field radius)")


def _inputs(path: str):
    from .data.folder import list_images

    if os.path.isfile(path):
        return [path], os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        files = list_images(path)
        if not files:
            raise GanforgeError(f"no image files in {path}")
        return files, path
    raise GanforgeError(f"{path} does not exist")


def _read(path: str, channels: int, resolution: int = 0) -> torch.Tensor:
    """1×C×H×W in [-1, 1]; resolution 0 keeps the size. Raises _Skip for unusable files."""
    from .data.folder import _Skip, _to_mode, load_image

    if resolution:
        arr = load_image(path, resolution, channels)
    else:
        try:
            with Image.open(path) as im:
                im.load()
                arr = np.asarray(_to_mode(im, channels), dtype=np.uint8)
        except (OSError, ValueError, SyntaxError, EOFError) as e:
            raise _Skip(f"not a readable image ({e})") from None
        arr = arr[..., None] if arr.ndim == 2 else arr
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1


def _write(x: torch.Tensor, path: str) -> None:
    arr = ((x[0].clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    save_pil(Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr), path)


def _run(args, direction: str, keep_size: bool, tile: int = 0, overlap: int = 0) -> int:
    from . import api
    from .data.folder import _Skip

    run = api.load(args.run)
    if not hasattr(run, "translate"):
        raise GanforgeError(f"{args.run} is not an image-to-image run (it samples from latent codes): use "
                            f"`ganforge sample`")
    if direction not in run.directions:
        raise GanforgeError(f"{args.run} translates {' and '.join(run.directions)} only, not {direction}")
    if keep_size and run.info.target_shape[-1] <= run.info.shape[-1]:
        raise GanforgeError(f"{args.run} is not a super-resolution run (it maps {run.info.shape[-1]}² images to "
                            f"{run.info.target_shape[-1]}²): use `ganforge translate`")
    channels, size = run.input_shape(direction)[0], run.input_shape(direction)[-1]
    files, root = _inputs(args.input)
    targets = output_paths(files, root, args.out)
    os.makedirs(args.out, exist_ok=True)
    done, skipped, started = 0, [], time.perf_counter()
    pending = []  # up to BATCH decoded images of one size: memory stays flat, the network sees batches

    def flush():
        nonlocal done
        if pending:
            out = run.translate(torch.cat([x for x, _ in pending]), direction, tile=tile, overlap=overlap)
            for y, (_, target) in zip(out, pending):
                _write(y[None], target)
            done += len(pending)
            pending.clear()

    for path in files:
        try:
            x = _read(path, channels, 0 if keep_size else size)
        except _Skip as e:
            skipped.append((path, str(e)))
            continue
        target = targets[path]
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if pending and (pending[0][0].shape != x.shape or (tile and max(x.shape[-2:]) > tile)):
            flush()  # a batch holds images of one size; a tiled image goes alone
        pending.append((x, target))
        if len(pending) == BATCH:
            flush()
    flush()
    seconds = time.perf_counter() - started
    print(f"{done} image(s) written to {args.out} ({done / max(seconds, 1e-9):.1f} images/s)")
    if skipped:
        print(f"skipped {len(skipped)} unreadable file(s), e.g. {skipped[0][0]}: {skipped[0][1]}", file=sys.stderr)
    return 0 if done else 2


def cmd_translate(args) -> int:
    return _run(args, args.direction, keep_size=False)


def cmd_upscale(args) -> int:
    if args.tile < 0 or args.overlap < 0:
        raise GanforgeError(f"--tile and --overlap must be ≥ 0, got {args.tile} and {args.overlap}")
    return _run(args, "AtoB", keep_size=True, tile=args.tile, overlap=args.overlap)


TRANSLATE_COMMANDS = {"translate": cmd_translate, "upscale": cmd_upscale}
