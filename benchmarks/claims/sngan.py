"""Claim (Miyato et al., "Spectral Normalization for Generative Adversarial Networks", ICLR 2018, §2.1): dividing
each weight of D by its spectral norm σ(W), estimated with one power iteration per update, keeps every layer
1-Lipschitz (σ(W_SN) = 1) throughout training, which stabilises the GAN; on CIFAR-10 the SN-ResNet with the hinge
loss reaches IS 8.22 and FID 21.7 (reference/papers-details.md §5.11).

Miniature: the `sngan-mnist` preset (SN-ResNet G/D, hinge loss, n_dis 5, Adam 2e-4 β (0, 0.9)) on MNIST-5k.
Measured: (1) the exact largest singular value (SVD of the weight reshaped to (out, in·kh·kw)) of every layer of
D during training, with SN and for the same D trained without SN (`discriminator.spectral_norm=false`, same
seed); (2) the MNIST-evaluator FID of the generator after the preset budget vs its own step 0 (the same seed's
untrained G), 2,000 samples against the 5,000 reference digits.

    OMP_NUM_THREADS=1 python benchmarks/claims/sngan.py   # ~5 minutes on one CPU thread; writes docs/claims.md
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from claims_common import write_claims_section  # noqa: E402

from ganforge.config import load_config  # noqa: E402
from ganforge.evaluation import evaluate  # noqa: E402
from ganforge.models.resnet import largest_singular_values  # noqa: E402
from ganforge.train import Trainer  # noqa: E402
from ganforge.train.trainer import DeviceStream  # noqa: E402


def fid(trainer, cache_dir: str) -> float:
    g = trainer.method.generator
    g.eval()
    try:
        cfg = trainer.config
        return evaluate(g, cfg.data, "fid", n=cfg.train.eval_n, seed=0, dataset=trainer.dataset,
                        cache_dir=cache_dir).scores["fid"]
    finally:
        g.train()


def run(sn: bool, steps: int, every: int, cache_dir: str, score: bool):
    """Train sngan-mnist (with or without SN) for `steps`; σ of D's layers every `every` steps, FID at 0 and end."""
    cfg = load_config("sngan-mnist", [f"discriminator.spectral_norm={str(sn).lower()}", f"train.steps={steps}",
                                      "train.progress=false", "train.eval_every=0"])
    trainer = Trainer(cfg, run_dir=tempfile.mkdtemp(prefix="claim-sngan-"))
    data = DeviceStream(trainer.stream, trainer.device)
    nonfinite = torch.zeros((), dtype=torch.bool)
    fids = {0: fid(trainer, cache_dir)} if score else {}
    sigmas = {0: largest_singular_values(trainer.method.discriminator)}
    started = time.perf_counter()
    for i in range(1, steps + 1):
        trainer.iteration(data, nonfinite)
        if i % every == 0 or i == steps:
            sigmas[i] = largest_singular_values(trainer.method.discriminator)
            print(f"sn={sn} step {i}: σ max {max(sigmas[i].values()):.3f}  ({time.perf_counter() - started:.0f}s)",
                  flush=True)
    if score:
        fids[steps] = fid(trainer, cache_dir)
    return cfg, sigmas, fids, bool(nonfinite)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=None, help="SN run length (default: the preset's train.steps)")
    ap.add_argument("--no-sn-steps", type=int, default=150, help="length of the run without SN")
    ap.add_argument("--every", type=int, default=50)
    args = ap.parse_args()
    torch.set_num_threads(1)
    cache = tempfile.mkdtemp(prefix="claim-sngan-ref-")
    steps = args.steps or load_config("sngan-mnist").train.steps
    cfg, sn_sig, fids, _ = run(True, steps, args.every, cache, score=True)
    _, raw_sig, _, diverged = run(False, args.no_sn_steps, args.every, cache, score=False)

    def stats(sig):
        vals = list(sig.values())
        return f"{min(vals):.3f} / {statistics.mean(vals):.3f} / {max(vals):.3f}"

    lines = ["| iteration (= G updates) | with SN: σ min / mean / max over layers | without SN: σ min / mean / max |",
             "|---|---|---|"]
    for step in sorted(set(sn_sig) | set(raw_sig)):
        lines.append(f"| {step} | {stats(sn_sig[step]) if step in sn_sig else '—'} | "
                     f"{stats(raw_sig[step]) if step in raw_sig else '—'} |")
    final = sn_sig[steps]
    worst = max(abs(s - 1) for s in final.values())
    d, m = cfg.discriminator, cfg.method
    body = "\n".join(lines) + (
        f"\n\nAfter {steps} iterations ({steps * m.d_steps} D updates) every one of the {len(final)} spectrally "
        f"normalised layers of D has σ within {worst:.3f} of 1; the same D without SN "
        f"{'diverged (non-finite loss) and ' if diverged else ''}has its layers' σ at "
        f"{stats(raw_sig[args.no_sn_steps])} (min / mean / max) after {args.no_sn_steps} iterations."
        f"\n\nMNIST-evaluator FID ({cfg.train.eval_n} samples vs MNIST-5k): step 0 {fids[0]:.1f} → "
        f"step {steps} {fids[steps]:.1f}. "
        f"Miniature: SN-ResNet G/D at {cfg.generator.channels}/{d.channels} channels (paper: 256/128), batch "
        f"{cfg.train.batch_size} (paper: 64, G batch 128), {steps} G updates (paper: 50k with linear lr decay), "
        f"1×32×32 MNIST-5k instead of CIFAR-10; our MNIST-evaluator FID is not comparable to Inception FID.")
    write_claims_section(
        "Spectral normalization: SN-GAN (Miyato et al. 2018)",
        "Paper: SN keeps the spectral norm of every D layer at 1 with one power iteration per update, which "
        "stabilises training; CIFAR-10 unconditional SN-ResNet with the hinge loss: IS 8.22 ± .05, FID 21.7 "
        "(Inception FID, 10k real / 5k fake).",
        body, "OMP_NUM_THREADS=1 python benchmarks/claims/sngan.py")
    print(body)


if __name__ == "__main__":
    main()
