"""The app factory: ``create_app(runs)`` builds the FastAPI application over the run directories named at start.

Pages are plain HTML + JavaScript in ``static/`` (no build step, nothing fetched from the web); every page
works through the JSON API that ``/openapi.json`` documents and ``/api`` lists.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional, Sequence

from fastapi import FastAPI, Path, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from .errors import BadRequest, error_response, install_error_handlers
from .images import png_bytes, png_response
from .runs import RunTable
from .uploads import decode_image, read_body, to_run_input

STATIC = os.path.join(os.path.dirname(__file__), "static")
PAGES = {"/": "index.html", "/samples": "samples.html", "/mixing": "mixing.html", "/paint": "paint.html",
         "/lab": "lab.html", "/edit": "edit.html", "/api": "api.html"}
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


class BodyLimit:
    """ASGI middleware: a request body may not exceed its limit — `max_json_bytes` for JSON, `max_bytes` for the
    rest (uploads) — refused with 413 from Content-Length when declared, else counted as it arrives (chunked
    bodies, buffered up to the limit), so no request can make the server hold more than that."""

    def __init__(self, app, max_bytes: int, max_json_bytes: Optional[int] = None):
        self.app, self.max_bytes = app, max_bytes
        self.max_json_bytes = max_bytes if max_json_bytes is None else max_json_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        is_json = b"json" in headers.get(b"content-type", b"").lower()
        limit = self.max_json_bytes if is_json else self.max_bytes
        what = "JSON body" if is_json else "request body"
        declared = headers.get(b"content-length", b"")
        if declared.isdigit():
            if int(declared) > limit:
                response = error_response(413, f"{what} of {int(declared):,} bytes is over the limit of "
                                               f"{limit:,} bytes")
                return await response(scope, receive, send)
            return await self.app(scope, receive, send)
        chunks, seen = [], 0  # chunked: read it all (up to the limit) before the app sees any of it
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return await self.app(scope, receive, send)  # the client left: let the app see the disconnect
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            if seen > limit:
                response = error_response(413, f"{what} is over the limit of {limit:,} bytes")
                return await response(scope, receive, send)
            if not message.get("more_body", False):
                break
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)


class HostCheck:
    """ASGI middleware: only requests whose Host header names one of `hosts` pass (DNS rebinding); others get a
    400 with the API's JSON error."""

    def __init__(self, app, hosts: Sequence[str]):
        self.app, self.hosts = app, {h.lower() for h in hosts}

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1").lower()
            name = host[: host.index("]") + 1] if host.startswith("[") and "]" in host else host.split(":")[0]
            if name not in self.hosts:
                response = error_response(400, f"Host header {host[:80]!r} is not accepted here: open the "
                                               f"explorer at the address it was started on")
                return await response(scope, receive, send)
        return await self.app(scope, receive, send)


@dataclass
class Limits:
    """What one request may cost: upload bytes and pixels, dissection samples per (run, layer), GAN Lab work,
    photo editing (sessions, idle seconds, projection steps, default and maximum steps per stroke request)."""

    max_upload_bytes: int = 8 * 1024 * 1024
    max_json_bytes: int = 4 * 1024 * 1024
    max_upload_pixels: int = 16_000_000
    dissect_n: int = 200
    lab_sessions: int = 8
    lab_max_steps: int = 20_000
    lab_idle_s: float = 120.0
    edit_sessions: int = 8
    edit_idle_s: float = 600.0
    edit_project_steps: int = 100
    edit_steps: int = 20
    edit_npe_steps: int = 10
    edit_max_steps: int = 100


def create_app(runs: Sequence[str], *, device: str = "cpu", limits: Optional[Limits] = None,
               allowed_hosts: Optional[Sequence[str]] = None) -> FastAPI:
    """The explorer over `runs` (run directories). allowed_hosts: Host headers accepted (the CLI passes the
    loopback names when bound to loopback, which stops DNS-rebinding pages from reaching the API); None: any."""
    from . import lab, mixing, paint, photo, sampling

    limits = limits or Limits()
    table = RunTable(list(runs), device=device)
    app = FastAPI(title="ganforge explorer", version="1", docs_url=None, redoc_url=None,
                  description="Samples, style mixing, GANPaint, a GAN Lab view and photo editing (iGAN, Neural Photo Editor) "
                              "over trained ganforge runs. "
                              "Images are PNG; errors are 4xx with {\"error\": \"one line\"}.")
    app.state.table, app.state.limits = table, limits
    install_error_handlers(app)
    if allowed_hosts:
        app.add_middleware(HostCheck, hosts=list(allowed_hosts))
    app.add_middleware(BodyLimit, max_bytes=limits.max_upload_bytes, max_json_bytes=limits.max_json_bytes)

    @app.middleware("http")
    async def _headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    @app.get("/api/runs", tags=["runs"])
    def list_runs():
        """The runs this server was started with: name, index, kind, resolution, classes, what each page can do."""
        return {"runs": table.describe()}

    @app.get("/api/runs/{run}", tags=["runs"])
    def describe_run(run: str = Path(..., min_length=1, max_length=100)):
        served = table.get(run)
        return served.describe(table.order.index(served.name))

    @app.post("/api/runs/{run}/upload", tags=["runs"], responses=sampling.PNG,
              openapi_extra={"requestBody": {"content": {"image/png": {}, "image/jpeg": {}}, "required": True}})
    async def upload(request: Request, run: str = Path(..., min_length=1, max_length=100)):
        """An uploaded image (the raw file as the body) as the run sees its data: channels converted, shorter side
        to the run's resolution, centre crop — the input of photo editing. Limits: max_upload_bytes and
        max_upload_pixels (a decompression bomb is refused before decoding)."""
        served = table.get(run)
        served.require_images()
        data = await read_body(request, limits.max_upload_bytes)
        im = decode_image(data, limits.max_upload_pixels)
        c, res = served.loaded.info.shape[0], served.loaded.info.shape[-1]
        return png_response(png_bytes(to_run_input(im, c, res)), f"{served.name}-upload.png")

    app.include_router(sampling.router(table))
    app.include_router(mixing.router(table))
    app.include_router(paint.router(table, limits))
    app.include_router(lab.router(limits))
    app.include_router(photo.router(table, limits))

    def page(filename: str):
        def serve_page():
            return FileResponse(os.path.join(STATIC, filename), media_type="text/html")
        return serve_page

    for route, filename in PAGES.items():
        app.add_api_route(route, page(filename), methods=["GET"], include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon():
        return JSONResponse({"error": "no icon"}, status_code=404)

    return app


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")
