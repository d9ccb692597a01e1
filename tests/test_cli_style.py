"""`ganforge mix`, `truncate`, `variation`, `interpolate --space w` on a tiny StyleGAN run, and their refusals."""
import numpy as np
import pytest
from PIL import Image

from ganforge.cli import main
from ganforge.cli_style import _short_mixing_labels
from ganforge.utils.figure import labelled_grid
from ganforge.config import load_config
from ganforge.train import Trainer


@pytest.fixture(scope="module")
def style_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sg") / "run"
    cfg = load_config("stylegan-shapes", [
        "train.steps=2", "train.batch_size=8", "train.progress=false", "train.eval_every=0", "train.n_samples=8",
        "generator.channels=8", "generator.channel_base=64", "discriminator.channels=8",
        "discriminator.channel_base=64", "generator.mapping_layers=2", "train.tensorboard=false"])
    Trainer(cfg, run_dir=str(out)).fit()
    return str(out)


def _figure(path):
    return np.asarray(Image.open(path).convert("RGB"))


def test_style_commands_write_their_figures(style_run, tmp_path, capsys):
    import ganforge
    from ganforge.latent.style import style_mixing_figure, truncation_sweep

    g = ganforge.load(style_run).generator
    out = str(tmp_path / "mix.png")
    assert main(["mix", style_run, "--a", "2", "--b", "3", "--out", out]) == 0
    printed = capsys.readouterr().out
    assert "coarse" in printed
    imgs, per_row, labels = style_mixing_figure(g, 2, 3, 0)
    assert per_row == 4 and len(imgs) == 4 * (1 + 2 * 3)  # B row + 3 blocks (coarse/middle/fine) × 2 sources A
    fig = _figure(out)
    plain = labelled_grid(imgs, per_row)  # the same cells without any legend
    assert fig.shape[0] > plain.size[1] and fig.shape[1] > plain.size[0]  # title, column and row labels around it
    assert (fig[: fig.shape[0] - plain.size[1]] < 128).any()  # something written above the cells
    left = fig.shape[1] - plain.size[0]
    assert np.array_equal(fig[-plain.size[1]:, left:], np.asarray(plain))  # the cells are the figure's images
    assert _short_mixing_labels(labels)[:2] == ["source B", "A0 ← coarse of B (0–3)"]

    out = str(tmp_path / "trunc.png")
    assert main(["truncate", style_run, "--psi", "0,0.5,1", "--n", "2", "--out", out]) == 0
    fig = _figure(out)
    plain = labelled_grid(truncation_sweep(g, [0, 0.5, 1], 2, 0), 3)
    assert np.array_equal(fig[-plain.size[1]:, fig.shape[1] - plain.size[0]:], np.asarray(plain))
    assert main(["variation", style_run, "--draws", "4", "--out", str(tmp_path / "var.png")]) == 0
    std = float(capsys.readouterr().out.split("mean std ")[1].split()[0])
    assert std > 0  # noise inputs reach the image
    assert main(["interpolate", style_run, "--space", "w", "--steps", "3", "--out", str(tmp_path / "w.png")]) == 0


def test_style_commands_refuse_bad_input(style_run, tmp_path, capsys):
    assert main(["variation", style_run, "--draws", "1"]) == 2
    assert main(["truncate", style_run, "--psi", "a,b"]) == 2
    dc = tmp_path / "dc"
    cfg = load_config("dcgan-shapes", ["train.steps=1", "train.batch_size=8", "train.progress=false",
                                       "train.eval_every=0", "generator.channels=8", "discriminator.channels=8",
                                       "train.tensorboard=false"])
    Trainer(cfg, run_dir=str(dc)).fit()
    assert main(["mix", str(dc), "--out", str(tmp_path / "m.png")]) == 2
    assert "not a style-based generator" in capsys.readouterr().err
