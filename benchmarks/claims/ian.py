"""IAN's claims in miniature (Brock, Lim, Ritchie, Weston, ICLR 2017): reconstructions sharper than a plain VAE of
the same networks, and the ternary adversarial loss against the binary one. Publishes docs/claims/ian.json and its
section of docs/claims.md.

Three runs of the ian-mnist preset on MNIST-5k (train split of the preset's data), the same networks and steps:
`ian` (ternary), `ian-binary` (reconstructions and samples both "fake"), `vae` (adversarial none, feature weight
0: pixel + KL only, the body trained as the encoder). Measured on the 1,000 held-out test digits:

* reconstruction pixel MSE (x vs G(μ(x))), the mnist5k evaluator's digit accuracy on the reconstructions, the
  mean Sobel gradient energy of the reconstructions relative to the real digits' (1 = as sharp as the data), and
  the FID (evaluator features) of reconstructions against the test digits;
* sample FID: 1,000 samples G(z), z ~ N(0, I), against the test digits.

    OMP_NUM_THREADS=1 python benchmarks/claims/ian.py [--steps 1000]   # trains what is missing under runs/claims/
    python benchmarks/claims/ian.py --render                           # re-render the section from its JSON
"""
from __future__ import annotations

import argparse
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from claims_common import (NOT_REPRODUCED, REPO, REPRODUCED, command_line, make_results, publish,  # noqa: E402
                           render_section, script_cli_render, verdict_block)

sys.path.insert(0, os.path.join(REPO, "src"))

from ganforge import api  # noqa: E402
from ganforge.config import load_config  # noqa: E402
from ganforge.data import build_dataset  # noqa: E402
from ganforge.metrics import fid  # noqa: E402
from ganforge.metrics.evaluator import load_evaluator  # noqa: E402
from ganforge.train import Trainer  # noqa: E402
from ganforge.train.checkpoint import latest_checkpoint  # noqa: E402

RUNS = os.path.join(REPO, "runs", "claims")
ARMS = {"ian": [], "ian-binary": ["method.adversarial=binary"],
        "vae": ["method.adversarial=none", "method.feature_weight=0"]}


def train(name: str, extra, steps: int) -> str:
    run = os.path.join(RUNS, f"ian-claim-{name}")
    ckpt = latest_checkpoint(os.path.join(run, "checkpoints"))
    if not ckpt or int(ckpt.rsplit("-", 1)[1]) != steps:
        print(f"training {name} ({steps} steps) ...", flush=True)
        cfg = load_config("ian-mnist", ["train.progress=false", "train.tensorboard=false", "train.threads=1",
                                        "train.eval_every=0", "data.split=train", f"train.steps={steps}",
                                        f"train.checkpoint_every={steps}", *extra])
        Trainer(cfg, run_dir=run, overwrite=True).fit()
    return run


def grad_energy(x: torch.Tensor) -> float:
    k = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]).view(1, 1, 3, 3) / 8
    g = x.mean(1, keepdim=True)
    return float((F.conv2d(g, k) ** 2 + F.conv2d(g, k.transpose(2, 3)) ** 2).mean())


@torch.no_grad()
def measure(run: str, real: torch.Tensor, labels: torch.Tensor, ev) -> dict:
    g = api.load(run)
    d = api.load_discriminator(run)
    recon = torch.cat([g.generate(d.encode_mean(real[i : i + 250])) for i in range(0, len(real), 250)])
    fr, fx, fs = ev.features(real), ev.features(recon), ev.features(g.sample(len(real), seed=1))
    return {"recon_mse": float(((recon - real) ** 2).mean()),
            "recon_acc": float((ev.logits(recon).argmax(1) == labels).float().mean()),
            "recon_sharpness": grad_energy(recon) / grad_energy(real),
            "recon_fid": float(fid(fr, fx)), "sample_fid": float(fid(fr, fs)),
            "recon_spread": float(recon.std(0).mean()), "real_spread": float(real.std(0).mean())}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--render", action="store_true", help="re-render the section from its JSON; measure nothing")
    args = ap.parse_args()
    if args.render:
        return script_cli_render(__file__) or 0
    torch.set_num_threads(1)
    test = build_dataset(load_config("ian-mnist", ["data.split=test"]).data)
    batch = test.get(torch.arange(len(test)))
    ev = load_evaluator("mnist5k")
    rows = {}
    for name, extra in ARMS.items():
        rows[name] = measure(train(name, extra, args.steps), batch.x, batch.y, ev)
        print(name, rows[name], flush=True)
    cfg = load_config("ian-mnist", [])
    numbers = {"steps": args.steps, "batch": cfg.train.batch_size, "n_test": len(batch.x),
               "runs": {k: os.path.relpath(os.path.join(RUNS, f"ian-claim-{k}"), REPO) for k in ARMS},
               "arms": {k: list(v) for k, v in ARMS.items()}, "rows": rows}
    results = make_results(SLUG, __file__, "ian", TITLE, command_line(), numbers)
    publish(results)
    print(render_section(results))
    return 0


