"""Feature-space metrics (metrics/fid.py, kid.py, inception_score.py, prdc.py, modes.py) against closed forms,
independent implementations written here, and torchmetrics (optional) on the same features."""
import math

import numpy as np
import pytest
import scipy.linalg
import torch
from scipy.spatial.distance import cdist as scipy_cdist

from ganforge.metrics import (fid, frechet_distance, gaussian_stats, inception_score, kid, knn_radii, mmd2_unbiased,
                              mode_coverage, prdc, precision_recall, stacked_mnist_modes, trace_sqrt_product)


def _spd(d, seed, decay=1.0):
    """A random symmetric positive definite d×d matrix with a power-law spectrum (float64 numpy)."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return (q * np.arange(1, d + 1) ** -decay) @ q.T


def _features(n, d, seed, decay=1.0, shift=0.0):
    rng = np.random.default_rng(seed)
    root = scipy.linalg.cholesky(_spd(d, seed + 100, decay), lower=True)
    return rng.standard_normal((n, d)) @ root.T + shift


# ---------------------------------------------------------------- FID

def test_fid_identity_covariances_unit_mean_shift_is_the_dimension():
    # pytorch-fid's own closed-form check (there with D = 2048): mu 0 vs 1, both covariances I -> FID = D.
    d = 64
    assert frechet_distance(np.zeros(d), np.eye(d), np.ones(d), np.eye(d)) == pytest.approx(d, rel=1e-12)


def test_fid_commuting_diagonal_covariances_match_the_closed_form():
    rng = np.random.default_rng(0)
    d = 64
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    v1, v2 = rng.uniform(0.1, 3, d), rng.uniform(0.1, 3, d)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(v1 + v2 - 2 * np.sqrt(v1 * v2))
    assert frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2)) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("d", [16, 200])
def test_fid_non_commuting_covariances_match_scipy_sqrtm(d):
    s1, s2 = _spd(d, 1, decay=1.2), _spd(d, 2, decay=0.8)
    assert np.abs(s1 @ s2 - s2 @ s1).max() > 1e-3  # really non-commuting
    rng = np.random.default_rng(3)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    sqrt_part = np.trace(scipy.linalg.sqrtm(s1 @ s2)).real  # the pytorch-fid path, in the test only
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * sqrt_part
    for method in ("symmetric", "eigvals"):
        assert frechet_distance(mu1, s1, mu2, s2, method=method) == pytest.approx(expected, rel=1e-10)
    # Symmetric in its arguments, and the torch tensors path gives the same number.
    assert frechet_distance(mu2, s2, mu1, s1) == pytest.approx(expected, rel=1e-10)
    t = [torch.from_numpy(a) for a in (mu1, s1, mu2, s2)]
    assert frechet_distance(*t) == pytest.approx(expected, rel=1e-10)


def test_trace_sqrt_of_rank_deficient_covariances_matches_the_nuclear_norm():
    # N < D: both covariances singular (Cholesky fails, the eigh factor is used). Independent formula: the
    # non-zero eigenvalues of S1 S2 are the squared singular values of X1c X2cᵀ / sqrt((n1-1)(n2-1)).
    x1, x2 = _features(40, 64, 0), _features(47, 64, 1, decay=0.7)
    c1, c2 = x1 - x1.mean(0), x2 - x2.mean(0)
    nuclear = np.linalg.svd(c1 @ c2.T / np.sqrt(39 * 46), compute_uv=False).sum()
    s1, s2 = np.cov(x1, rowvar=False), np.cov(x2, rowvar=False)
    assert np.linalg.matrix_rank(s1) < 64
    assert trace_sqrt_product(s1, s2) == pytest.approx(nuclear, rel=1e-12)
    # eigvals(S1 S2) (torchmetrics' route) carries ~sqrt(eps) noise from the zero eigenvalues here.
    assert trace_sqrt_product(s1, s2, method="eigvals") == pytest.approx(nuclear, rel=1e-6)


def test_fid_of_a_set_with_itself_is_zero_also_when_rank_deficient():
    for n in (500, 30):  # full rank, then N < D
        x = torch.from_numpy(_features(n, 64, 5, shift=3.0)).float()
        assert abs(fid(x, x)) < 1e-9 * float(torch.cov(x.double().T).trace())


def test_gaussian_stats_match_numpy_and_the_styleGAN2_ADA_normaliser():
    x = _features(300, 20, 7, shift=5.0)
    mu, sigma = gaussian_stats(torch.from_numpy(x).float(), chunk_size=64)  # several chunks, float32 input
    assert mu.dtype == sigma.dtype == torch.float64
    xf = x.astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(mu.numpy(), xf.mean(0), rtol=1e-12)
    np.testing.assert_allclose(sigma.numpy(), np.cov(xf, rowvar=False), rtol=1e-10, atol=1e-12)
    _, sigma0 = gaussian_stats(xf, ddof=0)  # StyleGAN2-ADA: raw second moment / N - mu muᵀ
    np.testing.assert_allclose(sigma0.numpy(), xf.T @ xf / 300 - np.outer(xf.mean(0), xf.mean(0)), atol=1e-10)
    with pytest.raises(ValueError):
        gaussian_stats(np.zeros((1, 3)))


def test_fid_from_samples_approaches_the_population_value_and_rejects_bad_shapes():
    s1, s2 = _spd(8, 11), _spd(8, 12, decay=0.5)
    rng = np.random.default_rng(0)
    x = rng.multivariate_normal(np.zeros(8), s1, 200_000)
    y = rng.multivariate_normal(np.full(8, 0.3), s2, 200_000)
    population = frechet_distance(np.zeros(8), s1, np.full(8, 0.3), s2)
    assert fid(x, y) == pytest.approx(population, rel=0.02)
    with pytest.raises(ValueError):
        fid(np.zeros((10, 3)), np.zeros((10, 4)))


# ---------------------------------------------------------------- KID

def _mmd2_stylegan2_ada(x, y):
    """StyleGAN2-ADA / clean-fid's single-subset formula (metrics.md §3.3), float64 numpy."""
    m, d = x.shape
    a = (x @ x.T / d + 1) ** 3 + (y @ y.T / d + 1) ** 3
    b = (x @ y.T / d + 1) ** 3
    return ((a.sum() - np.diag(a).sum()) / (m - 1) - b.sum() * 2 / m) / m


