"""The Introspective Adversarial Network (Brock et al., ICLR 2017): MDC convolutions, the ternary loss, IAN's L1
orthogonal regulariser, the KL term, a tiny training run and the introspective encoder used for editing."""
import json

import pytest
import torch
import torch.nn.functional as F

from ganforge.config import load_config
from ganforge.errors import ConfigError
from ganforge.methods.ian import kl_divergence, real_log_odds, ternary_d_loss, ternary_g_loss
from ganforge.models.ian import RECONSTRUCTION, REAL, SAMPLE, IANDiscriminator, IANGenerator
from ganforge.nn.mdc import MDCBlock, MDCConv
from ganforge.nn.orthogonal import orthogonal_l1

torch.set_num_threads(1)

TINY = ["generator.channels=4", "generator.z_dim=8", "discriminator.channels=4", "discriminator.z_dim=8",
        "discriminator.encoder_hidden=16", "discriminator.mbd_kernels=4", "train.batch_size=16",
        "train.progress=false", "train.tensorboard=false", "train.threads=1", "train.log_every=1",
        "train.sample_every=1000", "train.checkpoint_every=1000", "train.eval_every=0", "train.n_samples=4"]


# -- multiscale dilated convolution ---------------------------------------------------------------------------------
def test_mdc_impulse_response_is_one_filter_at_several_dilations():
    torch.manual_seed(0)
    conv = MDCConv(1, 1, scales=(0, 2, 3))
    with torch.no_grad():
        conv.coeffs.copy_(torch.tensor([[0.5], [0.25], [2.0], [-1.0]]))  # scales 1, 0 (1×1 mean), 2, 3
    x = torch.zeros(1, 1, 15, 15)
    x[0, 0, 7, 7] = 1.0
    y = conv(x)[0, 0].detach()
    w = conv.weight[0, 0].detach()
    assert conv.receptive_field == 7
    taps = {(d * (1 - ky), d * (1 - kx)) for d in (1, 2, 3) for ky in range(3) for kx in range(3)}
    assert len(taps) == 25  # 3 dilations × 9 taps, the centre shared
    nonzero = {(int(i) - 7, int(j) - 7) for i, j in torch.nonzero(y)}
    assert nonzero == taps  # e.g. (1, 2) or (0, 4) are never touched: dilated, not dense
    coeff = {1: 0.5, 2: 2.0, 3: -1.0}
    for d in (1, 2, 3):  # cross-correlation: the input at p + d(k − 1) meets W[k]
        for ky in range(3):
            for kx in range(3):
                if (ky, kx) != (1, 1):
                    assert y[7 - d * (ky - 1), 7 - d * (kx - 1)].item() == pytest.approx(coeff[d] * w[ky, kx].item())
    centre = (0.5 + 2.0 - 1.0) * w[1, 1] + 0.25 * w.mean()
    assert y[7, 7].item() == pytest.approx(centre.item(), rel=1e-5)


def test_mdc_coefficients_start_as_a_mean_and_block_keeps_shape_and_residual():
    conv = MDCConv(3, 5, scales=(0, 2))
    assert torch.allclose(conv.coeffs, torch.full((3, 5), 1 / 3))
    with pytest.raises(ValueError):
        MDCConv(3, 5, scales=(1, 2))
    block = MDCBlock(6, (0, 2)).eval()
    for conv in (block.conv1, block.conv2):
        torch.nn.init.zeros_(conv.weight)
    x = torch.randn(2, 6, 8, 8)
    assert torch.allclose(block(x), F.relu(block.bn2(x)))  # zero filters: the block is act(BN(x)), the skip path


# -- losses -----------------------------------------------------------------------------------------------------------
def test_ternary_loss_labels_and_values():
    sure = torch.tensor([[20.0, 0.0, 0.0]])
    assert (REAL, RECONSTRUCTION, SAMPLE) == (0, 1, 2)
    right = ternary_d_loss(sure, sure.roll(1, 1), sure.roll(2, 1))  # each batch confidently in its own class
    assert right.item() < 1e-7
    wrong = ternary_d_loss(sure.roll(1, 1), sure, sure)  # real called reconstruction, the others called real
    assert wrong.item() == pytest.approx(3 * 20.0, rel=1e-6)
    t = torch.tensor([[0.3, -1.0, 2.0], [1.0, 0.0, -0.5]])
    logp = t.log_softmax(1)
    assert ternary_d_loss(t, t, t, dd=2.0, dg=0.5).item() == pytest.approx(
        (-2.0 * logp[:, 0].mean() - 0.5 * (logp[:, 1].mean() + logp[:, 2].mean())).item(), rel=1e-6)
    assert ternary_g_loss(t, t, agr=1.0, ags=3.0).item() == pytest.approx(-4.0 * logp[:, 0].mean().item(), rel=1e-6)
    p = t.softmax(1)[:, 0]
    assert torch.allclose(real_log_odds(t), torch.log(p / (1 - p)), atol=1e-6)


