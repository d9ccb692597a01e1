"""The smallest end-to-end evidence that the GAN game works: an MLP GAN learns a ring of 8 Gaussians, as
`ganforge eval` (mode coverage: Metz et al. 2017 / VEEGAN protocol) reports."""
import json

import pytest
import torch

from ganforge.cli import main
from ganforge.config import load_config
from ganforge.data.toy import mode_centers, mode_std
from ganforge.evaluation import evaluate
from ganforge.metrics.modes import mode_coverage
from ganforge.train import Trainer


def test_mlp_gan_captures_most_modes_of_the_ring(tmp_path, capsys):
    cfg = load_config("gan-ring8", ["train.steps=1500", "train.progress=false", "train.checkpoint_every=1500",
                                   "train.sample_every=100000", "data.n=20000"])
    trainer = Trainer(cfg, run_dir=str(tmp_path))
    before = evaluate(trainer.method.generator.eval(), cfg.data, n=2000, seed=7, dataset=trainer.dataset).scores
    trainer.method.generator.train()
    trainer.fit()

    assert main(["eval", str(tmp_path), "--n", "2000", "--seed", "7"]) == 0
    shown = capsys.readouterr().out
    record = [json.loads(line) for line in open(tmp_path / "metrics.jsonl")][-1]
    after = {k[5:]: v for k, v in record.items() if k.startswith("eval/")}
    assert f"{after['modes']:>14d}" in shown  # the table shows what was recorded
    assert record["step"] == 1500 and record["eval_protocol"]["n_fake"] == 2000
    # A sample counts for its nearest mode when within 3σ of it (uniform noise over the plot would put < 1
    # sample of 2000 near any mode); before training the generator's points sit near the origin.
    assert before["high_quality"] < 0.05 and before["modes"] <= 2, before
    assert after["modes"] >= 7, after
    assert after["high_quality"] > 0.4, after
    assert after["kl"] < 0.7, after  # near-uniform mode histogram (one mode: log 8 = 2.08; half: log 2 = 0.69)


@pytest.mark.slow
def test_egan_grid25_preset_converges_onto_all_25_gaussians(tmp_path):
    """E-GAN's toy claim (Wang et al. 2019, §4.2): on the 5×5 grid the generator ends up on every Gaussian. The
    preset must get there within its own budget: every mode with ≥ 10 of 4,000 samples within 3σ of it (its
    thinnest mode gets 0.4–1 % of the samples, the mean 4 %), most samples high-quality (a spread over the square,
    as a non-converged run gives, has < 15 %) and a near-uniform mode histogram."""
    cfg = load_config("egan-grid25", ["train.progress=false", "train.tensorboard=false", "train.threads=1",
                                      "train.eval_every=0", "train.sample_every=100000",
                                      "train.checkpoint_every=100000"])
    trainer = Trainer(cfg, run_dir=str(tmp_path))
    trainer.fit()
    g = trainer.method.generator.eval()
    with torch.no_grad():
        x = g(g.sample_z(4000, generator=torch.Generator().manual_seed(7)))
    r = mode_coverage(x, mode_centers("grid25"), mode_std("grid25"))
    assert min(r["counts"]) >= 10 and len(r["counts"]) == 25, sorted(r["counts"])
    assert r["high_quality"] > 0.7, r
    assert r["kl"] < 0.1, r  # near-uniform over the 25 modes (a 5×4 grid alone gives log(25/20) = 0.22)
