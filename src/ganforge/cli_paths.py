"""Where the file commands (translate, upscale, project, edit, stylize) write: one output per input, named after
it, never on top of an input and never two outputs on one path."""
from __future__ import annotations

import os
from collections import Counter
from typing import Dict, Sequence

from .errors import GanforgeError


def output_paths(files: Sequence[str], root: str, out_dir: str, suffix: str = ".png") -> Dict[str, str]:
    """{input: output}: the input's path relative to `root` with `suffix` for its extension, under `out_dir`.
    Inputs that share a name but not an extension (a.png, a.jpg) keep it in theirs (a-png.png, a-jpg.png).
    A one-line GanforgeError where an output would replace an input file."""
    stems = {f: os.path.splitext(os.path.relpath(f, root)) for f in files}
    shared = Counter(stem for stem, _ in stems.values())
    out = {f: os.path.join(out_dir, (f"{stem}-{ext.lstrip('.').lower()}" if shared[stem] > 1 and ext else stem)
                           + suffix) for f, (stem, ext) in stems.items()}
    refuse_overwriting(files, list(out.values()))
    seen: Dict[str, str] = {}
    for f, path in out.items():  # a.png and a.PNG, or a.png, a.jpg and a-png.png: refuse rather than lose one
        other = seen.setdefault(os.path.normcase(path), f)
        if other != f:
            raise GanforgeError(f"{other} and {f} would both be written to {path}: rename one of them")
    return out


def refuse_overwriting(inputs: Sequence[str], outputs: Sequence[str]) -> None:
    """A one-line GanforgeError if any output path is one of the input files (the user's originals)."""
    real = {os.path.realpath(p) for p in inputs}
    for path in outputs:
        if os.path.realpath(path) in real:
            raise GanforgeError(f"the output {path} would replace the input file of the same name: choose another "
                                f"--out")
