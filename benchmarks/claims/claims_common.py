"""docs/claims.md, generated: measure → JSON → section.

Each claims script measures, then calls :func:`publish` with a results dict (see :func:`make_results`): that saves
``docs/claims/<slug>.json`` ({title, script, claim, command, date, torch, numbers, observations, ...}) and rewrites
the section under the results' title in docs/claims.md from that JSON alone. The section text comes from the
script's renderer ``RENDER[claim](results) -> (paper, measured, verdict)``: the paper's claim (a constant in the
script), the measured tables and a verdict computed from the numbers with its criterion stated. Nothing in a
section is written by hand; a qualitative remark from looking at a run's pictures may be kept in the JSON's
``observations`` (without numbers), which a rerun drops with the rest of the old run.

    python benchmarks/claims/claims_common.py --render            # re-render every section from its JSON
    python benchmarks/claims/claims_common.py --render infogan    # one section (by slug)
    python benchmarks/claims/claims_common.py --check             # exit 1 if docs/claims.md is out of date

Each script also has ``--render`` for its own sections, so a change to a script's text never needs a rerun.
"""
from __future__ import annotations

import argparse
import datetime
import glob
import importlib.util
import json
import os
import re
import shlex
import sys
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLAIMS_MD = os.path.join(REPO, "docs", "claims.md")
CLAIMS_DIR = os.path.join(REPO, "docs", "claims")
HERE = os.path.dirname(os.path.abspath(__file__))

INTRO = """# Paper claims, reproduced in miniature

Each section puts what we measured on bundled data and a 2-core CPU next to what the paper reports. Miniature
means small data and short trainings: the point is whether the *effect* the paper claims shows up, not matching
its absolute numbers.

Every section is generated, never edited by hand: a script under `benchmarks/claims/` measures, saves its numbers
as JSON under `docs/claims/` (linked at the end of each section) and renders the section from that JSON — the
paper's claim, the measured tables, and a verdict computed from the numbers with its criterion stated. The
"Measured" line names the command and the date of the run. Remarks from looking at a run's pictures are kept only
without numbers, in the JSON's observations, and shown as such. Sections whose JSON says "parsed from the
script-written section" were back-filled from the tables the scripts had printed (`benchmarks/claims/backfill.py`;
the runs behind them are gone). To change the wording, edit the script and re-render without measuring
(`python benchmarks/claims/claims_common.py --render`); to measure again, run the command.
"""

SECTION_RE = r"^## {title}\n.*?(?=^## |\Z)"


# --- results (the JSON of one section) ------------------------------------------------------------------------

def command_line(argv: Optional[Sequence[str]] = None) -> str:
    """The command that is running, as a reader would type it from the repository root: the script path relative
    to the repo, absolute paths inside the repo made relative, and OMP_NUM_THREADS when set."""
    argv = list(sys.argv if argv is None else argv)

    def rel(a: str) -> str:
        if os.path.isabs(a) and os.path.abspath(a).startswith(REPO + os.sep):
            return os.path.relpath(a, REPO)
        return a

    script = os.path.relpath(os.path.abspath(argv[0]), REPO) if argv and argv[0].endswith(".py") else "?"
    env = "".join(f"{k}={os.environ[k]} " for k in ("OMP_NUM_THREADS",) if k in os.environ)
    return env + "python " + " ".join(shlex.quote(rel(a)) for a in [script, *argv[1:]])


def make_results(slug: str, script: str, claim: str, title: str, command: str, numbers: dict,
                 observations: Iterable[str] = (), date: Optional[str] = None, **extra) -> dict:
    """The results dict of one section. `script` is the measuring script's path (``__file__``); `numbers` holds
    everything the section shows, as measured (the renderer formats them)."""
    import torch

    return {"slug": slug, "title": title, "script": os.path.relpath(os.path.abspath(script), REPO), "claim": claim,
            "command": command, "date": date or datetime.date.today().isoformat(), "torch": torch.__version__,
            **extra, "numbers": numbers, "observations": list(observations)}


def results_path(slug: str) -> str:
    return os.path.join(CLAIMS_DIR, f"{slug}.json")


