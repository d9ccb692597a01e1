"""The verdicts of the image-to-image claims that compare means over training seeds: CycleGAN's loss ablation on
labels <-> scenes (benchmarks/claims/cyclegan.py --data labels) and pix2pixHD's ablations with --seeds
(benchmarks/claims/pix2pixhd.py) flip where their stated criteria say, and the seed aggregation is the mean and the
sample standard deviation."""
import math
import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "benchmarks", "claims"))

import claims_common as cc  # noqa: E402


def module(name):
    return cc.script_module(f"benchmarks/claims/{name}.py")


# -- CycleGAN, labels <-> scenes ---------------------------------------------------------------------------------------
def cyclegan_numbers(iou, std=None, seeds=(0,)):
    std = std or {}
    rows = {}
    for key, value in iou.items():
        rows[key] = {"pixel_acc": 0.5, "class_acc": 0.4, "class_iou": value, "fid": 10.0, "cpu_seconds": 1.0,
                     "real_pixel_acc": 1.0, "real_class_acc": 1.0, "real_class_iou": 1.0,
                     "seeds": {str(s): {"pixel_acc": 0.5, "class_acc": 0.4, "class_iou": value, "fid": 10.0}
                               for s in seeds},
                     "std": {"pixel_acc": 0.0, "class_acc": 0.0, "class_iou": std.get(key, 0.0), "fid": 0.0}}
    return {"rows": rows, "seeds": list(seeds), "steps": 10, "eval_n": 10, "batch": 4, "figure": "x.png"}


def labels_verdicts(iou, std=None, seeds=(0,)):
    return {name: label for name, label, _, _ in module("cyclegan").verdicts_labels(cyclegan_numbers(iou, std, seeds))}


def test_cyclegan_labels_full_best_needs_every_row_beaten_beyond_the_spread():
    base = {"gan": 0.30, "cycle": 0.20, "gan_fwd": 0.50, "full": 0.60}
    assert labels_verdicts(base)["full objective best"] == cc.REPRODUCED
    # GAN + forward cycle 0.01 below: less than the 0.02 floor
    assert labels_verdicts({**base, "gan_fwd": 0.59})["full objective best"] == cc.DIRECTION
    assert labels_verdicts({**base, "gan_fwd": 0.61})["full objective best"] == cc.NOT_REPRODUCED
    # 0.1 apart, but two seeds that differ by more than that: within the spread
    wide = labels_verdicts(base, std={"full": 0.15}, seeds=(0, 1))
    assert wide["full objective best"] == cc.DIRECTION


def test_cyclegan_labels_much_worse_needs_both_single_terms_far_below_the_full_objective():
    base = {"gan": 0.30, "cycle": 0.20, "gan_fwd": 0.50, "full": 0.60}
    key = "GAN alone and cycle alone much worse"
    assert labels_verdicts(base)[key] == cc.REPRODUCED
    assert labels_verdicts({**base, "gan": 0.55})[key] == cc.DIRECTION  # 0.05 below: worse, not much worse
    assert labels_verdicts({**base, "cycle": 0.65})[key] == cc.NOT_REPRODUCED
    assert labels_verdicts({**base, "gan": 0.45}, std={"gan": 0.2}, seeds=(0, 1))[key] == cc.DIRECTION


def test_cyclegan_labels_aggregate_is_mean_and_sample_sd():
    agg = module("cyclegan").aggregate({
        0: {"pixel_acc": 0.8, "class_acc": 0.6, "class_iou": 0.4, "fid": 20.0, "cpu_seconds": 10.0},
        1: {"pixel_acc": 0.9, "class_acc": 0.7, "class_iou": 0.6, "fid": 10.0, "cpu_seconds": 30.0}})
    assert agg["class_iou"] == pytest.approx(0.5) and agg["cpu_seconds"] == pytest.approx(20.0)
    assert agg["std"]["class_iou"] == pytest.approx(0.2 / math.sqrt(2))
    assert agg["std"]["fid"] == pytest.approx(10 / math.sqrt(2))
    assert agg["seeds"]["1"]["class_iou"] == 0.6


