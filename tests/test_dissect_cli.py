"""GAN Dissection from the command line and the Python API, end to end on a tiny trained generator, and the
shipped shapes segmenter."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import ganforge
from ganforge.errors import ConfigError

TINY = ["generator.channels=8", "discriminator.channels=8", "train.batch_size=16", "train.steps=4",
        "train.checkpoint_every=4", "train.sample_every=4", "train.n_samples=16", "train.progress=false",
        "train.eval_every=0", "data.n=64"]


def ganforge_cli(*args):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "ganforge", *map(str, args)], capture_output=True, text=True,
                          timeout=300, env=env)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    run = tmp_path_factory.mktemp("dissect") / "run"
    r = ganforge_cli("train", "dcgan-shapes", "--out", run, *TINY)
    assert r.returncode == 0, r.stderr
    return run


def test_cli_dissect_and_intervene_end_to_end(run_dir, tmp_path):
    out = tmp_path / "report"
    r = ganforge_cli("dissect", run_dir, "--layer", "layer2", "--n", 40, "--top", 2, "--out", out)
    assert r.returncode == 0, r.stderr
    assert "units interpretable" in r.stdout and str(out / "dissect.html") in r.stdout
    data = json.load(open(out / "dissect.json"))
    assert data["layer"] == "layer2" and len(data["units"]) == data["num_units"] == 16  # channels 8: 32, 16, 8
    assert data["class_names"] == ["background", "circle", "square", "triangle", "red", "green", "blue", "yellow",
                                   "magenta", "cyan", "orange"]  # shape head, then colour head (not "none")
    assert data["settings"]["n"] == 40 and data["settings"]["threshold"] == "iqr"
    assert all(os.path.getsize(out / "image" / f"unit-{u:04d}.png") > 0 for u in range(16))

    pic = tmp_path / "ba.png"
    r = ganforge_cli("intervene", run_dir, "--layer", "layer2", "--units", "0,1,2,3", "--mode", "insert",
                     "--region", "0,0,16,16", "--n", 4, "--out", pic)
    assert r.returncode == 0, r.stderr
    grid = np.asarray(Image.open(pic)).astype(float)
    assert grid.shape[1] > 1.5 * grid.shape[0]  # 2 rows of 4: before, after
    top, bottom = grid[: grid.shape[0] // 2], grid[grid.shape[0] // 2:]
    assert np.abs(top - bottom).mean() > 1  # the insertion changed the pictures


def test_cli_errors_are_clear(run_dir, tmp_path):
    r = ganforge_cli("dissect", run_dir, "--layer", "conv9", "--n", 8)
    assert r.returncode == 2 and "layer1, layer2, layer3" in r.stderr and "Traceback" not in r.stderr
    r = ganforge_cli("intervene", run_dir, "--layer", "layer2", "--units", "1,999", "--out", tmp_path / "x.png")
    assert r.returncode == 2 and "outside this layer's units 0..15" in r.stderr
    r = ganforge_cli("intervene", run_dir, "--layer", "layer2", "--units", "1", "--region", "20,20,40,30",
                     "--out", tmp_path / "x.png")
    assert r.returncode == 2 and "outside the 32×32 image" in r.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    r = ganforge_cli("dissect", empty, "--layer", "layer2")
    assert r.returncode == 2 and "no complete ganforge checkpoint" in r.stderr


def test_python_api_dissect_and_intervene(run_dir):
    g = ganforge.load(run_dir)
    result = ganforge.dissect(g, layer="layer1", n=20, threshold=0.99, top_k=0)
    assert result.num_units == 32 and len(result.units) == 32 and result.settings["threshold"] == 0.99
    # a quantile threshold: each unit is above it in about the top 1% of its featuremap cells
    from ganforge.dissect import capture
    from ganforge.metrics.features import generator_source

    with capture(g, "layer1") as out:
        generator_source(g, seed=1)(0, 20)  # the dissection's samples (seed 1)
    on = (out["r"] > result.thresholds[None, :, None, None]).float().mean(dim=(0, 2, 3))
    assert on.max() <= 0.02 and on.mean() > 0.002
    before, after = ganforge.intervene(str(run_dir), "layer1", list(range(32)), n=3)
    assert torch.allclose(after, after[:1].expand_as(after), atol=1e-5)  # every unit off: z has no effect
    assert not torch.allclose(before, before[:1].expand_as(before), atol=1e-3)
    with pytest.raises(ConfigError, match="name a layer"):
        ganforge.dissect(g, n=4)


def test_shipped_segmenter_reaches_its_recorded_mean_iou():
    from ganforge.data import build_dataset
    from ganforge.data.shapes import ShapesConfig
    from ganforge.dissect.segmenter import load_segmenter, mean_iou, read_segmenter_card, segment

    card = read_segmenter_card("shapes")
    assert card["held_out_mean_iou"] >= 0.9 and card["bytes"] < 600_000
    seg = load_segmenter("shapes")
    data = build_dataset(ShapesConfig(resolution=32, n=300, seed=1))  # the card's one-object held-out stream
    batch = data.get(slice(0, 300))
    with torch.no_grad():
        miou, per_class = mean_iou(segment(seg, batch.x), batch.mask, 4)
    assert miou >= 0.9 and min(per_class) >= 0.8
    assert abs(miou - card["held_out"]["one_object"]["mean_iou"]) < 0.03
    # the colour head names the palette colour of the object under each pixel
    from ganforge.data.shapes import COLORS

    palette = torch.tensor(list(COLORS.values()), dtype=torch.float32) / 127.5 - 1
    truth = ((batch.x[:, None] - palette[None, :, :, None, None]) ** 2).sum(2).argmin(1) + 1
    with torch.no_grad():
        color = seg.head_logits(batch.x)["color"].argmax(1)
    on = batch.mask > 0
    assert (color[on] == truth[on]).float().mean() > 0.98 and (color[~on] == 0).float().mean() > 0.98
