"""Tiny trained runs for the explorer's tests (test_serve_api.py, test_serve_browser.py): trained once per test
session with ganforge.api for a few steps, kept under pytest's base temporary folder and shared by both files."""
from __future__ import annotations

import os

COMMON = ["train.progress=false", "train.eval_every=0", "train.sample_every=100", "train.log_every=5",
          "train.checkpoint_every=100", "train.ema=0", "train.ema_warmup=false"]
SPECS = {
    # unconditional DCGAN on shapes: samples, truncation, GANPaint (the shapes segmenter labels its images)
    "dc": ("dcgan-shapes", ["data.n=128", "generator.channels=8", "discriminator.channels=8", "generator.z_dim=16",
                            "train.steps=6", "train.batch_size=16"]),
    # StyleGAN on shapes: style mixing, truncation in W
    "sg": ("stylegan-shapes", ["data.n=128", "generator.channels=8", "generator.channel_base=32",
                               "generator.z_dim=16", "generator.w_dim=16", "generator.mapping_layers=2",
                               "discriminator.channels=8", "discriminator.channel_base=32", "train.steps=4",
                               "train.batch_size=8"]),
    # class-conditional DCGAN on MNIST: the class picker
    "cg": ("cgan-mnist", ["generator.channels=8", "discriminator.channels=8", "train.steps=4", "train.batch_size=16"]),
    # a DCGAN trained long enough that its samples differ (BN statistics settled): the photo editor's projection,
    # with an iGAN encoder trained on it (hybrid projection)
    "ed": ("dcgan-shapes", ["data.n=128", "generator.channels=8", "discriminator.channels=8", "generator.z_dim=16",
                            "train.steps=40", "train.batch_size=16"]),
    # IAN on MNIST: its discriminator is an encoder, so the photo editor offers the Neural Photo Editor
    "ian": ("ian-mnist", ["generator.channels=4", "generator.z_dim=8", "discriminator.channels=4",
                          "discriminator.z_dim=8", "discriminator.encoder_hidden=16", "discriminator.mbd_kernels=4",
                          "method.lr=1e-3", "method.lr_schedule=false", "train.steps=40", "train.batch_size=16"]),
    # 2-D points: not an image run
    "toy": ("gan-ring8", ["data.n=512", "generator.hidden=8", "discriminator.hidden=8", "train.steps=4",
                          "train.batch_size=32"]),
}


def serve_runs(base) -> dict:
    """{name: run directory} of the tiny runs, trained on first use under `base` (ed with an iGAN encoder)."""
    import torch

    from ganforge import api

    root = os.path.join(str(base), "serve-runs")
    out = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # nets this small train 10x slower with two threads on a busy machine
    try:
        for name, (preset, overrides) in SPECS.items():
            run_dir = os.path.join(root, name)
            if not os.path.isfile(os.path.join(run_dir, "checkpoints", "LATEST")):
                api.train(preset, overrides + COMMON, run_dir=run_dir, overwrite=True)
            out[name] = run_dir
        encoder = os.path.join(root, "ed", "encoder")
        if not os.path.isfile(os.path.join(encoder, "encoder.json")):  # the photo editor's hybrid projection
            from ganforge.editing import save_encoder, train_encoder

            g = api.load(out["ed"])
            enc, report = train_encoder(g, steps=60, batch_size=16, lr=1e-3, channels=8, features=None, seed=0)
            save_encoder(enc, encoder, report, g.checkpoint)
    finally:
        torch.set_num_threads(threads)
    return out


class FakeClock:
    """Stands in for the `time` module of a server module (monkeypatched): monotonic() is whatever the test sets,
    so idle expiry is tested without sleeping on a machine whose load decides how long anything takes."""

    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now

    @staticmethod
    def perf_counter():  # the server's own timings keep the real clock
        import time

        return time.perf_counter()
