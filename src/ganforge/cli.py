"""The `ganforge` command line. It imports only the API layer and decides what a person sees."""
from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from typing import List, Optional

from .errors import GanforgeError, TrainingDiverged


def _int_list(text: str) -> List[int]:
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ganforge", description="Train, evaluate, explore and explain GANs.")
    p.add_argument("-v", "--verbose", action="store_true", help="more log output")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a GAN from a preset or YAML config")
    t.add_argument("config", nargs="?", help="preset name (see `ganforge presets`) or path to a YAML file")
    t.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.steps=2000 generator.channels=32")
    t.add_argument("--out", help="run directory (default: <train.out_dir>/<name>)")
    t.add_argument("--resume", metavar="RUN", help="continue the run in this directory from its last checkpoint")
    t.add_argument("--overwrite", action="store_true", help="delete an existing run at --out first")

    s = sub.add_parser("sample", help="write a grid of samples from a trained run")
    s.add_argument("run")
    s.add_argument("--n", type=int, default=64)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", default="samples.png")
    s.add_argument("--raw-weights", action="store_true", help="use the raw generator, not its EMA copy")

    i = sub.add_parser("interpolate", help="walk the latent space between seeds: PNG strip and animated GIF")
    i.add_argument("run")
    i.add_argument("--seeds", type=_int_list, default=[1, 2, 3])
    i.add_argument("--steps", type=int, default=10, help="frames per segment, ends included")
    i.add_argument("--slerp", action="store_true", help="spherical interpolation (default: linear)")
    i.add_argument("--out", default="interpolation.png")

    e = sub.add_parser("eval", help="score a trained run: FID, KID, IS, precision/recall, density/coverage, SWD, "
                                    "mode coverage")
    e.add_argument("run")
    e.add_argument("--metrics", default="auto",
                   help="comma-separated: fid,kid,is,pr,dc,swd,modes (auto: modes for 2-D toys, else fid,kid,is,pr,dc)")
    e.add_argument("--n", type=int, default=10_000, help="generated samples (default 10000)")
    e.add_argument("--n-real", type=int, help="reference images (default: the whole dataset)")
    e.add_argument("--seed", type=int, default=0, help="seed of the generated samples' latent codes")
    e.add_argument("--extractor", default="auto", help="auto | inception | mnist5k | shapes")
    e.add_argument("--weights", help="FID Inception weights file (else $GANFORGE_INCEPTION_WEIGHTS or the cache)")
    e.add_argument("--resize", default="tf1", help="Inception input resize: tf1 (standard FID) | torch_bilinear | "
                                                   "torch_bilinear_aa | pil_bicubic (clean-fid) | none")
    e.add_argument("--device", default="auto")
    e.add_argument("--batch-size", type=int, default=256)
    e.add_argument("--raw-weights", action="store_true", help="score the raw generator, not its EMA copy")
    e.add_argument("--no-record", action="store_true", help="print only; do not append to the run's metrics.jsonl")

    sub.add_parser("presets", help="list the shipped presets").add_argument("--show", metavar="NAME")

    d = sub.add_parser("data", help="dataset tools")
    dsub = d.add_subparsers(dest="data_command", required=True)
    pv = dsub.add_parser("preview", help="write a grid of real samples (and masks)")
    pv.add_argument("name", help="dataset name, e.g. mnist5k, shapes, ring8, folder")
    pv.add_argument("options", nargs="*", help="dataset options, e.g. resolution=64 path=photos/")
    pv.add_argument("--n", type=int, default=64)
    pv.add_argument("--seed", type=int, default=0)
    pv.add_argument("--out", default="preview.png")
    return p


