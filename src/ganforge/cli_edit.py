"""`ganforge train-encoder`, `ganforge project` and `ganforge edit`: real images through a trained generator
(iGAN, Zhu et al. ECCV 2016; the Neural Photo Editor, Brock et al. ICLR 2017). See ganforge/editing/.

Images of another size or channel count are converted by editing/images.py's rule (channels converted, shorter
side resized to the generator's resolution, centre crop). Stroke files: editing/strokes.py.
"""
from __future__ import annotations

import os
import sys

from .cli_paths import output_paths, refuse_overwriting
from .errors import CheckpointError, GanforgeError


def add_edit_parsers(sub) -> None:
    t = sub.add_parser("train-encoder", help="train iGAN's encoder that inverts a run's generator (on its samples)")
    t.add_argument("run")
    t.add_argument("--steps", type=int, default=1000)
    t.add_argument("--batch-size", type=int, default=64)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--class", dest="cls", type=int, help="class-conditional runs: the class to invert")
    t.add_argument("--out", help="folder for encoder.safetensors + encoder.json (default: RUN/encoder)")

    p = sub.add_parser("project", help="put real images on a run's manifold (iGAN projection): PNGs + latents")
    p.add_argument("run")
    p.add_argument("--input", required=True, help="an image file or a folder (searched recursively)")
    p.add_argument("--out", required=True, help="output folder")
    _common(p)

    e = sub.add_parser("edit", help="edit a real image with strokes through a run's generator (iGAN or NPE)")
    e.add_argument("run")
    e.add_argument("--input", required=True, help="the image to edit")
    e.add_argument("--strokes", required=True, help="JSON stroke file (format: ganforge/editing/strokes.py)")
    e.add_argument("--out", required=True, help="the edited image (PNG); NAME-generated.png beside it")
    e.add_argument("--method", choices=("igan", "npe"), default="igan")
    e.add_argument("--edit-steps", type=int, default=50, help="iGAN: Adam steps on the constrained objective")
    e.add_argument("--npe-steps", type=int, default=10, help="NPE: gradient steps per stroke")
    _common(e, projector_flag="--projector")


def _common(p, projector_flag: str = "--method") -> None:
    p.add_argument(projector_flag, dest="projector", choices=("auto", "hybrid", "opt", "encoder"), default="auto",
                   help="auto: hybrid when an encoder exists (RUN/encoder, or an IAN run's own), else opt")
    p.add_argument("--steps", type=int, default=100, help="optimisation steps of the projection")
    p.add_argument("--encoder", help="encoder folder (default: RUN/encoder when present)")
    p.add_argument("--class", dest="cls", type=int, help="class-conditional runs: the class to project into")
    p.add_argument("--seed", type=int, default=0)


def _encoder(args, g):
    """The trained encoder: --encoder, RUN/encoder, or an introspective discriminator's own (IAN); else None."""
    from . import api
    from .editing.run import encoder_for_run

    disc = None
    if not args.encoder:
        try:
            disc = api.load_discriminator(args.run, device=str(g.device))
        except (CheckpointError, RuntimeError):
            disc = None
    return encoder_for_run(args.run, disc, args.encoder, device=str(g.device))


def _load(args):
    from . import api

    g = api.load(args.run)
    if not hasattr(g, "latents"):
        raise GanforgeError(f"{args.run} is an image-to-image run: it has no latent space to project into")
    return g


def cmd_train_encoder(args) -> int:
    from .editing import save_encoder, train_encoder

    if args.steps < 1 or args.batch_size < 1:
        raise GanforgeError(f"--steps and --batch-size must be ≥ 1, got {args.steps} and {args.batch_size}")
    g = _load(args)
    enc, report = train_encoder(g, y=args.cls, steps=args.steps, batch_size=args.batch_size, seed=args.seed)
    path = save_encoder(enc, args.out or os.path.join(args.run, "encoder"), report, g.checkpoint)
    print(f"encoder trained in {report['seconds']:.1f}s (loss {report['loss_first']:.4f} -> {report['loss_last']:.4f})"
          f": {path}")
    return 0


def cmd_project(args) -> int:
    from .cli_translate import _inputs
    from .editing import project, read_image, write_image
    from .errors import DataError
    from .utils.safeio import write_json, write_tensors

    g = _load(args)
    enc = _encoder(args, g)
    method = args.projector if args.projector != "auto" else ("hybrid" if enc is not None else "opt")
    shape = tuple(g.generator.out_shape)
    files, root = _inputs(args.input)
    targets = output_paths(files, root, args.out)
    os.makedirs(args.out, exist_ok=True)
    latents, report, skipped = {}, {"method": method, "steps": args.steps, "images": {}}, []
    for path in files:
        try:
            x = read_image(path, shape)
        except DataError as e:
            skipped.append(str(e))
            continue
        p = project(g, x, method, enc, steps=args.steps, y=args.cls, seed=args.seed)
        name = os.path.splitext(os.path.relpath(targets[path], args.out))[0]
        write_image(p.image[0], targets[path])
        latents[name] = p.latent[0]
        report["images"][name] = {"error": float(p.error[0]), "seconds": round(p.seconds, 4)}
        report["space"] = p.space
    if latents:
        write_tensors(os.path.join(args.out, "latents.safetensors"), latents)
        write_json(os.path.join(args.out, "projection.json"), report)
    errs = [v["error"] for v in report["images"].values()]
    if errs:
        print(f"{len(errs)} image(s) projected by {method} into {report['space']}: mean pixel MSE "
              f"{sum(errs) / len(errs):.4f}; PNGs, latents.safetensors and projection.json in {args.out}")
    if skipped:
        print(f"skipped {len(skipped)} file(s), e.g. {skipped[0]}", file=sys.stderr)
    return 0 if errs else 2


def cmd_edit(args) -> int:
    from .editing import EditSession, read_image, read_strokes, write_image

    g = _load(args)
    shape = tuple(g.generator.out_shape)
    strokes = read_strokes(args.strokes, shape[-1])  # a bad file fails before any work
    enc = _encoder(args, g)
    gen = os.path.splitext(args.out)[0] + "-generated.png"
    refuse_overwriting([args.input, args.strokes], [args.out, gen])
    photo = read_image(args.input, shape)
    session = EditSession(g, photo, method=args.method, encoder=enc, projector=args.projector,
                          project_steps=args.steps, edit_steps=args.edit_steps, npe_steps=args.npe_steps, y=args.cls,
                          seed=args.seed)
    result = session.stroke(strokes)
    write_image(result.output, args.out)
    write_image(result.generated, gen)
    s = session.summary()
    shown = ", ".join(f"{k} {v:.4f}" for k, v in s.items())
    print(f"{args.out} (edited photo), {gen} (edit on the manifold); {shown}")
    return 0


EDIT_COMMANDS = {"train-encoder": cmd_train_encoder, "project": cmd_project, "edit": cmd_edit}
