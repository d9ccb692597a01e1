"""Perceptual path length (StyleGAN §4.1, reference/papers-details.md §1.7) and its distances."""
import math
import os

import numpy as np
import pytest
import torch
from torch import nn

from ganforge.errors import CheckpointError, ConfigError
from ganforge.metrics.lpips import EvaluatorDistance, LPIPSVGG16, lpips_from_features
from ganforge.metrics.ppl import filter_percentiles, perceptual_path_length, slerp

torch.set_num_threads(1)


def sq_l2(a, b):
    """Squared L2 distance per sample (the closed-form tests' distance)."""
    return (a - b).flatten(1).pow(2).sum(1)


class TraditionalG(nn.Module):
    """G(z) = k · z reshaped to 1×4×4 (z_dim 16); `ignore` makes it return a constant image."""

    def __init__(self, k=0.5, ignore=False, dtype=torch.float64):
        super().__init__()
        self.z_dim, self.k, self.ignore, self.dtype = 16, k, ignore, dtype
        self.bias = nn.Parameter(torch.linspace(-0.5, 0.5, 16, dtype=dtype).view(1, 1, 4, 4))

    def sample_z(self, n, generator=None, device=None):
        return torch.randn(n, self.z_dim, generator=generator, dtype=self.dtype)

    def forward(self, z, y=None):
        img = torch.zeros_like(self.bias).expand(len(z), -1, -1, -1) if self.ignore else self.k * z.view(-1, 1, 4, 4)
        return img + self.bias


class StyleG(nn.Module):
    """mapping(z) = M z; synthesis(ws) = k · ws[:, 0] reshaped (w_dim 16) + noise; or constant (`ignore`)."""

    def __init__(self, k=0.5, ignore=False, dtype=torch.float64):
        super().__init__()
        self.z_dim, self.w_dim, self.num_ws, self.k, self.ignore, self.dtype = 8, 16, 3, k, ignore, dtype
        g = torch.Generator().manual_seed(1)
        self.M = nn.Parameter(torch.randn(16, 8, generator=g, dtype=dtype))

    def sample_z(self, n, generator=None, device=None):
        return torch.randn(n, self.z_dim, generator=generator, dtype=self.dtype)

    def mapping(self, z, y=None):
        return z @ self.M.T

    def make_noise(self, n, generator=None):
        return [torch.randn(n, 1, 4, 4, generator=generator, dtype=self.dtype)]

    def synthesis(self, ws, noise=None):
        noise = noise or self.make_noise(len(ws))
        img = torch.zeros(len(ws), 1, 4, 4, dtype=self.dtype) if self.ignore else self.k * ws[:, 0].view(-1, 1, 4, 4)
        return img + noise[0]

    def forward(self, z, y=None):
        ws = self.mapping(z).unsqueeze(1).expand(-1, self.num_ws, -1)
        return self.synthesis(ws)


# ----------------------------------------------------------------------------------------------- must show
@pytest.mark.parametrize("G,space", [(TraditionalG, "z"), (StyleG, "z"), (StyleG, "w")])
@pytest.mark.parametrize("sampling", ["full", "end"])
def test_ppl_of_generator_ignoring_z_is_exactly_zero(G, space, sampling):
    res = perceptual_path_length(G(ignore=True), sq_l2, n=40, batch_size=16, space=space, sampling=sampling)
    assert res.score == 0.0 and np.all(res.distances == 0.0)
    # the same generator that does use z has a positive PPL: the zero above is not an artefact of the pipeline
    assert perceptual_path_length(G(), sq_l2, n=40, batch_size=16, space=space, sampling=sampling).score > 1


def test_ppl_with_default_evaluator_distance_is_zero_for_constant_images():
    class ConstRGB(TraditionalG):
        def forward(self, z, y=None):
            return torch.linspace(-1, 1, 3 * 32 * 32).view(1, 3, 32, 32).expand(len(z), -1, -1, -1).float()

    res = perceptual_path_length(ConstRGB(), n=8, batch_size=8)  # default: shapes evaluator (3 channels)
    assert res.score == 0.0
    assert res.protocol["distance"] == "evaluator-shapes-lpips-form" and len(res.protocol["distance_sha256"]) == 64


# ----------------------------------------------------------------------------------------------- closed forms
def _draws(G, n, seed=0, full=True):
    gen = torch.Generator().manual_seed(seed)
    z = G.sample_z(2 * n, generator=gen)
    return z[0::2], z[1::2]


