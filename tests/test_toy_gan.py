"""The smallest end-to-end evidence that the GAN game works: an MLP GAN learns a ring of 8 Gaussians, as
`ganforge eval` (mode coverage: Metz et al. 2017 / VEEGAN protocol) reports."""
import json

from ganforge.cli import main
from ganforge.config import load_config
from ganforge.evaluation import evaluate
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
