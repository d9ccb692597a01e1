"""The history of generated images that the discriminator sees (Shrivastava et al., "Learning from Simulated and
Unsupervised Images through Adversarial Training", CVPR 2017, §2.3), as CycleGAN uses it (Zhu et al., ICCV 2017,
§4 "Training details": a buffer of the 50 previously generated images; official `util/image_pool.py`).

Per image of a batch, in order: while the pool holds fewer than `pool_size` images, the image is stored and
returned as it is; once full, with probability 1/2 a uniformly chosen stored image is returned and the new image
takes its place, otherwise the new image is returned. Images are stored detached. `pool_size` 0 returns the batch
unchanged.

The random draws come from a `torch.Generator` passed in (CPU; seeded by the caller), never from the global
streams, so the pool's choices neither depend on nor disturb anything else. The contents, the fill count and
the generator's state are all in `state_dict()`, so a resumed run draws exactly what an uninterrupted one would.
"""
from __future__ import annotations

from typing import Optional

import torch


class ImagePool:
    def __init__(self, pool_size: int = 50, generator: Optional[torch.Generator] = None):
        if pool_size < 0:
            raise ValueError(f"pool_size must be ≥ 0, got {pool_size}")
        self.pool_size = int(pool_size)
        self.generator = generator if generator is not None else torch.Generator().manual_seed(0)
        self.images: Optional[torch.Tensor] = None  # pool_size × C × H × W once the first image arrives
        self.count = 0  # images stored so far (≤ pool_size)

    def __len__(self) -> int:
        return self.count

    @torch.no_grad()
    def query(self, images: torch.Tensor) -> torch.Tensor:
        """The batch D should see for these new fakes (see the module docstring)."""
        if self.pool_size == 0:
            return images
        images = images.detach()
        if self.images is None:
            self.images = torch.empty((self.pool_size, *images.shape[1:]), dtype=images.dtype, device=images.device)
        elif self.images.device != images.device or self.images.dtype != images.dtype:  # e.g. loaded on the CPU
            self.images = self.images.to(images.device, images.dtype)
        n = images.shape[0]
        # Two draws per image from the pool's own CPU generator: decisions are host values, no device sync.
        coins = torch.rand(n, generator=self.generator).tolist()
        slots = torch.randint(self.pool_size, (n,), generator=self.generator).tolist()
        out = []
        for i in range(n):
            image = images[i]
            if self.count < self.pool_size:
                self.images[self.count] = image
                self.count += 1
                out.append(image)
            elif coins[i] > 0.5:
                out.append(self.images[slots[i]].clone())
                self.images[slots[i]] = image
            else:
                out.append(image)
        return torch.stack(out)

    def state_dict(self) -> dict:
        state = {"pool_size": self.pool_size, "count": self.count, "rng": self.generator.get_state()}
        if self.count:
            state["images"] = self.images[: self.count].clone()
        return state

    def load_state_dict(self, state: dict) -> None:
        if int(state["pool_size"]) != self.pool_size:
            raise ValueError(f"image pool of size {state['pool_size']} loaded into one of size {self.pool_size}")
        self.generator.set_state(state["rng"].cpu())
        self.count = int(state["count"])
        if self.count:
            stored = state["images"]
            device = self.images.device if self.images is not None else stored.device
            self.images = torch.empty((self.pool_size, *stored.shape[1:]), dtype=stored.dtype, device=device)
            self.images[: self.count] = stored.to(device)
        else:
            self.images = None