def test_kl_and_orthogonal_l1_closed_forms():
    assert kl_divergence(torch.zeros(3, 4), torch.zeros(3, 4)).item() == 0.0
    assert kl_divergence(torch.ones(3, 4), torch.zeros(3, 4)).item() == pytest.approx(0.5)
    # per output filter, the Gram matrix of its kernel rows against I, in L1
    eye = torch.eye(2).view(1, 1, 2, 2)
    assert orthogonal_l1(eye).item() == 0.0
    w = torch.tensor([[1.0, 1.0], [0.0, 0.0]]).view(1, 1, 2, 2)  # rows (1,1), (0,0): Gram [[2,0],[0,0]]
    assert orthogonal_l1(w).item() == pytest.approx(2.0)
    two = torch.cat([w, eye]).view(2, 1, 2, 2)
    assert orthogonal_l1(two).item() == pytest.approx(2.0)  # filters are separate: no cross terms
    assert orthogonal_l1(torch.ones(3, 3)).item() == 0.0  # dense weights are not regularised (official: 4-D only)


# -- networks and the recipe -------------------------------------------------------------------------------------------
def test_discriminator_is_the_encoder_and_the_recipe_checks_it():
    d = IANDiscriminator((1, 32, 32), z_dim=8, channels=4, encoder_hidden=16, mbd_kernels=4).eval()
    x = torch.rand(5, 1, 32, 32) * 2 - 1
    mu, log_sigma = d.encode(x)
    assert mu.shape == (5, 8) and torch.equal(d.encode_mean(x), mu)
    shared = {id(p) for p in d.body.parameters()}
    assert shared <= {id(p) for p in d.discriminator_parameters()}
    assert not shared & {id(p) for p in d.encoder.parameters()}
    assert torch.allclose(d(x), real_log_odds(d.ternary_logits(x)))
    g = IANGenerator((1, 32, 32), z_dim=8, channels=4)
    assert g(torch.randn(3, 8)).abs().max() <= 1
    from ganforge.methods.ian import IAN, IANConfig

    with pytest.raises(ConfigError, match="must equal generator.z_dim"):
        IAN(IANConfig(), IANGenerator((1, 32, 32), z_dim=6, channels=4), d)


@pytest.fixture(scope="module")
def ian_run(tmp_path_factory):
    from ganforge.train import Trainer

    run = tmp_path_factory.mktemp("ian")
    cfg = load_config("ian-mnist", TINY + ["train.steps=50", "train.checkpoint_every=50", "method.lr=1e-3",
                                           "method.lr_schedule=false"])
    Trainer(cfg, run_dir=str(run)).fit()
    return run


@pytest.mark.slow  # a 50-step training run (shared with the next test)
def test_tiny_ian_training_reduces_reconstruction_error(ian_run):
    rows = [json.loads(line) for line in open(ian_run / "metrics.jsonl")]
    mse = [r["recon_mse"] for r in rows if "recon_mse" in r]
    assert len(mse) == 50
    first, last = sum(mse[:5]) / 5, sum(mse[-5:]) / 5
    assert last < 0.6 * first  # measured 0.91 -> 0.38
    assert all(k in rows[-1] for k in ("d_loss", "g_loss", "pixel", "feature", "kl"))


@pytest.mark.slow
def test_ian_run_loads_and_its_encoder_drives_the_photo_editor(ian_run):
    from ganforge import api
    from ganforge.editing import EditSession, encoder_for_run

    g = api.load(str(ian_run))
    d = api.load_discriminator(str(ian_run))
    assert encoder_for_run(str(ian_run), d) == d.encode_mean  # no RUN/encoder: the introspective encoder
    photo = g.sample(1, seed=3)
    s = EditSession(g, photo, method="npe", encoder=d.encode_mean, projector="encoder", features=None, npe_steps=5)
    assert s.projection.method == "encoder"
    assert torch.allclose(s.latent0, d.encode_mean(photo))
    r = s.stroke([{"type": "color", "points": [[4, 4], [12, 4]], "width": 3, "color": 255}])
    assert r.costs["colour"] <= s.summary()["colour_cost_before"]


