"""The Python facade: `ganforge.train(...)`, `g = ganforge.load(run_dir)`, `g.sample(16, seed=0)`."""
from __future__ import annotations

import operator
import os
from typing import Optional, Sequence

import torch

from .config import Config, load_config
from .data import DataInfo
from .errors import CheckpointError, ConfigError
from .models import build_generator
from .models.base import check_classes, cycled_labels
from .train.checkpoint import latest_checkpoint, load_entry, read_meta
from .train.trainer import RunResult, Trainer, resolve_device
from .utils.safeio import sniff


class LoadedGenerator:
    """A trained generator with its config: sample, interpolate, and reach the module itself as `.generator`."""

    def __init__(self, generator, config: Config, info: DataInfo, checkpoint: str, device):
        self.generator = generator.eval().requires_grad_(False)
        self.config, self.info, self.checkpoint, self.device = config, info, checkpoint, device

    @property
    def z_dim(self) -> int:
        return self.generator.z_dim

    def latents(self, n: int, seed: int = 0) -> torch.Tensor:
        """n latent codes drawn from the prior with a fixed seed (the same seed gives the same codes)."""
        from .config import COUNT, SEED

        n, seed = _whole(n, "n", COUNT), _whole(seed, "seed", SEED)
        return self.generator.sample_z(n, generator=torch.Generator().manual_seed(seed), device=self.device)

    @torch.no_grad()
    def generate(self, z: torch.Tensor, y: Optional[torch.Tensor] = None, batch_size: int = 256) -> torch.Tensor:
        """G(z) in batches, on CPU, in [-1, 1] for images. A class-conditional generator without `y` cycles
        through its classes (sample i gets class i mod K)."""
        z = torch.as_tensor(z)
        if z.dim() != 2 or z.shape[1] != self.generator.z_dim:
            raise ConfigError(f"latent codes must be N×{self.generator.z_dim}, got shape {tuple(z.shape)}")
        if y is None:
            y = cycled_labels(self.generator, len(z))
        else:
            y = check_classes(y, getattr(self.generator, "num_classes", 0))
        out = []
        for i in range(0, len(z), batch_size):
            yy = None if y is None else y[i : i + batch_size].to(self.device)
            out.append(self.generator(z[i : i + batch_size].to(self.device), yy).float().cpu())
        return torch.cat(out)

    def sample(self, n: int, seed: int = 0, y=None) -> torch.Tensor:
        """n samples from the fixed seed `seed`; `y` (int or sequence) selects classes for conditional models."""
        z = self.latents(n, seed)
        if y is not None:
            y = check_classes(y, getattr(self.generator, "num_classes", 0))
            if y.dim() == 0:
                y = y.expand(n)
            elif y.shape != (n,):
                raise ConfigError(f"y must be one class or {n} classes (one per sample), got {len(y)}")
        return self.generate(z, y)


def _whole(v, what: str, bound) -> int:
    """`v` as an int inside `bound` (a config.Bound), else a one-line ConfigError."""
    try:
        i = None if isinstance(v, bool) else operator.index(v)
    except TypeError:
        i = None
    if i is None or not bound.contains(i):
        raise ConfigError(f"{what} must be a whole number {bound}, got {v!r}")
    return i


def _resolve_checkpoint(path: str) -> str:
    """A run directory, its checkpoints/ folder, or one checkpoint folder -> a checkpoint folder."""
    if os.path.isfile(path):
        kind = sniff(path)
        if kind in ("pickle", "zip"):
            raise CheckpointError(f"{path} is a pickle/torch.save file: refused (ganforge never unpickles; "
                                  f"unpickling can execute code). Load a ganforge run directory instead.")
        raise CheckpointError(f"{path} is a file; give a ganforge run directory (with checkpoints/ inside)")
    if os.path.isfile(os.path.join(path, "state.json")):
        return path
    for root in (os.path.join(path, "checkpoints"), path):
        found = latest_checkpoint(root)
        if found:
            return found
    raise CheckpointError(f"no complete ganforge checkpoint found under {path}")