def test_mmd2_matches_the_stylegan2_ada_formula():
    x, y = _features(120, 32, 0), _features(120, 32, 1, shift=0.2)
    assert mmd2_unbiased(x, y) == pytest.approx(_mmd2_stylegan2_ada(x, y), rel=1e-12)


def test_mmd2_is_unbiased_for_equal_distributions_and_positive_for_shifted_ones():
    # Mean of many independent estimates: ≈ 0 within a few standard errors for one distribution (the biased
    # V-statistic would sit many standard errors above 0 here), clearly positive under a mean shift.
    g = torch.Generator().manual_seed(0)
    same, shifted = [], []
    for _ in range(300):
        x, y = torch.randn(30, 4, generator=g), torch.randn(30, 4, generator=g)
        same.append(mmd2_unbiased(x, y))
        shifted.append(mmd2_unbiased(x, y + 0.5))
    same, shifted = np.array(same), np.array(shifted)
    se = same.std(ddof=1) / math.sqrt(len(same))
    assert abs(same.mean()) < 3 * se
    assert shifted.mean() > 20 * se
    assert (same < 0).any()  # the unbiased estimate does go negative


def test_kid_is_the_mean_over_seeded_subsets_and_clips_the_subset_size():
    x, y = torch.from_numpy(_features(80, 16, 0)), torch.from_numpy(_features(60, 16, 1, shift=0.3))
    r = kid(x, y, num_subsets=7, subset_size=1000, seed=3)  # subset size clipped to 60
    g = torch.Generator().manual_seed(3)
    vals = []
    for _ in range(7):
        ix, iy = torch.randperm(80, generator=g)[:60], torch.randperm(60, generator=g)[:60]
        vals.append(_mmd2_stylegan2_ada(x[ix].numpy(), y[iy].numpy()))
    assert r.mean == pytest.approx(np.mean(vals), rel=1e-12)
    assert r.std == pytest.approx(np.std(vals), rel=1e-10)  # ddof = 0
    assert kid(x, y, num_subsets=7, seed=3) == r  # deterministic
    assert kid(x, y, num_subsets=7, seed=4).mean != r.mean
    assert kid(x, y + 1.0, num_subsets=7, seed=3).mean > 10 * max(r.mean, r.std)


