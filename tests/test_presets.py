"""Every shipped image preset trains through the CLI, records its scores, and a short run already moves the
generator's pixel distribution measurably towards the data's.

Why pixels and not FID here: in the first few hundred steps a generator's off-manifold images drive the small
evaluator network's unbounded ReLU features far above those of real digits, so evaluator FID typically *rises*
before it falls (dcgan-mnist: ~730 at step 0, ~1,200 at step 500, ~9 at step 1,000). A smoke run of 60 steps
can't show the FID drop; the pixel-intensity distribution (1-D Wasserstein distance between the fake and real
pixel values) moves monotonically from the first updates on.
"""
import json
import math

import pytest
import torch

from ganforge import api
from ganforge.cli import main
from ganforge.config import load_config, preset_names
from ganforge.train import Trainer

STEPS = 60
N = 500
# Only what keeps the smoke run short or long enough: WGAN's warm-up would spend 2,500 critic updates on the
# first 25 G steps. The SN-ResNet presets (5 critic steps per G step) move the pixels fast enough in 30.
EXTRA = {"wgan-mnist": ["method.critic_warmup=false"], "dcgan-stacked-mnist": ["data.n=2000"],
         "dcgan-mbd-stacked-mnist": ["data.n=2000"]}
STEPS_FOR = {"cgan-projection-mnist": 30, "sngan-mnist": 30}


def _image_presets():
    """Presets that sample images from z; translation presets have their own test files (a CLI run each)."""
    from ganforge.methods.translation import TranslationMethod
    from ganforge.registry import METHODS

    def samples_from_z(cfg):
        return not issubclass(METHODS.get(cfg.method.name).builder, TranslationMethod)

    return [p for p in preset_names()
            if load_config(p).data.name not in ("ring8", "grid25", "grammar", "fortunes", "text-file",
                                                "talking-heads", "notes", "audio-folder")  # own test files
            and samples_from_z(load_config(p))]


def pixel_w1(fake: torch.Tensor, real: torch.Tensor) -> float:
    """1-D Wasserstein-1 distance between the pixel values of two equally sized image sets."""
    return (fake.flatten().sort().values - real.flatten().sort().values).abs().mean().item()


@pytest.mark.slow
@pytest.mark.parametrize("preset", _image_presets())
def test_preset_trains_and_moves_towards_the_data(preset, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # reference statistics cached under this test's own folder
    steps = STEPS_FOR.get(preset, STEPS)
    overrides = [f"train.steps={steps}", "train.batch_size=32", "train.progress=false", "train.threads=1",
                 f"train.eval_every={steps}", "train.eval_n=500", "train.eval_metrics=fid",
                 f"train.checkpoint_every={steps}", f"train.sample_every={steps}", "train.tensorboard=false",
                 "train.ema_start=1000000",  # an EMA (β 0.999) of 60 updates would still be mostly the init
                 *EXTRA.get(preset, [])]
    start = Trainer(load_config(preset, overrides), run_dir=str(tmp_path / "start"))
    g0 = start.ema.shadow if start.ema is not None else start.method.generator
    w0 = pixel_w1(api.LoadedGenerator(g0, start.config, start.info, "", "cpu").sample(N, seed=0),
                  start.dataset.get(torch.arange(N)).x)

    assert main(["train", preset, "--out", str(tmp_path / "run"), *overrides]) == 0
    records = [json.loads(line) for line in open(tmp_path / "run" / "metrics.jsonl")]
    assert math.isfinite([r["eval/fid"] for r in records if "eval/fid" in r][-1])
    assert (tmp_path / "run" / "samples" / "latest.png").exists() and (tmp_path / "run" / "scores.png").exists()
    trained = api.load(str(tmp_path / "run"))
    w1 = pixel_w1(trained.sample(N, seed=0), start.dataset.get(torch.arange(N)).x)
    assert w1 < 0.93 * w0, (w0, w1)
