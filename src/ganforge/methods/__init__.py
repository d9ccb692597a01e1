"""GAN training recipes, one file per paper. Each registers its Method class with its typed config."""
from . import standard  # noqa: F401  (registers the methods)
from ..registry import METHODS
from .base import Method


def build_method(config, info) -> Method:
    return METHODS.get(config.method.name).builder.from_config(config, info)


__all__ = ["Method", "build_method"]