def test_binary_ablation_trains_too(tmp_path):
    from ganforge.methods import build_method
    from ganforge.data import build_dataset

    cfg = load_config("ian-mnist", TINY + ["method.adversarial=binary"])
    with pytest.raises(ConfigError, match="ternary, binary or none"):
        load_config("ian-mnist", TINY + ["method.adversarial=quaternary"])
    method = build_method(cfg, build_dataset(cfg.data).info)
    assert [method.lr_factor(p) for p in (0.0, 0.5, 0.7, 0.99)] == [1.0, 0.5, 0.25, 0.05]  # official schedule

    class Data:
        def __init__(self):
            self.x = torch.rand(8, 1, 32, 32) * 2 - 1

        def next(self):
            from ganforge.data import Batch

            return Batch(self.x)

    torch.manual_seed(0)
    before = [p.detach().clone() for p in method.discriminator.discriminator_parameters()]
    logs = [method.step(Data(), 0.0) for _ in range(3)]
    assert all(torch.isfinite(v) for log in logs for v in log.values())
    after = method.discriminator.discriminator_parameters()
    assert any(not torch.equal(a, b) for a, b in zip(before, after))
    vae = build_method(load_config("ian-mnist", TINY + ["method.adversarial=none", "method.feature_weight=0"]),
                       build_dataset(cfg.data).info)
    assert set(vae.optimizers()) == {"ge"}
    body = [p.detach().clone() for p in vae.discriminator.body.parameters()]
    judge = [p.detach().clone() for p in vae.discriminator.judge.parameters()]
    log = vae.step(Data(), 0.0)
    assert log["d_loss"].item() == 0.0  # no adversary
    assert any(not torch.equal(a, b) for a, b in zip(body, vae.discriminator.body.parameters()))  # body learns
    assert all(torch.equal(a, b) for a, b in zip(judge, vae.discriminator.judge.parameters()))


# -- issue 20: the encoder → decoder path must carry the input ----------------------------------------------------
def _reconstruction_errors(run, x):
    """(MSE of G(μ(x)) against x, MSE when every digit gets another digit's code, MSE of the mean image)."""
    from ganforge import api

    g, d = api.load(str(run)), api.load_discriminator(str(run))
    with torch.no_grad():
        mu = d.encode_mean(x)
        own, other = g.generate(mu), g.generate(mu.roll(1, 0))
    mse = lambda a: ((a - x) ** 2).mean().item()  # noqa: E731
    return mse(own), mse(other), mse(x.mean(0, keepdim=True).expand_as(x))


@pytest.mark.slow  # a 100-step run at the preset's widths (~20 s on a free core)
def test_reconstructions_follow_the_input(tmp_path):
    """With the preset's widths, code size and loss weights (KL averaged over 100 dimensions, pixel loss over every
    pixel), the plain-VAE arm of the same networks used to collapse the code: every digit came back as the same
    blurry mean digit (measured before the fix: own-code error 0.236 > mean-image 0.209, 0.91 of the error with a
    shuffled code). The official BatchNorm on μ and log σ keeps the code informative (after: 0.160, 0.75)."""
    from ganforge.train import Trainer

    cfg = load_config("ian-mnist", ["train.progress=false", "train.tensorboard=false", "train.threads=1",
                                    "train.eval_every=0", "train.sample_every=1000", "train.steps=100",
                                    "train.checkpoint_every=100", "method.lr=1e-3", "method.lr_schedule=false",
                                    "method.adversarial=none", "method.feature_weight=0"])
    tr = Trainer(cfg, run_dir=str(tmp_path))
    tr.fit()
    x = tr.dataset.get(torch.arange(0, len(tr.dataset), 40)).x  # 125 digits of all classes
    own, shuffled, mean_image = _reconstruction_errors(tmp_path, x)
    assert own < 0.85 * shuffled  # each digit's own code reconstructs it better than another digit's code
    assert own < 0.85 * mean_image  # and better than the best input-independent output, the mean image


def test_a_checkpoint_from_before_the_latent_batchnorm_is_a_one_line_error():
    from ganforge.errors import CheckpointError

    old = IANDiscriminator((1, 32, 32), z_dim=8, channels=4, encoder_hidden=16, mbd_kernels=4, latent_bn=False)
    new = IANDiscriminator((1, 32, 32), z_dim=8, channels=4, encoder_hidden=16, mbd_kernels=4)
    with pytest.raises(CheckpointError, match="predates"):
        new.load_state_dict(old.state_dict())
    new.load_state_dict(IANDiscriminator((1, 32, 32), z_dim=8, channels=4, encoder_hidden=16,
                                         mbd_kernels=4).state_dict())  # a current checkpoint loads
    old.load_state_dict(old.state_dict())  # and so does one with latent_bn off, into latent_bn off