# ---------------------------------------------------------------- Inception Score

def test_is_of_confident_uniform_predictions_over_k_classes_is_k():
    k, n = 10, 1000  # each split of 100 holds every class 10 times
    probs = torch.nn.functional.one_hot(torch.arange(n) % k, k).double()
    r = inception_score(probs, from_logits=False)
    assert r.mean == pytest.approx(k, rel=1e-12) and r.std == pytest.approx(0, abs=1e-12)
    assert inception_score(60.0 * probs).mean == pytest.approx(k, rel=1e-12)  # confident logits


def test_is_of_a_constant_prediction_is_one():
    logits = torch.randn(1, 7).repeat(200, 1)
    assert inception_score(logits).mean == pytest.approx(1.0, abs=1e-12)
    assert inception_score(torch.zeros(200, 1008)).mean == pytest.approx(1.0, abs=1e-12)


def test_is_splits_are_contiguous_and_std_ddof_is_a_parameter():
    # First half confident over 2 classes, second half over 4: split scores 2 and 4.
    labels = torch.cat([torch.arange(8) % 2, torch.arange(8) % 4])
    probs = torch.nn.functional.one_hot(labels, 4).double()
    r = inception_score(probs, splits=2, from_logits=False)
    assert r.mean == pytest.approx(3.0) and r.std == pytest.approx(1.0)
    assert inception_score(probs, splits=2, from_logits=False, std_ddof=1).std == pytest.approx(math.sqrt(2))
    assert inception_score(probs, splits=1, from_logits=False).mean < 4.0


def test_is_matches_a_hand_computation_and_truncates_logits_on_request():
    logits = np.random.default_rng(0).normal(size=(12, 5)) * 2
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    scores = []
    for part in (p[:4], p[4:8], p[8:]):
        py = part.mean(0)
        scores.append(np.exp(np.mean(np.sum(part * (np.log(part) - np.log(py)), 1))))
    r = inception_score(torch.from_numpy(logits), splits=3)
    assert r.mean == pytest.approx(np.mean(scores), rel=1e-12)
    assert r.std == pytest.approx(np.std(scores), rel=1e-10)
    big = torch.zeros(100, 1008)
    big[:, 1004] = 50.0  # all the mass in an "unused" class beyond 1000
    big[torch.arange(100), torch.arange(100) % 10] = 10.0
    assert inception_score(big).mean == pytest.approx(1.0, abs=1e-6)
    assert inception_score(big, num_classes=1000).mean > 9.0
    with pytest.raises(ValueError):
        inception_score(torch.softmax(big, 1), from_logits=False, num_classes=1000)


# ---------------------------------------------------------------- precision / recall / density / coverage

def _reference_prdc(real, fake, k, strict):
    """Brute force in numpy/scipy, float64 (the `prdc` package / kynkaat formulas, metrics.md §3.4-3.5)."""
    inside = np.less if strict else np.less_equal
    r_real = np.partition(scipy_cdist(real, real), k, axis=1)[:, k]
    r_fake = np.partition(scipy_cdist(fake, fake), k, axis=1)[:, k]
    d = scipy_cdist(real, fake)
    return {"precision": inside(d, r_real[:, None]).any(0).mean(),
            "recall": inside(d, r_fake[None, :]).any(1).mean(),
            "density": inside(d, r_real[:, None]).sum() / (k * len(fake)),
            "coverage": inside(d.min(1), r_real).mean()}


def test_prdc_and_precision_recall_match_brute_force_for_any_batch_size():
    real, fake = _features(150, 6, 0), _features(130, 6, 1, shift=0.4)
    ref5, ref3 = _reference_prdc(real, fake, 5, strict=True), _reference_prdc(real, fake, 3, strict=False)
    assert 0.05 < ref5["precision"] < 0.99 and 0.05 < ref5["coverage"] < 0.99  # a non-trivial case
    for bs in (17, 10_000):
        got = prdc(real, fake, k=5, batch_size=bs, dtype=torch.float64)
        for key in ref5:
            assert got[key] == pytest.approx(ref5[key], abs=1e-12), key
        pr = precision_recall(real, fake, batch_size=bs, dtype=torch.float64)
        assert pr["precision"] == pytest.approx(ref3["precision"]) and pr["recall"] == pytest.approx(ref3["recall"])


