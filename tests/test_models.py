import pytest
import torch
from torch import nn

from ganforge.data import DataInfo
from ganforge.errors import ConfigError
from ganforge.models.dcgan import DCGANDiscriminator, DCGANGenerator
from ganforge.models.mlp import MLPGenerator


@pytest.mark.parametrize("res", [32, 64])
def test_dcgan_follows_the_papers_guidelines(res):
    torch.manual_seed(0)
    g = DCGANGenerator((3, res, res), z_dim=100, channels=16)
    d = DCGANDiscriminator((3, res, res), channels=16)
    g_layers, d_layers = list(g.net), list(d.features)
    # No BN on G's output layer (it ends conv-transpose -> tanh) nor on D's input layer (conv -> lrelu).
    assert isinstance(g_layers[-2], nn.ConvTranspose2d) and isinstance(g_layers[-1], nn.Tanh)
    assert isinstance(d_layers[0], nn.Conv2d) and isinstance(d_layers[1], nn.LeakyReLU)
    assert all(m.negative_slope == 0.2 for m in d.modules() if isinstance(m, nn.LeakyReLU))
    # No pooling, no fully connected hidden layers.
    assert not any(isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, nn.Linear)) for m in [*g.modules(), *d.modules()])
    # Known trap: BatchNorm eps must be the default 1e-5 (not 0.8 passed by position as momentum/eps).
    bns = [m for m in [*g.modules(), *d.modules()] if isinstance(m, nn.BatchNorm2d)]
    assert bns and all(m.eps == 1e-5 and m.momentum == 0.1 for m in bns)
    # N(0, 0.02) init for convs, N(1, 0.02) for BN gains.
    conv_w = torch.cat([m.weight.flatten() for m in [*g.modules(), *d.modules()]
                        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))])
    assert abs(conv_w.mean().item()) < 1e-3 and conv_w.std().item() == pytest.approx(0.02, rel=0.05)
    gains = torch.cat([m.weight for m in bns])
    assert gains.mean().item() == pytest.approx(1.0, abs=0.01)
    # Output in [-1, 1] at the data resolution; one logit per sample.
    x = g(torch.randn(4, 100))
    assert x.shape == (4, 3, res, res) and x.abs().max() <= 1
    assert d(x).shape == (4,)


def test_dcgan_discriminator_logits_depend_on_each_sample_only_in_eval_mode():
    torch.manual_seed(0)
    d = DCGANDiscriminator((1, 32, 32), channels=8).eval()
    x = torch.randn(6, 1, 32, 32)
    full = d(x)
    assert torch.allclose(full[:3], d(x[:3]), atol=1e-6)


def test_dcgan_rejects_bad_resolutions():
    with pytest.raises(ConfigError, match="power-of-two"):
        DCGANGenerator((1, 28, 28))


def test_mlp_generator_outputs_points_unbounded_and_images_bounded():
    torch.manual_seed(0)
    pts = MLPGenerator((2,), z_dim=2)
    with torch.no_grad():
        pts.out.weight.mul_(100)
    assert pts(torch.randn(256, 2)).abs().max() > 1  # toy data is not squashed
    img = MLPGenerator((1, 8, 8), z_dim=4)
    out = img(torch.randn(5, 4))
    assert out.shape == (5, 1, 8, 8) and out.abs().max() <= 1


def test_generator_prior_is_seeded():
    g = DCGANGenerator((1, 32, 32), z_dim=10, channels=8)
    a = g.sample_z(5, generator=torch.Generator().manual_seed(3))
    b = g.sample_z(5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.std().item() == pytest.approx(1.0, abs=0.35)
    assert DataInfo(shape=(1, 32, 32)).is_image and not DataInfo(shape=(2,)).is_image
