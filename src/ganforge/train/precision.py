"""Mixed precision (Micikevicius et al. 2018, "Mixed Precision Training"): autocast for the forward passes, fp32
master weights, and dynamic loss scaling for fp16 (bf16 has fp32's range and needs none)."""
from __future__ import annotations

import contextlib

import torch

from ..errors import ConfigError

DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def autocast(precision: str, device: torch.device):
    if precision not in DTYPES:
        raise ConfigError(f"train.precision must be one of {sorted(DTYPES)}, got {precision!r}")
    dtype = DTYPES[precision]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def grad_scaler(precision: str, device: torch.device):
    """A GradScaler for fp16, else None."""
    return torch.amp.GradScaler(device.type) if precision == "fp16" else None