def test_linear_traditional_generator_closed_form_in_z():
    """G(z) = k·r·slerp(z0, z1, t): slerp moves at constant angular speed θ, so with the squared-L2 distance
    d/ε² = k² r² (2 sin(θε/2))² / ε² for every t (r = √z_dim, θ = angle between z0 and z1)."""
    G, n, eps = TraditionalG(k=0.5), 64, 1e-4
    res = perceptual_path_length(G, sq_l2, n=n, batch_size=n, space="z", sampling="full", epsilon=eps)
    z0, z1 = _draws(G, n)
    theta = torch.acos((nn.functional.normalize(z0, dim=1) * nn.functional.normalize(z1, dim=1)).sum(1))
    expected = (0.5 ** 2) * G.z_dim * (2 * torch.sin(theta * eps / 2)) ** 2 / eps ** 2
    np.testing.assert_allclose(res.distances, expected.numpy(), rtol=1e-6)
    assert res.score == pytest.approx(filter_percentiles(expected.numpy()).mean(), rel=1e-6)


@pytest.mark.parametrize("sampling", ["full", "end"])
def test_linear_style_generator_closed_form_in_w(sampling):
    """lerp in W: w(t+ε) − w(t) = ε (w1 − w0), so d/ε² = k² ‖M z1 − M z0‖² exactly — only if both images of a
    pair get the same noise (otherwise the noise difference / ε² would dominate)."""
    G, n = StyleG(k=0.5), 50
    res = perceptual_path_length(G, sq_l2, n=n, batch_size=20, space="w", sampling=sampling)
    gen = torch.Generator().manual_seed(0)
    expected = []
    for b in (20, 20, 10):  # the same random stream as the metric: z, then t (full only), then noise
        z = G.sample_z(2 * b, generator=gen)
        if sampling == "full":
            torch.rand(b, generator=gen)
        G.make_noise(b, generator=gen)
        w0, w1 = G.mapping(z[0::2]), G.mapping(z[1::2])
        expected.append(0.25 * (w1 - w0).pow(2).sum(1))
    np.testing.assert_allclose(res.distances, torch.cat(expected).detach().numpy(), rtol=1e-5)


def test_w_space_of_traditional_generator_is_a_clear_error():
    with pytest.raises(ConfigError, match="style-based"):
        perceptual_path_length(TraditionalG(), sq_l2, n=4, space="w")
    with pytest.raises(ConfigError, match="sampling"):
        perceptual_path_length(TraditionalG(), sq_l2, n=4, sampling="middle")


def test_face_crop_takes_stylegans_region():
    seen = {}

    def spy(a, b):
        seen["shape"] = tuple(a.shape)
        return sq_l2(a, b)

    class Big(TraditionalG):
        def forward(self, z, y=None):
            return z[:, :1, None, None].expand(-1, 3, 64, 64)

    perceptual_path_length(Big(), spy, n=4, batch_size=4, crop="face")
    assert seen["shape"] == (4, 3, 32, 32)  # c = 8: rows 24:56, cols 16:48


