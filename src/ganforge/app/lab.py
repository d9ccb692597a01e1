"""The GAN Lab page's API: sessions of :class:`ganforge.ganlab.LabSession` on the server, stepped on request or
played as a stream of server-sent events.

Training is bounded three ways: each session stops at its `max_epochs` (capped by the server's limit), at most
`lab_sessions` sessions live at once (the least recently used goes first), and a session nobody has touched for
`lab_idle_s` seconds is dropped. Playing *is* the stream: the server trains only while a page holds the stream
open, so training stops when the page goes away; a client that disconnects mid-stream ends only its stream.
"""
from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections import OrderedDict
from typing import Annotated, List, Literal, Optional

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from ..ganlab import DISTRIBUTIONS, LOSSES, NOISES, OPTIMIZERS, LabConfig, LabSession
from .errors import BadRequest
from .schemas import Body, SFloat, SInt, Seed


Unit = Annotated[SFloat, Field(ge=0.0, le=1.0)]


class LabRequest(Body):
    data: Literal[DISTRIBUTIONS] = "ring"  # type: ignore[valid-type]
    noise: Literal[NOISES] = "uniform"  # type: ignore[valid-type]
    g_layers: SInt = Field(1, ge=0, le=5)
    g_hidden: SInt = Field(8, ge=1, le=100)
    d_layers: SInt = Field(1, ge=0, le=5)
    d_hidden: SInt = Field(8, ge=1, le=100)
    loss: Literal[LOSSES] = "log"  # type: ignore[valid-type]
    optimizer: Literal[OPTIMIZERS] = "sgd"  # type: ignore[valid-type]
    lr_d: SFloat = Field(0.1, gt=0, le=10)
    lr_g: SFloat = Field(0.1, gt=0, le=10)
    k_d: SInt = Field(2, ge=0, le=10)
    k_g: SInt = Field(1, ge=0, le=10)
    batch_size: SInt = Field(150, ge=1, le=1000)
    seed: Seed = 0
    max_epochs: SInt = Field(5000, ge=1, le=1_000_000, description="capped by the server's lab_max_steps")
    drawing: Optional[List[Annotated[List[Unit], Field(min_length=2, max_length=2)]]] = Field(
        None, min_length=2, max_length=5000, description="data 'drawing': the drawn points (x, y) in [0, 1]²")


class StepRequest(Body):
    what: Literal["d", "g", "both"] = "both"
    n: SInt = Field(1, ge=1, le=500, description="epochs (fewer where they would train over 400,000 points)")


class Sessions:
    def __init__(self, limits):
        self.limits = limits
        self.items: "OrderedDict[str, LabSession]" = OrderedDict()
        self.touched = {}
        self.lock = threading.Lock()

    def _expire(self) -> None:
        now = time.monotonic()
        for sid in [s for s, t in self.touched.items() if now - t > self.limits.lab_idle_s]:
            self.items.pop(sid, None), self.touched.pop(sid, None)

    def add(self, session: LabSession) -> str:
        sid = secrets.token_hex(8)
        with self.lock:
            self._expire()
            while len(self.items) >= self.limits.lab_sessions:
                old, _ = self.items.popitem(last=False)
                self.touched.pop(old, None)
            self.items[sid], self.touched[sid] = session, time.monotonic()
        return sid

    def get(self, sid: str) -> LabSession:
        with self.lock:
            self._expire()
            if sid not in self.items:
                raise BadRequest("no such GAN Lab session (it ended, was idle too long, or was replaced): start "
                                 "a new one", 404)
            self.items.move_to_end(sid)
            self.touched[sid] = time.monotonic()
            return self.items[sid]

    def alive(self, sid: str) -> bool:
        return sid in self.items

    def touch(self, sid: str) -> None:
        with self.lock:
            if sid in self.touched:
                self.touched[sid] = time.monotonic()

    def remove(self, sid: str) -> bool:
        with self.lock:
            self.touched.pop(sid, None)
            return self.items.pop(sid, None) is not None