def save_results(results: dict) -> str:
    os.makedirs(CLAIMS_DIR, exist_ok=True)
    path = results_path(results["slug"])
    with open(path, "w") as f:
        json.dump(results, f, indent=1, ensure_ascii=False, allow_nan=False)
        f.write("\n")
    return path


def load_results(slug_or_path: str) -> dict:
    path = slug_or_path if slug_or_path.endswith(".json") else results_path(slug_or_path)
    with open(path) as f:
        return json.load(f)


def all_results() -> List[dict]:
    return [load_results(p) for p in sorted(glob.glob(os.path.join(CLAIMS_DIR, "*.json")))]


# --- rendering ------------------------------------------------------------------------------------------------

_MODULES: Dict[str, object] = {}


def script_module(script: str):
    """The claims script `script` (path relative to the repo) as a module; the running one if it is __main__."""
    path = os.path.join(REPO, script)
    main = sys.modules.get("__main__")
    if main is not None and os.path.abspath(getattr(main, "__file__", "") or "") == path:
        return main
    if path not in _MODULES:
        if HERE not in sys.path:
            sys.path.insert(0, HERE)
        name = "claims_" + os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        _MODULES[path] = module
    return _MODULES[path]


def renderer(results: dict) -> Callable[[dict], Tuple[str, str, str]]:
    return script_module(results["script"]).RENDER[results["claim"]]


def render_section(results: dict) -> str:
    """The section's markdown, from the results alone (ends with one newline)."""
    paper, measured, verdict = renderer(results)(results)
    parts = [f"## {results['title']}", paper,
             f"Measured ({results['date']}, torch {results['torch']}, `{results['command']}`):", measured, verdict]
    if results.get("observations"):
        parts.append("Notes on the runs above (by eye on their pictures, or how they were trained; not measured):\n\n"
                     + "\n".join(f"- {o}" for o in results["observations"]))
    footer = f"Numbers: [`docs/claims/{results['slug']}.json`](claims/{results['slug']}.json)"
    if results.get("source"):
        footer += f", {results['source']}"
    if results.get("command_note"):
        footer += f". Command: {results['command_note']}"
    parts.append(footer + ".")
    return "\n\n".join(p.strip("\n") for p in parts) + "\n"


def split_sections(text: str) -> Tuple[str, List[Tuple[str, str]]]:
    """(intro, [(title, section text)]) of a claims document; each section ends with exactly one newline."""
    chunks = re.split(r"(?m)^(?=## )", text)
    intro, sections = chunks[0], []
    for chunk in chunks[1:]:
        title = chunk.split("\n", 1)[0][3:].strip()
        sections.append((title, chunk.rstrip("\n") + "\n"))
    return intro, sections


def join_sections(intro: str, sections: Sequence[Tuple[str, str]]) -> str:
    return "\n".join([intro.rstrip("\n") + "\n", *(s for _, s in sections)])


def write_section(results: dict, path: Optional[str] = None) -> None:
    """Replace (or append) the section under the results' title, and bring the intro up to date."""
    path = path or CLAIMS_MD
    text = open(path).read() if os.path.isfile(path) else INTRO
    _, sections = split_sections(text)
    section = render_section(results)
    for i, (title, _) in enumerate(sections):
        if title == results["title"]:
            sections[i] = (title, section)
            break
    else:
        sections.append((results["title"], section))
    with open(path, "w") as f:
        f.write(join_sections(INTRO, sections))


def publish(results: dict, write_doc: bool = True) -> str:
    """Save the results JSON and (unless write_doc is false) rewrite their section of docs/claims.md."""
    path = save_results(results)
    print(f"wrote {os.path.relpath(path, REPO)}", flush=True)
    if write_doc:
        write_section(results)
        print(f"rendered '{results['title']}' into {os.path.relpath(CLAIMS_MD, REPO)}", flush=True)
    return path