class LoadedTranslator:
    """A trained image-to-image run (pix2pix, CycleGAN, DiscoGAN, pix2pixHD, SRGAN): `translate(x)` maps images
    of domain A (or low-resolution images) to domain B; recipes that learn both ways also translate "BtoA"."""

    def __init__(self, translators: dict, config: Config, info: DataInfo, checkpoint: str, device):
        self.translators = {k: m.eval().requires_grad_(False) for k, m in translators.items()}
        self.config, self.info, self.checkpoint, self.device = config, info, checkpoint, device

    @property
    def generator(self):
        """The A -> B network."""
        return self.translators["AtoB"]

    @property
    def directions(self):
        return tuple(self.translators)

    def input_shape(self, direction: str = "AtoB") -> tuple:
        """C×H×W that `direction`'s network was trained on (its input domain's images)."""
        return tuple(self.info.shape if direction == "AtoB" else self.info.target_shape)

    @torch.no_grad()
    def translate(self, x: torch.Tensor, direction: str = "AtoB", batch_size: int = 64,
                  instance: Optional[torch.Tensor] = None, tile: int = 0, overlap: int = 16) -> torch.Tensor:
        """Images N×C×H×W in [-1, 1] -> their translations in [-1, 1], on CPU, in batches. `instance` (N×H×W
        instance ids) goes to translators that take one (pix2pixHD; without it they use the class map).
        `tile` > 0: images larger than tile×tile go through the network in core tiles of that size with `overlap`
        pixels of context on each side (utils/tiles.py: exact when overlap ≥ the receptive-field radius), so a
        large photo fits in memory."""
        from .data import Batch
        from .models.base import translate_batch
        from .utils.tiles import tiled

        if direction not in self.translators:
            raise ConfigError(f"this run translates {' and '.join(self.translators)}, not {direction!r}")
        if tile and instance is not None:
            raise ConfigError("tiled translation takes no instance maps")
        net, out = self.translators[direction], []
        for i in range(0, len(x), batch_size):
            attrs = {} if instance is None else {"instance": instance[i : i + batch_size]}

            def apply(part, attrs=attrs):
                return translate_batch(net, Batch(part, attrs=attrs).to(self.device)).float().clamp(-1, 1).cpu()

            part = x[i : i + batch_size]
            out.append(tiled(apply, part, tile, overlap) if tile else apply(part))
        return torch.cat(out)


def _load_translator(ckpt: str, meta: dict, config: Config, info: DataInfo, dev, ema: bool) -> LoadedTranslator:
    from .methods import build_method

    method = build_method(config, info)
    nets = method.networks()
    try:
        for name, net in nets.items():
            if name in meta["state"]:
                net.load_state_dict(load_entry(ckpt, name, meta))
        if ema and "ema" in meta["state"]:
            method.generator.load_state_dict(load_entry(ckpt, "ema", meta))
    except RuntimeError as e:
        raise CheckpointError(f"{ckpt}: the weights do not fit a {config.method.name!r} run "
                              f"({str(e).splitlines()[0]})") from None
    return LoadedTranslator({k: m.to(dev) for k, m in method.translators().items()}, config, info, ckpt, dev)


def load(run_dir: str, device: str = "cpu", ema: bool = True):
    """Load the newest checkpoint's generator (its EMA copy when present and `ema`) from a run directory: a
    LoadedGenerator, or a LoadedTranslator for image-to-image runs."""
    ckpt = _resolve_checkpoint(str(run_dir))
    meta = read_meta(ckpt)
    config = load_config(meta["config"])
    info = DataInfo.from_json(meta["data_info"])
    dev = resolve_device(device)
    if info.is_text:  # token data (MaskGAN, MaskMLE): in-filling and text samples
        from .text_api import load_text

        return load_text(ckpt, meta, config, info, dev, load_entry(ckpt, "generator", meta))
    if "embedder" in meta["state"]:  # talking heads: a person's model needs K frames of them first
        raise ConfigError(f"{run_dir} is a talking-heads run: animate a person from K frames with `ganforge "
                          f"talking-head` or ganforge.talking_head_api.load_talking_head")
    if info.target_shape:  # two-domain data, images or 2-D points (DiscoGAN's toy)
        return _load_translator(ckpt, meta, config, info, dev, ema)
    generator = build_generator(config.generator, info)
    entry = "ema" if ema and "ema" in meta["state"] else "generator"
    state = load_entry(ckpt, entry, meta)
    try:
        generator.load_state_dict(state)
    except RuntimeError as e:
        raise CheckpointError(f"{ckpt}: the weights do not fit a {config.generator.name!r} generator "
                              f"({str(e).splitlines()[0]})") from None
    if not all(torch.isfinite(t).all() for t in (*generator.parameters(), *generator.buffers())
               if t.is_floating_point()):
        raise CheckpointError(f"{ckpt}: the {entry} weights are not finite (NaN or infinite): use an earlier "
                              f"checkpoint of the run")
    return LoadedGenerator(generator.to(dev), config, info, ckpt, dev)


