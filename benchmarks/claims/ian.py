"""IAN's claims in miniature (Brock, Lim, Ritchie, Weston, ICLR 2017): reconstructions sharper than a plain VAE of
the same networks, and the ternary adversarial loss against the binary one. Prints a markdown table; writes no docs.

Three runs of the ian-mnist preset on MNIST-5k (train split of the preset's data), the same networks and steps:
`ian` (ternary), `ian-binary` (reconstructions and samples both "fake"), `vae` (adversarial none, feature weight
0: pixel + KL only, the body trained as the encoder). Measured on the 1,000 held-out test digits:

* reconstruction pixel MSE (x vs G(μ(x))), the mnist5k evaluator's digit accuracy on the reconstructions, the
  mean Sobel gradient energy of the reconstructions relative to the real digits' (1 = as sharp as the data), and
  the FID (evaluator features) of reconstructions against the test digits;
* sample FID: 1,000 samples G(z), z ~ N(0, I), against the test digits.

    OMP_NUM_THREADS=1 python benchmarks/claims/ian.py [--steps 1000]
"""
from __future__ import annotations

import argparse
import os
import sys

import torch
import torch.nn.functional as F

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
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
    return {"recon MSE": float(((recon - real) ** 2).mean()),
            "recon digit acc": float((ev.logits(recon).argmax(1) == labels).float().mean()),
            "recon sharpness": grad_energy(recon) / grad_energy(real),
            "recon FID": fid(fr, fx), "sample FID": fid(fr, fs)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1000)
    args = ap.parse_args()
    torch.set_num_threads(1)
    test = build_dataset(load_config("ian-mnist", ["data.split=test"]).data)
    batch = test.get(torch.arange(len(test)))
    ev = load_evaluator("mnist5k")
    rows = {name: measure(train(name, extra, args.steps), batch.x, batch.y, ev) for name, extra in ARMS.items()}
    keys = list(next(iter(rows.values())))
    print(f"\nIAN vs its ablations, ian-mnist networks, {args.steps} iterations of batch 16 each, "
          f"{len(batch.x)} held-out test digits\n")
    print("| run | " + " | ".join(keys) + " |")
    print("|---|" + "---|" * len(keys))
    for name, r in rows.items():
        print(f"| {name} | " + " | ".join(f"{r[k]:.4f}" if "acc" in k or "MSE" in k or "sharp" in k
                                          else f"{r[k]:.2f}" for k in keys) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
