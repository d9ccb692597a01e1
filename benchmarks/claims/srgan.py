"""SRGAN's perception–distortion trade-off (Ledig et al. 2017, Table 2 / §3.4), reproduced in miniature.

SRResNet (pixel MSE) wins PSNR/SSIM; SRGAN (content + 10⁻³ adversarial, initialised from SRResNet) loses some
PSNR/SSIM but its outputs are distributed more like real HR images. The paper's evidence for the second half is a
MOS study (humans); here it is measured on held-out patches with three human-free proxies:

* KID / FID of the outputs against the HR patches in the pooled features of the in-house patch network
  (sr-content-photos; note: SRGAN's content loss reads the same network's feature maps, SRResNet's does not);
* the 1-D Wasserstein distance between the luma gradient-magnitude (Sobel) distributions of outputs and HR;
* the share of spectral energy in the upper half of the frequencies (radial, luma), relative to HR's (1 = HR).

Rows: bicubic ×4 (baseline), SRResNet at the end of stage 1 (the network SRGAN starts from), SRResNet trained
with MSE for as many updates as SRGAN in total (so "more updates" cannot explain a difference), and SRGAN.

    OMP_NUM_THREADS=1 python benchmarks/claims/srgan.py [--pretrain 1000] [--gan 1000]
    python benchmarks/claims/srgan.py --render

Runs are kept under runs/claims/ and reused when complete. The picture LR | bicubic | SRResNet | SRGAN | HR of 8
held-out patches goes to docs/img/srgan-photos.png.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from claims_common import (NOT_REPRODUCED, REPO, REPRODUCED, command_line, make_results, publish,  # noqa: E402
                           script_cli_render, verdict_block)

from ganforge import api  # noqa: E402
from ganforge.config import load_config  # noqa: E402
from ganforge.data import build_dataset  # noqa: E402
from ganforge.methods.srgan import load_content_net  # noqa: E402
from ganforge.metrics import frechet_distance, gaussian_stats, kid  # noqa: E402
from ganforge.metrics.translation import luma, psnr, ssim, to_unit  # noqa: E402
from ganforge.train import Trainer  # noqa: E402
from ganforge.train.checkpoint import latest_checkpoint  # noqa: E402

RUNS = os.path.join(REPO, "runs", "claims")
IMG = os.path.join(REPO, "docs", "img", "srgan-photos.png")
TITLE = "SRGAN: the perception–distortion trade-off (Ledig et al. 2017)"
PAPER = ("Paper (Table 2, ×4; PSNR dB / SSIM / MOS of 26 raters): Set5 SRResNet 32.05 / 0.9019 / 3.37 vs SRGAN "
         "29.40 / 0.8472 / 3.58; Set14 28.49 / 0.8184 / 2.98 vs 26.02 / 0.7397 / 3.72; BSD100 27.58 / 0.7620 / 2.29 "
         "vs 25.16 / 0.6688 / 3.56 (HR 4.32). SRGAN has lower PSNR and SSIM than SRResNet but a far higher MOS. "
         "Not reproducible here: the MOS study (humans), VGG54 (no offline weights: an in-house patch network's "
         "feature maps stand in), ImageNet training (two bundled photos, 32×32 patches, a 6-block G).")


def train(name: str, preset: str, overrides) -> str:
    """Train (or reuse, or continue) runs/claims/<name>; returns the run directory."""
    run = os.path.join(RUNS, name)
    cfg = load_config(preset, ["train.progress=false", "train.tensorboard=false", "train.threads=1", *overrides])
    ckpt = latest_checkpoint(os.path.join(run, "checkpoints"))
    done = int(ckpt.rsplit("-", 1)[1]) if ckpt else 0
    if done != cfg.train.steps:
        if done > cfg.train.steps:
            raise SystemExit(f"{run} is past step {cfg.train.steps}: delete it to retrain")
        print(f"{name}: {preset} to iteration {cfg.train.steps} (from {done}) ...", flush=True)
        Trainer(cfg, run_dir=run, resume=done > 0, overwrite=done == 0).fit()
    return run


def generator_at(run: str, step: int):
    """The generator of the run's checkpoint at `step` (SRGAN's stage-1 end is SRResNet)."""
    return api.load(os.path.join(run, "checkpoints", f"step-{step:06d}")).generator


def gradient_magnitude(x: torch.Tensor) -> torch.Tensor:
    """Sobel gradient magnitude of the luma (images in [-1, 1]), interior pixels, flattened."""
    y = luma(to_unit(x))
    kx = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]).view(1, 1, 3, 3) / 8
    gx, gy = F.conv2d(y, kx), F.conv2d(y, kx.transpose(2, 3))
    return (gx * gx + gy * gy).sqrt().flatten()


def w1(a: torch.Tensor, b: torch.Tensor) -> float:
    """1-D Wasserstein-1 distance between two equally sized samples."""
    return float((a.sort().values - b.sort().values).abs().mean())


def high_frequency_share(x: torch.Tensor) -> float:
    """Share of the luma power spectrum (mean removed) above half the Nyquist radius."""
    y = luma(to_unit(x))[:, 0].double()
    y = y - y.mean(dim=(1, 2), keepdim=True)
    power = torch.fft.fft2(y).abs().pow(2).mean(0)
    n = y.shape[-1]
    f = torch.fft.fftfreq(n).abs()
    radius = torch.sqrt(f[:, None] ** 2 + f[None, :] ** 2)
    return float(power[radius > 0.25].sum() / power.sum())


def pooled_psnr(out: torch.Tensor, hr: torch.Tensor) -> float:
    """PSNR (dB) of the luma MSE pooled over all patches, 4-pixel border left out (per-patch PSNRs of flat sky
    patches run to 60 dB and would dominate a mean of per-patch values)."""
    mse = 10 ** (-psnr(out, hr, True, 4).double() / 10)  # per-patch MSE back from psnr()
    return float(10 * torch.log10(1 / mse.mean()))


def score(name: str, out: torch.Tensor, hr: torch.Tensor, net) -> dict:
    with torch.no_grad():
        f_out, f_hr = net.features(out.clamp(-1, 1)), net.features(hr)
    k = kid(f_hr, f_out, subset_size=500, num_subsets=50)
    return {"name": name,
            "psnr": None if torch.equal(out, hr) else pooled_psnr(out, hr), "ssim": float(ssim(out, hr, True, 4).mean()),
            "fid": frechet_distance(*gaussian_stats(f_hr), *gaussian_stats(f_out)),
            "kid_x1e3": 1e3 * float(k.mean), "grad_w1_x1e3": 1e3 * w1(gradient_magnitude(out), gradient_magnitude(hr)),
            "hf_share_vs_hr": high_frequency_share(out) / high_frequency_share(hr)}


@torch.no_grad()
def upscale(generator, x: torch.Tensor) -> torch.Tensor:
    generator.eval()
    return torch.cat([generator(x[i:i + 250]) for i in range(0, len(x), 250)]).clamp(-1, 1)


def claim(args) -> None:
    torch.set_num_threads(1)
    started = time.time()
    p, q = args.pretrain, args.gan
    common = [f"method.pretrain_steps={p}", f"method.decay_step={p + q // 2}", f"train.checkpoint_every={p}",
              "train.sample_every=500", "train.log_every=50"]
    steps = [f"train.steps={p + q}"]
    srgan = train("srgan-photos", "srgan-photos", [*common, *steps])
    srgan_mse = train("srgan-mse-photos", "srgan-photos", [*common, *steps, "method.content=mse"])
    longer = train("srresnet-photos-long", "srresnet-photos", [*steps, f"method.pretrain_steps={p + q}",
                                                                "train.sample_every=500", "train.log_every=50",
                                                                f"train.checkpoint_every={p + q}"])
    cfg = load_config("srgan-photos", [f"data.n={args.n}", "data.split=test"])
    test = build_dataset(cfg.data)
    batch = test.get(torch.arange(len(test)))
    lr_img, hr = batch.x, batch.target
    outs = {"bicubic ×4": F.interpolate(lr_img, scale_factor=4, mode="bicubic", align_corners=False).clamp(-1, 1),
            f"SRResNet ({p} MSE updates; SRGAN's start)": upscale(generator_at(srgan, p), lr_img),
            f"SRResNet ({p + q} MSE updates)": upscale(generator_at(longer, p + q), lr_img),
            f"SRGAN-MSE ({p} MSE + {q} adversarial updates, pixel content loss)":
                upscale(generator_at(srgan_mse, p + q), lr_img),
            f"SRGAN ({p} MSE + {q} adversarial updates)": upscale(generator_at(srgan, p + q), lr_img),
            "HR (reference)": hr}
    net = load_content_net("sr-content-photos", "cpu")
    rows = [score(name, out, hr, net) for name, out in outs.items()]
    show = torch.arange(0, len(test), len(test) // 8)[:8]
    nearest_lr = F.interpolate(lr_img[show], scale_factor=4, mode="nearest")
    from ganforge.utils.figure import save_labelled_grid

    cols = ["LR", "bicubic", "SRResNet", "SRGAN", "HR"]
    picks = [nearest_lr, outs["bicubic ×4"][show], outs[f"SRResNet ({p + q} MSE updates)"][show],
             outs[f"SRGAN ({p} MSE + {q} adversarial updates)"][show], hr[show]]
    grid = torch.stack(picks, 1).flatten(0, 1)
    if not args.no_write:
        save_labelled_grid(grid, IMG, nrow=5, col_labels=cols)
    numbers = {"pretrain": p, "gan": q, "test_patches": len(test), "rows": rows,
               "seconds": round(time.time() - started), "picture": os.path.relpath(IMG, REPO)}
    results = make_results("srgan", __file__, "srgan", TITLE, command_line(), numbers)
    if args.dry:
        print("\n".join(render(results)[1:]))
        return
    publish(results)


def verdict_of(res: dict, gan: dict, what: str):
    """(label, evidence, criterion) of one GAN row against the SRResNet row with as many updates."""
    distortion = res["psnr"] > gan["psnr"] and res["ssim"] > gan["ssim"]
    perception = [gan["kid_x1e3"] < res["kid_x1e3"], gan["fid"] < res["fid"], gan["grad_w1_x1e3"] < res["grad_w1_x1e3"],
                  abs(1 - gan["hf_share_vs_hr"]) < abs(1 - res["hf_share_vs_hr"])]
    label = (REPRODUCED if distortion and all(perception) else
             "partly reproduced" if distortion and sum(perception) >= 2 else NOT_REPRODUCED)
    text = (f"SRResNet {res['psnr']:.2f} dB / {res['ssim']:.4f} vs {what} {gan['psnr']:.2f} dB / {gan['ssim']:.4f} "
            f"(ΔPSNR {gan['psnr'] - res['psnr']:+.2f} dB); {what} closer to HR on {sum(perception)} of 4 distribution "
            f"proxies (KID, FID, gradient W1, high-frequency share).")
    return label, text, (f"SRResNet (same number of updates) has the higher PSNR and SSIM, and {what} is closer to HR "
                         f"on all four distribution proxies (the paper's MOS cannot be measured)")


def verdict_parts(n: dict):
    rows = n["rows"]
    res = [r for r in rows if r["name"].startswith("SRResNet")][-1]
    parts = [("SRGAN (feature content loss, the preset)",
              *verdict_of(res, [r for r in rows if r["name"].startswith("SRGAN (")][0], "SRGAN"))]
    mse = [r for r in rows if r["name"].startswith("SRGAN-MSE")]
    if mse:  # trained without the feature network: its FID/KID cannot be flattered by the content loss
        parts.append(("SRGAN-MSE (pixel content loss: only the adversarial term differs from SRResNet)",
                      *verdict_of(res, mse[0], "SRGAN-MSE")))
    return parts


def render(results: dict):
    n = results["numbers"]
    rows = ["| held-out patches | PSNR (Y) ↑ | SSIM (Y) ↑ | FID ↓ | KID×10³ ↓ | gradient W1×10³ ↓ | HF share / HR's (1 = HR) |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for r in n["rows"]:
        ref = r["name"].startswith("HR")
        value = "∞" if ref else f"{r['psnr']:.2f}"
        fid, kid_ = ("–", "–") if ref else (f"{r['fid']:.2f}", f"{r['kid_x1e3']:.2f}")
        rows.append(f"| {r['name']} | {value} | {r['ssim']:.4f} | {fid} | {kid_} | {r['grad_w1_x1e3']:.2f} | {r['hf_share_vs_hr']:.2f} |")
    measured = "\n".join(rows + [
        "", f"{n['test_patches']:,} 32×32 HR patches of the held-out region (rightmost quarter) of both bundled photos, "
            f"8×8 bicubic LR in; PSNR (of the MSE pooled over patches) / SSIM (mean over patches) on the luma channel with a 4-pixel border left out (as SRGAN reports them). "
            f"FID/KID in the pooled features of the in-house patch network (which SRGAN's content loss also reads); "
            f"gradient W1: 1-D Wasserstein distance of Sobel gradient magnitudes to HR's; HF share: spectral energy "
            f"above half Nyquist relative to HR's. G: 6 residual blocks, 32 channels; D: 16 channels, dense 256; "
            f"batch 16; the last invocation took {n['seconds']} s on one thread (finished runs are reused). Picture (LR | bicubic | SRResNet | SRGAN | HR): "
            f"`{n['picture']}`."])
    return PAPER, measured, verdict_block(verdict_parts(n))


RENDER = {"srgan": render}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pretrain", type=int, default=1000, help="SRResNet-MSE updates (stage 1)")
    ap.add_argument("--gan", type=int, default=1000, help="SRGAN updates (stage 2)")
    ap.add_argument("--n", type=int, default=1000, help="held-out patches scored")
    ap.add_argument("--no-write", action="store_true", help="leave docs/img alone")
    ap.add_argument("--render", action="store_true", help="re-render this script's section from docs/claims/*.json")
    ap.add_argument("--dry", action="store_true", help="runs under /tmp, print the section, publish nothing")
    args = ap.parse_args()
    if args.dry:
        global RUNS
        RUNS, args.no_write = "/tmp/srgan-claim-dry", True
    if args.render:
        return script_cli_render(__file__)
    claim(args)


if __name__ == "__main__":
    main()
