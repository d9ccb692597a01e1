"""ProGAN / StyleGAN building blocks (Karras et al. 2018, 2019): equalized lr, AdaIN statistics, minibatch stddev,
truncation, style mixing, noise inputs."""
import math

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from ganforge.models.progan import ProGANDiscriminator
from ganforge.models.stylegan import MappingNetwork, StyleGANGenerator
from ganforge.nn.blur import Blur
from ganforge.nn.equalized import EqualConv2d, EqualLinear
from ganforge.nn.mbstd import MinibatchStdDev
from ganforge.nn.modulated import ModulatedConv2d
from ganforge.nn.noise import NoiseInjection
from ganforge.nn.norms import pixel_norm
from ganforge.nn.style import AdaIN


def test_equalized_layers_give_unit_variance_outputs_at_init():
    torch.manual_seed(0)
    for layer, x in ((EqualLinear(512, 256, gain=1.0), torch.randn(4096, 512)),
                     (EqualConv2d(64, 32, 3, gain=1.0, padding=0), torch.randn(256, 64, 8, 8)),
                     (EqualLinear(64, 64, gain=1.0, lr_mul=0.01), torch.randn(8192, 64))):
        with torch.no_grad():
            assert layer(x).var().item() == pytest.approx(1.0, rel=0.1)
    # gain √2 (before a ReLU-like) doubles the variance
    with torch.no_grad():
        assert EqualLinear(512, 512)(torch.randn(4096, 512)).var().item() == pytest.approx(2.0, rel=0.1)


def test_equalized_lr_makes_every_layer_learn_at_the_same_speed():
    """One Adam step moves the stored parameter by ≈ lr per element whatever its gradient's scale, so the
    weight actually used moves by lr · c with c = lr_mul · gain / √fan_in: layers of different fan-in and the
    ×0.01 mapping layers learn at their intended rates."""
    torch.manual_seed(0)
    lr = 1e-3
    for layer in (EqualLinear(16, 8), EqualLinear(1024, 8), EqualLinear(64, 8, lr_mul=0.01),
                  EqualConv2d(32, 8, 3)):
        before = (layer.weight * layer.scale).detach().clone()
        opt = torch.optim.Adam(layer.parameters(), lr=lr)
        x = torch.randn(32, layer.weight.shape[1], *([6, 6] if layer.weight.dim() == 4 else []))
        layer(x).pow(2).mean().backward()
        opt.step()
        moved = ((layer.weight * layer.scale).detach() - before).abs()
        assert moved.median().item() == pytest.approx(lr * layer.scale, rel=0.05)
    # the gradient reaching the stored weight is the effective weight's gradient times c
    layer = EqualLinear(100, 3)
    x = torch.randn(5, 100)
    w_eff = (layer.weight * layer.scale).detach().requires_grad_(True)
    torch.nn.functional.linear(x, w_eff, layer.bias).sum().backward()
    layer(x).sum().backward()
    assert torch.allclose(layer.weight.grad, w_eff.grad * layer.scale, atol=1e-6)


def test_adain_output_statistics_are_the_styles():
    torch.manual_seed(0)
    adain = AdaIN(w_dim=16, channels=6)
    x, w = torch.randn(3, 6, 8, 8) * 5 + 2, torch.randn(3, 16)
    out = adain(x, w)
    s, b = adain.style.affine(w).chunk(2, dim=1)
    assert torch.allclose(out.mean(dim=(2, 3)), b, atol=1e-5)
    assert torch.allclose(out.std(dim=(2, 3), unbiased=False), (1 + s).abs(), atol=1e-4)


def test_modulated_conv_scales_input_channels_and_demodulation_restores_unit_variance():
    """StyleGAN2 Eq. 1: modulating the weights = convolving the style-scaled input; Eq. 3: demodulated outputs have
    unit variance for unit-variance inputs whatever the style, and do not change when the style is scaled."""
    torch.manual_seed(0)
    conv = ModulatedConv2d(32, 16, 3, w_dim=8, demodulate=False)
    x, w = torch.randn(4, 32, 8, 8), torch.randn(4, 8)
    with torch.no_grad():
        s = conv.affine(w)
        by_hand = torch.stack([F.conv2d(x[i:i + 1] * s[i].view(1, -1, 1, 1), conv.weight * conv.scale, padding=1)[0]
                               for i in range(4)])
        torch.testing.assert_close(conv(x, w), by_hand, rtol=1e-4, atol=1e-5)
    demod = ModulatedConv2d(64, 64, 3, w_dim=8)
    with torch.no_grad():
        demod.affine.weight.mul_(5.0)  # wildly varying styles
        x, w = torch.randn(64, 64, 16, 16), torch.randn(64, 8)
        out = demod(x, w)[:, :, 1:-1, 1:-1]  # away from the zero padding
        assert out.var(dim=(0, 2, 3)).mean().item() == pytest.approx(1.0, rel=0.1)
        assert out.var(dim=(1, 2, 3)).min().item() > 0.7  # every sample, not just on average
        scaled = demod.styled_weight(w)
        demod.affine.weight.mul_(3.0)
        demod.affine.bias.mul_(3.0)
        torch.testing.assert_close(demod.styled_weight(w), scaled, rtol=1e-4, atol=1e-6)


