"""Training: the generic Trainer loop, checkpoints, EMA, logging. The package is also callable as
``ganforge.train(config, ...)`` (see ganforge._facade)."""
from .._facade import make_callable
from .checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from .trainer import RunResult, Trainer

__all__ = ["Trainer", "RunResult", "save_checkpoint", "load_checkpoint", "latest_checkpoint"]

make_callable(__name__, "ganforge.api:train")
