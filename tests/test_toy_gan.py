"""The smallest end-to-end evidence that the GAN game works: an MLP GAN learns a ring of 8 Gaussians."""
import copy

import torch

import ganforge
from ganforge.api import LoadedGenerator
from ganforge.config import load_config
from ganforge.data.toy import mode_centers, mode_std
from ganforge.metrics.modes import mode_coverage
from ganforge.train import Trainer


def test_mlp_gan_captures_most_modes_of_the_ring(tmp_path):
    cfg = load_config("gan-ring8", ["train.steps=1500", "train.progress=false", "train.checkpoint_every=1500",
                                   "train.sample_every=100000", "data.n=20000"])
    trainer = Trainer(cfg, run_dir=str(tmp_path))
    centers, std = mode_centers("ring8"), mode_std("ring8")
    before = mode_coverage(LoadedGenerator(copy.deepcopy(trainer.method.generator), cfg, trainer.info, "", "cpu")
                           .sample(2000, seed=7), centers, std)
    trainer.fit()
    after = mode_coverage(ganforge.load(tmp_path).sample(2000, seed=7), centers, std)
    # A sample counts for its nearest mode when within 3σ of it; a mode is captured with ≥ 10 of 2000 samples
    # (uniform noise over the plot would put < 1 sample there).
    assert before["high_quality"] < 0.05 and sum(int(c) >= 10 for c in before["counts"]) <= 2
    captured = sum(int(c) >= 10 for c in after["counts"])
    assert captured >= 6, after
    assert after["high_quality"] > 0.4, after
