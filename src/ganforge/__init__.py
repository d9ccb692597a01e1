"""ganforge: train, evaluate, explore and explain Generative Adversarial Networks."""

__version__ = "0.1.0"


def load(run_dir, **kwargs):
    """Load a trained generator from a run directory (see :func:`ganforge.api.load`)."""
    from .api import load as _load

    return _load(run_dir, **kwargs)


def train(config, **kwargs):
    """Train a GAN from a preset name, YAML path or config object (see :func:`ganforge.api.train`)."""
    from .api import train as _train

    return _train(config, **kwargs)


def dissect(generator, segmenter="shapes", layer=None, n=1000, **kwargs):
    """GAN Dissection of one generator layer (see :func:`ganforge.api.dissect`)."""
    from .api import dissect as _dissect

    return _dissect(generator, segmenter, layer, n=n, **kwargs)


def intervene(generator, layer, units, mode="ablate", **kwargs):
    """Ablate or insert units of a generator layer; returns (before, after) images (see
    :func:`ganforge.api.intervene`)."""
    from .api import intervene as _intervene

    return _intervene(generator, layer, units, mode, **kwargs)


def stylize(content, style, alpha=1.0, **kwargs):
    """AdaIN style transfer of `content` in the style of `style` (tensors, PIL images or paths; see
    :func:`ganforge.stylize.api.stylize`)."""
    from .stylize.api import stylize as _stylize

    return _stylize(content, style, alpha, **kwargs)


__all__ = ["__version__", "dissect", "intervene", "load", "stylize", "train"]
