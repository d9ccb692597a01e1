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


# ---------------------------------------------------------------- Stacked MNIST: unrecognised samples

def test_unrecognised_samples_count_for_no_mode_and_are_reported_as_a_share():
    from ganforge.metrics.modes import stacked_mnist_modes

    digits = np.array([[1, 2, 3]] * 6 + [[8, 8, 8]] * 4)
    recognised = np.ones((10, 3), dtype=bool)
    recognised[6:, 1] = False  # the four "888" samples have an off-distribution green channel
    r = stacked_mnist_modes(digits, recognised=recognised, confidence=np.full((10, 3), 0.75))
    assert r["modes"] == 1 and r["counts"][123] == 6 and r["counts"][888] == 0
    assert r["unrecognised"] == pytest.approx(0.4)
    assert r["confidence"] == pytest.approx(0.75)
    assert r["kl"] == pytest.approx(np.log(1000))  # all counted samples in one mode
    every = stacked_mnist_modes(digits)  # without flags every sample counts (the old behaviour)
    assert every["modes"] == 2 and every["unrecognised"] == 0.0 and np.isnan(every["confidence"])
    assert np.isnan(stacked_mnist_modes(digits, recognised=np.zeros((10, 3)))["kl"])  # nothing counted


def test_class_gaussian_threshold_flags_the_chosen_share_of_real_and_all_far_samples():
    from ganforge.metrics.modes import class_distances, fit_class_gaussians

    rng = np.random.default_rng(0)
    means = rng.normal(0, 10, (3, 4))
    cov_sqrt = np.diag([1.0, 2.0, 0.5, 1.0])

    def draw(n):
        y = rng.integers(0, 3, n)
        return means[y] + rng.standard_normal((n, 4)) @ cov_sqrt, y

    fit_x, fit_y = draw(20_000)
    cal_x, cal_y = draw(20_000)
    ref = fit_class_gaussians(fit_x, fit_y, 3, cal_x, cal_y, quantile=0.95)
    # The distance is the whitened one: a point 2σ away along the σ = 2 axis is at distance 2, not 4.
    assert class_distances(means[1] + np.array([0, 4.0, 0, 0]), np.array(1), ref) == pytest.approx(2.0, rel=0.03)
    # The threshold is the 95 % point of a χ with 4 degrees of freedom, √9.488 = 3.08.
    assert ref["threshold"] == pytest.approx(3.08, rel=0.03)
    test_x, test_y = draw(20_000)
    flagged = class_distances(test_x, test_y, ref) > ref["threshold"]
    assert flagged.mean() == pytest.approx(0.05, abs=0.006)
    far = rng.normal(0, 10, (500, 4)) * 5
    assert (class_distances(far, rng.integers(0, 3, 500), ref) > ref["threshold"]).mean() > 0.99
    with pytest.raises(ValueError):  # a class without reference samples
        fit_class_gaussians(fit_x[fit_y < 2], fit_y[fit_y < 2], 3, cal_x, cal_y)


class _Images(torch.nn.Module):
    """A stand-in generator: sample i is images[i] (or a fixed function of its code)."""

    def __init__(self, images):
        super().__init__()
        self.z_dim, self.num_classes, self.images = 8, 0, images
        self.eval()

    def sample_z(self, n, generator=None, device="cpu"):
        return torch.randn(n, self.z_dim, generator=generator).to(device)

    def forward(self, z, y=None):
        idx = (z[:, 0].double().abs() * 1e6).long() % len(self.images)
        x = self.images[idx]
        return x.float() / 127.5 - 1 if x.dtype == torch.uint8 else x


def test_stacked_mnist_noise_is_unrecognised_and_invents_no_modes():
    """The MNIST classifier calls noise and flat grey "8" with probability ≈ 1 in every channel, so a counter
    that trusts its argmax reports one mode (888) for such a generator; its features are far from every digit's."""
    from ganforge.config import load_config
    from ganforge.data import build_dataset
    from ganforge.evaluation import evaluate

    data = load_config("dcgan-stacked-mnist").data
    ds = build_dataset(data)
    g = torch.Generator().manual_seed(0)
    uniform = torch.rand(300, 3, 32, 32, generator=g) * 2 - 1
    grey = (0.1 * torch.randn(300, 3, 32, 32, generator=g)).clamp(-1, 1)
    r = evaluate(_Images(torch.cat([uniform, grey])), data, "modes", n=1000, dataset=ds).scores
    assert r["unrecognised"] > 0.99 and r["modes"] == 0
    assert r["digit_confidence"] > 0.9  # the softmax alone would not have told
    real = evaluate(_Images(ds.x[5000:]), data, "modes", n=2000, dataset=ds).scores
    assert real["unrecognised"] < 0.06  # ≈ 1 − 0.99³ of real stacks are flagged by design
    # 2,000 draws from 5,000 real stacks (≈ Poisson(5) stacks per mode) cover 1000·(1 − e^(5(e^−0.4 − 1))) ≈ 808
    # modes when every sample counts; the flagged few percent remove a few of them
    assert real["modes"] > 720
