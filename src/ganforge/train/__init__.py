"""Training: the generic Trainer loop, checkpoints, EMA, logging."""
from .checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from .trainer import RunResult, Trainer

__all__ = ["Trainer", "RunResult", "save_checkpoint", "load_checkpoint", "latest_checkpoint"]
