"""Datasets: bundled (MNIST-5k, 8×8 digits), procedural (toy mixtures, shapes) and users' folders / .npz files.

Every dataset is registered by name with a typed config, builds a :class:`TensorDataset` and yields
:class:`Batch` objects.
"""
from . import (audio, bundled, folder, folder_pairs, shapes, super_resolution, talking_heads, text, toy,  # noqa: F401
               toy_domains, translation)  # (registers the datasets)
from .base import BatchStream, DataInfo, TensorDataset
from .batch import Batch
from .registry import build_dataset, dataset_names

__all__ = ["Batch", "BatchStream", "DataInfo", "TensorDataset", "build_dataset", "dataset_names"]
