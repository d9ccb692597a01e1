"""The `ganforge` command line. It imports only the API layer and decides what a person sees."""
from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from typing import List, Optional

from .errors import DataError, GanforgeError, TrainingDiverged


def _int_list(text: str) -> List[int]:
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _arg_bounds():
    """Allowed ranges of numeric options, by their name in every subcommand (a value may be a list: each item)."""
    from .config import COUNT, NONNEG, SEED, UNIT, Bound

    return {"n": COUNT, "n_real": COUNT, "batch_size": COUNT, "top": COUNT, "a": COUNT, "b": COUNT,
            "seed": SEED, "seeds": SEED, "seed2": SEED, "units": NONNEG, "edit_steps": NONNEG, "npe_steps": NONNEG,
            "finetune_steps": NONNEG, "region": NONNEG, "cutoff": NONNEG,
            "steps": Bound(2), "draws": Bound(2), "size": Bound(8), "alpha": UNIT,
            "psi": Bound(-1e6, 1e6)}  # any finite ψ (|ψ| > 1 extrapolates)


def check_numbers(args: argparse.Namespace) -> None:
    """One-line GanforgeError for a numeric option outside its range (e.g. `sample --n 0`)."""
    for dest, bound in _arg_bounds().items():
        value = getattr(args, dest, None)
        if isinstance(value, str):  # comma-separated numbers kept as text by their subcommand
            try:
                value = [float(v) for v in value.split(",") if v.strip()]
            except ValueError:
                continue  # the subcommand explains its own format
        if value is not None:
            bound.check(value, "--" + dest.replace("_", "-"))  # a ConfigError (a GanforgeError)


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
    s.add_argument("--class", dest="cls", type=int, help="class-conditional runs: draw only this class")

    i = sub.add_parser("interpolate", help="walk the latent space between seeds: PNG strip and animated GIF")
    i.add_argument("run")
    i.add_argument("--seeds", type=_int_list, default=[1, 2, 3])
    i.add_argument("--steps", type=int, default=10, help="frames per segment, ends included")
    i.add_argument("--slerp", action="store_true", help="spherical interpolation (default: linear)")
    i.add_argument("--space", choices=["z", "w"], default="z",
                   help="z (default) or w: straight lines in a StyleGAN's W space, noise fixed")
    i.add_argument("--out", default="interpolation.png")

    e = sub.add_parser("eval", help="score a trained run: FID, KID, IS, precision/recall, density/coverage, SWD, "
                                    "mode coverage")
    e.add_argument("run")
    e.add_argument("--metrics", default="auto",
                   help="comma-separated: fid,kid,is,pr,dc,swd,modes,probe (probe: linear probe of D's features; auto: modes "
                        "for 2-D toys, else fid,kid,is,pr,dc); "
                        "translation runs: fcn,labels,psnr,ssim,fid,kid (auto: what the data allow)")
    e.add_argument("--data", nargs="+", default=[], metavar="KEY=VALUE",
                   help="score on other data than the training data, e.g. --data seed=1 (held-out scenes) or "
                        "split=test")
    e.add_argument("--n", type=int, default=10_000, help="generated samples (default 10000)")
    e.add_argument("--n-real", type=int, help="reference images (default: the whole dataset)")
    e.add_argument("--seed", type=int, default=0, help="seed of the generated samples' latent codes")
    e.add_argument("--extractor", default="auto", help="auto | inception | mnist5k | shapes")
    e.add_argument("--weights", help="FID Inception weights, a .safetensors file (else $GANFORGE_INCEPTION_WEIGHTS "
                                     "or the cache); convert the .pth with scripts/convert_inception_weights.py")
    e.add_argument("--resize", default="tf1", help="Inception input resize: tf1 (standard FID) | torch_bilinear | "
                                                   "torch_bilinear_aa | pil_bicubic (clean-fid) | none")
    e.add_argument("--device", default="auto")
    e.add_argument("--batch-size", type=int, default=256)
    e.add_argument("--raw-weights", action="store_true", help="score the raw generator, not its EMA copy")
    e.add_argument("--no-record", action="store_true", help="print only; do not append to the run's metrics.jsonl")

    ds = sub.add_parser("dissect", help="GAN Dissection: which units of a layer draw which class (HTML + JSON report)")
    ds.add_argument("run")
    ds.add_argument("--layer", required=True, help="a layer named by the generator's feature_layers()")
    ds.add_argument("--n", type=int, default=1000, help="samples (default 1000; thresholds use as many more)")
    ds.add_argument("--threshold", default="iqr", help="iqr (the paper's GAN default) or a quantile such as 0.99")
    ds.add_argument("--segmenter", default="shapes")
    ds.add_argument("--seed", type=int, default=1)
    ds.add_argument("--top", type=int, default=8, help="top images per unit in the report")
    ds.add_argument("--out", help="report folder (default: RUN/dissect/LAYER)")
    ds.add_argument("--raw-weights", action="store_true", help="the raw generator, not its EMA copy")

    from .cli_audio import add_audio_parsers
    from .cli_edit import add_edit_parsers
    from .cli_serve import add_serve_parser
    from .cli_style import add_style_parsers
    from .cli_talking_head import add_talking_head_parsers
    from .cli_text import add_text_parsers
    from .cli_translate import add_translate_parsers
    from .stylize.cli import add_stylize_parser

    add_style_parsers(sub)
    add_stylize_parser(sub)
    add_translate_parsers(sub)
    add_serve_parser(sub)
    add_edit_parsers(sub)
    add_text_parsers(sub)
    add_talking_head_parsers(sub)
    add_audio_parsers(sub)

    iv = sub.add_parser("intervene", help="ablate or insert units of a layer: before/after picture")
    iv.add_argument("run")
    iv.add_argument("--layer", required=True)
    iv.add_argument("--units", type=_int_list, required=True, help="comma-separated unit indices, e.g. 3,17,42")
    iv.add_argument("--mode", choices=["ablate", "insert"], default="ablate")
    iv.add_argument("--region", type=_int_list, help="x0,y0,x1,y1 in pixels (default: everywhere)")
    iv.add_argument("--class", dest="cls", help="insert each unit's mean activation where this class is "
                                                "(default: its 99th percentile, GANPaint's draw value)")
    iv.add_argument("--n", type=int, default=8)
    iv.add_argument("--seed", type=int, default=0)
    iv.add_argument("--out", default="before_after.png")
    iv.add_argument("--raw-weights", action="store_true", help="the raw generator, not its EMA copy")

    sub.add_parser("presets", help="list the shipped presets").add_argument("--show", metavar="NAME")

    d = sub.add_parser("data", help="dataset tools")
    dsub = d.add_subparsers(dest="data_command", required=True)
    pv = dsub.add_parser("preview", help="write a grid of real samples (and masks)")
    pv.add_argument("name", help="dataset name, e.g. mnist5k, shapes, ring8, folder; or a folder of images")
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
    latest = "latest" + (os.path.splitext(result.samples)[1] if result.samples else ".png")
    print(f"Look at {os.path.join(result.run_dir, 'samples', latest)} to see what the generator draws.")
    return 0


