"""`ganforge infill`: fill the ___ blanks of a sentence with a trained text run (MaskGAN, MaskMLE); and the text
branch of `ganforge sample` (unconditional samples of a text run, written as lines of text)."""
from __future__ import annotations

import os

from .errors import GanforgeError


def add_text_parsers(sub) -> None:
    f = sub.add_parser("infill", help="fill the ___ blanks of a text with a trained MaskGAN / MaskMLE run")
    f.add_argument("run")
    f.add_argument("--text", required=True, help='e.g. "the cat ___ on the ___" (each ___ is one word)')
    f.add_argument("--n", type=int, default=1, help="fillings to draw (default 1)")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--greedy", action="store_true", help="the most likely word at each blank (no sampling)")


def cmd_infill(args) -> int:
    from . import api

    model = api.load(args.run)
    if not getattr(model.info, "is_text", False):
        raise GanforgeError(f"{args.run} is not a text run: `infill` needs a MaskGAN / MaskMLE run")
    for line in model.infill(args.text, n=args.n, seed=args.seed, greedy=args.greedy):
        print(line)
    return 0


def write_text_samples(model, n: int, seed: int, out: str) -> str:
    """`ganforge sample` for a text run: n unconditional samples, one per line, in `out` (.txt)."""
    from .data.text import write_text_samples as write

    if out.endswith(".png"):
        out = os.path.splitext(out)[0] + ".txt"
    return write(model.sample_text(n, seed=seed), out)


TEXT_COMMANDS = {"infill": cmd_infill}
