"""``ganforge stylize --content a.png --style b.png [--alpha 1.0] [--out out.png]`` (AdaIN style transfer, Huang &
Belongie, ICCV 2017). ``cli.py`` wires it in with ``add_stylize_parser(sub)`` and ``COMMANDS["stylize"] =
cmd_stylize``; it prints what it wrote, as the other commands do."""
from __future__ import annotations

import argparse
import os

from ..cli_paths import refuse_overwriting
from ..utils.images import save_pil
from ..errors import GanforgeError


def add_stylize_parser(subparsers) -> argparse.ArgumentParser:
    """The ``stylize`` sub-command on an argparse subparsers object."""
    p = subparsers.add_parser("stylize", help="AdaIN style transfer: render a content image in the style of another")
    p.add_argument("--content", required=True, help="content image (png/jpg/...)")
    p.add_argument("--style", required=True, help="style image")
    p.add_argument("--alpha", type=float, default=1.0, help="content-style trade-off in [0, 1] (1 = full style)")
    p.add_argument("--out", default="stylized.png", help="output PNG (default: stylized.png)")
    p.add_argument("--size", type=int, default=None,
                   help="resize both images so that the content's longer side is SIZE pixels (default: as they are)")
    p.add_argument("--weights", default=None, help="a stylizer file written by scripts/train_stylizer.py "
                                                   "(default: the shipped small network)")
    p.add_argument("--strip", default=None, metavar="PNG", help="also write content | style | result side by side")
    p.set_defaults(func=cmd_stylize)
    return p


def _open(path: str, what: str, size):
    from PIL import Image

    if not os.path.isfile(path):
        raise GanforgeError(f"{what} image {path} not found")
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
    except (OSError, ValueError) as e:
        raise GanforgeError(f"cannot read the {what} image {path}: {e}") from None
    if min(im.size) < 8:
        raise GanforgeError(f"the {what} image {path} is {im.width}×{im.height}: it needs at least 8 pixels a side")
    if size:
        scale = size / max(im.size)
        im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.BICUBIC)
    return im


def cmd_stylize(args) -> int:
    from PIL import Image

    from .api import stylize

    if args.size is not None and args.size < 8:
        raise GanforgeError(f"--size must be at least 8, got {args.size}")
    refuse_overwriting([args.content, args.style], [args.out] + ([args.strip] if args.strip else []))
    content = _open(args.content, "content", args.size)
    style = _open(args.style, "style", args.size)
    result = stylize(content, style, alpha=args.alpha, weights=args.weights)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    save_pil(result, args.out)
    print(args.out)
    if args.strip:
        h = content.height
        sw = max(1, round(style.width * h / style.height))
        strip = Image.new("RGB", (content.width * 2 + sw + 8, h), (255, 255, 255))
        strip.paste(content, (0, 0))
        strip.paste(style.resize((sw, h), Image.BICUBIC), (content.width + 4, 0))
        strip.paste(result, (content.width + sw + 8, 0))
        os.makedirs(os.path.dirname(os.path.abspath(args.strip)), exist_ok=True)
        save_pil(strip, args.strip)
        print(args.strip)
    return 0
