"""Train the pitch classifier that scores audio runs (metrics/audio.py) on the bundled procedural notes, and ship
it as src/ganforge/assets/pitch-notes.safetensors + pitch-notes.json (held-out accuracy recorded).

Train: NotesConfig(seed=0, n=3000); held out: NotesConfig(seed=1, n=1000) — the same instruments (their timbre
parameters come from instrument_seed), new notes (pitch/instrument draws, phases, loudness, noise).
Run: OMP_NUM_THREADS=1 python scripts/train_pitch_classifier.py   (8 epochs; a few CPU minutes)
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
from ganforge.data.audio import NotesConfig, note_waves  # noqa: E402
from ganforge.metrics.audio import PitchClassifier, classifier_paths, classify, pitch_accuracy  # noqa: E402
from ganforge.utils.assets import save_asset  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--out", default=None, help="assets folder (default: the package's)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    started = time.time()
    train_cfg, held_cfg = NotesConfig(seed=0, n=args.n), NotesConfig(seed=1, n=1000)
    w, midi, _, _ = note_waves(train_cfg)
    w, y = w.clone(), (midi - train_cfg.min_pitch).long()
    hw, hmidi, _, _ = note_waves(held_cfg)
    hy = (hmidi - held_cfg.min_pitch).long()
    net = PitchClassifier(train_cfg.max_pitch - train_cfg.min_pitch + 1)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    steps = args.epochs * (len(w) // 64)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 3e-3, total_steps=steps)
    g = torch.Generator().manual_seed(0)
    for epoch in range(args.epochs):
        perm = torch.randperm(len(w), generator=g)
        for i in range(0, len(w) - 63, 64):
            idx = perm[i:i + 64]
            x = w[idx] * torch.empty(len(idx), 1).uniform_(0.3, 1.2, generator=g)  # loudness augmentation
            loss = F.cross_entropy(net(x)[1], y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        net.eval()
        acc = pitch_accuracy(classify(net, hw)[1], hy)
        net.train()
        print(f"epoch {epoch + 1}: loss {loss.item():.3f}, held-out accuracy {acc:.4f}", flush=True)
    net.eval()
    train_acc = pitch_accuracy(classify(net, w[:1000])[1], y[:1000])
    held_acc = pitch_accuracy(classify(net, hw)[1], hy)
    card = {"task": "pitch (MIDI 48–72, 25 classes) of the procedural notes",
            "data": {"train": f"NotesConfig(seed=0, n={args.n})", "held_out": "NotesConfig(seed=1, n=1000)"},
            "train_accuracy": round(train_acc, 4), "held_out_accuracy": round(held_acc, 4), "held_out_n": 1000,
            "training": {"epochs": args.epochs, "batch_size": 64, "lr": 3e-3, "optimizer": "AdamW",
                         "schedule": "one-cycle", "augmentation": "loudness ×U(0.3, 1.2)", "seed": 0, "threads": 1,
                         "seconds": round(time.time() - started, 1), "torch": torch.__version__,
                         "command": "python scripts/train_pitch_classifier.py"}}
    weights, card_path = classifier_paths(args.out)
    card = save_asset(net, net.config(), card, weights, card_path)
    print(f"held-out accuracy {held_acc:.4f}; wrote {weights} ({card['bytes']} bytes)")


if __name__ == "__main__":
    main()
