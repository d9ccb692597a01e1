"""The "Edit a photo" page's API: iGAN's projection and constrained editing (Zhu et al., "Generative Visual
Manipulation on the Natural Image Manifold", ECCV 2016) and the Neural Photo Editor (Brock et al., "Neural Photo
Editing with Introspective Adversarial Networks", ICLR 2017), through :class:`ganforge.editing.EditSession`.

A session starts from an uploaded image, a real image of the run's own dataset or a generated sample; the server
projects it once (hybrid — the run's encoder then optimisation — when the run has an encoder: a trained
``RUN/encoder/`` or an IAN run's introspective discriminator; plain optimisation otherwise) and keeps the session,
because a projection costs far more than a stroke. Each stroke request adds colour / sketch / warp strokes,
re-optimises the code for a bounded number of steps and answers every image of the session as PNG (base64 in JSON):
the iGAN result (the edited generation and the edit carried back onto the photo) and, for runs with an IAN encoder,
the Neural Photo Editor's (the photo changed only under its mask). Undo and reset restore earlier states exactly.

Work is bounded like the GAN Lab's: steps per request capped by the server's limits, at most `edit_sessions`
sessions (least recently used first out), and a session idle for `edit_idle_s` seconds is dropped.
"""
from __future__ import annotations

import base64
import copy
import secrets
import threading
import time
from collections import OrderedDict
from typing import Annotated, Dict, List, Literal, Optional, Union

import numpy as np
import torch
from fastapi import APIRouter, Path, Query, Request
from pydantic import ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ..editing import EditSession, encoder_for_run
from ..editing.features import default_feature_net
from ..errors import GanforgeError
from .errors import BadRequest
from .images import image_png
from .runs import RunTable, ServedRun
from .schemas import Body, ClassIndex, SFloat, SInt, Seed
from .uploads import decode_image, read_body, to_run_input

Coordinate = Annotated[SFloat, Field(ge=0, le=100_000)]
Channel = Annotated[SInt, Field(ge=0, le=255)]
MAX_STROKES, MAX_POINTS = 16, 500
MAX_UNDO = 32  # stroke requests a session can undo (older states are dropped: memory stays bounded)


Point = Annotated[List[Coordinate], Field(min_length=2, max_length=2)]


class EditStroke(Body):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, populate_by_name=True)
    type: Literal["color", "sketch", "warp"] = Field(..., description="color: pixels take the colour; sketch: "
                                                                      "an edge is wanted along the line; warp: the "
                                                                      "content at `from` should move to `to`")
    points: Optional[List[Point]] = Field(
        None, min_length=1, max_length=MAX_POINTS, description="color / sketch: a polyline (x, y) in the run's "
                                                                "image pixels")
    from_: Optional[Point] = Field(None, alias="from", description="warp: where the content is (x, y)")
    to: Optional[Point] = Field(None, description="warp: where it should go (x, y)")
    radius: Optional[SFloat] = Field(None, ge=0.5, le=64, description="warp: radius of the moved disc in pixels "
                                                                      "(default 4)")
    width: Optional[SFloat] = Field(None, ge=0.5, le=64, description="brush diameter in pixels (default 3 "
                                                                      "for color, 1 for sketch)")
    color: Optional[Union[Channel, Annotated[List[Channel], Field(min_length=1, max_length=3)]]] = Field(
        None, description="[r, g, b] or one grey value, 0–255")


class StrokeRequest(Body):
    strokes: List[EditStroke] = Field(..., max_length=MAX_STROKES, description="strokes added by this request; "
                                      "an empty list refines the current constraints further")
    steps: Optional[SInt] = Field(None, ge=1, le=10_000, description="optimisation steps of this request "
                                  "(default the server's; capped by its edit_max_steps)")


class SourceRequest(Body):
    source: Literal["sample", "dataset"] = Field("sample", description="a generated sample (by seed) or a real "
                                                                      "image of the run's own dataset (by index)")
    seed: Seed = 0
    index: SInt = Field(0, ge=0, le=100_000_000, description="dataset image index")
    cls: Optional[ClassIndex] = Field(None, description="conditional runs: the class projected into (default: "
                                      "the dataset image's label, or 0)")


def png_b64(x: torch.Tensor) -> str:
    return base64.b64encode(image_png(x)).decode("ascii")


