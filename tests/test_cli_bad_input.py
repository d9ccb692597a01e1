"""The file commands under session 22's bad-input audit, in process: outputs never replace inputs nor each other,
wrong kinds of run and too-small counts are one line, a record lands on its own line after a cut-off one, NaN
weights are refused, a config names no folder outside out_dir, the device and seeds are checked."""
import os
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge import api
from ganforge.cli import main
from ganforge.train.checkpoint import latest_checkpoint

torch.set_num_threads(1)
QUICK = ["train.progress=false", "train.tensorboard=false", "train.threads=1", "train.log_every=2",
         "train.eval_every=0", "train.sample_every=100", "train.checkpoint_every=100"]


def _trained(factory, preset, overrides):
    out = str(factory.mktemp(preset) / "run")
    api.train(preset, QUICK + overrides, run_dir=out)
    return out


@pytest.fixture(scope="module")
def dc(tmp_path_factory):
    return _trained(tmp_path_factory, "dcgan-mnist", ["generator.channels=8", "discriminator.channels=8",
                                                      "train.steps=2", "train.batch_size=16"])


@pytest.fixture(scope="module")
def p2p(tmp_path_factory):
    return _trained(tmp_path_factory, "pix2pix-shapes-labels", ["train.steps=2", "data.n=32", "train.batch_size=8",
                                                                "generator.test_dropout=false"])


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *words):
    assert code == 2 and err.startswith("error: ") and err.strip().count("\n") == 0, err
    assert all(w in err for w in words), err


def _picture(path, seed=0, size=32):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(path)
    return open(path, "rb").read()


def test_translate_never_writes_over_its_inputs_and_keeps_same_named_inputs_apart(p2p, tmp_path, capsys):
    folder = tmp_path / "pics"
    folder.mkdir()
    a = _picture(folder / "a.png", 0)
    assert_one_line_error(*run_cli(capsys, "translate", p2p, "--input", folder, "--out", folder)[::2], "would replace")
    assert open(folder / "a.png", "rb").read() == a  # the original is untouched
    _picture(folder / "a.jpg", 1)
    code, out, _ = run_cli(capsys, "translate", p2p, "--input", folder, "--out", tmp_path / "out")
    assert code == 0 and "2 image(s)" in out
    assert sorted(os.listdir(tmp_path / "out")) == ["a-jpg.png", "a-png.png"]


def test_edit_and_stylize_refuse_to_overwrite_their_inputs(dc, tmp_path, capsys):
    photo = tmp_path / "photo.png"
    before = _picture(photo)
    strokes = tmp_path / "s.json"
    strokes.write_text('{"strokes":[{"type":"color","points":[[5,5],[10,10]],"color":[255,0,0]}]}')
    assert_one_line_error(*run_cli(capsys, "edit", dc, "--input", photo, "--strokes", strokes, "--out", photo,
                            "--steps", 2, "--edit-steps", 2)[::2], "would replace")
    assert_one_line_error(*run_cli(capsys, "stylize", "--content", photo, "--style", photo, "--out", photo)[::2],
                   "would replace")
    assert open(photo, "rb").read() == before


def test_upscale_refuses_a_run_that_does_not_enlarge(p2p, tmp_path, capsys):
    _picture(tmp_path / "x.png")
    assert_one_line_error(*run_cli(capsys, "upscale", p2p, "--input", tmp_path / "x.png", "--out", tmp_path / "o")[::2],
                   "not a super-resolution run")


def test_interpolate_refuses_translators_and_keeps_the_strip_beside_a_gif(dc, p2p, tmp_path, capsys):
    assert_one_line_error(*run_cli(capsys, "interpolate", p2p, "--out", tmp_path / "i.png")[::2], "image-to-image")
    code, out, _ = run_cli(capsys, "interpolate", dc, "--seeds", "1,2", "--steps", 3, "--out", tmp_path / "i.gif")
    assert code == 0
    assert Image.open(tmp_path / "i.png").format == "PNG" and Image.open(tmp_path / "i.gif").format == "GIF"


def test_dissection_refuses_runs_the_segmenter_cannot_label(dc, p2p, capsys):
    assert_one_line_error(*run_cli(capsys, "dissect", dc, "--layer", "layer2", "--n", 4)[::2], "1-channel", "3-channel")
    assert_one_line_error(*run_cli(capsys, "intervene", p2p, "--layer", "up2", "--units", 1)[::2], "image-to-image")


@pytest.mark.parametrize("metrics, n, words", [("fid", 1, "fid needs at least 2"), ("dc", 3, "at least 6"),
                                               ("pr", 1, "at least 4")])
def test_eval_with_too_few_samples_is_one_line(dc, capsys, metrics, n, words):
    assert_one_line_error(*run_cli(capsys, "eval", dc, "--n", n, "--metrics", metrics, "--no-record")[::2], words)


