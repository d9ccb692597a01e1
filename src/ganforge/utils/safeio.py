"""Safe, atomic persistence: safetensors for tensors, JSON for everything else, never pickle.

A checkpoint from a stranger cannot run code here: files are parsed as safetensors (a JSON header plus raw
bytes) and anything else — a pickle, a `torch.save` zip, a truncated file — is refused with a clear message.
"""
from __future__ import annotations

import base64
import json
import os
import struct
from typing import Any, Dict, Tuple

import torch

from ..errors import CheckpointError

_PICKLE_HINT = (
    "ganforge never unpickles files (unpickling can execute arbitrary code). Convert trusted weights yourself "
    "with `safetensors.torch.save_file(torch.load(path, weights_only=True), 'weights.safetensors')`."
)


def sniff(path: str) -> str:
    """'safetensors', 'pickle', 'zip' (torch.save), 'empty' or 'unknown', from the first bytes of the file."""
    with open(path, "rb") as f:
        head = f.read(16)
    if not head:
        return "empty"
    if len(head) >= 9:
        (n,) = struct.unpack("<Q", head[:8])
        if 0 < n < 100_000_000 and head[8:9] == b"{":
            return "safetensors"
    if head[:2] == b"PK":
        return "zip"
    if head[:1] == b"\x80" or head[:1] in (b"(", b"]", b"}", b"c"):
        return "pickle"
    return "unknown"


def read_tensors(path: str) -> Dict[str, torch.Tensor]:
    """Load a safetensors file to CPU tensors, refusing pickles and reporting truncation clearly."""
    if not os.path.isfile(path):
        raise CheckpointError(f"missing checkpoint file {path}")
    kind = sniff(path)
    if kind in ("pickle", "zip"):
        raise CheckpointError(f"{path} is a pickle/torch.save file, not safetensors: refused. {_PICKLE_HINT}")
    if kind != "safetensors":
        raise CheckpointError(f"{path} is not a safetensors file ({kind}); the checkpoint is damaged")
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(path, device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{path} is damaged or truncated ({e}); use an earlier checkpoint") from None


def fsync_write(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def atomic_write(path: str, data: bytes, fsync: bool = True) -> None:
    """Replace `path` with `data` all at once: written beside it (fsynced unless `fsync` is False), then renamed
    over it. A full disk or a crash leaves the old file as it was, and no temporary behind on an error."""
    folder, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(folder, f".{name}.tmp-{os.getpid()}")
    try:
        if fsync:
            fsync_write(tmp, data)
        else:
            with open(tmp, "wb") as f:
                f.write(data)
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.remove(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):  # name the user's file, not the hidden temporary
            raise OSError(e.errno, e.strerror or str(e), path) from None
        raise


def write_tensors(path: str, tensors: Dict[str, torch.Tensor], metadata=None) -> None:
    from safetensors.torch import save

    clean = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    fsync_write(path, save(clean, metadata=metadata))


def write_json(path: str, obj: Any) -> None:
    fsync_write(path, json.dumps(obj, indent=1, sort_keys=False).encode())


def read_json(path: str) -> Any:
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        raise CheckpointError(f"missing {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path} is not valid JSON ({e}); the checkpoint is damaged") from None


def fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------------------------------
# Nested state (module state dicts, optimiser state dicts, counters) <-> flat tensors + JSON skeleton

_TENSOR, _INTKEYS, _TUPLE, _BYTES = "__tensor__", "__intkeys__", "__tuple__", "__bytes__"


def flatten_state(obj: Any, prefix: str = "") -> Tuple[Any, Dict[str, torch.Tensor]]:
    """Split a nested state into a JSON-able skeleton and a flat {key: tensor} dict."""
    tensors: Dict[str, torch.Tensor] = {}

    def walk(o, key):
        if isinstance(o, torch.Tensor):
            tensors[key] = o
            return {_TENSOR: key}
        if isinstance(o, dict):
            if o and all(isinstance(k, int) for k in o):
                return {_INTKEYS: {str(k): walk(v, f"{key}.{k}") for k, v in o.items()}}
            for k in o:
                if not isinstance(k, str):
                    raise TypeError(f"cannot serialise dict key {k!r} of type {type(k).__name__}")
            return {k: walk(v, f"{key}.{k}" if key else k) for k, v in o.items()}
        if isinstance(o, tuple):
            return {_TUPLE: [walk(v, f"{key}.{i}") for i, v in enumerate(o)]}
        if isinstance(o, list):
            return [walk(v, f"{key}.{i}") for i, v in enumerate(o)]
        if isinstance(o, bytes):
            return {_BYTES: base64.b64encode(o).decode()}
        if o is None or isinstance(o, (bool, int, float, str)):
            return o
        raise TypeError(f"cannot serialise {type(o).__name__} at {key!r}")

    return walk(obj, prefix), tensors


def unflatten_state(skeleton: Any, tensors: Dict[str, torch.Tensor]) -> Any:
    def walk(o):
        if isinstance(o, dict):
            if _TENSOR in o:
                key = o[_TENSOR]
                if key not in tensors:
                    raise CheckpointError(f"checkpoint is missing tensor {key!r}")
                return tensors[key]
            if _INTKEYS in o:
                return {int(k): walk(v) for k, v in o[_INTKEYS].items()}
            if _TUPLE in o:
                return tuple(walk(v) for v in o[_TUPLE])
            if _BYTES in o:
                return base64.b64decode(o[_BYTES])
            return {k: walk(v) for k, v in o.items()}
        if isinstance(o, list):
            return [walk(v) for v in o]
        return o

    return walk(skeleton)
