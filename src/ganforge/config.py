"""Typed configuration: YAML presets shipped in the package, dotted command-line overrides, strict validation.

A config has five sections. `data`, `generator`, `discriminator` and `method` each name a registered component
whose own dataclass types and validates the rest of the section; `train` is :class:`TrainConfig`. Unknown keys
are errors that suggest the closest valid key (DESIGN.md §4).
"""
from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import logging
import math
import os
import typing
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, List, Optional, Sequence, Tuple

import yaml

from .errors import ConfigError
from .registry import DATASETS, DISCRIMINATORS, GENERATORS, METHODS

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """Settings of the generic training loop (nothing here is specific to one GAN)."""

    steps: int = 2000  # iterations of the method's step (one generator update for the standard GAN)
    batch_size: int = 64  # global batch
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    threads: int = 0  # torch CPU threads; 0 keeps torch's default
    log_every: int = 50
    sample_every: int = 500
    checkpoint_every: int = 500
    keep_last: int = 3  # checkpoints kept on disk
    n_samples: int = 64  # images in each sample grid (fixed z)
    ema: float = 0.0  # generator EMA decay per iteration; 0 disables it
    ema_kimg: float = 0.0  # instead of ema: EMA half-life in thousands of real images (StyleGAN's G_smoothing_kimg)
    ema_start: int = 0  # iterations before the EMA starts tracking (it copies the weights until then)
    ema_warmup: bool = False  # decay min(ema, (1 + t) / (10 + t)) at tracked update t: short runs forget the init
    progress: bool = True  # progress bar
    tensorboard: bool = True  # write TensorBoard events when tensorboard is installed
    out_dir: str = "runs"
    precision: str = "fp32"  # fp32 | bf16 | fp16 (autocast; fp16 adds loss scaling)
    channels_last: bool = False  # NHWC memory layout for convolutions (helps on GPUs with tensor cores)
    compile: bool = False  # torch.compile every network
    eval_every: int = 0  # score the generator every N iterations (and at the end); 0 = never (fastest)
    eval_metrics: str = "auto"  # comma-separated fid,kid,is,pr,dc,swd,modes; auto = the data's usual set
    eval_n: int = 2000  # generated samples per evaluation

    def validate(self):
        if self.precision not in ("fp32", "bf16", "fp16"):
            raise ConfigError(f"train.precision must be one of fp32, bf16, fp16, got {self.precision!r}")
        for key in ("steps", "batch_size", "log_every", "sample_every", "checkpoint_every", "n_samples"):
            if getattr(self, key) < 1:
                raise ConfigError(f"train.{key} must be ≥ 1, got {getattr(self, key)}")
        if self.eval_every < 0 or self.eval_n < 1:
            raise ConfigError(f"train.eval_every must be ≥ 0 and train.eval_n ≥ 1, got {self.eval_every} and "
                              f"{self.eval_n}")
        if not 0.0 <= self.ema < 1.0:
            raise ConfigError(f"train.ema must be in [0, 1), got {self.ema}")
        if self.ema_kimg < 0 or (self.ema_kimg > 0 and self.ema > 0):
            raise ConfigError(f"train.ema_kimg must be ≥ 0 and is an alternative to train.ema (set one of them), "
                              f"got ema={self.ema}, ema_kimg={self.ema_kimg}")


SECTIONS = {"data": DATASETS, "generator": GENERATORS, "discriminator": DISCRIMINATORS, "method": METHODS}


@dataclass
class Config:
    name: str = "run"
    description: str = ""
    data: Any = None
    generator: Any = None
    discriminator: Any = None
    method: Any = None
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return to_plain(dataclasses.asdict(self))


def to_plain(obj):
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    return obj


# ----------------------------------------------------------------------------------------------------------------
# Presets and raw YAML


def preset_names() -> List[str]:
    return sorted(p.name[:-5] for p in resources.files("ganforge.presets").iterdir() if p.name.endswith(".yaml"))


def preset_text(name: str) -> str:
    return resources.files("ganforge.presets").joinpath(f"{name}.yaml").read_text()


