"""The Generator / Discriminator contract every model follows (DESIGN.md §3)."""
from __future__ import annotations

from typing import Dict, Optional

import torch
from torch import nn

from ..errors import ConfigError


class Generator(nn.Module):
    """Maps latent codes z (and optional labels y) to samples.

    Subclasses set `z_dim`, `num_classes` (0 when unconditional) and `out_shape`, implement `forward(z, y=None)`,
    and list their dissectable layers in `feature_layers()`.
    """

    z_dim: int = 0
    num_classes: int = 0
    out_shape: tuple = ()

    def sample_z(self, n: int, generator: Optional[torch.Generator] = None, device=None) -> torch.Tensor:
        """n latent codes from the prior N(0, I)."""
        device = device if device is not None else next(self.parameters()).device
        z = torch.randn(n, self.z_dim, generator=generator, device="cpu" if generator is not None else device)
        return z.to(device)

    def feature_layers(self) -> Dict[str, nn.Module]:
        """Named intermediate layers whose outputs dissection and latent tools may hook."""
        return {}


class Translator(nn.Module):
    """Maps an image of one domain to an image of another (DESIGN.md §10): pix2pix, CycleGAN, DiscoGAN, pix2pixHD,
    SRGAN. `forward(x)` takes a batch shaped like the dataset's `x` (N×C×H×W in [-1, 1]) and returns one shaped
    like its `target` (`out_shape`). There is no latent code (`z_dim` 0): where a paper keeps randomness (pix2pix's
    dropout) it lives inside the network. Subclasses set `in_shape` and `out_shape`."""

    translates = True  # the contract flag that the Trainer's pictures, evaluation and the API read
    z_dim: int = 0
    num_classes: int = 0
    in_shape: tuple = ()
    out_shape: tuple = ()

    def feature_layers(self) -> Dict[str, nn.Module]:
        return {}


def translate_batch(module, batch) -> torch.Tensor:
    """A Translator applied to a Batch: module(batch.x), with the batch's instance map for translators that take
    one (``takes_instance``: pix2pixHD)."""
    if getattr(module, "takes_instance", False) and "instance" in batch.attrs:
        return module(batch.x, instance=batch.attrs["instance"])
    return module(batch.x)


def translates(module) -> bool:
    """Whether `module` (or a loaded run's `.generator`) is an image-to-image Translator."""
    module = getattr(module, "generator", module)
    return bool(getattr(module, "translates", False))


class Discriminator(nn.Module):
    """Maps samples (and optional labels) to one logit per sample (N,), never a probability.

    `forward_with_features(x, y)` returns (logits, features): the features are the last hidden layer's output
    (N×C×H×W or N×C) — what feature matching, auxiliary heads (AC-GAN, InfoGAN's Q) and probes read.
    """

    num_classes: int = 0

    def forward_with_features(self, x: torch.Tensor, y=None):
        raise NotImplementedError(f"{type(self).__name__} does not expose its features")


def normal_init(module: nn.Module, std: float = 0.02) -> None:
    """DCGAN initialisation (Radford et al. 2016, §4): conv/linear weights N(0, std); BN weight N(1, std), bias 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)


def image_shape(info, family: str) -> tuple:
    """The dataset's C×H×W sample shape; a clear error for point data (a model family that needs images)."""
    if not info.is_image:
        raise ConfigError(f"{family} models need image data (C×H×W), this dataset yields shape {info.shape}")
    return info.shape


def dataset_classes(info, what: str) -> int:
    """The dataset's number of classes; a clear error when `what` (a conditional model) meets unlabelled data."""
    if not info.num_classes:
        raise ConfigError(f"{what} needs labelled data; this dataset has no classes")
    return info.num_classes


def check_classes(y, num_classes: int) -> torch.Tensor:
    """Class indices for a generator with `num_classes` classes (0 … K−1), else a one-line ConfigError (also for
    labels given to an unconditional generator)."""
    y = torch.as_tensor(y, dtype=torch.long)
    if not num_classes:
        raise ConfigError("this generator is unconditional: it takes no class labels")
    bad = y[(y < 0) | (y >= num_classes)]
    if len(bad):
        raise ConfigError(f"class index {int(bad[0])} is out of range: this generator has {num_classes} classes "
                          f"(0–{num_classes - 1})")
    return y


def cycled_labels(generator, n: int, device=None) -> Optional[torch.Tensor]:
    """Labels 0, 1, …, K−1, 0, 1, … for n samples of a class-conditional generator (one class per grid column);
    None for an unconditional one."""
    k = getattr(generator, "num_classes", 0)
    return torch.arange(n, device=device) % k if k else None
