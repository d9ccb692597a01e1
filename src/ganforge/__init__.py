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


__all__ = ["__version__", "load", "train"]