# --- the section ----------------------------------------------------------------------------------------------

SLUG = "ian"
TITLE = "IAN: sharper reconstructions than a VAE, ternary against binary adversarial loss (Brock et al. 2017)"
PAPER = ("Paper (Brock et al., ICLR 2017, §3 and Figs. 3-4 on CelebA / SVHN): the Introspective Adversarial "
         "Network, a VAE/GAN hybrid whose discriminator doubles as the encoder, reconstructs with sharper detail "
         "than a VAE of the same networks while keeping inference, and its ternary adversarial loss (real / "
         "reconstruction / sample) is the variant that trains the encoder–decoder best. The paper shows the "
         "sharpness by pictures, not by a reconstruction score, so no paper numbers are set beside ours; its "
         "tables are CIFAR-100 / SVHN classification results for MDC blocks and orthogonal regularisation.")
ARM_LABEL = {"ian": "IAN (ternary)", "ian-binary": "IAN, binary adversarial loss",
             "vae": "VAE (no adversary, no feature loss)"}


def verdict_sharper(rows: dict):
    """REPRODUCED when IAN's reconstructions are sharper than the VAE's (higher gradient-energy ratio) and closer
    to the test digits in the evaluator's features (lower reconstruction FID)."""
    ian, vae = rows["ian"], rows["vae"]
    ok = ian["recon_sharpness"] > vae["recon_sharpness"] and ian["recon_fid"] < vae["recon_fid"]
    return ("IAN sharper than a VAE", REPRODUCED if ok else NOT_REPRODUCED,
            f"Reconstruction sharpness IAN {ian['recon_sharpness']:.3f} vs VAE {vae['recon_sharpness']:.3f} (1 = "
            f"as sharp as the data); reconstruction FID {ian['recon_fid']:.2f} vs {vae['recon_fid']:.2f}; pixel "
            f"MSE {ian['recon_mse']:.4f} vs {vae['recon_mse']:.4f}.",
            "IAN's sharpness ratio above the VAE's and its reconstruction FID below the VAE's (one seed each)")


def verdict_ternary(rows: dict):
    """REPRODUCED when the ternary loss gives both a lower reconstruction FID and a lower sample FID than the
    binary one."""
    t, b = rows["ian"], rows["ian-binary"]
    ok = t["recon_fid"] < b["recon_fid"] and t["sample_fid"] < b["sample_fid"]
    return ("ternary better than binary", REPRODUCED if ok else NOT_REPRODUCED,
            f"Reconstruction FID ternary {t['recon_fid']:.2f} vs binary {b['recon_fid']:.2f}; sample FID "
            f"{t['sample_fid']:.2f} vs {b['sample_fid']:.2f}.",
            "the ternary loss's reconstruction FID and sample FID both below the binary loss's (one seed each)")


def verdict(n: dict):
    return [verdict_sharper(n["rows"]), verdict_ternary(n["rows"])]


def render(results: dict):
    n = results["numbers"]
    lines = ["| run | recon pixel MSE | recon digit accuracy | recon sharpness | recon spread | recon FID | "
             "sample FID |", "|---|---:|---:|---:|---:|---:|---:|"]
    for k, r in n["rows"].items():
        spread = f"{r['recon_spread']:.3f}" if "recon_spread" in r else "—"
        lines.append(f"| {ARM_LABEL.get(k, k)} | {r['recon_mse']:.4f} | {100 * r['recon_acc']:.1f} % | "
                     f"{r['recon_sharpness']:.3f} | {spread} | {r['recon_fid']:.2f} | {r['sample_fid']:.2f} |")
    real_spread = next(iter(n["rows"].values())).get("real_spread")
    measured = "\n".join(lines) + (
        f"\n\nThree runs of the `ian-mnist` preset (the same networks, {n['steps']} iterations at batch "
        f"{n['batch']} each, one seed, trained on MNIST-5k's train split): IAN as the preset, the binary "
        f"adversarial loss (reconstructions and samples both \"fake\"), and a VAE (adversarial loss none, "
        f"feature weight 0: pixel + KL). Scored on the {n['n_test']} held-out test digits: pixel MSE of x against "
        f"G(μ(x)); the mnist5k evaluator's accuracy on the reconstructions; sharpness = mean Sobel gradient energy "
        f"of the reconstructions over the real digits' (1 = as sharp as the data); spread = per-pixel standard "
        f"deviation of the reconstructions across the test digits, averaged over pixels (the real digits': "
        f"{real_spread if real_spread is None else format(real_spread, '.3f')}; near 0: the decoder ignores the "
        f"code); FID in the evaluator's features of the reconstructions, and of {n['n_test']} samples G(z), "
        f"against the test digits.")
    return PAPER, measured, verdict_block(verdict(n))


RENDER = {"ian": render}


if __name__ == "__main__":
    raise SystemExit(main())