def quantised(x: torch.Tensor) -> torch.Tensor:
    """1×C×H×W in [-1, 1] as its PNG would hold it (uint8), so the session edits exactly the image it shows."""
    return (((x.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round() / 127.5 - 1)


def from_uint8(arr: np.ndarray) -> torch.Tensor:
    """H×W or H×W×C uint8 -> 1×C×H×W in [-1, 1]."""
    t = torch.from_numpy(np.array(arr, dtype=np.float32))
    t = t[None] if t.dim() == 2 else t.permute(2, 0, 1)
    return t[None] / 127.5 - 1


class PhotoSession:
    """One photo being edited: the iGAN session and, when the run has an IAN encoder, the NPE session (sharing the
    projection). Both take every stroke request together, so undo and reset move them together."""

    def __init__(self, served: ServedRun, photo: torch.Tensor, encoder, encoder_kind: Optional[str], npe: bool,
                 project_steps: int, features, y: Optional[int], source: str):
        self.run, self.source, self.encoder_kind = served.name, source, encoder_kind
        self.lock = threading.Lock()
        started = time.perf_counter()
        self.igan = EditSession(served.loaded, photo, method="igan", encoder=encoder, project_steps=project_steps,
                                y=y, features=features)
        self.project_seconds = time.perf_counter() - started
        self.npe = None
        if npe:  # the same projection, a second edit history under the NPE rule
            self.npe = copy.copy(self.igan)
            self.npe.method = "npe"
            self.npe.reset()
        self.strokes = 0
        self.history: List[int] = []
        self.last_seconds = 0.0

    def stroke(self, strokes: List[dict], steps: int, npe_steps: int) -> None:
        started = time.perf_counter()
        self.igan.stroke(strokes, steps=steps)
        if self.npe is not None:
            try:  # NPE paints colours only; its sketch / warp strokes are no-ops that still take an undo step
                self.npe.stroke([s for s in strokes if s["type"] == "color"], steps=npe_steps)
            except Exception:
                self.igan.undo()
                raise
        self.history.append(self.strokes)
        self.strokes += len(strokes)
        while len(self.history) > MAX_UNDO:  # EditSession keeps one saved state per stroke call: drop the oldest
            self.history.pop(0)
            for s in (self.igan, self.npe):
                if s is not None:
                    s._history.pop(0)
        self.last_seconds = time.perf_counter() - started

    def undo(self) -> None:
        if self.history:
            self.igan.undo()
            if self.npe is not None:
                self.npe.undo()
            self.strokes = self.history.pop()

    def reset(self) -> None:
        self.igan.reset()
        if self.npe is not None:
            self.npe.reset()
        self.strokes, self.history = 0, []

    def state(self, sid: str) -> dict:
        p, r = self.igan.projection, self.igan.result
        images = {"photo": png_b64(self.igan.original), "projection": png_b64(p.image),
                  "generated": png_b64(r.generated), "output": png_b64(r.output)}
        costs = {k: v for k, v in r.costs.items() if k != "smooth"}
        out = {"id": sid, "run": self.run, "source": self.source, "resolution": self.igan.resolution,
               "projector": p.method, "encoder": self.encoder_kind, "projection_steps": p.steps,
               "projection_error": float(p.error[0]), "projection_seconds": round(self.project_seconds, 3),
               "strokes": self.strokes, "undo": len(self.history), "costs": costs,
               "seconds": round(self.last_seconds, 3), "npe": self.npe is not None,
               "summary": self.igan.summary()}
        if self.npe is not None:
            n = self.npe.result
            images.update(npe_generated=png_b64(n.generated), npe_output=png_b64(n.output))
            out["npe_costs"], out["npe_summary"] = dict(n.costs), self.npe.summary()
        out["images"] = images
        return out


class Store:
    """At most `size` sessions (the least recently used leaves first); a session idle for `idle_s` is dropped."""

    def __init__(self, size: int, idle_s: float):
        self.size, self.idle_s = size, idle_s
        self.items: "OrderedDict[str, PhotoSession]" = OrderedDict()
        self.touched: Dict[str, float] = {}
        self.lock = threading.Lock()

    def _expire(self) -> None:
        now = time.monotonic()
        for sid in [s for s, t in self.touched.items() if now - t > self.idle_s]:
            self.items.pop(sid, None), self.touched.pop(sid, None)

    def add(self, session: PhotoSession) -> str:
        sid = secrets.token_hex(8)
        with self.lock:
            self._expire()
            while len(self.items) >= self.size:
                old, _ = self.items.popitem(last=False)
                self.touched.pop(old, None)
            self.items[sid], self.touched[sid] = session, time.monotonic()
        return sid

    def get(self, sid: str) -> PhotoSession:
        with self.lock:
            self._expire()
            if sid not in self.items:
                raise BadRequest("no such editing session (it was idle too long or replaced by newer ones): "
                                 "project the image again", 404)
            self.items.move_to_end(sid)
            self.touched[sid] = time.monotonic()
            return self.items[sid]

    def remove(self, sid: str) -> bool:
        with self.lock:
            self.touched.pop(sid, None)
            return self.items.pop(sid, None) is not None


class Encoders:
    """Per run, computed once: (encoder callable or None, what it is, whether NPE is offered)."""

    def __init__(self):
        self.cache: Dict[str, tuple] = {}
        self.features: Dict[int, object] = {}
        self.datasets: Dict[str, object] = {}

    def of(self, served: ServedRun) -> tuple:
        if served.name not in self.cache:
            from .. import api

            try:
                disc = api.load_discriminator(served.path)
            except Exception:  # no discriminator in the checkpoint: no IAN encoder
                disc = None
            enc = encoder_for_run(served.path, disc)
            ian = getattr(disc, "encode_mean", None) is not None  # an introspective discriminator: NPE on offer
            kind = None if enc is None else ("the IAN discriminator's encoder" if ian and enc == disc.encode_mean else
                                             "the run's trained encoder (RUN/encoder)")
            self.cache[served.name] = (enc, kind, ian)
        return self.cache[served.name]

    def feature_net(self, channels: int):
        if channels not in self.features:
            self.features[channels] = default_feature_net(channels)
        return self.features[channels]

    def dataset(self, served: ServedRun):
        if served.name not in self.datasets:
            from ..data.registry import build_dataset

            try:
                self.datasets[served.name] = build_dataset(served.loaded.config.data)
            except GanforgeError as e:
                raise BadRequest(f"run {served.name!r}: its dataset cannot be read here ({e})") from None
            except OSError as e:
                raise BadRequest(f"run {served.name!r}: its dataset cannot be read here ({type(e).__name__})") \
                    from None
        return self.datasets[served.name]


def router(table: RunTable, limits) -> APIRouter:
    r = APIRouter(tags=["photo editing"])
    store = Store(limits.edit_sessions, limits.edit_idle_s)
    encoders = Encoders()
    Sid = Path(..., min_length=16, max_length=16, pattern="^[0-9a-f]{16}$", description="an editing session id")
    RunName = Path(..., min_length=1, max_length=100)

    def class_of(served: ServedRun, cls: Optional[int]) -> Optional[int]:
        k = int(getattr(served.generator, "num_classes", 0) or 0)
        if not k:
            if cls is not None:
                raise BadRequest(f"run {served.name!r} is unconditional: it takes no class")
            return None
        if cls is not None and cls >= k:
            raise BadRequest(f"class {cls} is out of range: run {served.name!r} has classes 0–{k - 1}")
        return 0 if cls is None else int(cls)

    def start(served: ServedRun, photo: torch.Tensor, y: Optional[int], source: str) -> dict:
        if not hasattr(served.loaded, "latents"):
            raise BadRequest(f"run {served.name!r} has no latent space to project into")
        enc, kind, ian = encoders.of(served)
        with served.lock:
            session = PhotoSession(served, photo, enc, kind, ian, limits.edit_project_steps,
                                   encoders.feature_net(served.loaded.info.shape[0]), y, source)
        sid = store.add(session)
        return session.state(sid)

    @r.get("/api/edit/options")
    def options():
        """The server's bounds on editing: projection steps, steps per stroke request, sessions, idle seconds."""
        return {"projection_steps": limits.edit_project_steps, "stroke_steps": limits.edit_steps,
                "max_steps": limits.edit_max_steps, "max_sessions": limits.edit_sessions,
                "idle_seconds": limits.edit_idle_s, "max_strokes": MAX_STROKES, "max_points": MAX_POINTS}

    @r.post("/api/runs/{run}/edit/upload", openapi_extra={"requestBody": {"content": {"image/png": {},
                                                                                       "image/jpeg": {}},
                                                                           "required": True}})
    async def from_upload(request: Request, run: str = RunName,
                          cls: Optional[int] = Query(None, ge=0, le=100_000, description="conditional runs")):
        """A session from an uploaded image (the raw file as the body; the upload limits apply): converted as the
        run sees its data, projected; the session's state with every image."""
        served = table.get(run)
        served.require_images()
        data = await read_body(request, limits.max_upload_bytes)
        im = decode_image(data, limits.max_upload_pixels)
        c, res = served.loaded.info.shape[0], served.loaded.info.shape[-1]
        photo = from_uint8(to_run_input(im, c, res))
        y = class_of(served, cls)
        return await run_in_threadpool(start, served, photo, y, "upload")

    @r.post("/api/runs/{run}/edit")
    def from_source(req: SourceRequest, run: str = RunName):
        """A session from a generated sample (seed) or a real image of the run's dataset (index), projected."""
        served = table.get(run)
        served.require_images()
        shape = tuple(served.loaded.info.shape)
        if req.source == "sample":
            y = class_of(served, req.cls)
            with served.lock, torch.no_grad():
                photo = quantised(served.loaded.sample(1, seed=req.seed, y=y))
            source = f"sample seed {req.seed}"
        else:
            ds = encoders.dataset(served)
            if req.index >= len(ds):
                raise BadRequest(f"index {req.index} is out of range: the dataset has images 0–{len(ds) - 1}", 404)
            x = ds.x[req.index]
            if x.dtype != torch.uint8 or x.dim() != 3:
                raise BadRequest(f"run {served.name!r}: its dataset does not hold images")
            arr = x.permute(1, 2, 0).numpy()
            if tuple(x.shape) != shape:
                from PIL import Image

                arr = to_run_input(Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr), shape[0], shape[-1])
            photo = from_uint8(arr)
            label = None if ds.y is None else int(ds.y[req.index])
            k = int(getattr(served.generator, "num_classes", 0) or 0)
            y = class_of(served, req.cls if req.cls is not None else (label if k and label is not None
                                                                       and 0 <= label < k else None))
            source = f"dataset image {req.index}"
        return start(served, photo, y, source)

    @r.get("/api/edit/{sid}")
    def state(sid: str = Sid):
        """The session's state: projector, errors, costs and every image (base64 PNG)."""
        s = store.get(sid)
        with s.lock:
            return s.state(sid)

    @r.post("/api/edit/{sid}/stroke")
    def stroke(req: StrokeRequest, sid: str = Sid):
        """Add strokes (coordinates in the run's image pixels) and re-optimise: at most edit_max_steps steps per
        request. The new state."""
        s = store.get(sid)
        steps = min(req.steps or limits.edit_steps, limits.edit_max_steps)
        npe_steps = min(req.steps or limits.edit_npe_steps, limits.edit_max_steps)
        strokes = [st.model_dump(exclude_none=True, by_alias=True) for st in req.strokes]
        for i, st in enumerate(strokes):
            if st["type"] == "warp":
                if "from" not in st or "to" not in st or set(st) - {"type", "from", "to", "radius"}:
                    raise BadRequest(f"strokes[{i}]: a warp stroke takes \"from\" and \"to\" (and a \"radius\"), "
                                     f"no points, width or colour")
                continue
            if "points" not in st or {"from", "to", "radius"} & set(st):
                raise BadRequest(f"strokes[{i}]: a {st['type']} stroke takes \"points\" (no from / to / radius)")
            if st["type"] == "color" and "color" not in st:
                raise BadRequest(f"strokes[{i}]: a color stroke needs \"color\": [r, g, b] or a grey value")
            if st["type"] == "sketch" and "color" in st:
                raise BadRequest(f"strokes[{i}]: a sketch stroke takes no colour")
            if isinstance(st.get("color"), list) and len(st["color"]) == 2:
                raise BadRequest(f"strokes[{i}].color must be [r, g, b] or one grey value")
        served = table.get(s.run)
        with s.lock, served.lock:
            s.stroke(strokes, steps, npe_steps)
            return s.state(sid)

    @r.post("/api/edit/{sid}/undo")
    def undo(sid: str = Sid):
        """Back to the state before the last stroke request (the same images, byte for byte)."""
        s = store.get(sid)
        with s.lock:
            s.undo()
            return s.state(sid)

    @r.post("/api/edit/{sid}/reset")
    def reset(sid: str = Sid):
        """Forget every stroke: the photo and its projection as they came."""
        s = store.get(sid)
        with s.lock:
            s.reset()
            return s.state(sid)

    @r.delete("/api/edit/{sid}")
    def delete(sid: str = Sid):
        if not store.remove(sid):
            raise BadRequest("no such editing session", 404)
        return {"deleted": sid}

    return r