def test_cyclegan_labels_section_renders_every_row_and_the_ceiling():
    paper, table, verdict = module("cyclegan").render_labels(
        {"numbers": cyclegan_numbers({"gan": 0.3, "cycle": 0.2, "gan_fwd": 0.5, "full": 0.6}, seeds=(0, 1))})
    assert "0.52 / 0.17 / 0.11" in paper  # the paper's CycleGAN row, labels -> photo
    lines = [line for line in table.splitlines() if line.startswith("| ")]
    assert len(lines) == 1 + 4 + 1  # header, four objectives, the real scenes
    assert "| CycleGAN (GAN + both cycles) | 0.500 | 0.400 | 0.600 | 0.600 / 0.600 |" in table
    assert "**reproduced**" in verdict


# -- pix2pixHD, seeds -----------------------------------------------------------------------------------------------
def hd_row(iou, f=0.2, seeds=None):
    by_seed = {s: {"seconds": 1.0, "pixel_acc": 0.9, "class_iou": v, "class_acc": 0.8,
                   "boundary": {"precision": f, "recall": f, "f": f}}
               for s, v in enumerate(iou if isinstance(iou, (list, tuple)) else [iou])}
    return by_seed


def hd_numbers(rows, seeds=(0,)):
    m = module("pix2pixhd")
    return {"rows": [m.aggregate(name, by_seed) for name, by_seed in rows.items()], "seeds": list(seeds),
            "real": {"pixel_acc": 1.0, "class_iou": 1.0, "boundary": {"precision": 0.4, "recall": 0.2, "f": 0.3}},
            "steps": 10, "batch": 8, "resolution": 32, "eval_n": 10, "pairs": 5, "threshold": 0.5}


def hd_verdicts(rows, seeds=(0,)):
    return {name: label for name, label, _, _ in module("pix2pixhd").verdicts(hd_numbers(rows, seeds))}


def test_pix2pixhd_aggregate_is_mean_and_sample_sd_over_seeds():
    row = module("pix2pixhd").aggregate("x", hd_row([0.80, 0.90]))
    assert row["class_iou"] == pytest.approx(0.85)
    assert row["std"]["class_iou"] == pytest.approx(0.1 / math.sqrt(2))
    assert row["seeds"]["1"]["class_iou"] == 0.90 and row["std"]["boundary_f"] == 0.0


def test_pix2pixhd_multiscale_verdict_uses_the_seed_spread():
    rows = {"pix2pixhd": hd_row([0.80, 0.90]), "single-scale": hd_row([0.80, 0.80]), "no-fm": hd_row([0.5, 0.5]),
            "no-boundary": hd_row([0.8, 0.8], f=0.1), "pix2pix": hd_row([0.5, 0.5])}
    v = hd_verdicts(rows, seeds=(0, 1))
    # 0.05 above: beyond the 0.02 floor but not beyond the 0.071 seed standard deviation
    assert v["multi-scale D helps"] == cc.DIRECTION
    assert v["above pix2pix"] == cc.REPRODUCED
    # one seed: only the floor counts
    one = {k: {0: r[0]} for k, r in rows.items()}
    one["pix2pixhd"] = {0: {**rows["pix2pixhd"][0], "class_iou": 0.85}}
    assert hd_verdicts(one)["multi-scale D helps"] == cc.REPRODUCED
    rows["single-scale"] = hd_row([0.9, 0.95])
    assert hd_verdicts(rows, seeds=(0, 1))["multi-scale D helps"] == cc.NOT_REPRODUCED


def test_pix2pixhd_boundary_verdict_floor_and_partial_seeds_render():
    rows = {"pix2pixhd": hd_row([0.8, 0.8], f=0.3), "single-scale": hd_row([0.7, 0.7]),
            "no-fm": {0: hd_row(0.7)[0]}, "no-boundary": hd_row([0.8, 0.8], f=0.2), "pix2pix": {0: hd_row(0.5)[0]}}
    n = hd_numbers(rows, seeds=(0, 1))
    v = {name: label for name, label, _, _ in module("pix2pixhd").verdicts(n)}
    assert v["boundary map separates touching same-class objects"] == cc.REPRODUCED  # 0.1 > the 0.05 floor
    rows["no-boundary"] = hd_row([0.8, 0.8], f=0.27)
    assert hd_verdicts(rows, seeds=(0, 1))["boundary map separates touching same-class objects"] == cc.DIRECTION
    _, table, _ = module("pix2pixhd").render({"numbers": n})
    assert "| no-fm | 0.900 | 0.700 | 0.700 / – |" in table
    assert "no-fm, pix2pix with seed 0 only" in table
