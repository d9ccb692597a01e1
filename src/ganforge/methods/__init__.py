"""GAN training recipes, one file per paper. Each registers its Method class with its typed config.

Every module of this package is imported here, so a new recipe is a new file and nothing else changes.
"""
import importlib
import pkgutil

from ..registry import METHODS
from .base import Method

for _m in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_m.name}")


def build_method(config, info) -> Method:
    return METHODS.get(config.method.name).builder.from_config(config, info)


__all__ = ["Method", "build_method"]