def test_demodulated_stylegan_keeps_unit_scale_through_the_layers_and_uses_its_styles():
    torch.manual_seed(0)
    G = StyleGANGenerator((1, 32, 32), z_dim=32, w_dim=32, channels=32, channel_base=256, modulation="demod",
                          style_mixing=0.0).eval()
    feats = []
    hooks = [layer.register_forward_hook(lambda m, i, o: feats.append(o.pow(2).mean().item()))
             for layer in G.synthesis_net.layers]
    with torch.no_grad():
        z1, z2 = torch.randn(64, 32), torch.randn(64, 32)
        ws1, ws2 = G.broadcast(G.mapping(z1)), G.broadcast(G.mapping(z2))
        base = G.synthesis(ws1)
    for h in hooks:
        h.remove()
    # lrelu·√2 after demodulation: no decay (without the gain each layer would halve it: ~0.005 after eight)
    assert all(0.15 < f < 3.0 for f in feats), feats
    with torch.no_grad():
        for i in (0, G.num_ws - 1):
            mixed = ws1.clone()
            mixed[:, i] = ws2[:, i]
            assert (G.synthesis(mixed) - base).abs().mean().item() > 0.01 * base.abs().mean().item()


def test_minibatch_stddev_feature_is_constant_across_a_group_and_correct():
    torch.manual_seed(0)
    x = torch.randn(8, 4, 3, 3)
    out = MinibatchStdDev(group_size=4)(x)
    feat = out[:, 4]
    assert torch.equal(out[:, :4], x)
    assert torch.allclose(feat, feat[:, :1, :1].expand_as(feat))  # constant over positions
    # groups are samples {i, i+2, i+4, i+6} (the official reshape): equal within, and the value by hand
    for i in range(2):
        members = list(range(i, 8, 2))
        vals = feat[members, 0, 0]
        assert torch.allclose(vals, vals[:1].expand(4))
        expected = (x[members].var(dim=0, unbiased=False) + 1e-8).sqrt().mean()
        assert vals[0].item() == pytest.approx(expected.item(), rel=1e-5)
    with pytest.raises(ValueError, match="divisible"):
        MinibatchStdDev(4)(torch.randn(6, 4, 3, 3))


def test_pixel_norm_and_blur():
    z = torch.randn(10, 128) * 7
    assert torch.allclose(pixel_norm(z).norm(dim=1), torch.full((10,), math.sqrt(128)), rtol=1e-5)
    x = torch.zeros(1, 2, 5, 5)
    x[0, :, 2, 2] = 16.0
    y = Blur()(x)[0, 0]
    assert torch.allclose(y[1:4, 1:4], torch.tensor([[1.0, 2, 1], [2, 4, 2], [1, 2, 1]]))
    assert y.sum().item() == pytest.approx(16.0)


def _gen(**kw):
    torch.manual_seed(0)
    return StyleGANGenerator((3, 16, 16), z_dim=16, w_dim=16, mapping_layers=2, channels=8, channel_base=64, **kw)


def test_truncation_psi_zero_gives_w_average_and_one_is_identity():
    g = _gen()
    g.w_avg.copy_(torch.randn(16))
    ws = g.broadcast(g.mapping(torch.randn(4, 16)))
    assert torch.allclose(g.truncate(ws, 0.0, 0), g.w_avg.expand_as(ws))
    assert torch.allclose(g.truncate(ws, 1.0, 0), ws)
    half = g.truncate(ws, 0.5, cutoff=2)  # only the first two layers move halfway to w̄
    assert torch.allclose(half[:, :2], (ws[:, :2] + g.w_avg) / 2, atol=1e-6)
    assert torch.allclose(half[:, 2:], ws[:, 2:])
    # in eval mode with ψ = 0 every z gives the same image (noise fixed)
    g.eval()
    g.truncation_psi, g.truncation_cutoff = 0.0, 0
    noise = g.make_noise(1)
    imgs = [g.synthesis(g.truncate(g.broadcast(g.mapping(torch.randn(1, 16))), 0.0), noise) for _ in range(2)]
    assert torch.allclose(imgs[0], imgs[1], atol=1e-6)


