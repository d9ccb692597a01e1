"""Perceptual path length (Karras et al., "A Style-Based Generator Architecture for Generative Adversarial
Networks", CVPR 2019, §4.1, Eqs. 2-3), following the official code (reference/papers-details.md §1.7):

1. Pairs z₀, z₁ ~ N(0, I); t ~ U(0, 1) (sampling "full") or t = 0 ("end"); ε = 1e-4.
2. Z space: slerp(normalise(z₀), normalise(z₁), t) and (…, t + ε); a style-based generator then maps both to w
   and broadcasts w to all of its layers. W space (style-based only): w₀, w₁ = mapping(z₀), mapping(z₁) and
   lerp(w₀, w₁, t), lerp(w₀, w₁, t + ε).
3. Both images of a pair are synthesised with the same noise inputs.
4. Optional crop (StyleGAN's crop is the face region of FFHQ/CelebA: ``crop="face"``, c = H//8, rows 3c:7c,
   columns 2c:6c). It is face-specific, so the default here is **no crop** (StyleGAN2's ``ppl2_wend`` also has
   none). Images larger than 256 are box-downsampled by an integer factor.
5. d = distance(img_t, img_{t+ε}) / ε² on float images (no uint8 quantisation).
6. Keep lo ≤ d ≤ hi with lo = 1st percentile ('lower') and hi = 99th percentile ('higher'); the score is the mean.

Deviations, stated: StyleGAN (TF) re-draws noise once per minibatch and shares it across the minibatch; here each
pair gets its own noise draw, shared by its two images (what the distance compares). A generator without a
mapping network receives the slerped unit vector scaled by `z_radius` (default √z_dim, the radius where N(0, I)
codes concentrate), because a generator without input normalisation (DCGAN) never saw unit-norm codes; for one
that pixel-normalises its input (ProGAN) the scale changes nothing. StyleGAN maps the images to [0, 255] before
its LPIPS network, which rescales them back: the distances here take [-1, 1] images directly, which is the same.

The perceptual distance is pluggable: any ``distance(img_a, img_b) -> N distances``. Default: the LPIPS-form
distance on a shipped evaluator's features (``metrics.lpips.EvaluatorDistance``; "mnist5k" for 1-channel images,
"shapes" for 3-channel ones); the paper's distance is ``LPIPSVGG16.from_file(path)``. The protocol (distance and
its weights hash, ε, n, space, sampling, crop, percentiles, seed) is returned with the score: PPL values made with
different distances are not comparable (reference/metrics.md §3.7: even uint8 vs float changes PPL 37×).
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple, Union

import numpy as np
import torch

from ..errors import ConfigError
from .lpips import box_downsample

log = logging.getLogger(__name__)

SPACES = ("z", "w")
SAMPLINGS = ("full", "end")


# --------------------------------------------------------------------------------------------- interpolation
def normalize(v: torch.Tensor) -> torch.Tensor:
    """v / ‖v‖ along the last dimension."""
    return v / v.norm(dim=-1, keepdim=True)


def slerp(a: torch.Tensor, b: torch.Tensor, t: Union[float, torch.Tensor]) -> torch.Tensor:
    """Spherical interpolation between normalise(a) and normalise(b), as StyleGAN's code writes it:
    d = a·b, p = t·acos(d), c = normalise(b − d·a), out = normalise(a·cos p + c·sin p). Unit-norm output;
    t = 0 gives normalise(a), t = 1 normalise(b). t: a number or an N×1 tensor."""
    a, b = normalize(a), normalize(b)
    d = (a * b).sum(dim=-1, keepdim=True)
    p = t * torch.acos(d.clamp(-1.0, 1.0))
    c = normalize(b - d * a)
    return normalize(a * torch.cos(p) + c * torch.sin(p))


def lerp(a: torch.Tensor, b: torch.Tensor, t: Union[float, torch.Tensor]) -> torch.Tensor:
    """a + t·(b − a)."""
    return a + (b - a) * t


def filter_percentiles(d: np.ndarray, lo_pct: float = 1.0, hi_pct: float = 99.0) -> np.ndarray:
    """The values lo ≤ d ≤ hi, lo = numpy percentile `lo_pct` with method 'lower', hi = `hi_pct` with 'higher'
    (StyleGAN's outlier rejection)."""
    d = np.asarray(d, dtype=np.float64)
    lo = np.percentile(d, lo_pct, method="lower")
    hi = np.percentile(d, hi_pct, method="higher")
    return d[(d >= lo) & (d <= hi)]


# --------------------------------------------------------------------------------------------- generator access
def is_style_based(generator) -> bool:
    """Has mapping, synthesis, num_ws and make_noise (the style-based generator interface)."""
    return all(hasattr(generator, a) for a in ("mapping", "synthesis", "num_ws", "make_noise"))


def _pair_noise(generator, pairs: int, gen: torch.Generator) -> List[torch.Tensor]:
    """One noise draw per pair, repeated for both images of the pair (row order a0, b0, a1, b1, …)."""
    out = []
    for n in generator.make_noise(pairs, generator=gen):
        if n.shape[0] == pairs:
            n = n.repeat_interleave(2, dim=0)
        elif n.shape[0] != 1:
            raise ConfigError(f"make_noise({pairs}) returned a tensor of batch {n.shape[0]}: expected {pairs} or 1")
        out.append(n)
    return out


def _crop(img: torch.Tensor, crop) -> torch.Tensor:
    if crop is None:
        return img
    if crop == "face":
        c = img.shape[-2] // 8
        return img[:, :, 3 * c:7 * c, 2 * c:6 * c]
    if callable(crop):
        return crop(img)
    raise ConfigError(f"unknown crop {crop!r}: use None, 'face' or a function of the images")


def _pair_images(generator, z0, z1, t, eps, space: str, y, z_radius: float, gen: torch.Generator):
    """Images of lat(t) and lat(t + ε), interleaved (2B×C×H×W)."""
    ts = torch.stack([t, t + eps], dim=1).view(-1, 1)  # a0, b0, a1, b1, …
    z0r, z1r = z0.repeat_interleave(2, dim=0), z1.repeat_interleave(2, dim=0)
    yr = None if y is None else y.repeat_interleave(2, dim=0)
    if not is_style_based(generator):
        return generator(slerp(z0r, z1r, ts) * z_radius, yr)
    if space == "z":
        w = generator.mapping(slerp(z0r, z1r, ts), yr)
    else:
        w = lerp(generator.mapping(z0, y).repeat_interleave(2, dim=0),
                 generator.mapping(z1, y).repeat_interleave(2, dim=0), ts)
    ws = w if w.dim() == 3 else w.unsqueeze(1).expand(-1, int(generator.num_ws), -1)  # mapping may broadcast
    return generator.synthesis(ws, noise=_pair_noise(generator, len(z0), gen))


# --------------------------------------------------------------------------------------------- distances
def resolve_distance(distance, channels: int, device) -> Tuple[Callable, str, str]:
    """(callable, name, weights sha256) for a distance given as a callable or a shipped evaluator's name
    ("auto": mnist5k for 1-channel images, shapes for 3-channel ones)."""
    from .lpips import EvaluatorDistance

    if distance is None or isinstance(distance, str):
        name = distance or "auto"
        if name == "auto":
            name = "mnist5k" if channels == 1 else "shapes"
        fn = EvaluatorDistance.from_name(name, device=device)
    elif callable(distance):
        fn = distance
    else:
        raise ConfigError(f"distance must be an evaluator name or a function (img_a, img_b) -> distances, "
                          f"got {type(distance).__name__}")
    name = getattr(fn, "name", getattr(fn, "__name__", type(fn).__name__))
    return fn, str(name), str(getattr(fn, "weights_sha256", "") or "")


@dataclass
class PPLResult:
    """score: the filtered mean; distances: all n raw values d/ε²; kept: how many passed the filter; protocol:
    everything the score depends on besides the generator; key: a hash of the protocol."""

    score: float
    distances: np.ndarray
    kept: int
    protocol: Dict
    key: str

    def record(self) -> Dict:
        p = f"ppl_{self.protocol['space']}{self.protocol['sampling']}"
        return {p: self.score, f"{p}_protocol": self.protocol, f"{p}_protocol_key": self.key}


def _check_args(generator, space, sampling, n, batch_size, epsilon):
    if space not in SPACES:
        raise ConfigError(f"unknown PPL space {space!r}: use 'z' or 'w'")
    if sampling not in SAMPLINGS:
        raise ConfigError(f"unknown PPL sampling {sampling!r}: use 'full' (t ~ U(0,1)) or 'end' (t = 0)")
    if space == "w" and not is_style_based(generator):
        raise ConfigError(f"PPL in W needs a style-based generator (with mapping, synthesis, num_ws, make_noise); "
                          f"{type(generator).__name__} has no mapping network: use space='z'")
    if int(n) < 2 or int(batch_size) < 1:
        raise ConfigError(f"need n ≥ 2 pairs and batch_size ≥ 1 (got n={n}, batch_size={batch_size})")
    if not epsilon > 0:
        raise ConfigError(f"epsilon must be positive, got {epsilon}")


@torch.no_grad()
def perceptual_path_length(generator, distance=None, *, n: int = 10_000, space: str = "z", sampling: str = "full",
                           epsilon: float = 1e-4, batch_size: int = 64, crop=None, max_resolution: int = 256,
                           z_radius: Optional[float] = None, seed: int = 0, device=None) -> PPLResult:
    """PPL of `generator` over `n` pairs (the paper uses 100,000; StyleGAN2-ADA 50,000).

    space "z" | "w" (W only for style-based generators); sampling "full" (t ~ U(0,1)) | "end" (t = 0);
    distance: a function (img_a, img_b) -> N distances, or a shipped evaluator name ("auto", "mnist5k",
    "shapes"); crop: None (default), "face" (StyleGAN's FFHQ crop) or a function of the image batch.
    A conditional generator (``num_classes`` > 0) gets one random label per pair. The generator is run in eval
    mode and restored. Returns a :class:`PPLResult`.
    """
    _check_args(generator, space, sampling, n, batch_size, epsilon)
    if device is None:
        p = next(iter(generator.parameters()), None) if hasattr(generator, "parameters") else None
        device = p.device if p is not None else torch.device("cpu")
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    num_classes = int(getattr(generator, "num_classes", 0) or 0)
    z_dim = int(generator.z_dim)
    radius = float(z_radius) if z_radius is not None else math.sqrt(z_dim)
    was_training = bool(getattr(generator, "training", False))
    if hasattr(generator, "eval"):
        generator.eval()
    fn, dist_name, dist_sha, dists = None, "", "", []
    try:
        done = 0
        while done < n:
            b = min(int(batch_size), n - done)
            z = generator.sample_z(2 * b, generator=gen).to(device)
            z0, z1 = z[0::2], z[1::2]
            t = torch.rand(b, generator=gen) if sampling == "full" else torch.zeros(b)
            y = torch.randint(0, num_classes, (b,), generator=gen).to(device) if num_classes else None
            img = _pair_images(generator, z0, z1, t.to(device, z.dtype), epsilon, space, y, radius, gen)
            img = _crop(img, crop)
            img = box_downsample(img, max_resolution)
            if fn is None:
                fn, dist_name, dist_sha = resolve_distance(distance, img.shape[1], device)
            d = fn(img[0::2], img[1::2]).reshape(-1).double() / (epsilon ** 2)
            dists.append(d.cpu().numpy())
            done += b
    finally:
        if was_training and hasattr(generator, "train"):
            generator.train()
    dists = np.concatenate(dists)
    kept = filter_percentiles(dists)
    protocol = {"metric": "ppl", "distance": dist_name, "distance_sha256": dist_sha, "epsilon": float(epsilon),
                "n": int(n), "space": space, "sampling": sampling,
                "crop": crop if crop is None or isinstance(crop, str) else getattr(crop, "__name__", "custom"),
                "max_resolution": int(max_resolution), "percentiles": [1, 99], "percentile_methods":
                ["lower", "higher"], "interpolation": "slerp" if space == "z" else "lerp",
                "z_radius": None if is_style_based(generator) else radius, "noise": "shared within a pair",
                "images": "float, no quantisation", "seed": int(seed)}
    key = hashlib.sha256(json.dumps(protocol, sort_keys=True).encode()).hexdigest()[:20]
    score = float(kept.mean())
    log.info("PPL %s/%s over %d pairs (%d kept) with %s: %.4g", space, sampling, n, len(kept), dist_name, score)
    return PPLResult(score, dists, int(len(kept)), protocol, key)
