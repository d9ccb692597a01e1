"""Talking heads on CPU: the cost of one meta-learning iteration through ganforge's Trainer against a hand-written
plain-PyTorch loop of the same E, G, D, batch, K and optimisers (target ≤ 1.05×); per-frame generation time of a
person's model; and fine-tuning time for K = 8. Prints markdown tables and writes them as one section of
BENCHMARKS.md (not with --quick).

  * plain: an episode drawn from in-memory tensors (B videos, a target frame and K other frames each), ê = mean
    E(shots), x̂ = G(y, Pê), 2 D hinge updates, then E/G on pixel L1 + evaluator-feature L1 − D(x̂) + 10·FM +
    80·|W_i − ê| with Adam — the recipe of methods/talking_head.py written out inline;
  * ganforge: `Trainer.iteration` of the `talking-heads` preset.

    OMP_NUM_THREADS=1 python benchmarks/talking_heads_speed.py [--threads 1] [--quick]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _speed import add_args, header, load_preset, publish, row, start, time_loops  # noqa: E402
from throughput import GanforgeLoop  # noqa: E402

from ganforge.data import build_dataset  # noqa: E402
from ganforge.methods.pix2pixhd import EvaluatorFeatures  # noqa: E402
from ganforge.models import build_discriminator, build_generator  # noqa: E402
from ganforge.models.talking_head import build_embedder  # noqa: E402


class PlainTalkingHead:
    def __init__(self, cfg, device):
        ds = build_dataset(cfg.data)
        allb = ds.get(torch.arange(len(ds)))
        self.x, self.lm = allb.x.to(device), allb.target.to(device)
        self.frames, self.videos = cfg.data.frames, ds.info.num_classes
        self.bs, self.k, self.m, self.device = cfg.train.batch_size, cfg.method.shots, cfg.method, device
        torch.manual_seed(cfg.train.seed)
        self.G, self.D = build_generator(cfg.generator, ds.info).to(device), build_discriminator(cfg.discriminator,
                                                                                               ds.info).to(device)
        self.E = build_embedder(cfg.generator, ds.info).to(device)
        self.F = EvaluatorFeatures().eval().requires_grad_(False).to(device)
        m = cfg.method
        self.opt_eg = torch.optim.Adam([{"params": list(self.E.parameters()) + list(self.G.parameters())},
                                        {"params": [self.D.W]}], lr=m.lr_eg, betas=tuple(m.betas))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=m.lr_d, betas=tuple(m.betas))

    def step(self):
        b, k, T, m = self.bs, self.k, self.frames, self.m
        video = torch.randint(self.videos, (b,), device=self.device)
        t = torch.randint(T, (b,), device=self.device)
        r = torch.randint(T - 1, (b, k), device=self.device)
        s = video[:, None] * T + r + (r >= t[:, None]).long()
        i = video * T + t
        x, lm = self.x[i], self.lm[i]
        sx, sl = self.x[s.flatten()], self.lm[s.flatten()]
        e = self.E(sx, sl).view(b, k, -1).mean(1)
        fake = self.G(lm, e)
        for _ in range(m.d_steps):
            loss_d = F.relu(1 - self.D(x, lm, video)[0]).mean() + F.relu(1 + self.D(fake.detach(), lm, video)[0]).mean()
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
        r_fake, ff = self.D(fake, lm, video)
        with torch.no_grad():
            rf = self.D(x, lm, video)[1]
            real_feats = self.F(x)
        cnt = m.lambda_pix * F.l1_loss(fake, x) + m.lambda_feat * sum(
            w * F.l1_loss(a, c) for w, a, c in zip(self.F.weights, self.F(fake), real_feats))
        loss = cnt - r_fake.mean() + m.lambda_fm * sum(F.l1_loss(a, c) for a, c in zip(ff, rf)) \
            + m.lambda_mch * (self.D.W[video] - e).abs().mean()
        self.opt_eg.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_eg.step()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_args(p, blocks=5, iters=5, warmup=2)
    args = p.parse_args(argv)
    device, label, prov = start(args)
    cfg = load_preset("talking-heads", device)
    with tempfile.TemporaryDirectory() as tmp:
        loops = {"plain": PlainTalkingHead(cfg, device), "ganforge": GanforgeLoop(cfg, os.path.join(tmp, "run"))}
        s = time_loops(loops, device, args)
        method = loops["ganforge"].trainer.method
        ds = loops["ganforge"].trainer.dataset
    name = (f"talking heads 32², E/G/D {cfg.generator.embedder_channels}/{cfg.generator.channels}/"
            f"{cfg.discriminator.channels} ch, batch {cfg.train.batch_size} episodes of K {cfg.method.shots}+1")
    rows = [*header(), row(name, s)]
    print(f"## Talking heads — {label}\n\n{prov}\n\n" + "\n".join(rows), flush=True)
    from ganforge.talking_head_api import TalkingHeadModel

    model = TalkingHeadModel(method, cfg, ds.info, device)
    b = ds.get(torch.arange(8))
    steps = 2 if args.quick else cfg.method.finetune_steps
    t0 = time.perf_counter()
    head = model.fine_tune(b.x, b.target, steps=steps)
    ft = time.perf_counter() - t0
    lm = ds.get(torch.arange(64)).target
    model.animate(head, lm)
    t0 = time.perf_counter()
    for _ in range(3):
        model.animate(head, lm)
    per_frame = (time.perf_counter() - t0) / (3 * 64)
    t0 = time.perf_counter()
    for i in range(16):
        model.animate(head, lm[i : i + 1])
    one = (time.perf_counter() - t0) / 16
    rows += ["", "| measure | value |", "|---|---:|",
             f"| fine-tuning, K = 8, {steps} steps of batch {cfg.method.finetune_batch} | {ft:.1f} s |",
             f"| generation, per frame in batches of 64 | {1e3 * per_frame:.2f} ms |",
             f"| generation, one frame at a time | {1e3 * one:.2f} ms |"]
    print("\n".join(rows[-5:]), flush=True)
    publish(args, f"Talking heads — {label}", prov, rows,
            "One meta-learning iteration (E on K frames, G, D with its per-video W, the paper's losses) against a "
            "plain-PyTorch loop of the same networks; target ≤ 1.05×. Then a person's fine-tuning and generation.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