def test_style_mixing_uses_w1_before_the_crossover_and_w2_after():
    g = _gen(style_mixing=1.0)
    ws1, ws2 = g.broadcast(torch.zeros(2, 16)), g.broadcast(torch.ones(2, 16))
    mixed = g.mix(ws1, ws2, cutoff=3)
    assert torch.equal(mixed[:, :3], ws1[:, :3]) and torch.equal(mixed[:, 3:], ws2[:, 3:])
    # in training, with p = 1 every minibatch is mixed at one crossover in [1, active layers)
    seen, cuts = [], set()
    g.synthesis = lambda ws, noise=None: seen.append(ws) or torch.zeros(len(ws), 3, 16, 16)
    g.train()
    for _ in range(30):
        g(torch.randn(2, 16))
        ws = seen[-1]
        change = [i for i in range(1, g.num_ws) if not torch.equal(ws[:, i], ws[:, i - 1])]
        assert len(change) == 1  # exactly one crossover, the same for the whole minibatch
        cuts.add(change[0])
    assert cuts <= set(range(1, g.num_ws)) and len(cuts) > 2


def test_w_average_tracks_the_mapped_latents_in_training_only():
    g = _gen(style_mixing=0.0)
    g.train()
    z = torch.randn(64, 16)
    for _ in range(3):
        g(z)
    w_mean = g.mapping(z).mean(0).detach()
    expected = w_mean * (1 - 0.995 ** 3)
    assert torch.allclose(g.w_avg, expected, atol=1e-5)
    g.eval()
    before = g.w_avg.clone()
    g(z)
    assert torch.equal(g.w_avg, before)


def test_noise_inputs_change_only_detail_and_are_reproducible():
    g = _gen()
    g.eval()
    for layer in g.synthesis_net.layers:  # trained networks have non-zero noise weights; init is 0
        torch.nn.init.constant_(layer.noise.weight, 0.1)
    ws = g.broadcast(g.mapping(torch.randn(2, 16)))
    n1, n2 = g.make_noise(2, torch.Generator().manual_seed(1)), g.make_noise(2, torch.Generator().manual_seed(2))
    a, a2, b = g.synthesis(ws, n1), g.synthesis(ws, n1), g.synthesis(ws, n2)
    assert torch.equal(a, a2) and not torch.allclose(a, b)
    for layer in g.synthesis_net.layers:
        torch.nn.init.zeros_(layer.noise.weight)
    assert torch.allclose(g.synthesis(ws, n1), g.synthesis(ws, n2))  # B = 0: noise has no effect


def test_a_constant_of_ones_leaves_the_first_layer_pattern_to_the_noise():
    """StyleGAN v1's constant of ones is spatially flat, so after the first instance norm the 4×4 pattern is the
    normalised noise alone, however small its learned strength; an N(0, 1) constant (StyleGAN2) has its own."""
    def first_layer(const_init, noise_strength):
        torch.manual_seed(0)
        g = _gen(const_init=const_init).eval()
        layer = g.synthesis_net.layers[0]
        with torch.no_grad():
            layer.noise.weight.fill_(noise_strength)
            w = g.mapping(torch.randn(2, g.z_dim))
            x = g.synthesis_net.const.expand(2, -1, -1, -1)
            noise = torch.randn(2, 1, 4, 4)
            return layer(x, w, noise), layer(x, w, -noise)

    a, b = first_layer("ones", 1e-3)
    assert (a - b).abs().mean() > 0.5  # flipping a noise of strength 1e-3 flips the whole pattern
    a, b = first_layer("normal", 1e-3)
    assert (a - b).abs().mean() < 0.05  # the constant's own structure dominates


