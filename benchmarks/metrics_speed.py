"""Speed of the evaluation metrics. Part 1 (this file so far): FID's matrix part.

What is measured
  The matrix part of FID on D-dimensional features (default 10 000 × 2048, Inception pool_3 sized), given the
  two Gaussians' statistics — everything after `gaussian_stats`:
  * ganforge `frechet_distance` (default `method="symmetric"`: Cholesky / eigh factor of Σ1, eigvalsh of
    Fᵀ Σ2 F; metrics/fid.py), median of --repeats runs;
  * the pytorch-fid / clean-fid / TTUR path, reimplemented here as they write it: `scipy.linalg.sqrtm(s1 @ s2,
    disp=False)`, the ε·I retry if not finite, the imaginary-part check, `.real`, `np.trace` — one run (slow);
  * torchmetrics' path `torch.linalg.eigvals(s1 @ s2).sqrt().real.sum()` (also torch-fidelity ≥ 0.4), one run,
    for reference.
  Features: Gaussian with a power-law spectrum (λ_i ∝ i^-1.0 and i^-1.2, random rotations, so Σ1 and Σ2 do not
  commute) and a mean shift — a stand-in for real Inception features (full rank at N = 10k > D).
  Agreement: relative difference of the FID values against the sqrtm path (target ≤ 1e-6).

    python benchmarks/metrics_speed.py [--threads 1] [--n 10000] [--dim 2048] [--repeats 3] [--quick]

On a shared machine, LAPACK with 2 threads is often much slower than with 1 (a descheduled OpenMP thread makes
the other spin), so the section reports the thread count; `--threads` sets it for torch and scipy alike.

Not here yet (needs the feature extractors of metrics/inception.py, evaluator.py): feature-extraction
throughput and peak memory vs N.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings

HEADING = "Metrics: FID matrix part"


def _threads_from_argv() -> None:
    """--threads N must reach the BLAS/OpenMP runtimes of torch (MKL) and scipy (OpenBLAS) before they load."""
    for i, a in enumerate(sys.argv):
        n = a.split("=", 1)[1] if a.startswith("--threads=") else (sys.argv[i + 1] if a == "--threads" and
                                                                   i + 1 < len(sys.argv) else None)
        if n:
            for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
                os.environ[var] = n


_threads_from_argv()

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import scipy.linalg  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import BENCHMARKS_MD, device_label, provenance, write_section  # noqa: E402

from ganforge.metrics.fid import frechet_distance, gaussian_stats  # noqa: E402


def sqrtm_fid(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray, eps: float = 1e-6) -> float:
    """pytorch-fid's `calculate_frechet_distance` (also clean-fid, TTUR), scipy.linalg.sqrtm path."""
    diff = mu1 - mu2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # SciPy ≥ 1.16 deprecates disp=
        covmean, _ = scipy.linalg.sqrtm(s1.dot(s2), disp=False)
        if not np.isfinite(covmean).all():
            offset = np.eye(s1.shape[0]) * eps
            covmean, _ = scipy.linalg.sqrtm((s1 + offset).dot(s2 + offset), disp=False)
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"imaginary component {np.max(np.abs(covmean.imag))}")
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def make_features(n: int, d: int, decay: float, shift: float, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    scale = torch.arange(1, d + 1, dtype=torch.float64) ** (-decay / 2)
    return (torch.randn(n, d, generator=g, dtype=torch.float64) @ (q * scale).T + shift).float()


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--dim", type=int, default=2048)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None,
                    help="BLAS/OpenMP threads for torch and scipy alike (default: the libraries' own choice)")
    ap.add_argument("--quick", action="store_true", help="dim 512, n 2000: a smoke run")
    ap.add_argument("--md", default=BENCHMARKS_MD, help="markdown file to update ('' to skip)")
    args = ap.parse_args()
    if args.quick:
        args.n, args.dim = 2000, 512
    if args.threads:
        torch.set_num_threads(args.threads)

    x = make_features(args.n, args.dim, 1.0, 0.0, seed=0)
    y = make_features(args.n, args.dim, 1.2, 0.01, seed=1)
    (mu1, s1), t_stats1 = timed(lambda: gaussian_stats(x))
    (mu2, s2), t_stats2 = timed(lambda: gaussian_stats(y))
    np_args = [t.numpy() for t in (mu1, s1, mu2, s2)]

    ours, t_ours = [], []
    for _ in range(args.repeats):
        v, t = timed(lambda: frechet_distance(mu1, s1, mu2, s2))
        ours.append(v)
        t_ours.append(t)
    eig, t_eig = timed(lambda: frechet_distance(mu1, s1, mu2, s2, method="eigvals"))
    ref, t_ref = timed(lambda: sqrtm_fid(*np_args))

    med = statistics.median(t_ours)
    rel = lambda v: abs(v - ref) / abs(ref)  # noqa: E731
    rows = [
        ("ganforge `frechet_distance` (symmetric)", f"{med:.2f} (min {min(t_ours):.2f}, {args.repeats} runs)",
         f"**{t_ref / med:.1f}×**", f"{ours[0]:.10g}", f"{rel(ours[0]):.1e}"),
        ("torchmetrics path `eigvals(s1 @ s2)`", f"{t_eig:.2f} (1 run)", f"{t_ref / t_eig:.1f}×", f"{eig:.10g}",
         f"{rel(eig):.1e}"),
        ("pytorch-fid path `scipy.linalg.sqrtm` (reference)", f"{t_ref:.2f} (1 run)", "1.0×", f"{ref:.10g}", "—"),
    ]
    table = ["| method | seconds | speed-up vs sqrtm | FID | rel. diff vs sqrtm |", "|---|---:|---:|---:|---:|"]
    table += ["| " + " | ".join(r) + " |" for r in rows]
    body = "\n".join([
        provenance(),
        "",
        f"{device_label(torch.device('cpu'))}; scipy {scipy.__version__} with "
        f"{os.environ.get('OPENBLAS_NUM_THREADS', 'its default number of')} BLAS threads; features "
        f"{args.n} × {args.dim} float32 per side, power-law spectra, non-commuting covariances.",
        f"`gaussian_stats` (float64 mean and covariance, not part of the comparison): {t_stats1:.2f} s + "
        f"{t_stats2:.2f} s.",
        "",
        *table,
        "",
        "Target: ≥ 5× faster than sqrtm and ≤ 1e-6 relative difference. All three compute in float64 on the CPU;"
        " the sqrtm and eigvals runs are single because they are slow (timings on this shared machine move by"
        " ±30 %).",
        "Not measured yet: feature-extraction throughput and peak memory vs N (they need the feature "
        "extractors).",
    ])
    print("\n".join(table))
    if args.md:
        write_section(HEADING, body, args.md)


if __name__ == "__main__":
    main()