def test_knn_radii_never_builds_a_block_larger_than_batch_size_squared(monkeypatch):
    # 100k reference images at the default block of 10k rows once built 10k × 100k distances (4 GB) and ran a
    # training's evaluation out of memory; the radii must come from batch_size × batch_size blocks and stay exact.
    x = torch.from_numpy(np.concatenate([_features(90, 5, 3), _features(3, 5, 3)]))  # 3 duplicated rows
    exact = torch.from_numpy(np.partition(scipy_cdist(x.numpy(), x.numpy()), 4, axis=1)[:, 4])
    shapes, cdist = [], torch.cdist
    monkeypatch.setattr(torch, "cdist", lambda a, b: shapes.append((len(a), len(b))) or cdist(a, b))
    got = knn_radii(x, 4, batch_size=16, dtype=torch.float64)
    assert max(r * c for r, c in shapes) <= 16 * 16 and len(shapes) == 6 * 6
    assert torch.allclose(got, exact, atol=1e-12, rtol=0)
    assert (knn_radii(x, 1, batch_size=16)[-3:] == 0).all()  # a duplicate is a neighbour at distance 0


def test_identical_sets_give_full_precision_recall_and_coverage_disjoint_far_sets_give_zero():
    x = torch.from_numpy(_features(200, 32, 2)).float()
    same = prdc(x, x.clone())
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0
    assert precision_recall(x, x.clone()) == {"precision": 1.0, "recall": 1.0, "f_score": 1.0}
    far = prdc(x, x + 1000.0)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}
    assert precision_recall(x, x + 1000.0)["precision"] == precision_recall(x, x + 1000.0)["recall"] == 0.0


def test_precision_recall_convention_of_torch_fidelity():
    # A tight generated cloud inside a wide real one: high precision, low recall (torch-fidelity test_prc_convention).
    g = torch.Generator().manual_seed(42)
    fake, real = torch.randn(200, 16, generator=g) * 0.1, torch.randn(200, 16, generator=g) * 3
    r = precision_recall(real, fake)
    assert r["precision"] > 0.8 and r["recall"] < 0.3


def test_ball_boundary_is_inclusive_for_pr_and_strict_for_prdc():
    real = torch.tensor([[0.0], [1.0], [2.0], [3.0]])  # k = 1 radii: 1 for every point
    fake = torch.tensor([[-1.0], [-1.0]])  # exactly on the boundary of the ball around 0
    assert knn_radii(real, 1).tolist() == [1.0, 1.0, 1.0, 1.0]
    assert precision_recall(real, fake, k=1)["precision"] == 1.0
    assert prdc(real, fake, k=1)["precision"] == 0.0


# ---------------------------------------------------------------- modes

def test_mode_kl_is_zero_for_a_uniform_histogram_and_log_k_for_one_mode():
    ring = np.array([(np.cos(a), np.sin(a)) for a in np.linspace(0, 2 * np.pi, 8, endpoint=False)])
    assert mode_coverage(np.repeat(ring, 5, axis=0), ring, 0.02)["kl"] == pytest.approx(0.0, abs=1e-12)
    assert mode_coverage(np.repeat(ring[:1], 9, axis=0), ring, 0.02)["kl"] == pytest.approx(math.log(8))
    counts = np.array([1, 2, 3, 0, 4, 0, 0, 6])
    r = mode_coverage(np.repeat(ring, counts, axis=0), ring, 0.02)
    p = counts / counts.sum()
    assert r["kl"] == pytest.approx(np.sum(p[p > 0] * np.log(p[p > 0] * 8)), rel=1e-12)
    assert math.isnan(mode_coverage(np.full((3, 2), 9.0), ring, 0.02)["kl"])  # nothing near any mode