def render_all(slugs: Optional[Sequence[str]] = None, script: Optional[str] = None, check: bool = False,
               path: Optional[str] = None) -> List[str]:
    """Re-render sections from their JSON (all, the named slugs, or those of one script). With check, write
    nothing and return the titles whose section differs from its rendering (or is missing)."""
    chosen = [r for r in all_results()
              if (not slugs or r["slug"] in slugs)
              and (script is None or os.path.abspath(os.path.join(REPO, r["script"])) == os.path.abspath(script))]
    if slugs and len(chosen) != len(set(slugs)):
        missing = set(slugs) - {r["slug"] for r in chosen}
        raise SystemExit(f"no results JSON for: {', '.join(sorted(missing))}")
    path = path or CLAIMS_MD
    text = open(path).read() if os.path.isfile(path) else INTRO
    intro, sections = split_sections(text)
    stale = [] if intro.rstrip("\n") == INTRO.rstrip("\n") else ["(intro)"]
    for results in chosen:
        section = render_section(results)
        for i, (title, old) in enumerate(sections):
            if title == results["title"]:
                if old != section:
                    stale.append(title)
                sections[i] = (title, section)
                break
        else:
            stale.append(results["title"])
            sections.append((results["title"], section))
    if not check:
        with open(path, "w") as f:
            f.write(join_sections(INTRO, sections))
        for results in chosen:
            print(f"rendered {results['slug']}: {results['title']}")
    return stale


# --- verdict helpers ------------------------------------------------------------------------------------------

REPRODUCED, DIRECTION, NOT_REPRODUCED = "reproduced", "same direction, within the seed spread", "not reproduced"


def ms(d: dict, fmt: str = "{:.1f}") -> str:
    """'mean ± std' of a {"mean", "std"} dict."""
    return f"{fmt.format(d['mean'])} ± {fmt.format(d['std'])}"


def compare_means(a: dict, b: dict, higher_is_better: bool = True) -> str:
    """Is a better than b ({"mean", "std"} over seeds)? REPRODUCED when the means differ in a's favour by more
    than the larger of the two standard deviations, DIRECTION when they differ in its favour by less,
    NOT_REPRODUCED otherwise."""
    diff = (a["mean"] - b["mean"]) * (1 if higher_is_better else -1)
    if diff > max(a["std"], b["std"]):
        return REPRODUCED
    return DIRECTION if diff > 0 else NOT_REPRODUCED


def verdict_block(parts: Sequence[Tuple[Optional[str], str, str, str]]) -> str:
    """The verdict paragraph from (part name or None, label, evidence, criterion) tuples; one unnamed part gives
    one line, several a list."""
    if len(parts) == 1 and parts[0][0] is None:
        _, label, evidence, criterion = parts[0]
        return f"**Verdict: {label}.** {evidence} Criterion: {criterion}."
    lines = ["**Verdict**, part by part (computed from the numbers above):", ""]
    lines += [f"- {name}: **{label}**. {evidence} Criterion: {criterion}."
              for name, label, evidence, criterion in parts]
    return "\n".join(lines)


def mean_of(rows: Sequence[dict], key: str) -> float:
    """Mean of `row[key]` over the per-seed result rows."""
    return sum(r[key] for r in rows) / len(rows)


def pct(x: Optional[float], fmt: str = "{:.0f}") -> str:
    return "—" if x is None else fmt.format(x) + " %"


# --- CLI ------------------------------------------------------------------------------------------------------

def script_cli_render(script_file: str) -> None:
    """`--render` of a claims script: re-render its sections from their JSON."""
    done = [r for r in all_results()
            if os.path.abspath(os.path.join(REPO, r["script"])) == os.path.abspath(script_file)]
    if not done:
        raise SystemExit(f"no results under {os.path.relpath(CLAIMS_DIR, REPO)} for {os.path.basename(script_file)}")
    render_all([r["slug"] for r in done])


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--render", nargs="*", metavar="SLUG",
                    help="re-render sections from docs/claims/*.json (all, or the named slugs)")
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 if a section is out of date")
    ap.add_argument("--publish", metavar="JSON", help="copy a results JSON (e.g. from another machine) into "
                    "docs/claims/ and render its section")
    args = ap.parse_args(argv)
    if args.publish:
        publish(load_results(args.publish))
        return 0
    if args.check:
        stale = render_all(check=True)
        for title in stale:
            print(f"out of date: {title}")
        return 1 if stale else 0
    if args.render is not None:
        render_all(args.render or None)
        return 0
    ap.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
