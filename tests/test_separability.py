"""Linear separability (StyleGAN §4.2, reference/papers-details.md §1.8)."""
import numpy as np
import pytest
import torch
from torch import nn

from ganforge.errors import ConfigError
from ganforge.metrics.separability import (
    conditional_entropy, evaluator_attributes, joint_table, linear_separability, separability_from_latents,
)

torch.set_num_threads(1)


def _bits(p):
    p = np.asarray(p, dtype=float)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def test_conditional_entropy_matches_direct_sum_over_x():
    """conditional_entropy equals the official formula H(Y) − I(X;Y), written out here, on random joints."""
    rng = np.random.default_rng(0)
    for _ in range(50):
        joint = rng.random((2, 2)) ** 3
        joint /= joint.sum()
        px, py = joint.sum(1), joint.sum(0)
        mi = sum(joint[x, y] * np.log2(joint[x, y] / (px[x] * py[y])) for x in range(2) for y in range(2))
        assert conditional_entropy(joint) == pytest.approx(_bits(py) - mi, abs=1e-12)
        assert conditional_entropy(joint * 7) == pytest.approx(conditional_entropy(joint), abs=1e-15)
    assert conditional_entropy(np.array([[0.5, 0.0], [0.0, 0.5]])) == 0.0  # X determines Y
    assert conditional_entropy(np.array([[0.25, 0.25], [0.25, 0.25]])) == pytest.approx(1.0)  # independent


def test_joint_table_counts_fractions():
    t = joint_table(np.array([0, 0, 1, 1, 1]), np.array([0, 1, 1, 1, 0]))
    np.testing.assert_allclose(t, [[0.2, 0.2], [0.2, 0.4]])


def test_perfectly_separable_attribute_scores_one():
    rng = np.random.default_rng(0)
    lat = rng.normal(size=(600, 6))
    v = rng.normal(size=6)
    probs = 1 / (1 + np.exp(-4 * lat @ v))  # label = sign(v·z): a linear function of the latent
    res = separability_from_latents(lat, probs, names=["lin"])
    assert res.entropies["lin"] == 0.0 and res.score == 1.0
    assert res.label_entropies["lin"] > 0.9  # the labels are balanced, so H(Y) ≈ 1 bit: there was something to explain


def test_independent_attribute_keeps_its_label_entropy():
    rng = np.random.default_rng(1)
    n = 4000
    probs = np.where(rng.random(n) < 0.3, 0.95, 0.05)  # P(y=1) = 0.3, independent of the latent
    h_y = _bits([0.3, 0.7])
    # constant latents: the SVM output carries no information, so H(Y|X) = H(Y) exactly (score 2**H(Y))
    res = separability_from_latents(np.ones((n, 3)), probs, names=["a"])
    assert res.entropies["a"] == pytest.approx(res.label_entropies["a"], abs=1e-12)
    assert res.score == pytest.approx(2 ** res.label_entropies["a"], rel=1e-12)
    assert res.label_entropies["a"] == pytest.approx(h_y, abs=0.03)
    # random latents independent of the labels: the SVM (fitted on the same points) explains almost nothing
    res = separability_from_latents(rng.normal(size=(n, 3)), probs, names=["a"])
    assert res.entropies["a"] == pytest.approx(h_y, abs=0.03)


def test_only_the_most_confident_half_is_used():
    """Confident samples are linearly separable; the unconfident half has random labels. The score is 1 only if
    the least confident half is dropped — with keep_fraction=1 it is not."""
    rng = np.random.default_rng(2)
    n = 900
    lat = rng.normal(size=(n, 4))
    probs = 1 / (1 + np.exp(-8 * lat[:, 0]))  # two thirds: confident where far from the boundary z0 = 0
    noisy = np.arange(n) % 3 == 0  # one third: barely confident, labels at random
    probs[noisy] = np.where(rng.random(noisy.sum()) < 0.5, 0.501, 0.499)
    assert separability_from_latents(lat, probs).score == 1.0
    assert separability_from_latents(lat, probs, keep_fraction=1.0).score > 1.3


class StyleMock(nn.Module):
    """w = mapping(z) = z³ (elementwise); image = w[0] everywhere. Attribute "image > 0" is linear in w and in z;
    attribute "|image| > 1" is not linear in either."""

    z_dim, num_ws = 4, 2

    def sample_z(self, n, generator=None, device=None):
        return torch.randn(n, self.z_dim, generator=generator)

    def mapping(self, z, y=None):
        return z ** 3

    def make_noise(self, n, generator=None):
        return []

    def synthesis(self, ws, noise=None):
        return ws[:, 0, :1, None, None].expand(-1, 1, 4, 4)


def _sign_and_band(images):
    v = images.mean(dim=(1, 2, 3))
    return torch.stack([torch.sigmoid(20 * v), torch.sigmoid(20 * (v.abs() - 1))], dim=1)


def test_generator_pipeline_in_w_and_z():
    g = StyleMock()
    res = linear_separability(g, _sign_and_band, names=["pos", "band"], n=600, space="w")
    assert res.entropies["pos"] == 0.0
    assert res.entropies["band"] > 0.3  # |w0| > 1 is not a half-space
    assert res.score == pytest.approx(2 ** res.total_bits)
    assert res.protocol["space"] == "w" and res.protocol["keep"] == 300
    res_z = linear_separability(g, _sign_and_band, names=["pos", "band"], n=600, space="z")
    assert res_z.entropies["pos"] == 0.0


def test_w_space_needs_a_mapping_network():
    class Trad(nn.Module):
        z_dim = 4

        def sample_z(self, n, generator=None, device=None):
            return torch.randn(n, 4, generator=generator)

        def forward(self, z, y=None):
            return z[:, :1, None, None].expand(-1, 3, 8, 8)

    with pytest.raises(ConfigError, match="style-based"):
        linear_separability(Trad(), _sign_and_band, n=10, space="w")
    res = linear_separability(Trad(), _sign_and_band, names=["pos", "band"], n=400, space="z")
    assert res.entropies["pos"] == 0.0


def test_shapes_evaluator_one_vs_rest_attributes_agree_with_ground_truth():
    from ganforge.data import build_dataset
    from ganforge.data.shapes import BACKGROUNDS, COLORS, SHAPES, ShapesConfig
    from ganforge.metrics.evaluator import load_evaluator

    fn, names = evaluator_attributes(load_evaluator("shapes"))
    assert len(names) == len(SHAPES) + len(COLORS) + len(BACKGROUNDS) == 13 and names[0] == "shape=circle"
    ds = build_dataset(ShapesConfig(resolution=32, n=200, seed=5))
    batch = ds.get(torch.arange(200))
    probs = fn(batch.x)
    torch.testing.assert_close(probs[:, :3].sum(1), torch.ones(200))  # each head's columns are a distribution
    onehot = nn.functional.one_hot(batch.attrs["color"], len(COLORS)).bool()
    assert ((probs[:, 3:10] > 0.5) == onehot).float().mean() > 0.98