def test_stacked_mnist_modes_counts_1000_modes():
    all_modes = torch.tensor([[i // 100, i // 10 % 10, i % 10] for i in range(1000)]).repeat(2, 1)
    r = stacked_mnist_modes(all_modes)
    assert r["modes"] == 1000 and r["kl"] == pytest.approx(0.0, abs=1e-12)
    first_digit_zero = all_modes[all_modes[:, 0] == 0]  # 100 modes, uniformly
    r = stacked_mnist_modes(first_digit_zero)
    assert r["modes"] == 100 and r["kl"] == pytest.approx(math.log(10), rel=1e-12)
    assert stacked_mnist_modes(np.array([[1, 2, 3], [1, 2, 3]]))["counts"][123] == 2
    with pytest.raises(ValueError):
        stacked_mnist_modes(np.array([[1, 2, 10]]))


def test_non_finite_features_give_nan_scores_not_crashes_or_silent_numbers():
    x = torch.randn(1200, 8, generator=torch.Generator().manual_seed(0))
    y = x.clone() + 0.1
    y[5, 0] = float("nan")
    assert math.isnan(fid(x, y))
    assert all(math.isnan(v) for v in kid(x, y, num_subsets=3))  # even if no subset picked row 5
    assert all(math.isnan(v) for v in inception_score(y))
    assert all(math.isnan(v) for v in prdc(x, y).values())
    assert all(math.isnan(v) for v in precision_recall(y, x).values())


# ---------------------------------------------------------------- parity with torchmetrics (optional)

class _Projection(torch.nn.Module):
    """A fixed random linear map of flattened images — the same 'feature extractor' for both libraries."""

    def __init__(self, in_dim, out_dim, seed, dtype=torch.float64):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.register_buffer("w", torch.randn(in_dim, out_dim, generator=g, dtype=torch.float64) / in_dim ** 0.5)
        self.num_features = out_dim
        self.out_dtype = dtype

    def forward(self, imgs):
        return (imgs.flatten(1).double() @ self.w).to(self.out_dtype)


def _images(n, seed, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, 8, 8, generator=g) + shift


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("dtype, rel", [(torch.float64, 1e-12), (torch.float32, 1e-6)])
def test_fid_parity_with_torchmetrics(dtype, rel):
    # float64 features: both sides exact (measured ~1e-14); float32 features: torchmetrics returns its FID
    # cast to the features' dtype, float32 (measured ~1e-8).
    fid_module = pytest.importorskip("torchmetrics.image.fid")
    net = _Projection(192, 48, 0, dtype)
    real, fake = _images(400, 1), _images(300, 2, shift=0.05)
    metric = fid_module.FrechetInceptionDistance(feature=net)
    metric.update(real, real=True)
    metric.update(fake, real=False)
    ours = fid(net(real), net(fake))
    assert ours > 0.01
    assert ours == pytest.approx(float(metric.compute()), rel=rel)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_kid_parity_with_torchmetrics_on_identical_subsets():
    kid_module = pytest.importorskip("torchmetrics.image.kid")
    net = _Projection(192, 48, 1)
    real, fake = _images(150, 3), _images(120, 4, shift=0.05)
    metric = kid_module.KernelInceptionDistance(feature=net, subsets=20, subset_size=100)
    metric.update(real, real=True)
    metric.update(fake, real=False)
    torch.manual_seed(7)  # torchmetrics draws its subsets with the global generator
    mean, std = metric.compute()
    ours = kid(net(real), net(fake), num_subsets=20, subset_size=100, seed=7)
    assert ours.mean == pytest.approx(float(mean), rel=1e-12)
    assert ours.std == pytest.approx(float(std), rel=1e-12)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_is_parity_with_torchmetrics_on_the_same_shuffle():
    is_module = pytest.importorskip("torchmetrics.image.inception")
    net = _Projection(192, 1008, 2)
    imgs = _images(500, 5) * 20  # spread logits so the score is far from 1
    metric = is_module.InceptionScore(feature=net, splits=10)
    metric.update(imgs)
    torch.manual_seed(11)  # torchmetrics shuffles with the global generator
    mean, std = metric.compute()
    ours = inception_score(net(imgs), splits=10, shuffle_seed=11, std_ddof=1)  # torchmetrics: std with ddof=1
    assert ours.mean > 1.5
    assert ours.mean == pytest.approx(float(mean), rel=1e-12)
    assert ours.std == pytest.approx(float(std), rel=1e-12)