LAB_POINT_STEPS = 400_000  # per step request: epochs × (k_D + k_G) × batch size


def router(limits) -> APIRouter:
    r = APIRouter(tags=["GAN Lab"])
    sessions = Sessions(limits)
    Sid = Path(..., min_length=16, max_length=16, pattern="^[0-9a-f]{16}$", description="a session id")

    @r.get("/api/lab/options")
    def options():
        """What a session can be made of, and the server's bounds."""
        return {"data": list(DISTRIBUTIONS), "loss": list(LOSSES), "optimizer": list(OPTIMIZERS),
                "noise": list(NOISES), "max_epochs": limits.lab_max_steps, "max_sessions": limits.lab_sessions,
                "idle_seconds": limits.lab_idle_s}

    @r.post("/api/lab")
    def create(req: LabRequest):
        """A new session (G and D initialised, nothing trained): its id and first state, real points included."""
        cfg = LabConfig(**req.model_dump())
        cfg.max_epochs = min(cfg.max_epochs, limits.lab_max_steps)
        session = LabSession(cfg)
        sid = sessions.add(session)
        return {"id": sid, "state": session.state(include_real=True)}

    @r.get("/api/lab/{sid}")
    def state(sid: str = Sid, real: bool = Query(False, description="include the real points")):
        return sessions.get(sid).state(include_real=real)

    @r.post("/api/lab/{sid}/step")
    def step(req: StepRequest, sid: str = Sid):
        """Train `n` epochs of D only, G only, or both (GAN Lab's step buttons); the new state."""
        session = sessions.get(sid)
        if session.diverged:
            raise BadRequest("this session diverged (a loss became NaN or infinite): start a new one with lower "
                             "learning rates", 409)
        if session.done:
            raise BadRequest(f"this session used its training budget of {session.config.max_epochs} epochs: "
                             f"start a new one", 409)
        cfg = session.config  # one request trains at most LAB_POINT_STEPS points through G or D: seconds, not minutes
        per_epoch = max(1, (cfg.k_d + cfg.k_g) * cfg.batch_size)
        session.train(min(req.n, max(1, LAB_POINT_STEPS // per_epoch)), req.what)
        return session.state()

    @r.delete("/api/lab/{sid}")
    def delete(sid: str = Sid):
        if not sessions.remove(sid):
            raise BadRequest("no such GAN Lab session", 404)
        return {"deleted": sid}

    @r.get("/api/lab/{sid}/stream", response_class=StreamingResponse,
           responses={200: {"content": {"text/event-stream": {}}}})
    async def stream(request: Request, sid: str = Sid,
                     epochs: int = Query(2, ge=1, le=50, description="epochs trained between two events"),
                     events: int = Query(3000, ge=1, le=100_000, description="events before the stream ends"),
                     interval_ms: int = Query(40, ge=0, le=2000, description="pause between events")):
        """Play: train `epochs` epochs, send the state as one server-sent event (`data: {json}`), repeat — until
        the client goes away, `events` were sent, the session's budget is used, the session is deleted, or a newer
        stream of the same session starts."""
        session = sessions.get(sid)
        # the newest stream of a session wins: an older one (a second tab, a reconnect) stops at its next event,
        # so a session never trains twice as fast and nothing is left claimed if a stream never starts
        session.stream_generation = generation = getattr(session, "stream_generation", 0) + 1

        async def produce():
            for _ in range(events):
                if (await request.is_disconnected() or not sessions.alive(sid)
                        or session.stream_generation != generation):
                    break
                await run_in_threadpool(session.train, epochs)
                st = await run_in_threadpool(session.state)
                sessions.touch(sid)  # a playing session never idles out
                yield f"data: {json.dumps(st, separators=(',', ':'))}\n\n"
                if st["done"]:
                    break
                await asyncio.sleep(interval_ms / 1000)

        return StreamingResponse(produce(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    return r