def read_raw(source) -> dict:
    """A preset name, a YAML path or a dict -> a plain dict (not yet validated)."""
    if isinstance(source, dict):
        return to_plain(source)
    if isinstance(source, Config):
        return source.to_dict()
    src = str(source)
    if os.path.isfile(src):
        try:
            with open(src, encoding="utf-8") as f:
                text = f.read()
        except UnicodeDecodeError:
            raise ConfigError(f"{src} is not a text (UTF-8) YAML file") from None
        where = src
    elif src in preset_names():
        text, where = preset_text(src), f"preset {src}"
    else:
        close = difflib.get_close_matches(src, preset_names(), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"{src!r} is neither a preset nor a YAML file.{hint} Presets: {', '.join(preset_names())}"
        )
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{where}: not valid YAML: {' '.join(str(e).split())}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: a config must be a mapping of sections, got {type(raw).__name__}")
    return raw


def apply_overrides(raw: dict, overrides: Sequence[str]) -> dict:
    """Apply `section.key=value` strings (values parsed as YAML) to a raw config dict. An override that switches
    `data.name` to another dataset keeps only the preset's data settings that dataset also has, and never its `n`
    (the preset's count of generated samples, not a cap on the user's data)."""
    raw = to_plain(raw)
    new_name = next((i.partition("=")[2].strip() for i in overrides if i.partition("=")[0].strip() == "data.name"),
                    None)
    data = raw.get("data")
    if new_name and isinstance(data, dict) and data.get("name") != new_name and new_name in DATASETS.names():
        keep = {f.name for f in dataclasses.fields(DATASETS.get(new_name).config_cls)} - {"n", "name"}
        dropped = sorted(k for k in data if k not in keep and k != "name")
        if dropped:
            log.info("data.name=%s: the preset's data settings %s do not carry over", new_name, ", ".join(dropped))
        raw["data"] = {k: v for k, v in data.items() if k in keep}
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like section.key=value, e.g. train.steps=2000")
        key, _, text = item.partition("=")
        try:
            value = yaml.safe_load(text) if text != "" else ""
        except yaml.YAMLError:
            value = text
        parts = key.strip().split(".")
        node = raw
        for p in parts[:-1]:
            if not isinstance(node.get(p, {}), dict):
                raise ConfigError(f"override {item!r}: {p!r} is not a section")
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return raw


# ----------------------------------------------------------------------------------------------------------------
# Validation into typed dataclasses


def _suggest(key: str, valid: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.5)
    return f" Did you mean {close[0]!r}?" if close else ""


