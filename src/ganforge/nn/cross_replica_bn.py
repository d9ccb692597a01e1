"""Cross-replica batch norm on any device: BatchNorm whose batch statistics are those of the global batch.

BigGAN (Brock, Donahue & Simonyan, "Large Scale GAN Training for High Fidelity Natural Image Synthesis", ICLR 2019,
§3 and App. C) computes G's batch-norm statistics across all devices ("cross-replica BatchNorm"), so that the
statistics, and with them the samples, do not depend on how the batch is split. PyTorch's `nn.SyncBatchNorm` does
this on GPUs only; `CrossReplicaBatchNorm` is a subclass that does it with one differentiable all-reduce per layer
(the sums of x and x² about a shift every rank shares), so a gloo run on CPUs normalises — and back-propagates —
like one process holding the whole batch. On CUDA it defers to `nn.SyncBatchNorm`'s own kernels.
"""
from __future__ import annotations

import contextlib

import torch
import torch.distributed as dist
from torch import nn


def _world(group) -> int:
    if not (dist.is_available() and dist.is_initialized()):
        return 1
    return dist.get_world_size(group or dist.group.WORLD)


class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks; its gradient is the sum over ranks of the gradients (every rank's loss depends on it)."""

    @staticmethod
    def forward(ctx, x, group):
        ctx.group = group
        out = x.clone()
        dist.all_reduce(out, group=group)
        return out

    @staticmethod
    def backward(ctx, grad):
        grad = grad.clone()
        dist.all_reduce(grad, group=ctx.group)
        return grad, None


def all_reduce_sum(x: torch.Tensor, group=None) -> torch.Tensor:
    return _AllReduceSum.apply(x, group or dist.group.WORLD)


class CrossReplicaBatchNorm(nn.SyncBatchNorm):
    """`nn.SyncBatchNorm` that also synchronises on CPU (see the module docstring). Inside `local_statistics` it is
    a plain per-rank BatchNorm."""

    local = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.local or not self.training or _world(self.process_group) < 2:
            return nn.modules.batchnorm._BatchNorm.forward(self, x)
        if x.device.type == "cuda":
            return super().forward(x)
        self._check_input_dim(x)
        out_dtype = x.dtype
        x = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x  # statistics in float32, as autocast's BN
        group = self.process_group or dist.group.WORLD
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked)
        dims = [0] + list(range(2, x.dim()))
        shape = [1, -1] + [1] * (x.dim() - 2)
        # One all-reduce of the sums of d = x − K and of d²: K is the running mean, equal on every rank (buffers are
        # broadcast at the start and updated with global statistics) and near the batch mean, so the variance
        # E[d²] − E[d]² does not cancel catastrophically as it would with K = 0.
        shift = self.running_mean.detach().to(x.dtype, copy=True) if self.track_running_stats \
            else x.new_zeros(x.shape[1])
        d = x - shift.view(shape)
        local_n = torch.tensor([x.numel() // x.shape[1]], dtype=x.dtype, device=x.device)
        total = all_reduce_sum(torch.cat([d.sum(dims), (d * d).sum(dims), local_n]), group)
        c, count = x.shape[1], total[-1]
        offset = total[:c] / count
        var = (total[c:2 * c] / count - offset * offset).clamp(min=0)
        mean = shift + offset
        centred = x - mean.view(shape)
        if self.track_running_stats:
            with torch.no_grad():
                self.running_mean.lerp_(mean.detach(), factor)
                self.running_var.lerp_(var.detach() * count / (count - 1).clamp(min=1), factor)
        y = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y.to(out_dtype)


@contextlib.contextmanager
def local_statistics(module: nn.Module):
    """Per-rank statistics inside the block: for passes that not every rank makes (e.g. recomputing an EMA copy's
    statistics from a seeded draw, which every rank would compute identically), so no all-reduce waits for peers."""
    layers = [m for m in module.modules() if isinstance(m, CrossReplicaBatchNorm)]
    for m in layers:
        m.local = True
    try:
        yield module
    finally:
        for m in layers:
            m.local = False


def convert_cross_replica(module: nn.Module, process_group=None) -> nn.Module:
    """Every BatchNorm layer of `module` as a `CrossReplicaBatchNorm` with the same parameters and buffers (what
    `nn.SyncBatchNorm.convert_sync_batchnorm` does, with the class that also works on CPU)."""
    module = nn.SyncBatchNorm.convert_sync_batchnorm(module, process_group)
    for m in module.modules():
        if type(m) is nn.SyncBatchNorm:
            m.__class__ = CrossReplicaBatchNorm
    return module
