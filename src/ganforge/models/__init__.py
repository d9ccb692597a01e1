"""Generators and discriminators, one file per paper; each registers itself with its typed config."""
from . import dcgan, mlp  # noqa: F401  (registers the models)
from .base import Discriminator, Generator
from ..registry import DISCRIMINATORS, GENERATORS


def build_generator(cfg, info) -> Generator:
    return GENERATORS.get(cfg.name).builder(cfg, info)


def build_discriminator(cfg, info) -> Discriminator:
    return DISCRIMINATORS.get(cfg.name).builder(cfg, info)


__all__ = ["Generator", "Discriminator", "build_generator", "build_discriminator"]
