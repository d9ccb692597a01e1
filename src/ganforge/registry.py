"""Name -> (builder, config dataclass) registries for datasets, generators, discriminators and methods.

A component registers itself with its typed config; the config loader uses the dataclass to validate keys, so a
new GAN is a new file that registers its parts, and nothing else changes.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Callable, Dict


@dataclass(frozen=True)
class Entry:
    name: str
    builder: Callable[..., Any]
    config_cls: type


class Registry:
    def __init__(self, kind: str):
        self.kind = kind
        self._entries: Dict[str, Entry] = {}

    def register(self, name: str, config_cls: type):
        def deco(builder):
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._entries[name] = Entry(name, builder, config_cls)
            return builder

        return deco

    def get(self, name: str) -> Entry:
        _import_builtin_components()
        if name not in self._entries:
            from .errors import ConfigError

            close = difflib.get_close_matches(str(name), list(self._entries), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"unknown {self.kind} {name!r}.{hint} Known: {', '.join(sorted(self._entries))}")
        return self._entries[name]

    def names(self):
        _import_builtin_components()
        return sorted(self._entries)


DATASETS = Registry("dataset")
GENERATORS = Registry("generator")
DISCRIMINATORS = Registry("discriminator")
METHODS = Registry("method")


def _import_builtin_components():
    # Importing the packages runs their @register decorators.
    from . import data, methods, models  # noqa: F401
