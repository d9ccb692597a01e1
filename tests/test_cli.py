"""The command line end to end, in a subprocess as a user runs it."""
import os
import subprocess
import sys

import numpy as np
from PIL import Image

TINY = ["generator.channels=8", "discriminator.channels=8", "train.batch_size=16", "train.steps=6",
        "train.log_every=2", "train.sample_every=3", "train.checkpoint_every=3", "train.n_samples=16",
        "train.progress=false"]


def ganforge(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "ganforge", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def test_train_sample_interpolate_end_to_end(tmp_path):
    run = tmp_path / "run"
    r = ganforge("train", "dcgan-mnist", "--out", run, *TINY)
    assert r.returncode == 0, r.stderr
    assert "Look at" in r.stdout and str(run / "samples" / "latest.png") in r.stdout

    # Sampling is deterministic in the seed and differs across seeds.
    for name, seed in (("a.png", 0), ("b.png", 0), ("c.png", 1)):
        r = ganforge("sample", run, "--n", 16, "--seed", seed, "--out", tmp_path / name)
        assert r.returncode == 0, r.stderr
    a, b, c = (np.asarray(Image.open(tmp_path / n)) for n in ("a.png", "b.png", "c.png"))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.std() > 5  # not a blank picture

    r = ganforge("interpolate", run, "--seeds", "1,2,3", "--steps", 5, "--slerp", "--out", tmp_path / "strip.png")
    assert r.returncode == 0, r.stderr
    gif = Image.open(tmp_path / "strip.gif")
    assert gif.n_frames == 9 + 7  # 9 path frames, then back again without repeating the ends
    strip = np.asarray(Image.open(tmp_path / "strip.png"))
    assert strip.shape[1] > 4 * strip.shape[0]  # 9 frames side by side: a strip, not a square grid

    # Resume continues the same run to a larger step budget.
    r = ganforge("train", "--resume", run, "train.steps=9")
    assert r.returncode == 0, r.stderr
    assert open(run / "checkpoints" / "LATEST").read().strip() == "step-000009"


def test_cli_errors_are_clear_and_nonzero(tmp_path):
    r = ganforge("train", "dcgan-mnist", "train.stpes=3", "--out", tmp_path / "x")
    assert r.returncode == 2 and "Did you mean 'steps'" in r.stderr and "Traceback" not in r.stderr
    r = ganforge("train", "dcgan-mnist", "data.name=folder", f"data.path={tmp_path / 'nowhere'}", "--out", tmp_path / "y")
    assert r.returncode == 2 and "nowhere" in r.stderr and "Traceback" not in r.stderr
    assert not os.path.exists(tmp_path / "y" / "checkpoints")
    pickle_file = tmp_path / "model.pt"
    import torch

    torch.save({"w": torch.zeros(2)}, pickle_file)
    r = ganforge("sample", pickle_file)
    assert r.returncode == 2 and "refused" in r.stderr


def test_presets_and_data_preview(tmp_path):
    r = ganforge("presets")
    assert r.returncode == 0
    for name in ("dcgan-mnist", "gan-ring8", "gan-grid25", "dcgan-shapes"):
        assert name in r.stdout
    r = ganforge("data", "preview", "shapes", "n=200", "--n", 16, "--out", tmp_path / "p.png")
    assert r.returncode == 0, r.stderr
    img = np.asarray(Image.open(tmp_path / "p.png").convert("RGB"))
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 4  # colourful scenes, not a blank grid


def test_numbers_out_of_range_are_one_line_errors(tmp_path):
    run = tmp_path / "run"
    cases = [
        (["sample", run, "--n", 0], "--n must be ≥ 1, got 0"),
        (["sample", run, "--n", -1], "--n must be ≥ 1, got -1"),
        (["interpolate", run, "--seeds", "1,-2"], "--seeds[1] must be in [0, 2147483647], got -2"),
        (["eval", run, "--n-real", 0], "--n-real must be ≥ 1, got 0"),
        (["dissect", run, "--layer", "x", "--threshold", "1.5"],
         "--threshold must be iqr or a quantile in (0, 1), got '1.5'"),
        (["train", "dcgan-mnist", "method.lr_g=-1", "--out", run], "method.lr_g must be > 0, got -1.0"),
    ]
    for args, message in cases:
        r = ganforge(*args)
        assert r.returncode == 2 and "Traceback" not in r.stderr, (args, r.stderr)
        assert r.stderr.strip().splitlines() == [f"error: {message}"], (args, r.stderr)
    assert not run.exists()


def test_preview_of_a_folder_path_skips_a_dangling_link_and_bad_starts_leave_nothing(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(3):
        Image.new("RGB", (20, 20), (0, 90 * i, 0)).save(photos / f"{i}.png")
    os.symlink(photos / "gone.png", photos / "link.png")
    r = ganforge("data", "preview", photos, "resolution=16", "--out", tmp_path / "p.png")  # no `folder`, no path=
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert "link.png (dangling symbolic link)" in r.stderr
    assert np.asarray(Image.open(tmp_path / "p.png")).shape[2] == 3
    r = ganforge("data", "preview", tmp_path / "nowhere", "--out", tmp_path / "q.png")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "nowhere" in r.stderr
    r = ganforge("train", "dcgan-mnist", f"data.path={photos}", "--out", tmp_path / "run", *TINY)  # batch 16 > 3
    assert r.returncode == 2 and "Traceback" not in r.stderr and "larger than the dataset" in r.stderr
    assert not (tmp_path / "run").exists()
