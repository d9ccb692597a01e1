"""Writing one section of docs/claims.md (each claims script owns the section under its heading)."""
from __future__ import annotations

import datetime
import os
import re

import torch

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLAIMS_MD = os.path.join(REPO, "docs", "claims.md")

INTRO = """# Paper claims, reproduced in miniature

Each section is written by a script under `benchmarks/claims/` (run it to reproduce the numbers) and puts what we
measured on bundled data and a 2-core CPU next to what the paper reports. Miniature means small data and short
trainings: the point is whether the *effect* the paper claims shows up, not matching its absolute numbers.
"""


def write_claims_section(title: str, paper: str, measured: str, command: str) -> None:
    text = open(CLAIMS_MD).read() if os.path.isfile(CLAIMS_MD) else INTRO
    section = (f"## {title}\n\n{paper}\n\nMeasured ({datetime.date.today().isoformat()}, torch "
               f"{torch.__version__}, `{command}`):\n\n{measured}\n")
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(section + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    with open(CLAIMS_MD, "w") as f:
        f.write(text)
