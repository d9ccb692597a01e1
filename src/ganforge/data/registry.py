"""Building a dataset from its config section."""
from __future__ import annotations

from ..registry import DATASETS


def build_dataset(cfg):
    """Build the dataset named by `cfg.name` (the typed config registered with it) -> TensorDataset."""
    return DATASETS.get(cfg.name).builder(cfg)


def dataset_names():
    return DATASETS.names()