def cmd_sample(args) -> int:
    from . import api
    from .utils.images import save_grid

    g = api.load(args.run, ema=not args.raw_weights)
    if getattr(g.info, "is_text", False):  # text runs: lines of text
        from .cli_text import write_text_samples

        print(write_text_samples(g, args.n, args.seed, args.out))
        return 0
    if getattr(g.info, "is_audio", False):  # notes: WAV files + a spectrogram picture
        from .cli_audio import write_audio_samples

        print(write_audio_samples(g, args.n, args.seed, args.out, args.cls))
        return 0
    print(save_grid(g.sample(args.n, seed=args.seed, y=args.cls), args.out))
    return 0


def cmd_interpolate(args) -> int:
    from . import api
    from .latent import interpolation_path
    from .utils.images import make_grid, save_gif, save_grid

    if len(args.seeds) < 2:
        raise GanforgeError("--seeds needs at least two seeds, e.g. --seeds 1,2,3")
    g = api.load(args.run)
    if hasattr(g, "translate"):
        raise GanforgeError(f"{args.run} is an image-to-image run: it has no latent space to walk (use "
                            f"`ganforge translate`)")
    if getattr(g.info, "is_audio", False):
        raise GanforgeError(f"{args.run} makes notes: walk its latent space with `ganforge synth --interpolate`")
    if getattr(g.info, "is_text", False):
        raise GanforgeError(f"{args.run} makes text: `interpolate` walks the latent space of image and 2-D runs")
    keys = __import__("torch").cat([g.latents(1, seed=s) for s in args.seeds])
    if args.space == "w":
        from .latent.style import interpolate_w

        frames = interpolate_w(g.generator, keys, args.steps)
    else:
        frames = g.generate(interpolation_path(keys, args.steps, spherical=args.slerp))
    stem, ext = os.path.splitext(args.out)
    strip = stem + ".png" if ext.lower() == ".gif" else args.out  # --out x.gif: the strip beside it, not over it
    print(save_grid(frames, strip, nrow=len(frames) if frames.dim() == 4 else None))
    if frames.dim() == 4:
        gif = stem + ".gif"
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
                          n_real=args.n_real, ema=not args.raw_weights, record=not args.no_record,
                          data=args.data)
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
    from .config import apply_overrides, build_dataclass, infer_data_section, path_dataset
    from .data import build_dataset
    from .data.preview import preview
    from .registry import DATASETS

    first = {"name": args.name} if args.name in DATASETS.names() or not path_dataset(args.name) \
        else {"path": args.name}  # `data preview ~/photos`: a folder (or .npz file) is its own dataset
    if "name" in first and args.name not in DATASETS.names() and (os.sep in args.name or args.name[:1] in "~."):
        raise DataError(f"{args.name} is neither a dataset name nor an existing folder of images or .npz file")
    raw = infer_data_section(apply_overrides(first, args.options))
    if "name" not in raw:
        raw = {"name": args.name, **raw}
    cfg = build_dataclass(DATASETS.get(raw["name"]).config_cls, raw, "data")
    print(preview(build_dataset(cfg), args.out, n=args.n, seed=args.seed))
    return 0


