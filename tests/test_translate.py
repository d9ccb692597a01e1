"""The plumbing every translation recipe shares: training grids with input | output | target columns, loading a
run as a translator, `ganforge translate` on a folder, and scoring with `ganforge eval` (the FCN-score)."""
import os

import numpy as np
import pytest
import torch
from PIL import Image

import ganforge
from ganforge.api import LoadedTranslator
from ganforge.cli import main
from ganforge.methods.translation import as_display, linear_decay

torch.set_num_threads(1)
QUICK = ["train.steps=4", "train.progress=false", "train.tensorboard=false", "train.threads=1", "data.n=64",
         "train.batch_size=8", "train.sample_every=4", "train.checkpoint_every=4", "train.log_every=2",
         "generator.test_dropout=false"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("p2p") / "run")
    ganforge.train("pix2pix-shapes-labels", QUICK, run_dir=out)
    return out


def test_training_grids_show_input_output_and_target_side_by_side(run):
    from ganforge.config import load_config
    from ganforge.train import Trainer

    trainer = Trainer(load_config(os.path.join(run, "config.yaml")), run_dir=run, resume=True)
    inputs = trainer.fixed_z
    grid, nrow = trainer.method.preview(trainer.method.generator.eval(), inputs)
    assert nrow == 12  # 4 samples a row, 3 columns each
    assert torch.equal(grid[0::3], as_display(inputs.x, (32, 32)))
    assert torch.equal(grid[2::3], inputs.target)
    assert torch.equal(grid[1::3], trainer.method.generator(inputs.x))
    assert os.path.isfile(os.path.join(run, "samples", "latest.png"))


def test_a_translation_run_loads_as_a_deterministic_translator(run):
    t = ganforge.load(run)
    assert isinstance(t, LoadedTranslator) and t.directions == ("AtoB",)
    from ganforge.data.translation import ShapesPairsConfig, build_shapes_labels

    x = build_shapes_labels(ShapesPairsConfig(n=5)).get(torch.arange(5)).x
    out = t.translate(x, batch_size=2)
    assert torch.equal(out, t.translate(x)) and out.min() >= -1 and out.max() <= 1
    assert torch.allclose(out, t.generator(x).clamp(-1, 1), atol=1e-6)
    with pytest.raises(ganforge.errors.ConfigError, match="BtoA"):
        t.translate(x, "BtoA")


def test_translate_command_streams_a_folder_and_counts_unreadable_files(run, tmp_path, capsys):
    from ganforge.data.translation import ShapesPairsConfig, build_shapes_labels

    x = build_shapes_labels(ShapesPairsConfig(n=3, resolution=48)).get(torch.arange(3)).x  # other size: resized
    folder = tmp_path / "labels"
    folder.mkdir()
    for i, im in enumerate(x):
        Image.fromarray(((im.permute(1, 2, 0) + 1) * 127.5).round().byte().numpy()).save(folder / f"{i}.png")
    (folder / "broken.png").write_bytes(b"nope")
    rc = main(["translate", run, "--input", str(folder), "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert rc == 0 and "3 image(s) written" in captured.out and "skipped 1 unreadable" in captured.err
    written = sorted(os.listdir(tmp_path / "out"))
    assert written == ["0.png", "1.png", "2.png"]
    assert np.asarray(Image.open(tmp_path / "out" / "0.png")).shape == (32, 32, 3)


def test_translate_refuses_a_run_that_samples_from_z(tmp_path, capsys):
    from conftest import tiny_config
    from ganforge.train import Trainer

    Trainer(tiny_config(steps=1), run_dir=str(tmp_path / "dcgan")).fit()
    rc = main(["translate", str(tmp_path / "dcgan"), "--input", str(tmp_path), "--out", str(tmp_path / "o")])
    assert rc == 2 and "not an image-to-image run" in capsys.readouterr().err


def test_eval_scores_the_fcn_score_below_its_real_image_ceiling(run, capsys):
    rc = main(["eval", run, "--metrics", "fcn", "--n", "200"])
    out = capsys.readouterr().out
    assert rc == 0 and "fcn_pixel_acc" in out
    result = ganforge.evaluate(run, metrics="fcn", n=200, record=False)
    s = result.scores
    assert s["fcn_real_pixel_acc"] > 0.9 and s["fcn_real_class_iou"] > 0.8  # the segmenter reads real scenes
    assert s["fcn_class_iou"] < s["fcn_real_class_iou"]  # a 4-step generator does not


def test_linear_decay_boundaries():
    assert [linear_decay(s, 10, 9) for s in (0, 10, 11, 15, 19)] == pytest.approx([1.0, 1.0, 0.9, 0.5, 0.1])


@pytest.mark.parametrize("preset", ["pix2pix-shapes-labels", "pix2pixhd-shapes"])
def test_recipes_that_learn_from_pairs_refuse_unpaired_data_in_one_line(preset, tmp_path, capsys):
    rc = main(["train", preset, "--out", str(tmp_path / "r"), "data.unpaired=true", "data.n=16",
               "train.progress=false"])
    err = capsys.readouterr().err
    assert rc == 2 and "learns from pairs" in err and "cyclegan" in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()


def test_eval_on_held_out_scenes_records_the_other_data(run, capsys):
    train = ganforge.evaluate(run, metrics="fcn", n=100, record=False)
    held = ganforge.evaluate(run, metrics="fcn", n=100, record=False, data=["seed=1"])
    assert held.protocol["dataset"]["seed"] == 1 and train.protocol["dataset"]["seed"] == 0
    assert held.protocol_key != train.protocol_key
    assert held.scores["fcn_real_pixel_acc"] > 0.9 and held.scores != train.scores  # other scenes, other numbers
    rc = main(["eval", run, "--metrics", "fcn", "--n", "10", "--no-record", "--data", "sede=1"])
    assert rc == 2 and "unknown key data.sede" in capsys.readouterr().err
