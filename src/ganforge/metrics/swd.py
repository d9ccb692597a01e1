"""Sliced Wasserstein Distance between Laplacian-pyramid patch descriptors, exactly as ProGAN defines it (Karras,
Aila, Laine, Lehtinen, "Progressive Growing of GANs for Improved Quality, Stability, and Variation", ICLR 2018,
§5 and App. D; code `metrics/sliced_wasserstein.py`; papers-details.md §2.4).

Procedure, per image set (standard: 16 384 images):
1. Images to float32 in [0, 255] (ProGAN works on uint8 images); grayscale tiled to 3 channels.
2. Laplacian pyramid with levels from full resolution down to 16 px: `pyr_down` = 5×5 binomial filter
   [1,4,6,4,1]ᵀ[1,4,6,4,1]/256 with mirror border (d c b | a b c d | c b a, = cv2.BORDER_REFLECT_101), then every
   2nd pixel (= cv2.pyrDown); `pyr_up` = zero-insert ×2 then the same filter ×4 (= cv2.pyrUp); level i is
   G_i − pyr_up(G_{i+1}), and **the last level is the Gaussian G_L itself**.
3. From every level, 128 random 7×7×C patches per image, centres uniform in [3, S−3) for x and y independently.
4. Per set and level: subtract the mean and divide by the (population) std **per colour channel** over all
   patches and pixels, then flatten to 147-d.
5. SWD(A, B): 4 repeats × 128 random unit directions (re-drawn on every call), project both sets, sort each
   projection, mean |sorted A − sorted B|, mean over repeats. Equal descriptor counts are required.
6. Report SWD × 1e3 per level and the average over levels.

Consequence of step 4 worth knowing: SWD is invariant to an affine change of intensity (brightness, contrast)
applied to a whole set, except where uint8 quantisation / clipping at 0 and 255 changes the pictures.
Randomness (patch centres, directions) comes from explicit seeded `torch.Generator`s — no global RNG.
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F

_BINOMIAL = (1.0, 4.0, 6.0, 4.0, 1.0)


def to_uint8_range(images: torch.Tensor, *, quantize: bool = True) -> torch.Tensor:
    """N×C×H×W images -> float32 in [0, 255]. uint8 is taken as is; floats are read as [-1, 1] and mapped by
    x·127.5 + 127.5, rounded (half to even, as `tf.round` in ProGAN's `out_dtype=np.uint8`) and clipped to
    [0, 255] when `quantize`; C = 1 is tiled to 3 channels (ProGAN)."""
    if images.ndim != 4:
        raise ValueError(f"images must be N×C×H×W, got shape {tuple(images.shape)}")
    if images.dtype == torch.uint8:
        x = images.float()
    elif images.is_floating_point():
        x = images.detach().float() * 127.5 + 127.5
        if quantize:
            x = x.round().clamp(0, 255)
    else:
        raise TypeError(f"images must be uint8 in [0, 255] or float in [-1, 1], got {images.dtype}")
    return x.repeat(1, 3, 1, 1) if x.shape[1] == 1 else x


def _blur(x: torch.Tensor, gain: float) -> torch.Tensor:
    """Separable 5-tap binomial blur ×gain with mirror (reflect-101) borders, per channel."""
    n, c, h, w = x.shape
    k = torch.tensor(_BINOMIAL, dtype=x.dtype, device=x.device) / 16.0
    y = F.pad(x.reshape(n * c, 1, h, w), (2, 2, 2, 2), mode="reflect")
    y = F.conv2d(y, (k * gain).view(1, 1, 1, 5))
    y = F.conv2d(y, k.view(1, 1, 5, 1))
    return y.reshape(n, c, h, w)


def pyr_down(x: torch.Tensor) -> torch.Tensor:
    """Gaussian blur then keep every 2nd pixel: cv2.pyrDown / ProGAN `pyr_down` (output ⌈H/2⌉ × ⌈W/2⌉)."""
    return _blur(x, 1.0)[:, :, ::2, ::2]


def pyr_up(x: torch.Tensor) -> torch.Tensor:
    """Zero-insert to 2H × 2W then blur ×4: cv2.pyrUp / ProGAN `pyr_up`."""
    n, c, h, w = x.shape
    up = x.new_zeros(n, c, 2 * h, 2 * w)
    up[:, :, ::2, ::2] = x
    return _blur(up, 4.0)


def laplacian_pyramid(x: torch.Tensor, num_levels: int) -> List[torch.Tensor]:
    """[L_0, …, L_{num_levels−2}, G_{num_levels−1}]: band-pass levels, the last one Gaussian (ProGAN)."""
    levels = [x.float()]
    for _ in range(1, num_levels):
        if levels[-1].shape[-1] % 2 or levels[-1].shape[-2] % 2:
            raise ValueError(f"pyramid level {tuple(levels[-1].shape[-2:])} must have even sides to go down")
        g = pyr_down(levels[-1])
        levels[-1] = levels[-1] - pyr_up(g)
        levels.append(g)
    return levels


def pyramid_resolutions(height: int, min_resolution: int = 16) -> List[int]:
    """[H, H/2, …] down to the last size ≥ min_resolution (ProGAN: `while res >= 16`)."""
    res, out = height, []
    while res >= min_resolution:
        out.append(res)
        res //= 2
    return out


def _draw_centres(n: int, shape: Tuple[int, int], num_levels: int, per_image: int, size: int,
                  gen: torch.Generator) -> List[Tuple[torch.Tensor, torch.Tensor]]:
    """Patch centres (ys, xs), each n × per_image, for every level of an H×W pyramid: uniform in [h, S−h)."""
    h, out = size // 2, []
    for i in range(num_levels):
        hgt, wid = shape[0] >> i, shape[1] >> i
        if hgt < size or wid < size:
            raise ValueError(f"pyramid level {hgt}×{wid} is smaller than the {size}×{size} patches")
        out.append((torch.randint(h, hgt - h, (n, per_image), generator=gen),
                    torch.randint(h, wid - h, (n, per_image), generator=gen)))
    return out


def _patches(level: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor, size: int) -> torch.Tensor:
    """The size×size patches of every image around its centres: (N·P)×C×size×size, image-major."""
    n, c = level.shape[:2]
    ys, xs = ys.to(level.device), xs.to(level.device)
    off = torch.arange(-(size // 2), size // 2 + 1, device=level.device)
    img = torch.arange(n, device=level.device)[:, None, None, None]
    rows = ys[:, :, None, None] + off[None, None, :, None]
    cols = xs[:, :, None, None] + off[None, None, None, :]
    patches = level[img, :, rows, cols]  # N × P × size × size × C (advanced indices go first)
    return patches.permute(0, 1, 4, 2, 3).reshape(-1, c, size, size)


def _num_levels(images: torch.Tensor, min_resolution: int) -> int:
    levels = pyramid_resolutions(min(images.shape[-2:]), min_resolution)
    if not levels:
        raise ValueError(f"images of {tuple(images.shape[-2:])} are smaller than min_resolution={min_resolution}")
    return len(levels)


def _descriptors(images: torch.Tensor, centres, size: int, quantize: bool) -> List[torch.Tensor]:
    pyramid = laplacian_pyramid(to_uint8_range(images, quantize=quantize), len(centres))
    return [_patches(level, ys, xs, size) for level, (ys, xs) in zip(pyramid, centres)]


def swd_descriptors(images: torch.Tensor, *, min_resolution: int = 16, patches_per_image: int = 128,
                    patch_size: int = 7, quantize: bool = True, seed: int = 0,
                    generator: Optional[torch.Generator] = None) -> List[torch.Tensor]:
    """Raw (un-normalised) patch descriptors of a batch of images, one (N·128)×C×7×7 tensor per pyramid level
    (ProGAN `get_descriptors_for_minibatch`). Patch centres come from `generator`, or a new one seeded with
    `seed`; to stream a large set, pass one generator to every batch and concatenate per level (the result
    then depends on the batching; `swd` draws all centres first and does not)."""
    num_levels = _num_levels(images, min_resolution)
    gen = generator if generator is not None else torch.Generator().manual_seed(seed)
    centres = _draw_centres(images.shape[0], tuple(images.shape[-2:]), num_levels, patches_per_image, patch_size,
                            gen)
    return _descriptors(images, centres, patch_size, quantize)


def normalize_descriptors(desc: torch.Tensor) -> torch.Tensor:
    """Per-channel standardisation over all patches and pixels (population std), flattened to N×(C·7·7)
    (ProGAN `finalize_descriptors`). A constant channel (std 0) is left at 0 instead of dividing by zero."""
    mean = desc.mean(dim=(0, 2, 3), keepdim=True)
    std = desc.std(dim=(0, 2, 3), keepdim=True, correction=0)
    out = (desc - mean) / torch.where(std > 0, std, torch.ones_like(std))
    return out.reshape(desc.shape[0], -1)


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, *, dir_repeats: int = 4, dirs_per_repeat: int = 128,
                       generator: Optional[torch.Generator] = None, seed: int = 0) -> float:
    """Sliced Wasserstein distance between two equally sized sets of flat descriptors (ProGAN
    `sliced_wasserstein`): mean over dir_repeats × dirs_per_repeat random unit directions of the mean absolute
    difference of the sorted projections. Not multiplied by 1e3."""
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"descriptor sets must have equal shapes N×D, got {tuple(a.shape)} and {tuple(b.shape)}")
    gen = generator if generator is not None else torch.Generator().manual_seed(seed)
    results = []
    for _ in range(dir_repeats):
        dirs = torch.randn(a.shape[1], dirs_per_repeat, generator=gen, dtype=torch.float64)
        dirs = (dirs / dirs.norm(dim=0, keepdim=True)).to(device=a.device, dtype=a.dtype)
        # Projections as directions × samples, sorted along contiguous rows (≈1.5× faster than dim=0 on CPU).
        proj_a = torch.sort(dirs.t() @ a.t(), dim=1).values
        proj_b = torch.sort(dirs.t() @ b.to(a.device).t(), dim=1).values
        results.append((proj_a - proj_b).abs().mean(dtype=torch.float64))
    return float(torch.stack(results).mean())


def sliced_wasserstein_distance(real_desc: List[torch.Tensor], fake_desc: List[torch.Tensor],
                                resolutions: Optional[List[int]] = None, *, dir_repeats: int = 4,
                                dirs_per_repeat: int = 128, seed: int = 0) -> Dict[str, object]:
    """SWD × 1e3 per level between per-level raw descriptors (from `swd_descriptors`), plus their average.
    Each set is normalised separately (ProGAN `finalize_descriptors`); one generator seeded with `seed` draws
    fresh directions for every level. Returns {"resolutions", "levels": [SWD×1e3 per level], "avg"}."""
    if len(real_desc) != len(fake_desc):
        raise ValueError(f"different numbers of levels: {len(real_desc)} and {len(fake_desc)}")
    gen = torch.Generator().manual_seed(seed)
    dists = [1e3 * sliced_wasserstein(normalize_descriptors(r), normalize_descriptors(f), dir_repeats=dir_repeats,
                                      dirs_per_repeat=dirs_per_repeat, generator=gen)
             for r, f in zip(real_desc, fake_desc)]
    return {"resolutions": list(resolutions) if resolutions is not None else None, "levels": dists,
            "avg": sum(dists) / len(dists)}


def swd(real_images: torch.Tensor, fake_images: torch.Tensor, *, min_resolution: int = 16,
        patches_per_image: int = 128, patch_size: int = 7, dir_repeats: int = 4, dirs_per_repeat: int = 128,
        quantize: bool = True, batch_size: int = 256, seed: int = 0) -> Dict[str, object]:
    """ProGAN's SWD between two image sets (Karras et al. 2018), N×C×H×W uint8 [0, 255] or float [-1, 1].

    Defaults are ProGAN's: levels ≥ 16 px, 128 patches of 7×7 per image and level, 4 × 128 directions; the
    standard set size is 16 384 images each. Equal image counts are required (equal descriptor counts).
    Descriptors are extracted `batch_size` images at a time (the pyramid of a whole set is never held); the
    patch centres are drawn for the whole set first, so the result does not depend on `batch_size`.
    seed: both sets use the same patch centres, drawn from a generator seeded with `seed` (common random
        numbers: positions never depend on content, and SWD(X, X) = 0 exactly, like ProGAN's reals-vs-reals
        pass); the directions come from one seeded with seed + 1.
    Returns {"resolutions": [S, S/2, …] (S = min(H, W)), "levels": [SWD×1e3 per level], "avg": their mean};
    NaN values when a float image set holds non-finite pixels.
    """
    if real_images.shape[0] != fake_images.shape[0] or real_images.shape[-2:] != fake_images.shape[-2:]:
        raise ValueError(f"SWD needs equal image counts and sizes, got {tuple(real_images.shape)} and "
                         f"{tuple(fake_images.shape)}")
    n, num_levels = real_images.shape[0], _num_levels(real_images, min_resolution)
    res = pyramid_resolutions(min(real_images.shape[-2:]), min_resolution)
    if not all(bool(torch.isfinite(x).all()) for x in (real_images, fake_images) if x.is_floating_point()):
        return {"resolutions": res, "levels": [math.nan] * num_levels, "avg": math.nan}  # e.g. diverged G
    centres = _draw_centres(n, tuple(real_images.shape[-2:]), num_levels, patches_per_image, patch_size,
                            torch.Generator().manual_seed(seed))  # the same for both sets: equal N and size
    descs = []
    for images in (real_images, fake_images):
        batches = [_descriptors(images[i : i + batch_size], [(ys[i : i + batch_size], xs[i : i + batch_size])
                                                              for ys, xs in centres], patch_size, quantize)
                   for i in range(0, n, batch_size)]
        descs.append([torch.cat(level) for level in zip(*batches)])
    return sliced_wasserstein_distance(descs[0], descs[1], res, dir_repeats=dir_repeats,
                                       dirs_per_repeat=dirs_per_repeat, seed=seed + 1)
