"""ganforge: train, evaluate, explore and explain Generative Adversarial Networks.

The top-level functions are the public functions of `ganforge.api` (and `ganforge.stylize.api.stylize`): each
imports its module only when called, so `import ganforge` stays light, and passes every argument through.
"""

__version__ = "0.1.0"


def load(run_dir, *args, **kwargs):
    """Load a trained generator from a run directory (see :func:`ganforge.api.load`)."""
    from .api import load as _load

    return _load(run_dir, *args, **kwargs)


def load_discriminator(run_dir, *args, **kwargs):
    """Load a run's newest discriminator, in eval mode (see :func:`ganforge.api.load_discriminator`)."""
    from .api import load_discriminator as _load_discriminator

    return _load_discriminator(run_dir, *args, **kwargs)


def evaluate(run_dir, *args, **kwargs):
    """Score a run's newest checkpoint (FID, KID, IS, precision/recall, …) and record the scores in the run
    (see :func:`ganforge.api.evaluate`)."""
    from .api import evaluate as _evaluate

    return _evaluate(run_dir, *args, **kwargs)


def train(config, *args, **kwargs):
    """Train a GAN from a preset name, YAML path or config object (see :func:`ganforge.api.train`)."""
    from .api import train as _train

    return _train(config, *args, **kwargs)


def dissect(generator, *args, **kwargs):
    """GAN Dissection of one generator layer (see :func:`ganforge.api.dissect`)."""
    from .api import dissect as _dissect

    return _dissect(generator, *args, **kwargs)


def intervene(generator, *args, **kwargs):
    """Ablate or insert units of a generator layer; returns (before, after) images (see
    :func:`ganforge.api.intervene`)."""
    from .api import intervene as _intervene

    return _intervene(generator, *args, **kwargs)


def stylize(content, *args, **kwargs):
    """AdaIN style transfer of `content` in the style of `style` (tensors, PIL images or paths; see
    :func:`ganforge.stylize.api.stylize`)."""
    from .stylize.api import stylize as _stylize

    return _stylize(content, *args, **kwargs)


__all__ = ["__version__", "dissect", "evaluate", "intervene", "load", "load_discriminator", "stylize", "train"]
