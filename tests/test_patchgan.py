"""PatchGAN (Isola et al. 2017, §2.2.2): receptive fields by formula and measured, conditioning channels."""
import pytest
import torch

from ganforge.data.base import DataInfo
from ganforge.errors import ConfigError
from ganforge.models.patchgan import PatchGANConfig, PatchGANDiscriminator, build_patchgan, receptive_field


def measured_field(n_layers: int, size: int = 96, padding: int = 1) -> tuple:
    """Height and width of the input region that moves one interior output logit (gradient support)."""
    torch.manual_seed(0)
    d = PatchGANDiscriminator(1, channels=4, n_layers=n_layers, norm="none", padding=padding).double()
    x = torch.randn(1, 1, size, size, dtype=torch.double, requires_grad=True)
    out = d(x)
    i, j = out.shape[-2] // 2, out.shape[-1] // 2
    out[0, 0, i, j].backward()
    support = x.grad[0, 0].abs() > 0
    rows = support.any(1).nonzero().flatten()
    cols = support.any(0).nonzero().flatten()
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


@pytest.mark.parametrize("n_layers,expected", [(0, 1), (1, 16), (2, 34), (3, 70)])
def test_receptive_field_formula_and_measured(n_layers, expected):
    assert receptive_field(n_layers) == expected
    size = 16 if n_layers == 0 else 160
    assert measured_field(n_layers, size) == (expected, expected)


def test_paper_sizes_and_padding_does_not_change_field():
    assert receptive_field(5) == 286  # the paper's ImageGAN at 256²
    assert measured_field(1, 64, padding=2) == (16, 16)  # pix2pixHD's padding 2: same field, larger map
    d1 = PatchGANDiscriminator(3, 8, 3, padding=1)
    d2 = PatchGANDiscriminator(3, 8, 3, padding=2)
    x = torch.randn(2, 3, 64, 64)
    # out = floor((in + 2p - 4) / s) + 1: p=1: 64 -> 32 -> 16 -> 8 -> 7 -> 6; p=2: 64 -> 33 -> 17 -> 9 -> 10 -> 11
    assert d1(x).shape == (2, 1, 6, 6)
    assert d2(x).shape == (2, 1, 11, 11)
    logits, feats = d2.forward_with_features(x)
    assert [f.shape[1:] for f in feats] == [(8, 33, 33), (16, 17, 17), (32, 9, 9), (64, 10, 10), (1, 11, 11)]
    assert torch.equal(feats[-1], logits)


def test_channels_capped_at_eight_ndf():
    d = PatchGANDiscriminator(3, 4, n_layers=5)
    widths = [b[0].out_channels for b in d.blocks]
    assert widths == [4, 8, 16, 32, 32, 32, 1]  # ×2 per layer, capped at 8·ndf


def info(c_a=3, c_b=3, res=32):
    return DataInfo(shape=(c_a, res, res), target_shape=(c_b, res, res), paired=True)


def test_conditional_input_channels_from_the_data():
    seen = {}
    d = build_patchgan(PatchGANConfig(channels=8, conditional=True), info(c_a=1, c_b=3))
    assert d.blocks[0][0].in_channels == 4
    d.blocks[0][0].register_forward_hook(lambda m, i, o: seen.update(c=i[0].shape[1]))
    a, b = torch.randn(2, 1, 32, 32), torch.randn(2, 3, 32, 32)
    d(b, a)
    assert seen["c"] == 4
    # concat order is (A, B): the A channel is the first input channel
    w = d.blocks[0][0].weight
    with torch.no_grad():
        w[:, 1:].zero_()
    assert not torch.equal(d(b, a), d(b, torch.zeros_like(a)))
    with pytest.raises(ValueError, match="conditional"):
        d(b)
    u = build_patchgan(PatchGANConfig(channels=8, conditional=False), info(c_a=1, c_b=3))
    assert u.blocks[0][0].in_channels == 3


def test_global_patch_gives_one_logit_per_image():
    d = PatchGANDiscriminator(3, 8, 2, global_patch=True)
    x = torch.randn(3, 3, 32, 32)
    out, feats = d.forward_with_features(x)
    assert out.shape == (3, 1, 1, 1)
    assert torch.allclose(out.flatten(), feats[-1].mean(dim=(1, 2, 3)))


def test_bad_config_is_a_one_line_error():
    with pytest.raises(ConfigError):
        PatchGANConfig(norm="group").validate()
    with pytest.raises(ConfigError):
        build_patchgan(PatchGANConfig(conditional=True), DataInfo(shape=(3, 32, 32)))
