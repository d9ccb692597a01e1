"""Speed of the evaluation metrics. Part 1: FID's matrix part. Part 2: feature extraction (memory, throughput).

Part 1 — what is measured (`--part fid`)
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

Part 2 — what is measured (`--part extraction`)
  * Peak memory vs N. For each N of --ns, two fresh subprocesses (so that peaks do not mix) take the features
    of the `mnist5k` evaluator (128-d) on N samples of the dcgan-mnist generator (1×32×32, random init: only
    its cost matters), at --batch images per batch:
      streaming: `extract(evaluator, generator_source(g), N)` — one batch of images alive at a time;
      naive:     all N images generated into one preallocated N×1×32×32 tensor first, then `extract` on it.
    Each child loads the models, runs one warm-up batch, reads its resident set (VmRSS, "RSS before") and its
    peak so far (`getrusage(RUSAGE_SELF).ru_maxrss`, "warm-up peak": one batch's working set included),
    extracts, and reports its final peak (ru_maxrss, the whole process's high-water mark), the extraction time,
    and on CUDA the allocated GPU memory before and at its peak. Growth = peak − warm-up peak: streaming should
    grow by the N×128 float32 feature matrix only (24 MB at 50k), naive by the images as well (195 MB at 50k).
    Both must give the same features (their sums are compared). With glibc's default malloc the peaks of
    identical runs differ by tens of MB (its dynamic mmap threshold); `MALLOC_MMAP_THRESHOLD_=65536` in the
    environment makes them repeatable to about 1 MB.
  * Throughput (images/s, median of --repeats passes after a warm-up batch) at --batch: the evaluator on real
    MNIST-5k images (the dataset as the source), the generator alone, generator + evaluator, and the FID
    Inception-v3 (`FIDInceptionV3()`, random weights — the real ones are not needed for timing — 2048-d,
    32×32 inputs resized to 299×299 by the default "tf1" rule, the resize included) on --inception-n images at
    --inception-batch (on the CPU 128 images at batch 32 by default: it is slow there, and slower still at 256).

    python benchmarks/metrics_speed.py [--part {fid,extraction,all}] [--threads 1] [--quick]
        Part 1: [--n 10000] [--dim 2048] [--repeats 3]
        Part 2: [--ns 5000,10000,20000,50000] [--batch 256] [--device cpu|cuda] [--tp-n N] [--inception-n N]
                [--inception-batch B]

On a shared machine, LAPACK with 2 threads is often much slower than with 1 (a descheduled OpenMP thread makes
the other spin), so the sections report the thread count; `--threads` sets it for torch and scipy alike (the
Part 2 subprocesses use it too, 1 when it is not given). MB = 2^20 bytes throughout.
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
import warnings

HEADING = "Metrics: FID matrix part"
EXTRACTION_HEADING = "Metrics: feature extraction"
CHILD_TAG = "@@metrics_speed_child "  # prefixes the JSON line a Part 2 subprocess prints


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
from _common import BENCHMARKS_MD, cpu_model, device_label, provenance, resolve, sync, write_section  # noqa: E402

from ganforge.metrics.fid import frechet_distance, gaussian_stats  # noqa: E402

MB = 2 ** 20


# ============================================================================ Part 1: FID's matrix part
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


def run_fid(args) -> None:
    """Part 1: time ganforge's `frechet_distance` against the sqrtm and eigvals paths; write its section."""
    n, dim = (2000, 512) if args.quick else (args.n, args.dim)
    x = make_features(n, dim, 1.0, 0.0, seed=0)
    y = make_features(n, dim, 1.2, 0.01, seed=1)
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
        f"{n} × {dim} float32 per side, power-law spectra, non-commuting covariances.",
        f"`gaussian_stats` (float64 mean and covariance, not part of the comparison): {t_stats1:.2f} s + "
        f"{t_stats2:.2f} s.",
        "",
        *table,
        "",
        "Target: ≥ 5× faster than sqrtm and ≤ 1e-6 relative difference. All three compute in float64 on the CPU;"
        " the sqrtm and eigvals runs are single because they are slow (timings on this shared machine move by"
        " ±30 %).",
    ])
    print("\n".join(table))
    if args.md:
        write_section(HEADING, body, args.md)


