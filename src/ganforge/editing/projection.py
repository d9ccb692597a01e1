"""Projecting real images onto the generator's manifold: iGAN's three projectors (Zhu et al., ECCV 2016, §3.1).

* "opt": optimise the code to minimise the reconstruction loss (features.py) of G(code) against the image,
  from `starts` random draws of the prior, keeping the best per image. iGAN runs L-BFGS-B on z = tanh(z′)
  (its prior is uniform on [−1, 1]); ganforge's priors are N(0, I) (or W), so the code is optimised directly, with
  Adam (lr 0.05 by default: per-image L-BFGS is slower to start on a CPU for the same error).
* "encoder": one forward pass of a trained encoder P (encoder.py).
* "hybrid": P's prediction as the single start of the optimisation (the official `cnn_opt`, "default and best").

Every projector returns a :class:`Projection` with its per-image pixel error (mean squared error in [−1, 1]
units), its loss and its wall time.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Optional

import torch

from ..errors import GanforgeError
from .features import FEATURE_WEIGHT, default_feature_net, pixel_error, reconstruction_loss
from .space import LatentSpace

METHODS = ("opt", "encoder", "hybrid")


@dataclass
class Projection:
    latent: torch.Tensor  # N×dim codes in `space`
    image: torch.Tensor  # N×C×H×W reconstructions G(code), CPU, [-1, 1]
    error: torch.Tensor  # N pixel MSE against the target
    loss: torch.Tensor  # N values of the optimised loss (pixel + feature)
    method: str
    space: str
    steps: int
    seconds: float


def optimise_latent(ls: LatentSpace, target: torch.Tensor, init: torch.Tensor, steps: int = 100, lr: float = 0.05,
                    features=None, feature_weight: float = FEATURE_WEIGHT,
                    extra: Optional[Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = None):
    """Adam on the codes `init` (M×dim) towards `target` (M×C×H×W): returns (codes, per-sample loss). `extra(code,
    image)` may add a per-sample term (constrained editing uses it)."""
    latent = init.detach().clone().to(ls.device).requires_grad_(True)
    target = target.to(ls.device)
    with torch.no_grad():
        tf = features(target) if features is not None and feature_weight > 0 else None
    opt = torch.optim.Adam([latent], lr=lr)
    for _ in range(int(steps)):
        image = ls.decode(latent)
        loss = reconstruction_loss(image, target, features, feature_weight, tf)
        if extra is not None:
            loss = loss + extra(latent, image)
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()
    with torch.no_grad():
        image = ls.decode(latent)
        loss = reconstruction_loss(image, target, features, feature_weight, tf)
        if extra is not None:
            loss = loss + extra(latent, image)
    return latent.detach(), loss.detach()


def check_images(x: torch.Tensor, shape: tuple) -> torch.Tensor:
    if x.dim() == 3:
        x = x[None]
    if x.dim() != 4 or tuple(x.shape[1:]) != tuple(shape):
        raise GanforgeError(f"images must be N×{'×'.join(map(str, shape))} in [-1, 1] for this generator, got "
                            f"{tuple(x.shape)} (read files with ganforge.editing.read_image, which converts them)")
    return x.float()


def project(g, x: torch.Tensor, method: str = "hybrid", encoder=None, steps: int = 100, lr: float = 0.05,
            starts: int = 1, features="auto", feature_weight: float = FEATURE_WEIGHT, space: str = "auto",
            y: Optional[int] = None, seed: int = 0) -> Projection:
    """Project images `x` (N×C×H×W in [-1, 1], the generator's shape) by `method` ("opt", "encoder", "hybrid").
    `encoder`: a callable image -> code (a LatentEncoder, or an IAN discriminator's `encode_mean`), needed by
    "encoder" and "hybrid". `starts`: random starts per image for "opt". `steps` = 0 turns "hybrid" into "encoder".
    """
    if method not in METHODS:
        raise GanforgeError(f"projection method must be one of {', '.join(METHODS)}, got {method!r}")
    if method != "opt" and encoder is None:
        raise GanforgeError(f"the {method!r} projection needs a trained encoder (ganforge train-encoder RUN), or use "
                            f"method 'opt'")
    ls = LatentSpace(g, space, y)
    ls.module.eval()
    enc_cfg = getattr(encoder, "config", None)
    if method != "opt" and enc_cfg is not None and (enc_cfg.space, enc_cfg.dim) != (ls.space, ls.dim):
        raise GanforgeError(f"the encoder predicts {enc_cfg.space} codes of width {enc_cfg.dim}; this projection "
                            f"works in {ls.space} (width {ls.dim}): train an encoder for it")
    x = check_images(x, ls.image_shape).to(ls.device)
    feats = default_feature_net(ls.image_shape[0], ls.device) if features == "auto" else features
    started = time.perf_counter()
    n = len(x)
    with torch.no_grad():
        init = ls.initial(n * starts, torch.Generator().manual_seed(seed)) if method == "opt" \
            else encoder(x).to(ls.device)
    steps = 0 if method == "encoder" else int(steps)
    with torch.enable_grad():
        target = x.repeat_interleave(starts, 0) if method == "opt" else x
        latent, loss = optimise_latent(ls, target, init, steps, lr, feats, feature_weight)
    if method == "opt" and starts > 1:
        best = loss.view(n, starts).argmin(1) + torch.arange(n, device=loss.device) * starts
        latent, loss = latent[best], loss[best]
    with torch.no_grad():
        image = ls.decode(latent).float()
    seconds = time.perf_counter() - started
    return Projection(latent.cpu(), image.cpu(), pixel_error(image, x).cpu(), loss.cpu(), method, ls.space, steps,
                      seconds)
