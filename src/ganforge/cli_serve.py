"""`ganforge serve RUN [RUN ...]`: the web explorer (ganforge.app) on a real server (uvicorn), bound to loopback
unless told otherwise. Needs the optional extra: pip install 'ganforge[serve]'."""
from __future__ import annotations

import sys

from .errors import GanforgeError


def add_serve_parser(sub) -> None:
    s = sub.add_parser("serve", help="web explorer: samples, style mixing, GANPaint, GAN Lab (FastAPI + uvicorn)")
    s.add_argument("runs", nargs="+", metavar="RUN", help="run directories to serve (only these are reachable)")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--device", default="cpu")
    s.add_argument("--dissect-n", type=int, default=200, help="samples per GANPaint dissection (default 200)")
    s.add_argument("--threads", type=int, default=1, help="torch threads (default 1: requests are small, and "
                   "uvicorn serves several at once)")


def cmd_serve(args) -> int:
    try:
        import uvicorn

        from .app import create_app
        from .app.server import Limits, LOOPBACK_HOSTS, is_loopback
    except ImportError as e:
        raise GanforgeError(f"`ganforge serve` needs FastAPI and uvicorn ({e.name} is missing): "
                            f"pip install 'ganforge[serve]'") from None
    if not 1 <= args.port <= 65535:
        raise GanforgeError(f"--port must be in 1..65535, got {args.port}")
    if args.dissect_n < 1 or args.threads < 1:
        raise GanforgeError(f"--dissect-n and --threads must be ≥ 1, got {args.dissect_n} and {args.threads}")
    import os

    for run in args.runs:
        if not os.path.isdir(run):
            raise GanforgeError(f"{run} is not a run directory")
    _check_can_listen(args.host, args.port)
    import torch

    torch.set_num_threads(args.threads)
    loopback = is_loopback(args.host)
    # On loopback only loopback Host headers pass (DNS rebinding); Starlette's host check cannot parse IPv6
    # literals ([::1]:8000), so an IPv6 loopback binding goes without it.
    hosts = list(LOOPBACK_HOSTS) + [args.host] if loopback and ":" not in args.host else None
    app = create_app(args.runs, device=args.device, limits=Limits(dissect_n=args.dissect_n), allowed_hosts=hosts)
    for why in app.state.table.skipped:
        print(f"warning: not serving {why}", file=sys.stderr)
    if not loopback:
        print(f"warning: binding to {args.host} makes the explorer reachable from other machines; it has no "
              f"authentication (use the default 127.0.0.1 unless you mean it)", file=sys.stderr)
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"ganforge explorer: http://{host}:{args.port}/  ({len(app.state.table.order)} run(s); Ctrl+C stops)",
          flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def _check_can_listen(host: str, port: int) -> None:
    """A busy port or an unknown host is one line before anything is loaded (uvicorn would say it after the
    banner, in its own words)."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, _, _, _, address = infos[0]
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(address)
    except OSError as e:
        raise GanforgeError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None


SERVE_COMMANDS = {"serve": cmd_serve}