# ============================================================================ Part 2: feature extraction
def rss_mb() -> float:
    """The current resident set of this process in MB (VmRSS; Linux), or NaN where /proc is not available."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return float("nan")


def peak_rss_mb() -> float:
    """The peak resident set of this process so far in MB (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / MB if sys.platform == "darwin" else peak / 1024


def dcgan_generator(device: torch.device):
    """(the dcgan-mnist generator in eval mode, randomly initialised from seed 0 — the same in every process —
    on `device`; the MNIST-5k dataset)."""
    from ganforge.config import load_config
    from ganforge.data import build_dataset
    from ganforge.models import build_generator

    cfg = load_config("dcgan-mnist")
    ds = build_dataset(cfg.data)
    torch.manual_seed(0)
    return build_generator(cfg.generator, ds.info).eval().to(device), ds


@torch.no_grad()
def generate_all(source, n: int, batch: int, device: torch.device) -> torch.Tensor:
    """The naive way: all `n` samples of `source` in one N×C×H×W tensor (preallocated, filled batch by batch,
    so that its peak is the images themselves and not a list of batches plus their concatenation)."""
    first = source(0, min(batch, n))
    images = torch.empty((n,) + tuple(first.shape[1:]), dtype=first.dtype, device=device)
    images[: len(first)] = first
    for start in range(len(first), n, batch):
        count = min(batch, n - start)
        images[start: start + count] = source(start, count)
    return images


def peak_child(mode: str, n: int, batch: int, device: torch.device) -> dict:
    """Body of a Part 2 subprocess: evaluator features of `n` generator samples, `mode` "streaming" or
    "naive"; returns the resident set before, the warm-up and final peaks (MB), the seconds, and a checksum
    (sum) of the features."""
    from ganforge.metrics.evaluator import load_evaluator
    from ganforge.metrics.features import extract, generator_source

    g, ds = dcgan_generator(device)
    del ds
    evaluator = load_evaluator("mnist5k", device=device)
    source = generator_source(g, seed=0)
    extract(evaluator, source, n=batch, batch_size=batch, device=device)  # warm-up: kernels, allocator pools
    gc.collect()
    if device.type == "cuda":
        sync(device)
        torch.cuda.reset_peak_memory_stats(device)
    gpu_before = torch.cuda.memory_allocated(device) / MB if device.type == "cuda" else None
    baseline, peak_before = rss_mb(), peak_rss_mb()
    t0 = time.perf_counter()
    if mode == "streaming":
        feats = extract(evaluator, source, n=n, batch_size=batch, device=device)
    elif mode == "naive":
        images = generate_all(source, n, batch, device)
        feats = extract(evaluator, images, n=n, batch_size=batch, device=device)
    else:
        raise ValueError(f"unknown mode {mode!r}")
    sync(device)
    seconds = time.perf_counter() - t0
    return {
        "mode": mode, "n": n, "baseline_mb": baseline, "peak_before_mb": peak_before, "peak_mb": peak_rss_mb(),
        "seconds": seconds, "features_shape": list(feats.shape), "checksum": float(feats.double().sum()),
        "gpu_before_mb": gpu_before,
        "gpu_peak_mb": torch.cuda.max_memory_allocated(device) / MB if device.type == "cuda" else None,
    }


def run_child(mode: str, n: int, args) -> dict:
    """Run :func:`peak_child` in a fresh interpreter (this script with --child) and return its result."""
    cmd = [sys.executable, os.path.abspath(__file__), "--child", f"{mode}:{n}", "--batch", str(args.batch),
           "--device", args.device, "--threads", str(args.threads or 1), "--md", ""]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(CHILD_TAG)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{mode} n={n} failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return json.loads(lines[-1][len(CHILD_TAG):])


def throughput(extractor, source, n: int, batch: int, device: torch.device, repeats: int) -> float:
    """Images per second of `extract(extractor, source, n)` (or of the batch_fn `source` alone when `extractor`
    is None): median of `repeats` passes after one warm-up batch."""
    from ganforge.metrics.features import extract

    def one_pass(count: int) -> None:
        if extractor is None:
            for start in range(0, count, batch):
                source(start, min(batch, count - start))
        else:
            extract(extractor, source, n=count, batch_size=batch, device=device)
        sync(device)

    one_pass(min(batch, n))
    times = [timed(lambda: one_pass(n))[1] for _ in range(repeats)]
    return n / statistics.median(times)


def throughput_rows(args, device: torch.device, tp_n: int, inception_n: int, inception_batch: int) -> list:
    """[(what, images, batch, passes, images/s)] for the evaluator, generator and Inception rows."""
    from ganforge.metrics.evaluator import load_evaluator
    from ganforge.metrics.features import generator_source
    from ganforge.metrics.inception import FIDInceptionV3

    g, ds = dcgan_generator(device)
    evaluator = load_evaluator("mnist5k", device=device)
    source = generator_source(g, seed=0)
    inception = FIDInceptionV3().eval().to(device)  # random init: the timing does not depend on the weights
    n_real = min(tp_n, len(ds))
    inc_repeats = args.repeats if device.type == "cuda" else 1  # a CPU pass over Inception takes a minute
    specs = [
        ("`mnist5k` evaluator, real MNIST-5k images (dataset source)", evaluator, ds, n_real, args.batch,
         args.repeats),
        ("dcgan-mnist generator alone", None, source, tp_n, args.batch, args.repeats),
        ("generator + `mnist5k` evaluator (`generator_source`)", evaluator, source, tp_n, args.batch, args.repeats),
        ("FID Inception-v3, real MNIST-5k images, tf1 resize 32→299", inception, ds, min(inception_n, len(ds)),
         inception_batch, inc_repeats),
    ]
    rows = []
    for what, extractor, src, n, batch, repeats in specs:
        t0 = time.perf_counter()
        rate = throughput(extractor, src, n, batch, device, repeats)
        print(f"  throughput: {what}: {rate:.1f} img/s ({n} images × {repeats} at batch {batch}, "
              f"{time.perf_counter() - t0:.0f}s)")
        rows.append((what, n, batch, repeats, rate))
    return rows


def memory_table(results: list, ns: list, on_gpu: bool) -> list:
    """Markdown lines of the peak-memory-vs-N table from the children's results."""
    by = {(r["mode"], r["n"]): r for r in results}
    head = ("| N | features (MB) | images (MB) | streaming: RSS before · warm-up peak → peak (MB) | "
            "streaming growth | naive: RSS before · warm-up peak → peak (MB) | naive growth | streaming s | "
            "naive s |")
    align = "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    if on_gpu:
        head += " GPU streaming: before → peak (MB) | GPU naive: before → peak (MB) |"
        align += "---:|---:|"
    lines = [head, align]
    mem = lambda r: f"{r['baseline_mb']:.0f} · {r['peak_before_mb']:.0f} → **{r['peak_mb']:.0f}**"  # noqa: E731
    growth = lambda r: f"+{r['peak_mb'] - r['peak_before_mb']:.0f}"  # noqa: E731
    for n in ns:
        s, v = by[("streaming", n)], by[("naive", n)]
        feat_mb = n * s["features_shape"][1] * 4 / MB
        img_mb = n * 1 * 32 * 32 * 4 / MB
        cells = [f"{n:,}", f"{feat_mb:.1f}", f"{img_mb:.1f}", mem(s), growth(s), mem(v), growth(v),
                 f"{s['seconds']:.1f}", f"{v['seconds']:.1f}"]
        if on_gpu:
            cells += [f"{r['gpu_before_mb']:.0f} → {r['gpu_peak_mb']:.0f}" for r in (s, v)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def memory_summary(results: list, ns: list) -> str:
    """One sentence: how much each way's peak rose from the smallest to the largest N, against the data sizes;
    and whether streaming and naive gave the same features."""
    by = {(r["mode"], r["n"]): r for r in results}
    lo, hi = ns[0], ns[-1]
    dim = by[("streaming", hi)]["features_shape"][1]
    d_feat, d_img = (hi - lo) * dim * 4 / MB, (hi - lo) * 32 * 32 * 4 / MB
    sums = [(by[("streaming", n)]["checksum"], by[("naive", n)]["checksum"]) for n in ns]
    if all(a == b for a, b in sums):
        agree = "are identical (same feature sum at every N)"
    elif all(math.isclose(a, b, rel_tol=1e-6) for a, b in sums):
        agree = "agree (feature sums equal to 1e-6 at every N)"
    else:
        agree = "**differ** (feature sums do not match)"
    went = lambda m: (f"{by[(m, lo)]['peak_mb']:.0f} to {by[(m, hi)]['peak_mb']:.0f} MB "  # noqa: E731
                      f"({by[(m, hi)]['peak_mb'] - by[(m, lo)]['peak_mb']:+.0f})")
    return (f"From N = {lo:,} to {hi:,} the streaming peak went from {went('streaming')}, while the feature matrix "
            f"grew by {d_feat:.1f} MB; the naive peak went from {went('naive')}, while features + images grew by "
            f"{d_feat + d_img:.1f} MB. Streaming and naive features {agree}.")


def run_extraction(args) -> None:
    """Part 2: peak memory vs N (fresh subprocesses) and extraction throughput; write its section."""
    device = resolve(args.device)
    on_gpu = device.type == "cuda"
    ns = [1000, 2000] if args.quick else sorted(int(v) for v in args.ns.split(","))
    tp_n = args.tp_n or (512 if args.quick else 50_000 if on_gpu else 5000)
    inception_n = args.inception_n or (16 if args.quick else 5000 if on_gpu else 128)
    inception_batch = args.inception_batch or (args.batch if on_gpu else 32)
    prov = provenance()

    results = []
    for n in ns:
        for mode in ("streaming", "naive"):
            r = run_child(mode, n, args)
            print(f"  peak memory: {mode:9s} N={n:>6}: baseline {r['baseline_mb']:.0f} MB, peak {r['peak_mb']:.0f} MB"
                  f" (+{r['peak_mb'] - r['baseline_mb']:.0f}), {r['seconds']:.1f}s")
            results.append(r)
    mem = memory_table(results, ns, on_gpu)
    tps = throughput_rows(args, device, tp_n, inception_n, inception_batch)
    tp = ["| what | images | batch | passes | images/s |", "|---|---:|---:|---:|---:|"]
    tp += [f"| {what} | {n:,} | {b} | {reps} | **{rate:,.0f}** |" if rate >= 100 else
           f"| {what} | {n:,} | {b} | {reps} | **{rate:.1f}** |" for what, n, b, reps, rate in tps]
    print("\n".join(mem) + "\n\n" + "\n".join(tp))

    label = f"GPU: {torch.cuda.get_device_name(device)}" if on_gpu else f"CPU: {cpu_model()}"
    threads = lambda k: f"{k} torch thread{'s' if k > 1 else ''}"  # noqa: E731
    body = "\n".join([
        prov,
        "",
        f"{label}; batch {args.batch}; {threads(torch.get_num_threads())} for the throughput, "
        f"{threads(args.threads or 1)} in the memory subprocesses. Models: the shipped `mnist5k` evaluator "
        "(128-d features), the dcgan-mnist generator (random init, seed 0), `FIDInceptionV3()` with **random "
        "weights** (the real FID weights are not needed to time it; 2048-d features).",
        "",
        "**Peak memory vs N** — evaluator features of N generator samples, each run in a fresh subprocess. "
        "Streaming: `extract(evaluator, generator_source(g), N)`; naive: all N images generated into one "
        "preallocated tensor, then `extract` on it. RSS before = resident set (VmRSS) right before extraction, "
        "after loading the models and one warm-up batch; warm-up peak = `ru_maxrss` at that point (it includes "
        "one batch's working set, which the allocator partly gives back, so RSS before is lower and noisy); "
        "peak = `ru_maxrss` of the process at its end; growth = peak − warm-up peak, what N adds beyond one "
        "batch (MB = 2^20 B)"
        + (", host memory; GPU = `torch.cuda.memory_allocated` before and `max_memory_allocated` during "
           "extraction" if on_gpu else "")
        + ".",
        "",
        *mem,
        "",
        memory_summary(results, ns),
        "With glibc's default malloc (its dynamic mmap threshold) the peaks of identical runs differ by tens of MB, "
        "so read the trend across N; `MALLOC_MMAP_THRESHOLD_=65536` in the environment makes them repeatable "
        + (f"(set for this run: {os.environ['MALLOC_MMAP_THRESHOLD_']})."
           if "MALLOC_MMAP_THRESHOLD_" in os.environ else "(not set for this run)."),
        "",
        "**Throughput**, after a warm-up batch, median of the passes; features land on the CPU. Inception "
        "includes its preprocessing (quantise, 1→3 channels, tf1 resize to 299×299)"
        + ("." if on_gpu else f"; on the CPU it runs on {inception_n} images in one pass, at batch "
           f"{inception_batch}: at batch 256 its 299×299 activations (GBs per layer) made it 2–3× slower "
           "here."),
        "",
        *tp,
    ])
    if args.md:
        write_section(f"{EXTRACTION_HEADING} — {label}", body, args.md)


# ============================================================================ command line
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=("fid", "extraction", "all"), default="all")
    ap.add_argument("--threads", type=int, default=None,
                    help="BLAS/OpenMP threads for torch and scipy alike (default: the libraries' own choice; "
                         "Part 2's subprocesses: 1)")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs / passes whose median is reported")
    ap.add_argument("--quick", action="store_true",
                    help="a smoke run: Part 1 dim 512, n 2000; Part 2 N 1000 and 2000, small throughput runs")
    ap.add_argument("--md", default=BENCHMARKS_MD, help="markdown file to update ('' to skip)")
    p1 = ap.add_argument_group("Part 1 (FID matrix part)")
    p1.add_argument("--n", type=int, default=10_000)
    p1.add_argument("--dim", type=int, default=2048)
    p2 = ap.add_argument_group("Part 2 (feature extraction)")
    p2.add_argument("--ns", default="5000,10000,20000,50000", help="comma-separated sample counts for peak memory")
    p2.add_argument("--batch", type=int, default=256)
    p2.add_argument("--device", default="cpu", help="cpu | cuda | auto")
    p2.add_argument("--tp-n", type=int, default=None,
                    help="images per throughput pass (default 5000 on CPU, 50000 on CUDA; the real-image row is "
                         "capped at the dataset's 5000)")
    p2.add_argument("--inception-n", type=int, default=None,
                    help="images for the Inception throughput row (default 128 on CPU, 5000 on CUDA)")
    p2.add_argument("--inception-batch", type=int, default=None,
                    help="batch of the Inception throughput row (default 32 on CPU, --batch on CUDA)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)  # MODE:N, a Part 2 subprocess
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    if args.child:
        mode, n = args.child.split(":")
        result = peak_child(mode, int(n), args.batch, resolve(args.device))
        print(CHILD_TAG + json.dumps(result), flush=True)
        return
    if args.part in ("fid", "all"):
        run_fid(args)
    if args.part in ("extraction", "all"):
        run_extraction(args)


if __name__ == "__main__":
    main()