# ----------------------------------------------------------------------------------------------- pieces
def test_slerp_stays_on_sphere_hits_endpoints_and_has_constant_speed():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(100, 32, generator=g, dtype=torch.float64), torch.randn(100, 32, generator=g, dtype=torch.float64)
    an, bn = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    t = torch.rand(100, 1, generator=g, dtype=torch.float64)
    assert torch.allclose(slerp(a, b, t).norm(dim=1), torch.ones(100, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(slerp(a, b, 0.0), an, atol=1e-12)
    assert torch.allclose(slerp(a, b, 1.0), bn, atol=1e-10)
    theta = torch.acos((an * bn).sum(1))
    s1, s2 = slerp(a, b, t * 0.5), slerp(a, b, t)
    angle = torch.acos((s1 * s2).sum(1).clamp(-1, 1))
    assert torch.allclose(angle, 0.5 * t.squeeze(1) * theta, atol=1e-6)


def test_percentile_filter_matches_numpy_and_sorted_indices():
    rng = np.random.default_rng(0)
    d = rng.lognormal(size=1001)
    d[:5] = 1e6  # outliers
    kept = filter_percentiles(d)
    lo = np.percentile(d, 1, method="lower")
    hi = np.percentile(d, 99, method="higher")
    np.testing.assert_array_equal(kept, d[(d >= lo) & (d <= hi)])
    s = np.sort(d)  # 'lower' / 'higher' = floor / ceil of the fractional rank (n - 1)·q
    assert lo == s[math.floor(1000 * 0.01)] and hi == s[math.ceil(1000 * 0.99)]
    assert kept.max() < 1e6 and len(kept) == 981  # sorted ranks 10 … 990 (no ties in the kept range)


def test_lpips_form_matches_direct_formula_and_is_scale_invariant_per_position():
    g = torch.Generator().manual_seed(0)
    fa = [torch.rand(2, 5, 4, 4, generator=g), torch.rand(2, 7, 2, 2, generator=g)]
    fb = [torch.rand(2, 5, 4, 4, generator=g), torch.rand(2, 7, 2, 2, generator=g)]
    w = [torch.rand(5, generator=g), torch.rand(7, generator=g)]
    want = np.zeros(2)
    for a, b, wl in zip(fa, fb, w):
        a, b = a.numpy().astype(np.float64), b.numpy().astype(np.float64)
        na = a / (np.sqrt((a ** 2).sum(1, keepdims=True)) + 1e-10)
        nb = b / (np.sqrt((b ** 2).sum(1, keepdims=True)) + 1e-10)
        want += (wl.numpy()[None, :, None, None] * (na - nb) ** 2).sum(1).mean(axis=(1, 2))
    np.testing.assert_allclose(lpips_from_features(fa, fb, w).numpy(), want, rtol=1e-5)
    scaled = [f * torch.rand(2, 1, *f.shape[2:], generator=g).add(0.5) for f in fa]
    torch.testing.assert_close(lpips_from_features(scaled, fb, w), lpips_from_features(fa, fb, w))


def test_evaluator_distance_properties():
    d = EvaluatorDistance.from_name("shapes")
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 3, 32, 32, generator=g) * 2 - 1
    y = torch.rand(4, 3, 32, 32, generator=g) * 2 - 1
    assert torch.all(d(x, x) == 0)
    assert torch.all(d(x, y) > 0)
    torch.testing.assert_close(d(x, y), d(y, x))
    tiny = d(x, x + 1e-4 * torch.sign(y))  # no quantisation: an ε-step is seen
    assert torch.all(tiny > 0) and torch.all(tiny < d(x, y))
    from ganforge.metrics.evaluator import load_evaluator

    with pytest.raises(ConfigError, match="quantise"):
        EvaluatorDistance(load_evaluator("shapes"))


# ----------------------------------------------------------------------------------------------- LPIPS-VGG16
def test_lpips_vgg16_architecture_without_weights():
    m = LPIPSVGG16()
    n_backbone = sum(p.numel() for p in m.features.parameters())
    assert n_backbone == 14_714_688  # torchvision vgg16().features
    assert [lin.weight.shape[1] for lin in m.lins] == [64, 128, 256, 512, 512]
    taps = m.taps(torch.zeros(1, 3, 32, 32))
    assert [(t.shape[1], t.shape[2]) for t in taps] == [(64, 32), (128, 16), (256, 8), (512, 4), (512, 2)]
    conv_idx = [i for i, l in enumerate(m.features) if isinstance(l, nn.Conv2d)]
    assert conv_idx == [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]  # torchvision's indices


def test_lpips_vgg16_loads_lpips_package_key_names_from_safetensors(tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(0)
    ref = LPIPSVGG16()
    for lin in ref.lins:
        nn.init.uniform_(lin.weight, 0, 0.1)
    state = {}
    for k, v in ref.state_dict().items():  # rename to the lpips package's layout
        if k.startswith("features."):
            i = int(k.split(".")[1])
            sl = 1 if i < 4 else 2 if i < 9 else 3 if i < 16 else 4 if i < 23 else 5
            state[f"net.slice{sl}.{i}.{k.split('.')[2]}"] = v
        else:
            state[f"lin{k.split('.')[1]}.model.1.weight"] = v
    path = str(tmp_path / "lpips.safetensors")
    save_file(state, path)
    m = LPIPSVGG16.from_file(path)
    x, y = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    torch.testing.assert_close(m(x, y), ref(x, y))
    assert torch.all(m(x, x) == 0) and torch.all(m(x, y) > 0)

    with pytest.raises(CheckpointError, match="not found"):
        LPIPSVGG16.from_file(str(tmp_path / "missing.safetensors"))
    pkl = str(tmp_path / "vgg.pth")
    torch.save(state, pkl)
    with pytest.raises(CheckpointError, match="pickle"):
        LPIPSVGG16.from_file(pkl)
    save_file({k: v for k, v in state.items() if not k.startswith("lin")}, path)
    with pytest.raises(CheckpointError, match="lins"):
        LPIPSVGG16.from_file(path)


def test_lpips_linear_heads_of_torchmetrics_wheel_fit(tmp_path):
    """The real LPIPS v0.1 VGG linear weights (a pickle inside the torchmetrics wheel, read here with
    weights_only=True and converted) fit the heads by name and shape."""
    import importlib.util

    spec = importlib.util.find_spec("torchmetrics")  # located, not imported (slow)
    if spec is None:
        pytest.skip("torchmetrics is not installed")
    src = os.path.join(spec.submodule_search_locations[0], "functional", "image", "lpips_models", "vgg.pth")
    if not os.path.isfile(src):
        pytest.skip("torchmetrics ships no LPIPS VGG linear weights")
    lins = torch.load(src, weights_only=True, map_location="cpu")
    state = LPIPSVGG16.convert_state(lins)
    assert sorted(state) == [f"lins.{k}.weight" for k in range(5)]
    m = LPIPSVGG16()
    for k, lin in enumerate(m.lins):
        assert state[f"lins.{k}.weight"].shape == lin.weight.shape
        assert torch.all(state[f"lins.{k}.weight"] >= 0)  # LPIPS clamps its linear weights to be non-negative
