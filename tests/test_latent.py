import torch

from ganforge.latent import analogy, group_means, interpolation_path, lerp, slerp


def test_slerp_endpoints_and_great_circle():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(16, generator=g), torch.randn(16, generator=g)
    assert torch.allclose(slerp(a, b, 0.0), a, atol=1e-5)
    assert torch.allclose(slerp(a, b, 1.0), b, atol=1e-5)
    # Equal norms: every slerp point keeps the norm, while the lerp midpoint falls inside the sphere.
    b = b / b.norm() * a.norm()
    t = torch.linspace(0, 1, 11)
    path = slerp(a, b, t)
    assert torch.allclose(path.norm(dim=1), a.norm().expand(11), rtol=1e-4)
    assert lerp(a, b, 0.5).norm() < 0.95 * a.norm()
    # The angle to a grows linearly in t along the great circle.
    ang = torch.acos(((path @ a) / (path.norm(dim=1) * a.norm())).clamp(-1, 1))
    assert torch.allclose(ang[1:] - ang[:-1], (ang[-1] / 10).expand(10), atol=1e-3)


def test_interpolation_path_visits_every_key_once():
    keys = torch.randn(3, 5)
    path = interpolation_path(keys, steps=4)
    assert len(path) == 7
    assert torch.allclose(path[0], keys[0]) and torch.allclose(path[3], keys[1]) and torch.allclose(path[6], keys[2])
    assert torch.allclose(path[1], keys[0] + (keys[1] - keys[0]) / 3)


def test_group_means_and_analogy_are_exact():
    z = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0], [0.0, 4.0]])
    means = group_means(z, ["a", "a", "b", "b"])
    assert torch.equal(means["a"], torch.tensor([2.0, 0.0]))
    assert torch.equal(means["b"], torch.tensor([0.0, 3.0]))
    assert torch.equal(analogy(z[:2], z[2:], torch.tensor([1.0, 1.0])), torch.tensor([3.0, -2.0]))
