"""A package that is also a function of the top-level API.

``ganforge.train``, ``ganforge.dissect`` and ``ganforge.stylize`` each name both a subpackage and a facade
function on ``ganforge``. Importing a subpackage binds it as an attribute of its parent, replacing the function, so
such a package module is made callable: calling it calls the facade, imported only at call time (the package keeps
its place in the layering)."""
from __future__ import annotations

import importlib
import sys
import types


def make_callable(package: str, facade: str) -> None:
    """Let the module `package` be called like the function `facade` ("module:function", imported lazily)."""
    module_name, function = facade.split(":")

    class _CallablePackage(types.ModuleType):
        def __call__(self, *args, **kwargs):
            return getattr(importlib.import_module(module_name), function)(*args, **kwargs)

    _CallablePackage.__call__.__doc__ = f"Calls {facade.replace(':', '.')}."
    sys.modules[package].__class__ = _CallablePackage