def _coerce(value, tp, where: str):
    """Check/convert one YAML value to the annotated field type."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin is typing.Union:  # Optional[...]
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], where)
    if origin in (list, tuple, List, typing.Tuple) or tp in (list, tuple):
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            value = [v.strip() for v in value.split(",")] if isinstance(value, str) else [value]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        elem = args[0] if args else Any
        out = [_coerce(v, elem, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if (origin is tuple or tp is tuple) else out
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where} must be true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        try:
            f = float(value)
        except ValueError:
            raise ConfigError(f"{where} must be an integer, got {value!r}") from None
        if not math.isfinite(f) or f != int(f):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        return int(f)
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        try:
            f = float(value)  # YAML 1.1 reads 2e-4 as a string: accept it
        except (TypeError, ValueError):
            raise ConfigError(f"{where} must be a number, got {value!r}") from None
        if not math.isfinite(f):
            raise ConfigError(f"{where} must be a finite number, got {value!r}")
        return f
    if tp is str:
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{where} must be a string, got {value!r}")
        return str(value)
    return value


@dataclass(frozen=True)
class Bound:
    """An allowed numeric range, e.g. ``Bound(0, open_low=True)`` is "> 0" and ``Bound(0, 1, open_high=True)`` is
    "in [0, 1)". NaN is never inside a bound."""

    low: Optional[float] = None
    high: Optional[float] = None
    open_low: bool = False
    open_high: bool = False

    def contains(self, v: float) -> bool:
        if v != v:  # NaN
            return False
        if self.low is not None and (v < self.low or (self.open_low and v == self.low)):
            return False
        return not (self.high is not None and (v > self.high or (self.open_high and v == self.high)))

    def __str__(self) -> str:
        low, high = _num(self.low), _num(self.high)
        if self.low is not None and self.high is not None:
            return f"in {'(' if self.open_low else '['}{low}, {high}{')' if self.open_high else ']'}"
        if self.low is not None:
            return f"{'>' if self.open_low else '≥'} {low}"
        return f"{'<' if self.open_high else '≤'} {high}"

    def check(self, value, where: str) -> None:
        """Raise ConfigError unless `value` (a number, or each number of a list/tuple) lies in the bound."""
        items = list(enumerate(value)) if isinstance(value, (list, tuple)) else [(None, value)]
        for i, v in items:
            if isinstance(v, (int, float)) and not isinstance(v, bool) and not self.contains(float(v)):
                name = where if i is None else f"{where}[{i}]"
                raise ConfigError(f"{name} must be {self}, got {v!r}")


def _num(v: Optional[float]) -> str:
    if v is None:
        return ""
    return str(int(v)) if float(v).is_integer() and abs(v) >= 1e6 else f"{v:g}"


POSITIVE, NONNEG, COUNT = Bound(0, open_low=True), Bound(0), Bound(1)
SEED = Bound(0, 2**31 - 1)  # numpy's and torch's generators both take it, with room for per-rank offsets
UNIT, UNIT_OPEN = Bound(0, 1), Bound(0, 1, open_high=True)

# Numeric fields of every config section are checked by name (first matching pattern wins), so a recipe's own
# dataclass needs no code for them; a field can state its own with ``field(metadata={"bound": Bound(...)})``, or
# opt out with ``metadata={"bound": None}``.
NAME_BOUNDS: Tuple[Tuple[Tuple[str, ...], Bound], ...] = (
    (("lr", "lr_*", "*_lr", "*_lr_mul", "lr_per_level"), POSITIVE),  # learning rates (and per-level lists)
    (("betas", "betas_*", "*_betas"), UNIT_OPEN),  # Adam's (beta1, beta2)
    (("ema", "w_avg_beta"), UNIT_OPEN),  # decays
    (("eps", "*_eps"), POSITIVE),
    (("batch_size", "*_batch_size"), COUNT),
    (("n", "n_*", "*_per_class", "population", "layers", "*_layers", "channels", "*_channels", "channel_base",
      "hidden", "*_hidden", "*_dim", "mbd_kernels"), COUNT),  # counts and widths
    (("seed", "*_seed"), SEED),
    (("steps", "*_steps", "*_every", "threads", "keep_last", "*_start", "start_level",
      "resolution", "fade", "stabilize", "max_pixels", "*_size", "*_kimg"), NONNEG),
    (("style_mixing", "label_smoothing"), UNIT),  # probabilities and target values
    (("*_weight", "*_weight_*", "lambda_*", "gamma", "*_gamma", "clip", "drift", "historical_averaging",
      "*_noise"), NONNEG),  # loss weights, penalties, noise levels
)


def field_bound(f: dataclasses.Field) -> Optional[Bound]:
    """The allowed range of dataclass field `f`: its ``metadata["bound"]``, else the NAME_BOUNDS convention."""
    if "bound" in f.metadata:
        return f.metadata["bound"]
    for patterns, bound in NAME_BOUNDS:
        if any(fnmatch.fnmatchcase(f.name, p) for p in patterns):
            return bound
    return None


def check_bounds(obj, where: str) -> None:
    """Check every numeric field of dataclass instance `obj` against its bound (a one-line ConfigError)."""
    for f in dataclasses.fields(obj):
        bound = field_bound(f)
        if bound is not None:
            bound.check(getattr(obj, f.name), f"{where}.{f.name}")


def build_dataclass(cls, values: dict, where: str):
    """Instantiate dataclass `cls` from a dict, rejecting unknown keys with a suggestion and values outside their
    bounds (:func:`field_bound`)."""
    if not isinstance(values, dict):
        raise ConfigError(f"section {where!r} must be a mapping of keys to values, got {values!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in values.items():
        if key not in names:
            raise ConfigError(f"unknown key {where}.{key}.{_suggest(key, names)} Valid keys: {', '.join(names)}")
        kwargs[key] = _coerce(value, hints[key], f"{where}.{key}")
    obj = cls(**kwargs)
    check_bounds(obj, where)
    check = getattr(obj, "validate", None)
    if check is not None:
        check()
    return obj


def path_dataset(path) -> Optional[str]:
    """'folder' when `path` (``~`` expanded) is an existing folder, 'npz' for an existing .npz file, else None."""
    if not isinstance(path, str) or not path:
        return None
    full = os.path.expanduser(path)
    if os.path.isdir(full):
        return "folder"
    if os.path.isfile(full) and full.lower().endswith(".npz"):
        return "npz"
    return None


def infer_data_section(values: dict) -> dict:
    """A data section whose `path` is an existing folder (or .npz file) while its `name` is missing or names a
    dataset without a path (a preset's mnist5k, say) becomes that folder (npz) dataset; settings the new dataset
    also has (resolution, channels, ...) are kept, the others dropped (logged)."""
    if not isinstance(values, dict) or "path" not in values:
        return values
    name = values.get("name")
    if name is not None and (name not in DATASETS.names()  # a typo stays an error that suggests a name
                             or "path" in {f.name for f in dataclasses.fields(DATASETS.get(name).config_cls)}):
        return values
    kind = path_dataset(values["path"])
    if kind is None:
        return values
    keep = {f.name for f in dataclasses.fields(DATASETS.get(kind).config_cls)}
    dropped = sorted(k for k in values if k not in keep and k != "name")
    if name is not None or dropped:
        log.info("data.path %s is a %s: using the %s dataset instead of %s%s", values["path"],
                 "folder" if kind == "folder" else ".npz file", kind, name or "none",
                 f" (dropping {', '.join(dropped)})" if dropped else "")
    return {"name": kind, **{k: v for k, v in values.items() if k in keep and k != "name"}}


def _build_section(section: str, values) -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"section {section!r} must be a mapping with at least a 'name'")
    if section == "data":
        values = infer_data_section(values)
    if "name" not in values:
        raise ConfigError(f"section {section!r} needs a 'name' (one of: {', '.join(SECTIONS[section].names())})")
    entry = SECTIONS[section].get(str(values["name"]))
    return build_dataclass(entry.config_cls, values, section)


def from_dict(raw: dict) -> Config:
    valid = ["name", "description", *SECTIONS, "train"]
    for key in raw:
        if key not in valid:
            raise ConfigError(f"unknown section {key!r}.{_suggest(key, valid)} Valid sections: {', '.join(valid)}")
    for section in SECTIONS:
        if section not in raw:
            raise ConfigError(f"the config has no {section!r} section")
    return Config(
        name=str(raw.get("name", "run")),
        description=str(raw.get("description", "")),
        **{s: _build_section(s, raw[s]) for s in SECTIONS},
        train=build_dataclass(TrainConfig, raw.get("train") or {}, "train"),
    )


def check_config(cfg: Config) -> None:
    """Check again the bounds and `validate()` of every section of a Config (one built or edited in Python skips
    the checks of :func:`load_config`)."""
    for section in (*SECTIONS, "train"):
        obj = getattr(cfg, section)
        if dataclasses.is_dataclass(obj):
            check_bounds(obj, section)
            check = getattr(obj, "validate", None)
            if check is not None:
                check()


def load_config(source, overrides: Sequence[str] = ()) -> Config:
    """Preset name / YAML path / dict, plus dotted overrides -> validated :class:`Config`."""
    return from_dict(apply_overrides(read_raw(source), overrides))


def save_config(cfg: Config, path: str) -> None:
    """Write the config as YAML; atomic, so a full disk never leaves a cut-off config.yaml behind."""
    from .utils.safeio import atomic_write

    atomic_write(path, yaml.safe_dump(cfg.to_dict(), sort_keys=False).encode())
