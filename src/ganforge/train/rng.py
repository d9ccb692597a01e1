"""Capturing and restoring every random-number stream, so that a resumed run continues bit for bit."""
from __future__ import annotations

import base64
import json
import random

import numpy as np
import torch


def capture() -> dict:
    state = {
        "torch": bytes(torch.get_rng_state().numpy().tobytes()),
        "python": _py_state_to_json(random.getstate()),
        "numpy": _np_state_to_json(np.random.get_state()),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = [bytes(s.numpy().tobytes()) for s in torch.cuda.get_rng_state_all()]
    return state


def restore(state: dict) -> None:
    torch.set_rng_state(torch.frombuffer(bytearray(state["torch"]), dtype=torch.uint8))
    random.setstate(_py_state_from_json(state["python"]))
    np.random.set_state(_np_state_from_json(state["numpy"]))
    if "cuda" in state and torch.cuda.is_available():
        cuda_states = [torch.frombuffer(bytearray(s), dtype=torch.uint8) for s in state["cuda"]]
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)


def to_bytes(state: dict) -> bytes:
    """A captured state as plain JSON bytes (what data-parallel ranks send to rank 0; no pickle)."""
    return json.dumps(state, default=_bytes_to_json).encode()


def from_bytes(data: bytes) -> dict:
    return json.loads(data.decode(), object_hook=_bytes_from_json)


def _bytes_to_json(o):
    if isinstance(o, bytes):
        return {"__bytes__": base64.b64encode(o).decode()}
    raise TypeError(f"cannot serialise {type(o).__name__} in an RNG state")


def _bytes_from_json(d: dict):
    return base64.b64decode(d["__bytes__"]) if set(d) == {"__bytes__"} else d


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _py_state_to_json(s):
    version, internal, gauss = s
    return [version, list(internal), gauss]


def _py_state_from_json(s):
    version, internal, gauss = s
    return (version, tuple(internal), gauss)


def _np_state_to_json(s):
    name, keys, pos, has_gauss, cached = s
    return [name, keys.tolist(), int(pos), int(has_gauss), float(cached)]


def _np_state_from_json(s):
    name, keys, pos, has_gauss, cached = s
    return (name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached)
