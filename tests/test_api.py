"""The top-level API: `ganforge.<name>` for every public function of ganforge.api (and stylize), each passing every
argument through, positional or keyword, to the function it names — both as `import ganforge` alone binds it (a
lazy facade) and once a same-named subpackage (train, dissect, stylize) has replaced it by a callable module."""
import importlib
import importlib.util
import inspect

import pytest

import ganforge
from ganforge import api

IMPLEMENTED_IN = {"stylize": "ganforge.stylize.api"}  # everything else: ganforge.api


def _fresh_facade():
    """ganforge/__init__.py executed afresh as a module of the ganforge package: the names as `import ganforge`
    alone binds them, before any subpackage import rebinds train/dissect/stylize (the real package is untouched)."""
    spec = importlib.util.spec_from_file_location("ganforge_fresh_facade", ganforge.__file__)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "ganforge"
    spec.loader.exec_module(module)
    return module


def _api_functions():
    return {name for name, f in vars(api).items()
            if inspect.isfunction(f) and f.__module__ == api.__name__ and not name.startswith("_")}


def test_all_lists_every_public_api_function():
    exported = set(ganforge.__all__) - {"__version__"}
    assert exported == _api_functions() | set(IMPLEMENTED_IN)
    assert "evaluate" in exported
    assert ganforge.__version__


@pytest.mark.parametrize("fresh", [True, False], ids=["facade", "as-bound-now"])
@pytest.mark.parametrize("name", sorted(set(ganforge.__all__) - {"__version__"}))
def test_each_exported_name_calls_its_api_function_with_every_argument(name, fresh, monkeypatch):
    """Each parameter of the api function gets its own sentinel, passed positionally where the api function takes
    it so (keyword-only ones by keyword, one extra keyword for **kwargs); the api function must receive exactly
    those arguments and its result must come back."""
    module = importlib.import_module(IMPLEMENTED_IN.get(name, "ganforge.api"))
    signature = inspect.signature(getattr(module, name))
    args, kwargs = [], {}
    for p in signature.parameters.values():
        if p.kind is p.POSITIONAL_OR_KEYWORD:
            args.append(object())
        elif p.kind is p.KEYWORD_ONLY:
            kwargs[p.name] = object()
        elif p.kind is p.VAR_KEYWORD:
            kwargs["some_option"] = object()
    calls, result = [], object()

    def recorder(*a, **k):
        calls.append((a, k))
        return result

    monkeypatch.setattr(module, name, recorder)
    function = getattr(_fresh_facade() if fresh else ganforge, name)
    assert callable(function)
    assert function(*args, **kwargs) is result
    (got_args, got_kwargs), = calls
    assert signature.bind(*got_args, **got_kwargs).arguments == signature.bind(*args, **kwargs).arguments


def test_loaded_conditional_generator_draws_the_asked_class_and_refuses_others():
    """`sample(y=k)` feeds class k to G for every sample (the same images as calling G by hand); a class outside
    0…K−1, or a class for an unconditional G, is a one-line ConfigError instead of an IndexError deep in G."""
    import torch

    from ganforge.api import LoadedGenerator
    from ganforge.errors import ConfigError
    from ganforge.models.dcgan import DCGANGenerator

    torch.manual_seed(0)
    cond = LoadedGenerator(DCGANGenerator((1, 16, 16), z_dim=8, channels=8, num_classes=10), None, None, "", "cpu")
    x = cond.sample(6, seed=3, y=4)
    with torch.no_grad():
        expected = cond.generator(cond.latents(6, seed=3), torch.full((6,), 4))
    assert torch.equal(x, expected)
    assert not torch.equal(x, cond.sample(6, seed=3, y=5))
    for bad in (10, -1):
        with pytest.raises(ConfigError, match="out of range.*(0–9)"):
            cond.sample(2, y=bad)
    plain = LoadedGenerator(DCGANGenerator((1, 16, 16), z_dim=8, channels=8), None, None, "", "cpu")
    with pytest.raises(ConfigError, match="unconditional"):
        plain.sample(2, y=0)