def cmd_dissect(args) -> int:
    from . import api
    from .dissect import write_report

    threshold = args.threshold
    if threshold != "iqr":
        try:
            threshold = float(threshold)
        except ValueError:
            threshold = -1.0
        if not 0.0 < threshold < 1.0:
            raise GanforgeError(f"--threshold must be iqr or a quantile in (0, 1), got {args.threshold!r}")
    g = api.load(args.run, ema=not args.raw_weights)
    _require_latent_images(g, args.run, "dissection", segmented=True)
    result = api.dissect(g, args.segmenter, args.layer, n=args.n, seed=args.seed, threshold=threshold,
                         top_k=args.top)
    out = args.out or os.path.join(args.run, "dissect", args.layer)
    paths = write_report(result, g, out)
    s = result.summary()
    print(f"{args.layer}: {s['interpretable']} of {s['units']} units interpretable "
          f"({100 * s['share_interpretable']:.1f}%)")
    for c, best in s["best_per_class"].items():
        print(f"  {c:12s} best IoU {best['iou']:.3f} (unit {best['unit']}), "
              f"{s['interpretable_per_class'][c]} interpretable units")
    print(f"report {paths['html']}\nnumbers {paths['json']}")
    return 0


def _require_latent_images(g, run: str, what: str, segmented: bool) -> None:
    """One line unless `g` samples images from latent codes (and 3-channel scenes where a segmenter labels them)."""
    info = g.info
    if hasattr(g, "translate") or getattr(info, "is_audio", False) or getattr(info, "is_text", False) \
            or not info.is_image:
        kind = "an image-to-image run" if hasattr(g, "translate") else "a run of " + (
            "notes" if getattr(info, "is_audio", False) else "text" if getattr(info, "is_text", False) else
            "2-D points" if len(info.shape) == 1 else f"shape {list(info.shape)}")
        raise GanforgeError(f"{run} is {kind}: {what} works on generators that draw images from latent codes")
    if segmented and info.shape[0] != 3:
        raise GanforgeError(f"{run} draws {info.shape[0]}-channel images: the shipped segmenters label 3-channel "
                            f"scenes (e.g. a dcgan-shapes run)")


