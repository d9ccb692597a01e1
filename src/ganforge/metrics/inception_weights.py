"""Where the FID Inception-v3 weights come from, and what they are: the official pytorch-fid file's address and
hash, the cache folder, the one-off conversion of that pickle to safetensors (pickles are never unpickled at run
time), the lookup order (argument, $GANFORGE_INCEPTION_WEIGHTS, cache, download) and the weights' identity for the
evaluation protocol. The network itself is metrics/inception.py.
"""
from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from typing import Dict, Optional

import torch

from ..errors import GanforgeError

log = logging.getLogger(__name__)

FID_WEIGHTS_URL = ("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                   "pt_inception-2015-12-05-6726825d.pth")
FID_WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
# SHA-256 of that file (torch.hub names files by their hash prefix: -6726825d); 95,628,359 bytes, 566 entries.
FID_WEIGHTS_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
WEIGHTS_ENV_VAR = "GANFORGE_INCEPTION_WEIGHTS"


class InceptionWeightsError(GanforgeError):
    """The FID Inception weights cannot be found, fetched, verified or loaded."""


def default_cache_dir() -> str:
    """``~/.cache/ganforge``: where downloaded weights and cached reference statistics live by default."""
    return os.path.join(os.path.expanduser("~"), ".cache", "ganforge")


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _download(url: str, dest: str, sha256: str) -> None:
    """Fetch `url` to `dest` through a temporary file, keeping it only when its SHA-256 is `sha256`."""
    import urllib.request

    os.makedirs(os.path.dirname(dest), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dest), suffix=".part")
    h = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as resp:
            for block in iter(lambda: resp.read(1 << 20), b""):
                h.update(block)
                out.write(block)
        if h.hexdigest() != sha256:
            raise InceptionWeightsError(f"the file downloaded from {url} has SHA-256 {h.hexdigest()}, expected "
                                        f"{sha256}: refused (corrupted or tampered download)")
        os.replace(tmp, dest)
    except OSError as e:  # URLError, timeouts and disk errors are all OSErrors
        raise InceptionWeightsError(f"could not download the FID Inception weights from {url} ({e}). "
                                    f"{_HOW_TO_PROVIDE}") from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


FID_WEIGHTS_SAFETENSORS = os.path.splitext(FID_WEIGHTS_FILE)[0] + ".safetensors"  # what the cache keeps
CONVERTER = "scripts/convert_inception_weights.py"
_HOW_TO_PROVIDE = (f"Convert {FID_WEIGHTS_FILE} (published at {FID_WEIGHTS_URL}) once with `python {CONVERTER} "
                   f"FILE` and give the .safetensors it writes as `path=` / --weights or ${WEIGHTS_ENV_VAR}, or let "
                   f"ganforge download and convert it into the cache folder ({default_cache_dir()})")


def _tensors_digest(state: Dict[str, torch.Tensor]) -> str:
    """SHA-256 of a state dict's names, dtypes, shapes and bytes (independent of the file format holding it)."""
    h = hashlib.sha256()
    for key in sorted(state):
        t = state[key].detach().cpu().contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def convert_weights(src: str, dst: str, *, trusted: bool = False) -> str:
    """Write the tensors of a torch ``.pth`` file `src` to the safetensors file `dst` and return `dst`.

    This is the one place a pickle is read (``torch.load(weights_only=True)``, which builds tensors and plain
    containers only): without `trusted` only the official file, recognised by its SHA-256 before it is opened,
    is accepted; `trusted` is the user's own explicit choice (``scripts/convert_inception_weights.py``). The
    source's SHA-256 is recorded in the file's metadata with a digest of its tensors, so scores made with the
    converted official file keep the official weights' identity in their protocol.
    """
    from ..utils.safeio import write_tensors

    source_sha = sha256_file(src)
    if not trusted and source_sha != FID_WEIGHTS_SHA256:
        raise InceptionWeightsError(f"{src} is not the official {FID_WEIGHTS_FILE} (SHA-256 {source_sha[:16]}…): "
                                    f"not unpickled; convert a file you trust yourself with {CONVERTER}")
    try:
        state = torch.load(src, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many types for foreign or damaged files
        first = str(e).splitlines()[0] if str(e) else ""
        raise InceptionWeightsError(f"{src} is not a loadable weights file ({type(e).__name__}: {first})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not state or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise InceptionWeightsError(f"{src} does not hold a flat state dict of tensors")
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    tmp = f"{dst}.part-{os.getpid()}"
    try:
        write_tensors(tmp, state, metadata={"source_file": os.path.basename(src), "source_sha256": source_sha,
                                            "tensors_sha256": _tensors_digest(state)})
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return dst


def resolve_weights(path: Optional[str] = None, cache_dir: Optional[str] = None, download: bool = True) -> str:
    """Where the weights are: `path`, else $GANFORGE_INCEPTION_WEIGHTS, else the cache (downloading on first use).

    A file named explicitly (argument or environment variable) that does not exist is an error, never a silent
    fall-back. The cache keeps safetensors only: the download (or an official ``.pth`` an older version left
    there) is checked against FID_WEIGHTS_SHA256, converted, and the ``.pth`` removed.
    """
    named = path or os.environ.get(WEIGHTS_ENV_VAR) or None
    if named:
        if not os.path.isfile(named):
            source = "path" if path else f"${WEIGHTS_ENV_VAR}"
            raise InceptionWeightsError(f"the FID Inception weights file {named} (from {source}) does not exist")
        return named
    folder = cache_dir or default_cache_dir()
    cached, legacy = os.path.join(folder, FID_WEIGHTS_SAFETENSORS), os.path.join(folder, FID_WEIGHTS_FILE)
    if os.path.isfile(cached):
        return cached
    if not os.path.isfile(legacy):
        if not download:
            raise InceptionWeightsError(f"no FID Inception weights at {cached} and downloading is off. "
                                        f"{_HOW_TO_PROVIDE}")
        log.info("downloading the FID Inception weights (95.6 MB) from %s to %s", FID_WEIGHTS_URL, folder)
        _download(FID_WEIGHTS_URL, legacy, FID_WEIGHTS_SHA256)
    convert_weights(legacy, cached)  # refuses anything but the official file
    os.remove(legacy)
    log.info("converted the FID Inception weights to %s", cached)
    return cached


def read_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """Tensors of a safetensors file; a pickle / ``torch.save`` file is refused unread (see :func:`convert_weights`)."""
    from ..errors import CheckpointError
    from ..utils.safeio import read_tensors, sniff

    kind = sniff(path)
    if kind in ("pickle", "zip"):
        raise InceptionWeightsError(f"{path} is a pickle/torch.save file: refused, ganforge never unpickles "
                                    f"(unpickling can run code); convert it once with `python {CONVERTER} {path}`")
    if kind != "safetensors":
        raise InceptionWeightsError(f"{path} is not a safetensors weights file ({kind})")
    try:
        return read_tensors(path)
    except CheckpointError as e:
        raise InceptionWeightsError(str(e)) from None


def weights_identity(path: str, state: Dict[str, torch.Tensor]) -> str:
    """The SHA-256 that names these weights in evaluation protocols: the converted source file's (as recorded by
    :func:`convert_weights`, while the tensors still match their recorded digest), else the file's own."""
    from safetensors import safe_open

    with safe_open(path, "pt") as f:
        meta = f.metadata() or {}
    source, digest = meta.get("source_sha256", ""), meta.get("tensors_sha256", "")
    if len(source) == 64 and digest and digest == _tensors_digest(state):
        return source
    return sha256_file(path)