def test_a_record_after_a_cut_off_line_is_kept(dc, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(dc, run)
    text = open(run / "metrics.jsonl").read()
    open(run / "metrics.jsonl", "w").write(text[:-20])  # the last line cut off, no newline
    assert run_cli(capsys, "eval", run, "--n", 16, "--metrics", "swd")[0] == 0
    from ganforge.train.logger import read_metrics

    assert any("eval/swd" in r for r in read_metrics(str(run / "metrics.jsonl")))


def test_nan_weights_are_refused_when_a_run_is_loaded(dc, tmp_path, capsys):
    from safetensors.torch import load_file, save_file

    run = tmp_path / "run"
    shutil.copytree(dc, run)
    ckpt = latest_checkpoint(str(run / "checkpoints"))
    for name in ("generator", "ema"):
        file = os.path.join(ckpt, f"{name}.safetensors")
        if os.path.exists(file):
            t = load_file(file)
            t = {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v for k, v in t.items()}
            save_file(t, file)
    assert_one_line_error(*run_cli(capsys, "sample", run, "--out", tmp_path / "s.png")[::2], "not finite")
    assert not os.path.exists(tmp_path / "s.png")


@pytest.mark.parametrize("args, words", [
    (["--seed", "99999999999999999999"], "--seed must be in [0, 2147483647]"),
    (["--out", "{tmp}/notes.txt"], "names no image format"),
    (["--out", "{tmp}"], "cannot write a picture to {tmp}"),
])
def test_sample_output_and_seed_errors_name_what_the_user_gave(dc, tmp_path, capsys, args, words):
    args = [a.format(tmp=tmp_path) for a in args]
    (tmp_path / "notes.txt").write_text("mine")
    if "--out" not in args:
        args += ["--out", str(tmp_path / "s.png")]
    assert_one_line_error(*run_cli(capsys, "sample", dc, "--n", 4, *args)[::2], words.format(tmp=tmp_path))
    assert (tmp_path / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("override, words", [("train.device=gpu", "unknown device 'gpu'"),
                                             ("train.steps=nan", "must be an integer")])
def test_train_config_errors_are_one_line(tmp_path, capsys, override, words):
    assert_one_line_error(*run_cli(capsys, "train", "gan-ring8", "--out", tmp_path / "r", override)[::2], words)
    assert not os.path.exists(tmp_path / "r")


def test_a_run_name_never_places_the_run_outside_out_dir(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "runs"
    assert_one_line_error(*run_cli(capsys, "train", "gan-ring8", f"train.out_dir={out}", "name=x/../../escape")[::2],
                   "no path separators")
    assert os.listdir(tmp_path) == []


def test_a_yaml_file_that_is_not_text_or_has_a_list_section_is_one_line(tmp_path, capsys):
    (tmp_path / "bin.yaml").write_bytes(bytes(range(128, 256)) * 2)
    assert_one_line_error(*run_cli(capsys, "train", tmp_path / "bin.yaml")[::2], "not a text")
    (tmp_path / "list.yaml").write_text(open(api.__file__.replace("api.py", "presets/gan-ring8.yaml")).read()
                                        + "\ntrain: [1, 2]\n")
    assert_one_line_error(*run_cli(capsys, "train", tmp_path / "list.yaml")[::2], "must be a mapping")


def test_a_very_long_strip_is_cropped_before_it_is_resized(tmp_path):
    from ganforge.data.folder import _resize_crop

    strip = Image.fromarray(np.tile(np.arange(20_000, dtype=np.uint8)[None, :, None], (1, 1, 3)))
    calls = []
    original = Image.Image.resize

    def spy(self, size, *a, **k):
        calls.append(size)
        return original(self, size, *a, **k)

    Image.Image.resize = spy
    try:
        out = _resize_crop(strip, 64)
    finally:
        Image.Image.resize = original
    assert out.size == (64, 64) and max(max(c) for c in calls) == 64  # never the 1.3-million-pixel-wide strip


def test_inputs_whose_outputs_would_coincide_are_refused_before_any_work(p2p, tmp_path, capsys):
    folder = tmp_path / "pics"
    folder.mkdir()
    _picture(folder / "a.png", 0)
    _picture(folder / "a.jpg", 1)
    _picture(folder / "a-png.png", 2)  # its output name is what a.png's becomes
    assert_one_line_error(*run_cli(capsys, "translate", p2p, "--input", folder, "--out", tmp_path / "o")[::2],
                   "would both be written to")
    assert not (tmp_path / "o").exists()


def test_stylize_strip_and_empty_units_are_refused(dc, tmp_path, capsys):
    photo = tmp_path / "c.png"
    before = _picture(photo)
    assert_one_line_error(*run_cli(capsys, "stylize", "--content", photo, "--style", photo, "--out", tmp_path / "r.png",
                            "--strip", photo)[::2], "would replace")
    assert open(photo, "rb").read() == before
    assert_one_line_error(*run_cli(capsys, "intervene", dc, "--layer", "layer2", "--units", "",
                            "--out", tmp_path / "i.png")[::2], "at least one unit")