def cmd_train(args) -> int:
    from . import api
    from .config import load_config, read_raw

    if args.resume:
        cfg_path = os.path.join(args.resume, "config.yaml")
        if not os.path.isfile(cfg_path):
            raise GanforgeError(f"{args.resume} is not a ganforge run (no config.yaml)")
        if args.config and "=" not in args.config:
            raise GanforgeError(f"--resume continues {args.resume} with its own config.yaml: name no preset "
                                f"({args.config!r}), only overrides such as train.steps=5000")
        overrides = ([args.config] if args.config else []) + args.overrides
        cfg = load_config(read_raw(cfg_path), overrides)
        run_dir = args.resume
    else:
        if not args.config:
            raise GanforgeError("name a preset or YAML file, e.g. `ganforge train dcgan-mnist` (see `ganforge presets`)")
        cfg = load_config(args.config, args.overrides)
        run_dir = args.out
    result = api.train(cfg, run_dir=run_dir, resume=bool(args.resume), overwrite=args.overwrite)
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun, rank 0 speaks for all
        return 130 if result.interrupted else 0
    mins, secs = divmod(int(result.seconds), 60)
    if result.interrupted:
        print(f"\nStopped at iteration {result.step}; checkpoint saved: {result.checkpoint}")
        print(f"Continue with: ganforge train --resume {result.run_dir}")
        return 130
    print(f"\nDone: {result.step} iterations in {mins}m{secs:02d}s.")
    print(f"  samples     {result.samples}")
    print(f"  loss plot   {result.loss_plot}")
    print(f"  checkpoint  {result.checkpoint}")
    if result.scores:
        shown = ", ".join(f"{k} {v:.4g}" for k, v in result.scores.items() if not k.endswith(("_std", "_total")))
        print(f"  scores      {shown}  (plot: {result.scores_plot})")
    print(f"Look at {os.path.join(result.run_dir, 'samples', 'latest.png')} to see what the generator draws.")
    return 0


def cmd_sample(args) -> int:
    from . import api
    from .utils.images import save_grid

    g = api.load(args.run, ema=not args.raw_weights)
    print(save_grid(g.sample(args.n, seed=args.seed), args.out))
    return 0


def cmd_interpolate(args) -> int:
    from . import api
    from .latent import interpolation_path
    from .utils.images import make_grid, save_gif, save_grid

    if len(args.seeds) < 2:
        raise GanforgeError("--seeds needs at least two seeds, e.g. --seeds 1,2,3")
    g = api.load(args.run)
    keys = __import__("torch").cat([g.latents(1, seed=s) for s in args.seeds])
    frames = g.generate(interpolation_path(keys, args.steps, spherical=args.slerp))
    print(save_grid(frames, args.out, nrow=len(frames) if frames.dim() == 4 else None))
    if frames.dim() == 4:
        gif = os.path.splitext(args.out)[0] + ".gif"
        pics = [make_grid(f[None], pad=0) for f in frames]
        print(save_gif(pics + pics[::-1][1:-1], gif))
    return 0


def cmd_eval(args) -> int:
    from . import api
    from .evaluation import format_table

    if args.n < 1 or args.batch_size < 1:
        raise GanforgeError(f"--n and --batch-size must be ≥ 1, got {args.n} and {args.batch_size}")
    result = api.evaluate(args.run, args.metrics, n=args.n, seed=args.seed, extractor=args.extractor,
                          weights=args.weights, resize=args.resize, device=args.device, batch_size=args.batch_size,
                          n_real=args.n_real, ema=not args.raw_weights, record=not args.no_record)
    print(format_table(result))
    if not args.no_record:
        print(f"appended to {os.path.join(args.run, 'metrics.jsonl')}; plot: {os.path.join(args.run, 'scores.png')}")
    return 0


def cmd_presets(args) -> int:
    from .config import preset_names, preset_text, read_raw

    if args.show:
        read_raw(args.show)  # clear error for a wrong name
        print(preset_text(args.show), end="")
        return 0
    for name in preset_names():
        raw = read_raw(name)
        print(f"{name:18s} {raw.get('description', '')}")
    return 0


def cmd_data(args) -> int:
    from .config import build_dataclass
    from .config import apply_overrides
    from .data import build_dataset
    from .data.preview import preview
    from .registry import DATASETS

    raw = apply_overrides({"name": args.name}, args.options)
    cfg = build_dataclass(DATASETS.get(args.name).config_cls, raw, "data")
    print(preview(build_dataset(cfg), args.out, n=args.n, seed=args.seed))
    return 0


COMMANDS = {"train": cmd_train, "sample": cmd_sample, "interpolate": cmd_interpolate, "eval": cmd_eval,
            "presets": cmd_presets, "data": cmd_data}


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # Overrides (key=value) may come after options too: `train PRESET --out runs/x train.steps=10`.
    bad = [e for e in extra if "=" not in e or e.startswith("-")]
    if bad or (extra and not hasattr(args, "overrides") and not hasattr(args, "options")):
        parser.error(f"unrecognized arguments: {' '.join(bad or extra)}")
    for attr in ("overrides", "options"):
        if hasattr(args, attr):
            setattr(args, attr, list(getattr(args, attr)) + extra)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    warnings.showwarning = _show_warning
    try:
        return COMMANDS[args.command](args)
    except TrainingDiverged as e:
        print(f"error: training diverged: {e}", file=sys.stderr)
        return 3
    except GanforgeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
