#!/usr/bin/env bash
# The GPU check of issue 24 in one command, on a CUDA machine with a fresh checkout (see gpu_suite.py):
# installs the package over the machine's own torch (never a pip torch: it has the CUDA build it needs), then
# runs every row within an 8-minute budget and writes the "GPU suite" section of BENCHMARKS.md.
#   bash benchmarks/gpu_suite.sh [--budget 480] [--rows dcgan,fid,...]
set -euo pipefail
cd "$(dirname "$0")/.."
python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'gpu_suite: torch sees no CUDA device')"
python -m pip install -q -e . 2>/dev/null || python -m pip install -q --no-deps -e .
exec python benchmarks/gpu_suite.py "$@"
