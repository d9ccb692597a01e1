"""Cost of one MaskGAN iteration (Fedus et al., ICLR 2018) through ganforge's Trainer against a hand-written
plain-PyTorch loop of the same networks, batch and optimisers, in one process (target ≤ 1.05×).

What is timed, in interleaved blocks (see throughput.py for the method), in the adversarial stage
(`method.pretrain_steps=0`) and in the MLE stage (MaskMLE):
  * plain: the official `train_mask_gan.py` step written out with torch ops — a contiguous mask drawn per row;
    `d_iters` discriminator updates (0.5·(BCE(D(x), 1) + BCE(D(x̂), present)) over the missing tokens); one
    generator sample, rewards log σ(D), discounted returns by a loop over positions, advantage = return − critic
    clipped at ±5, the REINFORCE loss, the critic's squared error; gradients clipped at norm 10 — on batches of
    token rows already in memory. MLE stage: teacher-forced cross-entropy of the missing tokens;
  * ganforge: `Trainer.iteration` of the `maskgan-grammar` preset (or `maskmle`) at the same size and batch.

    python benchmarks/maskgan_speed.py [--batch 32] [--threads 1] [--quick]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _speed import add_args, header, load_preset, publish, row, start, time_loops  # noqa: E402
from throughput import GanforgeLoop  # noqa: E402

from ganforge.data import build_dataset  # noqa: E402
from ganforge.models.maskgan import Critic, MaskDiscriminator, MaskGenerator  # noqa: E402


class PlainMaskGAN:
    """The same networks and optimisers, written the way a plain-PyTorch user would."""

    def __init__(self, cfg, device, adversarial: bool):
        ds = build_dataset(cfg.data)
        rows = ds.get(torch.arange(len(ds)))
        self.tokens, self.lengths = rows.x.to(device), rows.attrs["length"].to(device)
        self.bs, self.device, self.m, self.adversarial = cfg.train.batch_size, device, cfg.method, adversarial
        torch.manual_seed(cfg.train.seed)
        vocab, seq_len = len(ds.info.vocab), int(ds.info.shape[0])
        g, d = cfg.generator, cfg.discriminator
        self.G = MaskGenerator(vocab, seq_len, g.emb_dim, g.hidden).to(device)
        self.D = MaskDiscriminator(vocab, seq_len, d.emb_dim, d.hidden).to(device)
        self.V = Critic(g.hidden).to(device)
        betas = tuple(self.m.betas)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=self.m.g_lr if adversarial else self.m.pretrain_lr,
                                      betas=betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=self.m.d_lr, betas=betas)
        self.opt_v = torch.optim.Adam(self.V.parameters(), lr=self.m.critic_lr, betas=betas)
        self.pos = torch.arange(seq_len, device=device)

    def batch(self):
        idx = torch.randint(len(self.tokens), (self.bs,), device=self.device)
        tokens, lengths = self.tokens[idx], self.lengths[idx]
        k = (self.m.rate * lengths).round().clamp(min=1)
        start = (torch.rand(self.bs, device=self.device) * (lengths - k + 1)).floor()
        missing = (self.pos >= start[:, None]) & (self.pos < (start + k)[:, None])
        return tokens, missing

    def update(self, loss, opt, params):
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, self.m.grad_clip)
        opt.step()

    def step(self):
        if not self.adversarial:
            tokens, missing = self.batch()
            nll = F.cross_entropy(self.G(tokens, missing).transpose(1, 2), tokens, reduction="none")
            self.update((nll * missing).sum() / missing.sum(), self.opt_g, list(self.G.parameters()))
            return
        for _ in range(self.m.d_iters):
            tokens, missing = self.batch()
            with torch.no_grad():
                fake, _ = self.G.fill(tokens, missing)
            w = missing.float()
            real, fake_logits = self.D(tokens, missing), self.D(fake, missing)
            loss_d = 0.5 * (F.binary_cross_entropy_with_logits(real, torch.ones_like(real), weight=w, reduction="sum")
                            + F.binary_cross_entropy_with_logits(fake_logits, 1.0 - w, weight=w, reduction="sum"))
            self.update(loss_d / w.sum(), self.opt_d, list(self.D.parameters()))
        tokens, missing = self.batch()
        w = missing.float()
        fake, logp = self.G.fill(tokens, missing)
        with torch.no_grad():
            d_logits, states = self.D.forward_with_features(fake, missing)
        rewards = F.logsigmoid(d_logits) * w
        returns, running = torch.zeros_like(rewards), torch.zeros_like(rewards[:, 0])
        for t in reversed(range(rewards.shape[1])):
            running = rewards[:, t] + self.m.gamma * running
            returns[:, t] = running
        values = self.V(states)
        adv = (returns - values.detach()).clamp(-self.m.advantage_clip, self.m.advantage_clip)
        self.update(-(logp * adv * w).sum(dim=1).mean(), self.opt_g, list(self.G.parameters()))
        self.update((((returns - values) ** 2) * w).sum() / w.sum(), self.opt_v, list(self.V.parameters()))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=32)
    add_args(p, blocks=7, iters=5, warmup=2)
    args = p.parse_args(argv)
    device, label, prov = start(args)
    rows = header("stage")
    for name, adversarial, extra in (("adversarial (2 D updates, REINFORCE G, critic)", True,
                                      ["method.pretrain_steps=0"]),
                                     ("MLE (MaskMLE: teacher-forced G only)", False, ["method.name=maskmle"])):
        cfg = load_preset("maskgan-grammar", device, f"train.batch_size={args.batch}", *extra)
        with tempfile.TemporaryDirectory() as tmp:
            loops = {"plain": PlainMaskGAN(cfg, device, adversarial),
                     "ganforge": GanforgeLoop(cfg, os.path.join(tmp, "run"))}
            s = time_loops(loops, device, args)
        rows.append(row(name, s))
        print(rows[-1], flush=True)
    g = cfg.generator
    publish(args, f"MaskGAN iteration cost — {label}", prov, rows,
            f"maskgan-grammar networks (LSTM encoder-decoders, {g.emb_dim}-d embeddings, {g.hidden} units), "
            f"sequence length 20, contiguous masks at rate {cfg.method.rate}, batch {args.batch}; target ≤ 1.05×.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
