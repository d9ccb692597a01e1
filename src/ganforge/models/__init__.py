"""Generators and discriminators, one file per paper; each registers itself with its typed config.

Every module of this package is imported here, so a new architecture is a new file and nothing else changes.
"""
import importlib
import pkgutil

from .base import Discriminator, Generator
from ..registry import DISCRIMINATORS, GENERATORS

for _m in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_m.name}")


def build_generator(cfg, info) -> Generator:
    return GENERATORS.get(cfg.name).builder(cfg, info)


def build_discriminator(cfg, info) -> Discriminator:
    return DISCRIMINATORS.get(cfg.name).builder(cfg, info)


__all__ = ["Generator", "Discriminator", "build_generator", "build_discriminator"]
