"""`ganforge mix`, `truncate`, `variation`, `interpolate --space w` on a tiny StyleGAN run, and their refusals."""
import pytest
from PIL import Image

from ganforge.cli import main
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


def _tiles(path, rows, cols):
    """Rows × cols tiles of a saved grid (undoing the upscaling)."""
    img = Image.open(path)
    w, h = img.size
    return w / cols, h / rows


def test_style_commands_write_their_figures(style_run, tmp_path, capsys):
    out = str(tmp_path / "mix.png")
    assert main(["mix", style_run, "--a", "2", "--b", "3", "--out", out]) == 0
    tw, th = _tiles(out, rows=1 + 2 * 3, cols=4)  # B row + 3 blocks (coarse/middle/fine) × 2 sources A
    assert tw == pytest.approx(th, rel=0.02)  # the layout is 7 × 4 square tiles
    assert "coarse" in capsys.readouterr().out
    out = str(tmp_path / "trunc.png")
    assert main(["truncate", style_run, "--psi", "0,0.5,1", "--n", "2", "--out", out]) == 0
    tw, th = _tiles(out, rows=2, cols=3)
    assert tw == pytest.approx(th, rel=0.02)
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
