"""`ganforge mix`, `ganforge truncate` and `ganforge variation`: the StyleGAN figures for any style-based run
(Karras et al. 2019, Fig. 3, Fig. 8, Fig. 4)."""
from __future__ import annotations

from .errors import GanforgeError


def _float_list(text: str):
    try:
        return [float(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise GanforgeError(f"expected comma-separated numbers, got {text!r}") from None


def add_style_parsers(sub) -> None:
    m = sub.add_parser("mix", help="style-mixing figure of a StyleGAN run: sources A × B for coarse / middle / fine")
    m.add_argument("run")
    m.add_argument("--a", type=int, default=5, help="sources A (rows per block)")
    m.add_argument("--b", type=int, default=5, help="sources B (columns)")
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--out", default="mixing.png")

    t = sub.add_parser("truncate", help="truncation sweep of a StyleGAN or BigGAN run: one column per ψ")
    t.add_argument("run")
    t.add_argument("--psi", help="comma-separated ψ values (StyleGAN, default -1,-0.5,0,0.5,1: w' = w̄ + ψ(w − w̄); "
                                 "BigGAN, default 2,1,0.5,0.25: the threshold in (0, 2] beyond which z is re-drawn)")
    t.add_argument("--class", dest="cls", type=int, help="BigGAN: the class of every row (default: row i is class i)")
    t.add_argument("--standing", type=int, default=0,
                   help="BigGAN: recompute BN standing statistics per ψ from this many batches (default 0: off)")
    t.add_argument("--n", type=int, default=6, help="rows (seeds)")
    t.add_argument("--cutoff", type=int, help="truncate layers below this index (default: the run's; 0 = all)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", default="truncation.png")

    v = sub.add_parser("variation", help="stochastic variation of a StyleGAN run: one w, many noise draws + std")
    v.add_argument("run")
    v.add_argument("--draws", type=int, default=8)
    v.add_argument("--seed", type=int, default=0)
    v.add_argument("--out", default="variation.png")


def cmd_mix(args) -> int:
    from . import api
    from .latent.style import style_mixing_figure
    from .utils.figure import save_labelled_grid

    if args.a < 1 or args.b < 1:
        raise GanforgeError(f"--a and --b must be ≥ 1, got {args.a} and {args.b}")
    g = api.load(args.run)
    imgs, per_row, labels = style_mixing_figure(g.generator, args.a, args.b, args.seed)
    cols = ["source A"] + [f"B{j}" for j in range(per_row - 1)]
    print(save_labelled_grid(imgs, args.out, per_row, row_labels=_short_mixing_labels(labels), col_labels=cols,
                             title="Style mixing: row A_i takes the named styles from column B_j"))
    print("rows: " + "; ".join(labels))
    return 0


def _short_mixing_labels(labels):
    """'A0 + coarse styles of B (layers 0–3)' -> 'A0 ← coarse of B (0–3)'; the top row 'B' -> 'source B'."""
    out = []
    for s in labels:
        if s == "B":
            out.append("source B")
            continue
        head, _, rest = s.partition(" + ")
        kind = rest.split(" styles")[0]
        layers = rest[rest.find("layers ") + 7:].rstrip(")") if "layers " in rest else ""
        out.append(f"{head} ← {kind} of B ({layers})")
    return out


def cmd_truncate(args) -> int:
    from . import api
    from .latent.style import truncation_sweep
    from .utils.figure import save_labelled_grid

    g = api.load(args.run)
    if getattr(g.generator, "truncation_trick", None) == "resample":
        return _truncate_resampled(args, g)
    psis = _float_list(args.psi or "-1,-0.5,0,0.5,1")
    if not psis or args.n < 1:
        raise GanforgeError("--psi needs at least one value and --n must be ≥ 1")
    imgs = truncation_sweep(g.generator, psis, args.n, args.seed, args.cutoff)
    print(save_labelled_grid(imgs, args.out, len(psis), row_labels=[f"seed {args.seed}, #{i}" for i in range(args.n)],
                             col_labels=[f"ψ = {p:g}" for p in psis],
                             title="Truncation in W: w' = w̄ + ψ (w − w̄)"))
    print("columns: ψ = " + ", ".join(f"{p:g}" for p in psis))
    return 0


def _truncate_resampled(args, g) -> int:
    """BigGAN's truncation (§3.1): ψ is the bound on |z|; values beyond it are re-drawn."""
    from .latent.truncation import truncation_sweep_resampled
    from .utils.figure import save_labelled_grid

    psis = _float_list(args.psi or "2,1,0.5,0.25")
    if not psis or args.n < 1 or args.standing < 0:
        raise GanforgeError("--psi needs at least one value, --n must be ≥ 1 and --standing ≥ 0")
    imgs, y = truncation_sweep_resampled(g.generator, psis, args.n, args.seed, args.cls, args.standing)
    rows = [f"#{i}" + ("" if y is None else f", class {int(y[i])}") for i in range(args.n)]
    print(save_labelled_grid(imgs, args.out, len(psis), row_labels=rows, col_labels=[f"ψ = {p:g}" for p in psis],
                             title="Truncation by resampling: |z| > ψ re-drawn"))
    print("columns: ψ = " + ", ".join(f"{p:g}" for p in psis))
    return 0


def cmd_variation(args) -> int:
    import torch

    from . import api
    from .latent.style import noise_variation
    from .utils.images import save_grid

    if args.draws < 2:
        raise GanforgeError(f"--draws must be ≥ 2, got {args.draws}")
    g = api.load(args.run)
    imgs, std = noise_variation(g.generator, args.seed, args.draws)
    heat = (std / std.max().clamp_min(1e-12)) * 2 - 1  # [-1, 1] for the grid
    heat = heat.expand(imgs.shape[1], -1, -1)[None]
    print(save_grid(torch.cat([imgs, heat]), args.out, nrow=len(imgs) + 1))
    print(f"last image: per-pixel standard deviation over the {args.draws} noise draws (white = most variation); "
          f"mean std {std.mean().item():.4f}")
    return 0


STYLE_COMMANDS = {"mix": cmd_mix, "truncate": cmd_truncate, "variation": cmd_variation}
