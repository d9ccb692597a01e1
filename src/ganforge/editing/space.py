"""The latent space a projection or an edit moves in: z for ordinary generators, w for style-based ones.

iGAN (Zhu, Krähenbühl, Shechtman, Efros, "Generative Visual Manipulation on the Natural Image Manifold", ECCV
2016, §3.1) optimises the DCGAN's z. For a style-based generator (StyleGAN) the better-behaved space is W (one w
broadcast to every layer, the layers' noise fixed: each layer's stored noise in eval mode), as later projectors do
(Karras et al. 2020, StyleGAN2 §5). `LatentSpace` hides the difference: `decode(latent)` draws images, `dim` is the
code's width, `initial(n, generator)` gives starting points drawn from the prior (z) or its image under the
mapping (w). A class-conditional generator needs its class fixed (`y`): the code is z only.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from ..errors import GanforgeError


def generator_module(g) -> nn.Module:
    """A LoadedGenerator or a Generator module -> the module (eval mode is the caller's business)."""
    return getattr(g, "generator", g)


class LatentSpace:
    """`space` is "z", "w" or "auto" (w for style-based generators, z otherwise)."""

    def __init__(self, g, space: str = "auto", y: Optional[int] = None):
        module = generator_module(g)
        if getattr(module, "translates", False):
            raise GanforgeError(f"{type(module).__name__} is an image-to-image translator (it has no latent code): "
                                f"projection and latent editing need a generator that samples from z")
        shape = tuple(getattr(module, "out_shape", ()))
        if len(shape) != 3:
            raise GanforgeError(f"{type(module).__name__} does not draw images (output shape {shape}): projection "
                                f"needs an image generator")
        style = all(hasattr(module, a) for a in ("mapping", "synthesis", "num_ws"))
        if space == "auto":
            space = "w" if style else "z"
        if space not in ("z", "w"):
            raise GanforgeError(f"latent space must be z, w or auto, got {space!r}")
        if space == "w" and not style:
            raise GanforgeError(f"{type(module).__name__} is not style-based: it has no W space, project in z")
        k = int(getattr(module, "num_classes", 0) or 0)
        if k and y is None:
            raise GanforgeError(f"this generator is class-conditional ({k} classes): give the class to project "
                                f"into (y=…, --class K)")
        if not k and y is not None:
            raise GanforgeError("this generator is unconditional: it takes no class")
        if k and not 0 <= int(y) < k:
            raise GanforgeError(f"class {y} is out of range: this generator has classes 0–{k - 1}")
        self.module, self.space, self.y = module, space, None if y is None else int(y)
        self.image_shape = shape

    @property
    def device(self) -> torch.device:
        return next(self.module.parameters()).device

    @property
    def dim(self) -> int:
        return int(self.module.w_dim if self.space == "w" else self.module.z_dim)

    def labels(self, n: int) -> Optional[torch.Tensor]:
        return None if self.y is None else torch.full((n,), self.y, dtype=torch.long, device=self.device)

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """N×dim codes -> N×C×H×W images in [-1, 1] (differentiable; the generator must be in eval mode)."""
        latent = latent.to(self.device)
        if self.space == "w":
            return self.module.synthesis(latent.unsqueeze(1).expand(-1, self.module.num_ws, -1))
        return self.module(latent, self.labels(len(latent)))

    @torch.no_grad()
    def from_z(self, z: torch.Tensor) -> torch.Tensor:
        """Prior draws z -> codes of this space (z itself, or mapping(z))."""
        z = z.to(self.device)
        return self.module.mapping(z) if self.space == "w" else z

    def initial(self, n: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """n starting codes from the prior (iGAN's random initialisations)."""
        z = torch.randn(n, int(self.module.z_dim), generator=generator)
        return self.from_z(z)
