"""Claim (Miyato et al., "Spectral Normalization for Generative Adversarial Networks", ICLR 2018, §2.1): dividing
each weight of D by its spectral norm σ(W), estimated with one power iteration per update, keeps every layer
1-Lipschitz (σ(W_SN) = 1) throughout training, which stabilises the GAN; on CIFAR-10 the SN-ResNet with the hinge
loss reaches IS 8.22 and FID 21.7 (reference/papers-details.md §5.11).

Miniature: the `sngan-mnist` preset (SN-ResNet G/D, hinge loss, n_dis 5, Adam 2e-4 β (0, 0.9)) on MNIST-5k.
Measured: (1) the exact largest singular value (SVD of the weight reshaped to (out, in·kh·kw)) of every layer of
D during training, with SN and for the same D trained without SN (`discriminator.spectral_norm=false`, same
seed); (2) the MNIST-evaluator FID of the generator after the preset budget vs its own step 0 (the same seed's
untrained G), 2,000 samples against the 5,000 reference digits.

    OMP_NUM_THREADS=1 python benchmarks/claims/sngan.py   # ~5 minutes on one CPU thread; writes
                                                          # docs/claims/sngan.json and its section of docs/claims.md
    python benchmarks/claims/sngan.py --render            # re-render the section from the JSON
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
from claims_common import (NOT_REPRODUCED, REPRODUCED, command_line, make_results, publish,  # noqa: E402
                           script_cli_render, verdict_block)

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


SLUG = "sngan"
TITLE = "Spectral normalization: SN-GAN (Miyato et al. 2018)"
PAPER = ("Paper: SN keeps the spectral norm of every D layer at 1 with one power iteration per update, which "
         "stabilises training; CIFAR-10 unconditional SN-ResNet with the hinge loss: IS 8.22 ± .05, FID 21.7 "
         "(Inception FID, 10k real / 5k fake).")
TOLERANCE = 0.1  # |σ − 1| allowed for "σ stays at 1" (one power iteration per update only estimates σ)


def sigma_stats(sig: dict) -> dict:
    vals = list(sig.values())
    return {"min": min(vals), "mean": statistics.mean(vals), "max": max(vals)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=None, help="SN run length (default: the preset's train.steps)")
    ap.add_argument("--no-sn-steps", type=int, default=150, help="length of the run without SN")
    ap.add_argument("--every", type=int, default=50)
    ap.add_argument("--render", action="store_true", help="re-render the section from docs/claims/sngan.json")
    args = ap.parse_args()
    if args.render:
        return script_cli_render(__file__)
    torch.set_num_threads(1)
    cache = tempfile.mkdtemp(prefix="claim-sngan-ref-")
    steps = args.steps or load_config("sngan-mnist").train.steps
    cfg, sn_sig, fids, _ = run(True, steps, args.every, cache, score=True)
    _, raw_sig, _, diverged = run(False, args.no_sn_steps, args.every, cache, score=False)
    d, m = cfg.discriminator, cfg.method
    numbers = {
        "steps": steps, "d_updates": steps * m.d_steps, "no_sn_steps": args.no_sn_steps, "no_sn_diverged": diverged,
        "layers": len(sn_sig[steps]), "worst_final": max(abs(s - 1) for s in sn_sig[steps].values()),
        "rows": [{"iteration": i, "sn": sigma_stats(sn_sig[i]) if i in sn_sig else None,
                  "no_sn": sigma_stats(raw_sig[i]) if i in raw_sig else None}
                 for i in sorted(set(sn_sig) | set(raw_sig))],
        "eval_n": cfg.train.eval_n, "fid_start": fids[0], "fid_end": fids[steps],
        "g_channels": cfg.generator.channels, "d_channels": d.channels, "batch": cfg.train.batch_size,
        "per_layer": {"sn": {str(i): v for i, v in sn_sig.items()}, "no_sn": {str(i): v for i, v in raw_sig.items()}},
    }
    publish(make_results(SLUG, __file__, "sngan", TITLE, command_line(), numbers))


def verdict(n: dict):
    def dev(r):
        return max(abs(r["min"] - 1), abs(r["max"] - 1))

    sn = max(dev(r["sn"]) for r in n["rows"] if r["sn"])
    raw = max(dev(r["no_sn"]) for r in n["rows"] if r["no_sn"])
    kept = sn <= TOLERANCE < raw
    parts = [("σ stays at 1 with SN", REPRODUCED if kept else NOT_REPRODUCED,
              f"With SN the largest |σ − 1| over the layers and logged iterations is {sn:.3f}; without SN {raw:.3f}.",
              f"with SN every layer's σ within {TOLERANCE} of 1 at every logged iteration, without SN not"),
             ("The SN-GAN trains", REPRODUCED if n["fid_end"] < n["fid_start"] / 2 else NOT_REPRODUCED,
              f"FID {n['fid_start']:.1f} at step 0 → {n['fid_end']:.1f} at step {n['steps']} (not comparable to the "
              f"paper's Inception FID).", "FID at the end below half the untrained generator's")]
    return parts


def render(results: dict):
    n = results["numbers"]

    def stats(r):
        return "—" if r is None else f"{r['min']:.3f} / {r['mean']:.3f} / {r['max']:.3f}"

    lines = ["| iteration (= G updates) | with SN: σ min / mean / max over layers | without SN: σ min / mean / max |",
             "|---|---|---|"]
    lines += [f"| {r['iteration']} | {stats(r['sn'])} | {stats(r['no_sn'])} |" for r in n["rows"]]
    last_raw = next(r["no_sn"] for r in n["rows"] if r["iteration"] == n["no_sn_steps"])
    measured = "\n".join(lines) + (
        f"\n\nAfter {n['steps']} iterations ({n['d_updates']} D updates) every one of the {n['layers']} spectrally "
        f"normalised layers of D has σ within {n['worst_final']:.3f} of 1; the same D without SN "
        f"{'diverged (non-finite loss) and ' if n['no_sn_diverged'] else ''}has its layers' σ at "
        f"{stats(last_raw)} (min / mean / max) after {n['no_sn_steps']} iterations."
        f"\n\nMNIST-evaluator FID ({n['eval_n']} samples vs MNIST-5k): step 0 {n['fid_start']:.1f} → "
        f"step {n['steps']} {n['fid_end']:.1f}. "
        f"Miniature: SN-ResNet G/D at {n['g_channels']}/{n['d_channels']} channels (paper: 256/128), batch "
        f"{n['batch']} (paper: 64, G batch 128), {n['steps']} G updates (paper: 50k with linear lr decay), "
        f"1×32×32 MNIST-5k instead of CIFAR-10; our MNIST-evaluator FID is not comparable to Inception FID.")
    return PAPER, measured, verdict_block(verdict(n))


RENDER = {"sngan": render}


if __name__ == "__main__":
    main()
