"""Mode counting on 2-D mixtures (metrics/modes.py)."""
import subprocess
import sys

import numpy as np
import pytest
import torch

from ganforge.metrics.modes import mode_coverage

RING = np.array([(np.cos(a), np.sin(a)) for a in np.linspace(0, 2 * np.pi, 8, endpoint=False)])
STD = 0.02


def test_samples_at_three_of_eight_centres_cover_exactly_three_modes():
    samples = np.repeat(RING[[0, 3, 5]], [10, 20, 30], axis=0)
    r = mode_coverage(samples, RING, STD)
    assert r["modes"] == 3
    assert r["high_quality"] == 1.0
    assert r["counts"] == [10, 0, 0, 20, 0, 30, 0, 0]


def test_far_samples_are_not_high_quality_and_cover_nothing():
    samples = np.full((50, 2), 5.0)
    r = mode_coverage(samples, RING, STD)
    assert r["modes"] == 0
    assert r["high_quality"] == 0.0
    assert sum(r["counts"]) == 0


def test_k_sigma_threshold_is_the_boundary():
    inside = RING[0] + np.array([2.9 * STD, 0.0])
    outside = RING[1] + np.array([0.0, 3.1 * STD])
    r = mode_coverage(np.stack([inside, outside]), RING, STD, k_sigma=3.0)
    assert r["counts"][0] == 1 and r["counts"][1] == 0
    assert r["high_quality"] == 0.5
    # A looser threshold accepts the second sample too.
    assert mode_coverage(np.stack([inside, outside]), RING, STD, k_sigma=4.0)["modes"] == 2


def test_each_sample_counts_for_its_nearest_centre_only():
    centres = np.array([[0.0, 0.0], [0.1, 0.0]])
    samples = np.array([[0.04, 0.0], [0.06, 0.0]])  # both within 3σ (σ = 0.05) of BOTH centres
    r = mode_coverage(samples, centres, std=0.05)
    assert r["counts"] == [1, 1]
    assert sum(r["counts"]) == len(samples)


def test_min_count_filters_sparse_modes():
    samples = np.repeat(RING[[0, 1, 2]], [5, 1, 2], axis=0)
    assert mode_coverage(samples, RING, STD, min_count=1)["modes"] == 3
    assert mode_coverage(samples, RING, STD, min_count=2)["modes"] == 2
    assert mode_coverage(samples, RING, STD, min_count=5)["modes"] == 1


def test_torch_and_numpy_inputs_agree_and_nan_is_not_high_quality():
    rng = np.random.default_rng(0)
    samples = RING[rng.integers(0, 8, 300)] + rng.normal(0, 2 * STD, (300, 2))
    samples[0] = np.nan
    a = mode_coverage(samples, RING, STD)
    b = mode_coverage(torch.from_numpy(samples).float(), torch.from_numpy(RING).float(), STD)
    assert a["counts"] == b["counts"]
    assert 0.5 < a["high_quality"] < 1.0  # σ_samples = 2σ: about 1 - exp(-9/8) ≈ 0.68 of them are within 3σ


def test_real_toy_data_cover_all_modes_with_the_gaussian_3_sigma_fraction():
    from ganforge.data.toy import mode_centers, mode_std, sample_toy

    for name, k in (("ring8", 8), ("grid25", 25)):
        pts, _ = sample_toy(name, 20_000, seed=1)
        r = mode_coverage(pts, mode_centers(name), mode_std(name))
        assert r["modes"] == k
        # A 2-D isotropic Gaussian has 1 - exp(-9/2) = 0.9889 of its mass within 3σ of its centre.
        assert abs(r["high_quality"] - (1 - np.exp(-4.5))) < 0.004


def test_empty_samples_and_bad_shapes():
    r = mode_coverage(np.zeros((0, 2)), RING, STD)
    assert np.isnan(r.pop("kl"))  # no samples: the histogram is undefined, not "perfect"
    assert r == {"modes": 0, "high_quality": 0.0, "counts": [0] * 8}
    with pytest.raises(ValueError):
        mode_coverage(np.zeros((4, 3)), RING, STD)
    with pytest.raises(ValueError):
        mode_coverage(np.zeros((4, 2)), RING, 0.0)


def test_metrics_do_not_import_the_data_package():
    code = "import sys, ganforge.metrics.modes; assert 'ganforge.data' not in sys.modules, sorted(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)
