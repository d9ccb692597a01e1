"""StyleGAN tools: style-mixing figure, truncation sweep, stochastic variation, W interpolation."""
import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.latent.style import (interpolate_w, layer_ranges, noise_variation, style_mixing_figure,
                                   truncation_sweep)
from ganforge.models.dcgan import DCGANGenerator
from ganforge.models.stylegan import StyleGANGenerator


@pytest.fixture
def g():
    torch.manual_seed(0)
    g = StyleGANGenerator((3, 16, 16), z_dim=16, w_dim=16, mapping_layers=2, channels=8, channel_base=64).eval()
    for layer in g.synthesis_net.layers:
        torch.nn.init.constant_(layer.noise.weight, 0.2)
    g.w_avg.copy_(torch.randn(16))
    return g


def test_layer_ranges_follow_the_paper():
    assert layer_ranges(8) == {"coarse": (0, 4), "middle": (4, 6), "fine": (6, 8)}  # 32²
    assert layer_ranges(10) == {"coarse": (0, 4), "middle": (4, 8), "fine": (8, 10)}  # 64²
    assert layer_ranges(18)["fine"] == (8, 18)  # 1024²: 64² and up


def test_style_mixing_cells_take_b_styles_on_the_range_only(g):
    imgs, per_row, labels = style_mixing_figure(g, n_a=2, n_b=3, seed=4)
    ranges = layer_ranges(g.num_ws)
    assert per_row == 4 and len(imgs) == per_row * (1 + 2 * len(ranges)) and labels[0] == "B"
    wa = g.mapping(g.sample_z(2, generator=torch.Generator().manual_seed(4)))
    wb = g.mapping(g.sample_z(3, generator=torch.Generator().manual_seed(4 + 10_000)))
    noise = [t[:1] for t in g.make_noise(1, torch.Generator().manual_seed(4 + 20_000))]
    lo, hi = ranges["coarse"]
    ws = g.broadcast(wa[1:2]).repeat(3, 1, 1)
    ws[:, lo:hi] = g.broadcast(wb)[:, lo:hi]
    want = g.synthesis(ws, [t.expand(3, -1, -1, -1) for t in noise])
    row = imgs[per_row * 2: per_row * 3]  # block "coarse", source A1
    assert torch.allclose(row[1:], want, atol=1e-6)
    assert torch.allclose(row[0], g.synthesis(g.broadcast(wa[1:2]), noise)[0], atol=1e-6)
    with pytest.raises(GanforgeError, match="style-based"):
        style_mixing_figure(DCGANGenerator((1, 32, 32), 8, 8))


def test_truncation_sweep_columns(g):
    out = truncation_sweep(g, [0.0, 0.5, 1.0], n=3, seed=1, cutoff=0).view(3, 3, 3, 16, 16)
    ws = g.broadcast(g.mapping(g.sample_z(3, generator=torch.Generator().manual_seed(1))))
    noise = g.make_noise(3, torch.Generator().manual_seed(2))
    assert torch.allclose(out[:, 2], g.synthesis(ws, noise), atol=1e-4), (out[:, 2] - g.synthesis(ws, noise)).abs().max()
    for layer in g.synthesis_net.layers:
        torch.nn.init.zeros_(layer.noise.weight)
    out = truncation_sweep(g, [0.0, 1.0], n=3, seed=1, cutoff=0).view(3, 2, 3, 16, 16)
    assert torch.allclose(out[0, 0], out[1, 0], atol=1e-6) and torch.allclose(out[0, 0], out[2, 0], atol=1e-6)
    assert not torch.allclose(out[0, 1], out[1, 1])  # ψ = 1 rows differ


def test_noise_variation_std_is_zero_only_without_noise(g):
    imgs, std = noise_variation(g, seed=0, draws=6)
    assert std.shape == (16, 16) and std.min() > 0
    for layer in g.synthesis_net.layers:
        torch.nn.init.zeros_(layer.noise.weight)
    _, std = noise_variation(g, seed=0, draws=6)
    assert std.max() < 1e-6


def test_w_interpolation_passes_through_the_keys(g):
    z = g.sample_z(2, generator=torch.Generator().manual_seed(3))
    frames = interpolate_w(g, z, steps=5, seed=0)
    noise = [x.expand(1, -1, -1, -1) for x in g.make_noise(1, torch.Generator().manual_seed(0))]
    assert len(frames) == 5
    assert torch.allclose(frames[0], g.synthesis(g.broadcast(g.mapping(z[:1])), noise)[0], atol=1e-5)
    assert torch.allclose(frames[-1], g.synthesis(g.broadcast(g.mapping(z[1:])), noise)[0], atol=1e-5)
