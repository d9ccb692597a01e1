import os

import pytest
import torch

torch.set_num_threads(min(2, os.cpu_count() or 1))


def tiny_config(**train):
    """A DCGAN on MNIST-5k small enough for a test to train in seconds."""
    from ganforge.config import load_config

    overrides = [
        "generator.channels=8", "discriminator.channels=8", "train.batch_size=16", "train.progress=false",
        "train.log_every=2", "train.sample_every=4", "train.checkpoint_every=4", "train.n_samples=16",
        "train.eval_every=0", "train.ema=0", "train.ema_warmup=false",  # the preset keeps a G EMA; not these
    ] + [f"train.{k}={v}" for k, v in train.items()]
    return load_config("dcgan-mnist", overrides)


@pytest.fixture
def tiny():
    return tiny_config
