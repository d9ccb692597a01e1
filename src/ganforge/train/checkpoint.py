"""Checkpoint directories (DESIGN.md §5): safetensors + JSON, atomic, LATEST updated last, keep-last-K.

    checkpoints/step-000500/   <name>.safetensors for every top-level state entry that holds tensors
                               (generator, discriminator, ema, optim, ...), state.json with the rest
    checkpoints/LATEST         name of the newest *complete* checkpoint

A checkpoint is written into a hidden temporary folder, every file fsynced, then renamed into place; only then
is LATEST replaced (itself via a temporary file and an atomic rename). A crash or a full disk at any moment leaves
the previous checkpoint and LATEST intact.
"""
from __future__ import annotations

import logging
import os
import shutil
from typing import Any, Dict, List, Optional, Tuple

from ..errors import CheckpointError
from ..utils.safeio import (
    flatten_state,
    fsync_dir,
    fsync_write,
    read_json,
    read_tensors,
    unflatten_state,
    write_json,
    write_tensors,
)

log = logging.getLogger(__name__)

FORMAT = "ganforge-checkpoint"
VERSION = 1


def step_name(step: int) -> str:
    return f"step-{step:06d}"


def step_of(name: str) -> Optional[int]:
    """The step a ``step-NNNNNN`` folder name holds (any number of digits), or None for other names."""
    digits = name[len("step-"):] if name.startswith("step-") else ""
    return int(digits) if digits.isdigit() else None


def _step_folders(root: str) -> List[str]:
    """The ``step-*`` folders of `root`, oldest first by step number (names sort wrongly past 999,999)."""
    names = [d for d in os.listdir(root) if step_of(d) is not None and os.path.isdir(os.path.join(root, d))]
    return sorted(names, key=step_of)


def save_checkpoint(root: str, step: int, state: Dict[str, Any], meta: Dict[str, Any], keep_last: int = 3) -> str:
    """Write `state` (name -> nested state) and `meta` (JSON) as checkpoint `step` under `root`; return its path."""
    os.makedirs(root, exist_ok=True)
    final = os.path.join(root, step_name(step))
    tmp = os.path.join(root, f".tmp-{step_name(step)}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        os.makedirs(tmp)
        files, skeleton = {}, {}
        for name, obj in state.items():
            skeleton[name], tensors = flatten_state(obj)
            if tensors:
                fname = f"{name}.safetensors"
                write_tensors(os.path.join(tmp, fname), tensors)
                files[fname] = os.path.getsize(os.path.join(tmp, fname))
        write_json(os.path.join(tmp, "state.json"),
                   {"format": FORMAT, "version": VERSION, "step": step, "files": files, **meta, "state": skeleton})
        fsync_dir(tmp)
        if os.path.exists(final):
            shutil.rmtree(final)
        os.rename(tmp, final)
        fsync_dir(root)
        latest_tmp = os.path.join(root, f".LATEST-{os.getpid()}")
        fsync_write(latest_tmp, (step_name(step) + "\n").encode())
        os.replace(latest_tmp, os.path.join(root, "LATEST"))
        fsync_dir(root)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        prev = latest_checkpoint(root)
        kept = f"the last good checkpoint is intact: {prev}" if prev else "no earlier checkpoint exists"
        raise CheckpointError(f"could not write checkpoint {final}: {e.strerror or e}; {kept}") from None
    _prune(root, keep_last)
    return final


def _prune(root: str, keep_last: int) -> None:
    if keep_last <= 0:
        return
    for d in _step_folders(root)[:-keep_last]:
        shutil.rmtree(os.path.join(root, d), ignore_errors=True)


def _is_complete(path: str) -> bool:
    try:
        read_meta(path)
    except CheckpointError:
        return False
    return True


def latest_checkpoint(root: str) -> Optional[str]:
    """Path of the checkpoint LATEST names, or None when there is none.

    When LATEST is missing or names a checkpoint that is gone or incomplete (a folder deleted by hand, a copy that
    left it behind), the newest complete ``step-*`` folder beside it is used instead, with a warning.
    """
    marker = os.path.join(root, "LATEST")
    name = ""
    if os.path.isfile(marker):
        with open(marker, "rb") as f:
            name = f.read(256).decode("utf-8", "replace").strip()
        path = os.path.join(root, name)
        if name and _is_complete(path):
            return path
    if not os.path.isdir(root):
        return None
    for d in reversed([d for d in _step_folders(root) if d != name]):
        path = os.path.join(root, d)
        if _is_complete(path):
            why = f"names {name}, which is missing or incomplete" if name else "is missing"
            log.warning("%s %s: using %s, the newest complete checkpoint beside it", marker, why, d)
            return path
    named = os.path.join(root, name)
    return named if name and os.path.isdir(named) else None  # reading it then says what is wrong with it


def clear_stale_temporaries(root: str) -> List[str]:
    """Remove what an interrupted :func:`save_checkpoint` left in `root` (``.tmp-step-*`` folders, ``.LATEST-*``
    files); call it when a run starts or resumes, when no checkpoint of it is being written. Returns their names."""
    if not os.path.isdir(root):
        return []
    stale = sorted(d for d in os.listdir(root) if d.startswith((".tmp-step-", ".LATEST-")))
    for d in stale:
        path = os.path.join(root, d)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.remove(path)
            except OSError:
                pass
    if stale:
        log.info("removed %d unfinished checkpoint temporar%s in %s: %s", len(stale), "y" if len(stale) == 1 else
                 "ies", root, ", ".join(stale))
    return stale


def read_meta(path: str) -> Dict[str, Any]:
    """state.json of a checkpoint, checked to be ours and complete (every file present with its recorded size)."""
    meta = read_json(os.path.join(path, "state.json"))
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a ganforge checkpoint (state.json has no format {FORMAT!r})")
    version, files, state, step = meta.get("version", 0), meta.get("files", {}), meta.get("state"), meta.get("step")
    if not isinstance(version, int) or not isinstance(files, dict) or not isinstance(state, dict) \
            or not isinstance(step, int) or step < 0 or not all(isinstance(v, int) for v in files.values()):
        raise CheckpointError(f"{path}/state.json is damaged (its version, step, files or state entry is missing or "
                              f"of the wrong type)")
    if version > VERSION:
        raise CheckpointError(f"{path} was written by a newer ganforge (format version {version})")
    for fname, size in files.items():
        fpath = os.path.join(path, fname)
        if not os.path.isfile(fpath):
            raise CheckpointError(f"checkpoint {path} is incomplete: {fname} is missing")
        if os.path.getsize(fpath) != size:
            raise CheckpointError(
                f"checkpoint file {fpath} is truncated or altered ({os.path.getsize(fpath)} bytes, expected {size})"
            )
    return meta


def load_entry(path: str, name: str, meta: Optional[Dict[str, Any]] = None) -> Any:
    """One top-level state entry (e.g. 'generator') of a checkpoint."""
    meta = meta or read_meta(path)
    if name not in meta["state"]:
        raise CheckpointError(f"checkpoint {path} has no {name!r} entry (it has: {', '.join(meta['state'])})")
    fname = f"{name}.safetensors"
    tensors = read_tensors(os.path.join(path, fname)) if fname in meta["files"] else {}
    return unflatten_state(meta["state"][name], tensors)


def load_checkpoint(path: str) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """(state, meta) of a checkpoint directory, every entry loaded."""
    meta = read_meta(path)
    return {name: load_entry(path, name, meta) for name in meta["state"]}, meta