def test_noise_is_fresh_in_training_fixed_in_eval_and_never_reads_the_global_rng_in_eval():
    g = _gen().eval()
    for layer in g.synthesis_net.layers:
        torch.nn.init.constant_(layer.noise.weight, 1.0)
    z = torch.randn(3, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        state = torch.get_rng_state()
        a = g(z)
        assert torch.equal(torch.get_rng_state(), state)  # sampling leaves the training stream alone
        assert torch.equal(g(z), a)
        # the fixed noise is each layer's own 1×1×H×W image, the same for every sample of the batch
        fixed = [layer.noise.fixed_noise for layer in g.synthesis_net.layers]
        assert [t.shape[-1] for t in fixed] == [4, 4, 8, 8, 16, 16] and not torch.equal(fixed[0], fixed[1])
        assert torch.equal(g.synthesis(g.broadcast(g.mapping(z)), fixed), a)
        # a freshly built generator has the same fixed noise: it is not stored, it is rebuilt from the seed
        assert torch.equal(_gen().synthesis_net.layers[3].noise.fixed_noise, fixed[3])
        g.train()
        torch.manual_seed(1)
        t1 = g.synthesis(g.broadcast(g.mapping(z)))
        t2 = g.synthesis(g.broadcast(g.mapping(z)))
    assert not torch.allclose(t1, t2)  # training: fresh noise per call


def test_noise_layer_uses_its_fixed_image_in_eval_mode_only():
    layer = NoiseInjection(2, 4, seed=5)
    torch.nn.init.constant_(layer.weight, 2.0)
    x = torch.zeros(3, 2, 4, 4)
    want = torch.randn(1, 1, 4, 4, generator=torch.Generator().manual_seed(5)) * 2.0
    assert torch.equal(layer.eval()(x), want.expand(3, 2, 4, 4))
    given = torch.ones(3, 1, 4, 4)
    assert torch.equal(layer(x, given), torch.full((3, 2, 4, 4), 2.0))
    assert not torch.equal(layer.train()(x), want.expand(3, 2, 4, 4))


def _d_pair(blur):
    torch.manual_seed(0)
    d = ProGANDiscriminator((3, 16, 16), channels=8, channel_base=64, blur=blur)
    for conv in d.blocks[1]:  # non-zero biases, so that where the bias is added shows
        torch.nn.init.normal_(conv.bias)
    return d


def test_stylegan_discriminator_block_is_blur_conv_downscale_bias_lrelu():
    """Official StyleGAN D_basic (networks_stylegan.py, reference/papers-details.md §1.4): conv3×3 → bias → lrelu,
    then blur → conv3×3 with 2×2 box downscale (or the equivalent fused stride-2 conv) → bias → lrelu."""
    d = _d_pair(blur=True)
    conv_a, conv_b = d.blocks[1]
    x = torch.randn(2, conv_a.weight.shape[1], 16, 16, generator=torch.Generator().manual_seed(1))
    h = F.leaky_relu(F.conv2d(x, conv_a.weight * conv_a.scale, conv_a.bias, padding=1), 0.2)
    k = torch.tensor([1.0, 2.0, 1.0])
    kernel = (k[:, None] * k[None, :] / 16).expand(h.shape[1], 1, 3, 3)
    h = F.conv2d(h, kernel, padding=1, groups=h.shape[1])  # blur
    h = F.avg_pool2d(F.conv2d(h, conv_b.weight * conv_b.scale, padding=1), 2)  # conv, then downscale
    want = F.leaky_relu(h + conv_b.bias.view(1, -1, 1, 1), 0.2)  # bias, then lrelu
    with torch.no_grad():
        got = d.block(2, x)
    assert got.shape == (2, conv_b.weight.shape[0], 8, 8)
    assert torch.allclose(got, want, atol=1e-5), (got - want).abs().max()
    # ProGAN (no blur) keeps its own order: conv → bias → lrelu → 2×2 average pool
    p = _d_pair(blur=False)
    pa, pb = p.blocks[1]
    ref = F.avg_pool2d(F.leaky_relu(pb(F.leaky_relu(pa(x), 0.2)), 0.2), 2)
    with torch.no_grad():
        assert torch.allclose(p.block(2, x), ref, atol=1e-6)


def test_standardized_mapping_removes_the_cone_every_z_shares_and_survives_a_save(tmp_path):
    """A deep random lrelu mapping puts every z into a narrow cone (mean cosine of two w ≫ 0); `w_standardize`
    subtracts the mean measured at initialisation and divides by the spread: fresh w then have mean ≈ 0, RMS
    spread ≈ 1 and near-orthogonal pairs, and the buffers travel with the state dict."""
    def mean_cosine(w):
        u = F.normalize(w, dim=1)
        return (u[: len(u) // 2] * u[len(u) // 2:]).sum(1).mean().item()

    torch.manual_seed(3)
    raw = MappingNetwork(64, 64, layers=8)
    torch.manual_seed(3)
    std = MappingNetwork(64, 64, layers=8, standardize=True)
    z = torch.randn(4000, 64)
    with torch.no_grad():
        w_raw, w_std = raw(z), std(z)
    assert torch.allclose(std.raw(z), w_raw)  # the same network underneath
    assert mean_cosine(w_raw) > 0.5
    assert abs(mean_cosine(w_std)) < 0.05
    assert w_std.mean(0).abs().max().item() < 0.1
    assert (w_std - w_std.mean(0)).pow(2).mean().sqrt().item() == pytest.approx(1.0, abs=0.05)
    # the measured statistics are saved and loaded, not re-measured: a differently initialised copy maps alike
    save_file(std.state_dict(), tmp_path / "m.safetensors")
    torch.manual_seed(4)
    other = MappingNetwork(64, 64, layers=8, standardize=True)
    assert not torch.allclose(other.w_mu, std.w_mu)
    other.load_state_dict(load_file(tmp_path / "m.safetensors"))
    with torch.no_grad():
        assert torch.equal(other(z[:8]), w_std[:8])