def evaluate(run_dir: str, metrics="auto", n: int = 10_000, seed: int = 0, *, extractor: str = "auto",
             weights: Optional[str] = None, resize: str = "tf1", device: str = "auto", batch_size: int = 256,
             n_real: Optional[int] = None, ema: bool = True, record: bool = True,
             cache_dir: Optional[str] = None, data: Sequence[str] = ()):
    """Score a run's newest checkpoint (see ganforge.evaluation.evaluate); with `record`, append the scores to
    its metrics.jsonl and redraw its scores.png. `data`: overrides of the run's data section ("seed=1",
    "split=test") to score on other data than the training data, e.g. held-out scenes. Returns the EvalResult."""
    from .evaluation import append_to_run, wants_probe
    from .evaluation import evaluate as score
    from .talking_head_api import evaluate_run, is_talking_head_run

    if is_talking_head_run(run_dir):  # a person's model needs K frames first: the few-shot protocol
        result = evaluate_run(run_dir, n=n, seed=seed, device="cpu" if device == "auto" else device)
        if record:
            append_to_run(str(run_dir), result, read_meta(_resolve_checkpoint(str(run_dir))).get("counters") or {})
        return result
    g = load(run_dir, device=device, ema=ema)
    if getattr(g.info, "is_text", False):
        raise ConfigError("`eval` scores image runs; text runs are scored by ganforge.metrics.text (unique n-grams, "
                          "reference-LM perplexity, exact grammar likelihood): see benchmarks/claims/maskgan.py")
    data_config = load_config(g.config.to_dict(), [f"data.{o}" for o in data]).data if data else g.config.data
    disc = load_discriminator(run_dir, device=str(g.device)) if wants_probe(metrics) else None
    result = score(g.generator, data_config, metrics, n=n, seed=seed, extractor=extractor, weights=weights,
                   resize=resize, device=g.device, batch_size=batch_size, n_real=n_real, cache_dir=cache_dir,
                   discriminator=disc)
    if record:
        counters = read_meta(g.checkpoint).get("counters") or {}
        append_to_run(str(run_dir), result, counters)
    return result


def train(config, overrides: Sequence[str] = (), run_dir: Optional[str] = None, resume: bool = False,
          overwrite: bool = False) -> RunResult:
    """Train from a preset name, YAML path, dict or Config (plus dotted overrides); return the RunResult."""
    from .train.distributed import shutdown

    cfg = config if isinstance(config, Config) and not overrides else load_config(config, overrides)
    result = Trainer(cfg, run_dir=run_dir, resume=resume, overwrite=overwrite).fit()
    # Leave a torchrun process group, if this call joined one -- only after a normal end: after an error a peer may
    # be inside a collective, and torchrun stops the other ranks when this one exits.
    shutdown()
    return result


def load_discriminator(run_dir: str, device: str = "cpu"):
    """The newest checkpoint's discriminator in eval mode (e.g. for the artifact score of GAN Dissection)."""
    from .models import build_discriminator

    ckpt = _resolve_checkpoint(str(run_dir))
    meta = read_meta(ckpt)
    if "discriminator" not in meta["state"]:
        raise CheckpointError(f"{ckpt} holds no discriminator")
    config = load_config(meta["config"])
    disc = build_discriminator(config.discriminator, DataInfo.from_json(meta["data_info"]))
    disc.load_state_dict(load_entry(ckpt, "discriminator", meta))
    return disc.to(resolve_device(device)).eval().requires_grad_(False)


def _generator_of(generator, device: str = "cpu"):
    """A run directory (path) is loaded; a LoadedGenerator or a Generator module is used as it is."""
    return load(generator, device=device) if isinstance(generator, (str, os.PathLike)) else generator


def dissect(generator, segmenter="shapes", layer: Optional[str] = None, n: int = 1000, **kwargs):
    """GAN Dissection of one layer (Bau et al., ICLR 2019): see :func:`ganforge.dissect.dissect`. `generator`
    is a run directory, a loaded run or a Generator module; returns a LayerDissection."""
    from .dissect import dissect as _dissect

    return _dissect(_generator_of(generator), segmenter, layer, n=n, **kwargs)


def intervene(generator, layer: str, units, mode: str = "ablate", **kwargs):
    """(before, after) images with `units` of `layer` ablated or inserted (everywhere or in a region): see
    :func:`ganforge.dissect.intervene`. `generator` is a run directory, a loaded run or a Generator module."""
    from .dissect import intervene as _intervene

    return _intervene(_generator_of(generator), layer, units, mode, **kwargs)
