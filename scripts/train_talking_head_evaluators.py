"""Train the talking-heads evaluator shipped in src/ganforge/assets/talking-heads-evaluator.{safetensors,json}:

* an identity network (CSIM, FID features) classifying `--identities` procedural people (data seed 101: disjoint
  from the meta-training identities, seed 0 train split, and from the few-shot test identities, seed 0 test
  split); held-out scores: accuracy on frames of its identities it never saw (the last quarter of each video),
  and verification AUC (same person vs different person by cosine similarity) on the few-shot test identities;
* a landmark regressor (landmark error) trained on the same renders with their exact landmark positions;
  held-out score: mean error in pixels on the few-shot test identities.

    OMP_NUM_THREADS=1 PYTHONPATH=src python scripts/train_talking_head_evaluators.py
"""
from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from ganforge.data.talking_heads import TalkingHeadsConfig, make_videos
from ganforge.metrics.talking_heads import IdentityNet, LandmarkNet, save_evaluator


def auc(pos: torch.Tensor, neg: torch.Tensor) -> float:
    """P(a same-person similarity > a different-person one), ties counted half."""
    diff = pos[:, None] - neg[None, :]
    return float((diff > 0).float().mean() + 0.5 * (diff == 0).float().mean())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--identities", type=int, default=300)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    t0 = time.time()
    ds = make_videos(TalkingHeadsConfig(identities=args.identities, frames=args.frames, seed=101))
    x = ds.x.float() / 127.5 - 1
    ident_y, frame = ds.attrs["identity"], ds.attrs["frame"]
    pts = ds.attrs["points"] / 32
    train = frame < args.frames * 3 // 4
    held = ~train
    test = make_videos(TalkingHeadsConfig(identities=30, frames=args.frames, split="test", seed=0))
    tx = test.x.float() / 127.5 - 1
    idn = IdentityNet(args.identities, args.width, 128)
    lmk = LandmarkNet(args.width)
    opt = torch.optim.Adam(list(idn.parameters()) + list(lmk.parameters()), lr=2e-3)
    tr_idx = train.nonzero().flatten()
    all_idx = torch.arange(len(x))
    g = torch.Generator().manual_seed(0)
    for epoch in range(args.epochs):
        perm_i, perm_l = tr_idx[torch.randperm(len(tr_idx), generator=g)], all_idx[torch.randperm(len(x), generator=g)]
        for s in range(0, len(perm_i) - 63, 64):
            bi, bl = perm_i[s : s + 64], perm_l[s : s + 64]
            loss = F.cross_entropy(idn(x[bi]), ident_y[bi]) + 100 * F.mse_loss(lmk(x[bl]), pts[bl])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        print(f"epoch {epoch}: loss {float(loss.detach()):.4f} ({time.time() - t0:.0f}s)", flush=True)
    idn.eval(), lmk.eval()
    with torch.no_grad():
        acc = float((idn(x[held]).argmax(1) == ident_y[held]).float().mean())
        e = F.normalize(idn.embedding(tx), dim=1)
        sim = e @ e.T
        same = test.attrs["identity"][:, None] == test.attrs["identity"][None, :]
        off = ~torch.eye(len(e), dtype=torch.bool)
        ver = auc(sim[same & off], sim[~same])
        lerr = float((lmk(tx) * 32 - test.attrs["points"]).norm(dim=-1).mean())
    card = {"name": "talking-heads-evaluator", "n_identities": args.identities, "width": args.width, "embed_dim": 128,
            "resolution": 32, "data": f"talking-heads seed 101 train split, {args.identities} identities x "
                                      f"{args.frames} frames (first 3/4 of each video for the identity net)",
            "held_out_identity_accuracy": round(acc, 4),
            "verification_auc_test_identities": round(ver, 4),
            "landmark_error_px_test_identities": round(lerr, 3),
            "epochs": args.epochs, "script": "scripts/train_talking_head_evaluators.py"}
    print(card)
    print(save_evaluator(idn, lmk, card))


if __name__ == "__main__":
    main()
