"""Latency of the web explorer (`ganforge serve`) on a real server: `ganforge serve` (uvicorn, loopback) in its
own process, requests over HTTP from clients in threads of this one. Prints markdown tables and writes them as
one section of BENCHMARKS.md (`--no-write`: print only).

What is measured
  * sample grid: POST /api/runs/RUN/samples, 16 samples of a DCGAN at 32² — server time (X-Server-Time-Ms: from
    request parsed to PNG encoded) and round trip, median and p95 over `--n` requests with different seeds;
    target ≤ 200 ms server time on 2 CPU cores;
  * GANPaint update: POST /api/runs/RUN/paint at 64² with two strokes (dissection already cached) — target
    ≤ 300 ms;
  * GAN Lab: server-sent events per second of one stream at the page's settings (2 epochs per event, 30 ms
    pause) and flat out (no pause) — target ≥ 10 updates/s;
  * 8 concurrent clients asking for 16-sample grids: round-trip p50 / p95 and requests/s.

Runs: --grid-run and --paint-run name trained runs; without them the script trains 2-step runs of the presets'
architectures (dcgan-mnist at 32², dcgan-shapes at 64²) in a temporary folder — latency does not depend on the
weights.

    python benchmarks/serve_latency.py [--grid-run runs/gallery/dcgan-mnist] [--threads 2]
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import cpu_model, provenance, write_section  # noqa: E402

COMMON = ["train.progress=false", "train.eval_every=0", "train.sample_every=100", "train.log_every=1",
          "train.checkpoint_every=100", "train.steps=2", "train.batch_size=8"]


def quick_run(preset: str, overrides, root: str) -> str:
    from ganforge import api

    out = os.path.join(root, preset)
    api.train(preset, list(overrides) + COMMON, run_dir=out, overwrite=True)
    return out


def p95(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))]


def start(runs, threads: int):
    """`python -m ganforge serve RUNS` in its own process (the clients' threads do not share its GIL)."""
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    proc = subprocess.Popen([sys.executable, "-m", "ganforge", "serve", *runs, "--port", str(port),
                             "--threads", str(threads)], env=env,
                            stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            httpx.get(base + "/api/runs", timeout=2)
            return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not start")


def timed(client, path, body):
    t = time.perf_counter()
    r = client.post(path, json=body)
    rtt = (time.perf_counter() - t) * 1000
    assert r.status_code == 200, r.text
    return float(r.headers["x-server-time-ms"]), rtt


def lab_rate(client, base, interval_ms: int, seconds: float) -> float:
    sid = client.post(base + "/api/lab", json={}).json()["id"]
    n, t0 = 0, time.perf_counter()
    with client.stream("GET", f"{base}/api/lab/{sid}/stream",
                       params={"epochs": 2, "interval_ms": interval_ms, "events": 100_000}) as r:
        for line in r.iter_lines():
            if line.startswith("data:"):
                n += 1
                if time.perf_counter() - t0 >= seconds:
                    break
    return n / (time.perf_counter() - t0)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--grid-run")
    p.add_argument("--paint-run")
    p.add_argument("--n", type=int, default=30)
    p.add_argument("--threads", type=int, default=2, help="torch threads of the server (`serve --threads`, default 2)")
    p.add_argument("--no-write", action="store_true", help="print the tables; leave BENCHMARKS.md alone")
    args = p.parse_args(argv)
    prov = provenance()  # the load average before the server starts

    import httpx

    tmp = tempfile.mkdtemp(prefix="serve-bench-")
    grid_run = args.grid_run or quick_run("dcgan-mnist", [], tmp)
    paint_run = args.paint_run or quick_run("dcgan-shapes", ["data.resolution=64", "data.n=64"], tmp)
    server, base = start([grid_run, paint_run], args.threads)
    client = httpx.Client(timeout=120)
    names = [r["name"] for r in client.get(base + "/api/runs").json()["runs"]]
    grid, paint = names
    rows = []

    timed(client, f"{base}/api/runs/{grid}/samples", {"n": 16})  # warm-up
    res = [timed(client, f"{base}/api/runs/{grid}/samples", {"n": 16, "seed": 100 * i}) for i in range(args.n)]
    srv, rtt = [r[0] for r in res], [r[1] for r in res]
    rows.append(("sample grid, 16 × 32² (DCGAN)", statistics.median(srv), p95(srv), statistics.median(rtt),
                 "≤ 200 ms"))

    t = time.perf_counter()
    client.get(f"{base}/api/runs/{paint}/paint/classes")
    dissect_s = time.perf_counter() - t
    strokes = [{"cls": "circle", "mode": "remove", "radius": 6, "points": [[20, 20], [40, 30]]},
               {"cls": "square", "mode": "insert", "radius": 5, "points": [[44, 44]]}]
    res = [timed(client, f"{base}/api/runs/{paint}/paint", {"seed": i, "strokes": strokes}) for i in range(args.n)]
    srv, rtt = [r[0] for r in res], [r[1] for r in res]
    rows.append(("GANPaint update, 64², 2 strokes (DCGAN)", statistics.median(srv), p95(srv),
                 statistics.median(rtt), "≤ 300 ms"))

    page_rate = lab_rate(client, base, 30, 5.0)
    flat_rate = lab_rate(client, base, 0, 5.0)

    lat, lock = [], threading.Lock()

    def worker(k):
        with httpx.Client(timeout=120) as c:
            for i in range(10):
                _, r = timed(c, f"{base}/api/runs/{grid}/samples", {"n": 16, "seed": 1000 * k + i})
                with lock:
                    lat.append(r)

    t = time.perf_counter()
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    [x.start() for x in ts]
    [x.join() for x in ts]
    wall = time.perf_counter() - t
    server.terminate()

    out = ["| request | server median (ms) | server p95 (ms) | round trip median (ms) | target |",
           "|---|---|---|---|---|"]
    out += [f"| {name} | {med:.1f} | {hi:.1f} | {rt:.1f} | {target} |" for name, med, hi, rt, target in rows]
    out += ["", "| GAN Lab stream | updates/s | target |", "|---|---|---|",
            f"| page settings (2 epochs per event, 30 ms pause) | {page_rate:.1f} | ≥ 10 |",
            f"| flat out (2 epochs per event, no pause) | {flat_rate:.1f} | |", "",
            "| 8 concurrent clients, 16-sample grids | p50 (ms) | p95 (ms) | requests/s |", "|---|---|---|---|",
            f"| {len(lat)} requests | {statistics.median(lat):.1f} | {p95(lat):.1f} | {len(lat) / wall:.1f} |", "",
            f"GANPaint's first visit of the layer (dissection at q99, n=200): {dissect_s:.1f} s, then cached. "
            "Requests to one run are serialised by a per-run lock (the dissection hooks need it), hence the "
            f"concurrent p95. Runs: grid `{grid_run}`, paint `{paint_run}` (latency does not depend on the weights)."]
    heading = f"Web explorer latency — CPU: {cpu_model()}, server with {args.threads} threads"
    print(f"## {heading}\n\n{prov}\n\n" + "\n".join(out))
    if not args.no_write:
        write_section(heading, f"{prov}\n\n" + "\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