def cmd_intervene(args) -> int:
    import torch

    from . import api
    from .dissect.intervene import insertion_values, unit_quantile_values
    from .utils.images import save_grid

    if args.region is not None and len(args.region) != 4:
        raise GanforgeError(f"--region is x0,y0,x1,y1, got {len(args.region)} numbers")
    if args.n < 1:
        raise GanforgeError(f"--n must be ≥ 1, got {args.n}")
    g = api.load(args.run, ema=not args.raw_weights)
    _require_latent_images(g, args.run, "intervention", segmented=bool(args.cls))
    if not args.units:
        raise GanforgeError("--units names at least one unit, e.g. --units 3,17")
    if args.cls and args.mode != "insert":
        raise GanforgeError("--class picks the insertion value of a class: it goes with --mode insert")
    value = None
    if args.mode == "insert":
        value = (insertion_values(g, "shapes", args.layer, args.cls) if args.cls
                 else unit_quantile_values(g, args.layer))
    before, after = api.intervene(g, args.layer, args.units, args.mode, value=value, region=args.region,
                                  n=args.n, seed=args.seed)
    if args.region is not None:  # the region's border, in yellow, on the edited row
        x0, y0, x1, y1 = args.region
        yellow = torch.tensor([200, 200, 0], dtype=torch.float32)[:, None] / 127.5 - 1
        after = after.clone()
        if after.shape[1] == 3:
            for sl in ((slice(y0, y1), x0), (slice(y0, y1), x1 - 1), (y0, slice(x0, x1)), (y1 - 1, slice(x0, x1))):
                after[:, :, sl[0], sl[1]] = yellow
    print(save_grid(torch.cat([before, after]), args.out, nrow=len(before)))
    change = (after - before).abs().mean().item()
    print(f"{args.mode} units {','.join(map(str, args.units))} of {args.layer}: top row before, bottom row after "
          f"(mean |change| {change:.4f})")
    return 0


COMMANDS = {"train": cmd_train, "sample": cmd_sample, "interpolate": cmd_interpolate, "eval": cmd_eval,
            "presets": cmd_presets, "data": cmd_data,
            "dissect": cmd_dissect, "intervene": cmd_intervene}


def _more_commands():
    from .cli_audio import AUDIO_COMMANDS
    from .cli_edit import EDIT_COMMANDS
    from .cli_serve import SERVE_COMMANDS
    from .cli_style import STYLE_COMMANDS
    from .cli_talking_head import TALKING_HEAD_COMMANDS
    from .cli_text import TEXT_COMMANDS
    from .cli_translate import TRANSLATE_COMMANDS
    from .stylize.cli import cmd_stylize

    COMMANDS.update(STYLE_COMMANDS, **TRANSLATE_COMMANDS, **SERVE_COMMANDS, **EDIT_COMMANDS, **TEXT_COMMANDS,
                    **TALKING_HEAD_COMMANDS, **AUDIO_COMMANDS, stylize=cmd_stylize)


_more_commands()


def _is_out_of_memory(e: BaseException) -> bool:
    text = str(e).lower()
    return "out of memory" in text or "can't allocate memory" in text or "failed to allocate" in text


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
        check_numbers(args)
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
    except (MemoryError, RuntimeError) as e:
        if not isinstance(e, MemoryError) and not _is_out_of_memory(e):
            raise  # a bug: its traceback is what a report needs
        print("error: out of memory: ask for smaller networks, batches or sample counts", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `ganforge presets | head`: the reader has gone, as with any Unix tool
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as e:  # a full disk, a folder that cannot be written, a path that is a file...
        where = f": {e.filename}" if getattr(e, "filename", None) else ""
        print(f"error: {e.strerror or e}{where}", file=sys.stderr)
        return 2
