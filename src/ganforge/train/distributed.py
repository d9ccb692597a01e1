"""Data-parallel training on PyTorch's own distributed engine, launched by `torchrun`.

`torchrun --nproc_per_node N -m ganforge train PRESET` starts N processes with RANK / WORLD_SIZE / LOCAL_RANK in
their environment; each joins the process group (gloo on CPU, NCCL on GPUs), takes its strided share of every
global batch and of every global batch of latent codes, and averages gradients with one all-reduce per optimiser
step (the scheme of NVIDIA's StyleGAN3 training loop: GAN steps run D on several batches and back-propagate G's
loss through D, which the DistributedDataParallel wrapper handles poorly; an explicit all-reduce is exact for
every Method). With global batch B, N ranks therefore compute the same update as one process with batch B.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Iterable, List, Optional, Tuple

import torch
import torch.distributed as dist

from ..nn.cross_replica_bn import convert_cross_replica

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_from_env(device_name: str) -> DistInfo:
    """Join the process group torchrun describes in the environment (no-op for a single process)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    info = DistInfo(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        use_cuda = device_name != "cpu" and torch.cuda.is_available()
        if use_cuda:
            torch.cuda.set_device(info.local_rank)
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
        log.info("rank %d of %d joined the %s process group", info.rank, world, dist.get_backend())
    return info


def checked_device(name: str) -> torch.device:
    """A device name ("auto", "cpu", "cuda", "cuda:1", "mps", ...) as a torch.device this machine has; a
    ConfigError in one line otherwise (a typo, or a config copied from a GPU machine)."""
    from ..errors import ConfigError

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ConfigError(f"unknown device {name!r}: use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r}: this torch sees no CUDA device; use auto or cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ConfigError(f"device {name!r}: there are only {torch.cuda.device_count()} CUDA device(s)")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError(f"device {name!r}: MPS is not available here; use auto or cpu")
    if device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"device {name!r} is not supported: use auto, cpu, cuda, cuda:N or mps")
    return device


def device_for(info: DistInfo, device_name: str) -> torch.device:
    device = checked_device(device_name)
    if info.enabled and device.type == "cuda":
        return torch.device("cuda", info.local_rank)
    return device


def broadcast_module(module: torch.nn.Module) -> None:
    """Make every rank start from rank 0's parameters and buffers."""
    for t in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(t.data, src=0)


def all_reduce_grads(params: Iterable[torch.nn.Parameter], world_size: int) -> None:
    """Average the gradients of `params` over all ranks with one flat all-reduce (no host sync)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat.div_(world_size)
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset : offset + n].view_as(g))
        offset += n


def all_mean(values: torch.Tensor) -> torch.Tensor:
    out = values.clone()
    dist.all_reduce(out)
    return out / dist.get_world_size()


def any_rank(flag: bool, device) -> bool:
    """True on every rank when `flag` is True on any rank (a collective: call it on all ranks together)."""
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def gather_rows(rows: torch.Tensor, device) -> Optional[torch.Tensor]:
    """Every rank's `rows` (N_r × ..., N_r may differ) concatenated in rank order on rank 0 (CPU); None elsewhere.
    A collective: all ranks call it together. Used to gather evaluation features."""
    parts, sizes = _all_gather_padded(rows, device)
    if dist.get_rank() != 0:
        return None
    return torch.cat([p[:n] for p, n in zip(parts, sizes)]).cpu()


def gather_bytes(payload: bytes, device) -> Optional[List[bytes]]:
    """Every rank's `payload` in rank order on rank 0; None elsewhere. A collective: all ranks call it together.
    Sent as uint8 tensors (gloo and NCCL alike), never pickled: used to checkpoint every rank's RNG state."""
    rows = torch.frombuffer(bytearray(payload), dtype=torch.uint8) if payload else torch.empty(0, dtype=torch.uint8)
    parts, sizes = _all_gather_padded(rows, device)
    if dist.get_rank() != 0:
        return None
    return [p[:n].cpu().numpy().tobytes() for p, n in zip(parts, sizes)]


def _all_gather_padded(rows: torch.Tensor, device) -> Tuple[List[torch.Tensor], List[int]]:
    """All ranks' `rows`, each padded to the longest (all_gather needs equal shapes), and their true lengths."""
    world = dist.get_world_size()
    rows = rows.to(device)
    count = torch.tensor([rows.shape[0]], device=device)
    counts = [torch.zeros_like(count) for _ in range(world)]
    dist.all_gather(counts, count)
    sizes = [int(c) for c in counts]
    padded = torch.zeros((max(sizes),) + tuple(rows.shape[1:]), dtype=rows.dtype, device=device)
    padded[: rows.shape[0]] = rows
    parts = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded)
    return parts, sizes


def sync_batchnorm(module: torch.nn.Module) -> torch.nn.Module:
    """BatchNorm statistics over the global batch (BigGAN's cross-replica BN): `nn.SyncBatchNorm` on GPUs, the same
    computation with differentiable all-reduces elsewhere (nn/cross_replica_bn.py)."""
    return convert_cross_replica(module)


def shutdown() -> None:
    """Leave the process group after a run that ended normally on every rank: wait for all ranks first, so no rank
    tears its connections down while a peer is still finishing (gloo can abort a process that exits early)."""
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
