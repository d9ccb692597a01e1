"""pix2pixHD (Wang et al., CVPR 2018): boundary map, instance-wise pooling, multi-scale D, feature-matching weights,
the local enhancer's wiring, coarse-to-fine stages with exact resume, feature styles, presets from the CLI."""
import pytest
import torch
import torch.nn.functional as F

from ganforge.config import load_config
from ganforge.data import build_dataset
from ganforge.errors import ConfigError
from ganforge.methods import build_method
from ganforge.methods.pix2pixhd import VGG19Features, feature_matching_loss, gan_loss
from ganforge.models.pix2pixhd import (MultiscaleDiscriminator, Pix2PixHDGenerator, downsample, fit_feature_clusters,
                                       get_edges, instance_average, sample_features)
from ganforge.train import Trainer


def test_boundary_map_by_hand():
    inst = torch.tensor([[[0, 0, 1, 1],
                          [0, 0, 1, 1],
                          [2, 2, 2, 1],
                          [2, 2, 2, 2]]])
    expected = torch.tensor([[0, 1, 1, 0],
                             [1, 1, 1, 0],
                             [1, 1, 1, 1],
                             [0, 0, 0, 1]], dtype=torch.float32)
    assert torch.equal(get_edges(inst)[0, 0], expected)
    # Same class everywhere but two instances: only the instance map can draw the line between them.
    two = torch.tensor([[[1, 1, 2, 2]] * 3])
    assert torch.equal(get_edges(two)[0, 0], torch.tensor([[0, 1, 1, 0]] * 3, dtype=torch.float32))
    assert get_edges(torch.ones(1, 3, 3, dtype=torch.long)).sum() == 0


def test_instance_average_pools_each_instance_of_each_sample():
    inst = torch.tensor([[[0, 0, 1], [0, 2, 1], [0, 2, 2]]]).repeat(2, 1, 1)
    feat = torch.arange(2 * 2 * 9, dtype=torch.float32).reshape(2, 2, 3, 3).requires_grad_(True)
    out = instance_average(feat, inst)
    for n in range(2):
        for c in range(2):
            for k in range(3):
                where = inst[n] == k
                mean = feat[n, c][where].mean()
                assert torch.allclose(out[n, c][where], mean.expand(int(where.sum())))
    # Sample 0's instance 1 ({2, 5} in channel 0) and sample 1's instance 1 do not mix.
    assert out[0, 0, 0, 2].item() == pytest.approx((2 + 5) / 2)
    assert out[1, 0, 0, 2].item() == pytest.approx((20 + 23) / 2)
    # The gradient of one pooled pixel spreads 1/|instance| over its instance only.
    (g,) = torch.autograd.grad(out[0, 0, 1, 1], feat)
    assert torch.allclose(g[0, 0], (inst[0] == 2).float() / 3) and g[1].abs().sum() == 0 and g[0, 1].abs().sum() == 0


def test_multiscale_discriminator_sees_the_downsampled_inputs():
    d = MultiscaleDiscriminator(4, channels=4, n_layers=3, num_d=3)
    seen = []
    for scale in d.scales:
        scale.blocks[0][0].register_forward_hook(lambda m, inp, out: seen.append(inp[0]))
    x = torch.randn(2, 4, 32, 32)
    logits, feats = d.forward_with_features(x)
    assert [s.shape[-1] for s in seen] == [32, 16, 8]
    assert torch.equal(seen[1], downsample(x)) and torch.equal(seen[2], downsample(downsample(x)))
    # AvgPool2d(3, 2, 1, count_include_pad=False) by hand at a corner (2×2 window) and inside (3×3 window).
    assert seen[1][0, 0, 0, 0].item() == pytest.approx(x[0, 0, :2, :2].mean().item(), abs=1e-6)
    assert seen[1][0, 0, 1, 1].item() == pytest.approx(x[0, 0, 1:4, 1:4].mean().item(), abs=1e-6)
    # Every layer's output per scale (n_layers + 2), the last being the logit map; kernel 4, padding 2.
    assert [len(f) for f in feats] == [5, 5, 5] and all(f[-1] is lg for f, lg in zip(feats, logits))
    assert feats[0][0].shape[-1] == (32 + 4 - 4) // 2 + 1


def test_feature_matching_and_gan_losses_by_hand():
    # Two scales, three layers each (the last is the logit map, left out); n_layers_D 3: weight 10·(1/2)·(4/4) = 5.
    real = [[torch.zeros(1, 1, 2, 2), torch.ones(1, 2, 1, 1), torch.zeros(1, 1, 1, 1)],
            [torch.full((1, 1, 1, 2), 2.0), torch.zeros(1, 1, 1, 1), torch.zeros(1, 1, 1, 1)]]
    fake = [[torch.tensor([[[[1.0, 0.0], [0.0, 3.0]]]]), torch.full((1, 2, 1, 1), 3.0), torch.full((1, 1, 1, 1), 9.0)],
            [torch.zeros(1, 1, 1, 2), torch.full((1, 1, 1, 1), -1.0), torch.full((1, 1, 1, 1), 9.0)]]
    # L1 means: scale 0: (1+0+0+3)/4 = 1, |3−1| = 2; scale 1: 2, 1 -> 5·(1 + 2 + 2 + 1) = 30.
    assert feature_matching_loss(fake, real, n_layers_d=3, weight=10.0).item() == pytest.approx(30.0)
    # n_layers_D 1: layer factor 4/2 = 2 -> 60.
    assert feature_matching_loss(fake, real, n_layers_d=1, weight=10.0).item() == pytest.approx(60.0)
    # The real side is a constant target.
    f, r = torch.zeros(1, 1, 1, 1, requires_grad=True), torch.ones(1, 1, 1, 1, requires_grad=True)
    feature_matching_loss([[f, f]], [[r, r]], 3).backward()
    assert f.grad.item() == pytest.approx(-10.0) and r.grad is None
    # LSGAN summed over scales: mean (p − 1)²; (0.5² + 1.5²)/2 + 2² = 1.25 + 4.
    preds = [torch.tensor([0.5, 2.5]), torch.tensor([3.0])]
    assert gan_loss(preds, True).item() == pytest.approx(5.25)
    assert gan_loss(preds, False).item() == pytest.approx((0.25 + 6.25) / 2 + 9.0)


def test_local_enhancer_adds_global_features_to_its_front_end():
    torch.manual_seed(0)
    g = Pix2PixHDGenerator(4, (3, 16, 16), channels=4, n_down=1, n_blocks=1, local_enhancers=1, n_blocks_local=1)
    enh = g.net
    assert enh.global_net.channels == 8 and enh.global_net.in_shape[1:] == (8, 8)
    x = torch.randn(2, g.cond_channels, 16, 16)
    seen = []
    enh.global_net.model[1].register_forward_hook(lambda m, inp, out: seen.append(inp[0]))
    front, glob = enh.front(x), enh.global_net.body()(downsample(x))
    assert front.shape == glob.shape == (2, 8, 8, 8)
    assert torch.allclose(enh(x), enh.up(front + glob), atol=1e-6)
    # G1 got the downsampled input (after its reflection pad), and G1's own output layer is not used.
    assert torch.allclose(seen[-1][..., 3:-3, 3:-3], downsample(x), atol=1e-6)
    with torch.no_grad():
        enh.global_net.model[-2].weight.add_(1.0)
    assert torch.allclose(enh(x), enh.up(front + glob), atol=1e-6)
    # G1's features matter: zeroing them changes the output.
    assert not torch.allclose(enh.up(front), enh.up(front + glob), atol=1e-3)


def _tiny(name="pix2pixhd-shapes", *extra, **train):
    over = ["data.n=48", "data.resolution=16", "generator.channels=4", "generator.n_down=1", "generator.n_blocks=1",
            "discriminator.channels=4", "method.perceptual=none", "train.batch_size=4", "train.progress=false",
            "train.log_every=1", "train.sample_every=100", "train.checkpoint_every=3", "train.n_samples=4",
            "train.eval_every=0", "train.threads=1", *extra] + [f"train.{k}={v}" for k, v in train.items()]
    return load_config(name, over)


def _state(trainer):
    out = {f"g.{k}": v.clone() for k, v in trainer.method.generator.state_dict().items()}
    out.update({f"d.{k}": v.clone() for k, v in trainer.method.discriminator.state_dict().items()})
    return out


LOCAL = ("generator.local_enhancers=1", "generator.instance_feat=true", "generator.nef=4", "generator.n_down_e=1",
         "method.global_steps=2", "method.fix_global_steps=2", "method.cluster_n=16")


def test_stages_switch_and_resume_across_them_is_bitwise(tmp_path):
    cfg = _tiny("pix2pixhd-shapes-local", *LOCAL, steps=6)
    straight = Trainer(cfg, run_dir=str(tmp_path / "a"))
    g = straight.method.generator
    before = {k: v.clone() for k, v in g.state_dict().items()}
    seen = []
    orig = straight.method.step

    def spy(data, progress):
        m = straight.method
        g1 = [p.clone() for p in g.net.global_net.parameters()]
        g2 = [p.clone() for p in g.net.local_parameters()]
        out = orig(data, progress)
        seen.append((m.phase(m.g_steps - 1), g.stage,
                     any(not torch.equal(a, b) for a, b in zip(g1, g.net.global_net.parameters())),
                     any(not torch.equal(a, b) for a, b in zip(g2, g.net.local_parameters()))))
        return out

    straight.method.step = spy
    straight.fit()
    # global: G1 alone (G2 untouched); fixed: G2 only; joint: both.
    assert [s[:2] for s in seen] == [("global", "global")] * 2 + [("fixed", "local")] * 2 + [("joint", "local")] * 2
    assert [s[2:] for s in seen] == [(True, False)] * 2 + [(False, True)] * 2 + [(True, True)] * 2
    assert not torch.equal(before["encoder.model.1.weight"], g.state_dict()["encoder.model.1.weight"])
    assert int(g.feat_counts.sum()) > 0  # the K-means of E's features was fitted at the checkpoint

    first = Trainer(_tiny("pix2pixhd-shapes-local", *LOCAL, steps=1), run_dir=str(tmp_path / "b"))
    first.fit()  # stops inside the global stage ...
    resumed = Trainer(cfg, run_dir=str(tmp_path / "b"), resume=True)
    assert resumed.step == 1 and resumed.method.generator.stage == "global"
    resumed.fit()  # ... and crosses both switches after the resume
    a, b = _state(straight), _state(resumed)
    assert [k for k in a if not torch.equal(a[k], b[k])] == []
    other = Trainer(_tiny("pix2pixhd-shapes-local", *LOCAL, steps=6, seed=1), run_dir=str(tmp_path / "c"))
    other.fit()
    assert not torch.equal(_state(other)["d.scales.0.blocks.0.0.weight"], a["d.scales.0.blocks.0.0.weight"])


def test_feature_clusters_give_several_styles_of_one_label_map():
    g = Pix2PixHDGenerator(3, (3, 8, 8), channels=4, n_down=1, n_blocks=1, feat_num=2, nef=2, n_down_e=1,
                           n_clusters=2)
    classes = torch.tensor([1, 1, 1, 1, 2, 2, 0])
    feats = torch.tensor([[0.9, 0.9], [1.0, 1.0], [1.1, 1.1], [-1.0, -1.0], [0.5, 0.0], [0.5, 0.0], [0.0, 0.3]])
    fit_feature_clusters(g, classes, feats)
    assert g.feat_counts.tolist() == [1, 2, 1]
    assert torch.allclose(g.feat_centers[1, 0], torch.tensor([1.0, 1.0]))  # the larger cluster comes first
    assert torch.allclose(g.feat_centers[1, 1], torch.tensor([-1.0, -1.0]))
    labels = torch.zeros(1, 8, 8, dtype=torch.long)
    labels[0, :4, :4] = 1
    labels[0, 4:, 4:] = 2
    inst = labels.clone()
    inst[0, :4, 2:4] = 5  # a second circle touching the first
    f0 = sample_features(g, labels, inst, cluster=0)
    f1 = sample_features(g, labels, inst, cluster=1)
    assert torch.allclose(f0[0, :, 0, 0], torch.tensor([1.0, 1.0])) and torch.allclose(f1[0, :, 0, 0], -f0[0, :, 0, 0])
    assert torch.allclose(f1[0, :, 7, 7], torch.tensor([0.5, 0.0]))  # one cluster only: wraps
    assert torch.allclose(f0[0, :, 7, 0], torch.tensor([0.0, 0.3]))  # background
    with torch.no_grad():
        assert not torch.allclose(g(labels, inst, f0), g(labels, inst, f1))
        assert torch.allclose(g(labels, inst), g(labels, inst, f0))  # default: cluster 0


def test_vgg_weights_from_a_local_file_and_bad_input(tmp_path):
    from safetensors.torch import save_file

    net = VGG19Features()
    path = tmp_path / "vgg19.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    loaded = VGG19Features.from_file(str(path))
    x = torch.randn(1, 3, 16, 16)
    outs = loaded(x)
    assert [o.shape[1] for o in outs] == [64, 128, 256, 512, 512]
    assert torch.allclose(outs[0], F.relu(F.conv2d(x, net.features[0].weight, net.features[0].bias, padding=1)))
    with pytest.raises(ConfigError, match="vgg_weights"):
        load_config("pix2pixhd-shapes", ["method.perceptual=vgg"])
    with pytest.raises(ConfigError, match="cannot read"):
        VGG19Features.from_file(str(tmp_path / "missing.safetensors"))
    with pytest.raises(ConfigError, match="local_enhancers"):
        load_config("pix2pixhd-shapes", ["generator.local_enhancers=2"])
    ds_cfg = load_config("pix2pixhd-shapes", ["data={name: digits-ab, n: 16}"])
    with pytest.raises(ConfigError, match="shapes-labels"):
        build_method(ds_cfg, build_dataset(ds_cfg.data).info)


def test_translator_takes_the_colour_label_map_and_the_instance_map():
    cfg = _tiny()
    ds = build_dataset(cfg.data)
    g = build_method(cfg, ds.info).generator.eval()
    b = ds.get(torch.arange(8))
    with torch.no_grad():  # the colour map x and the class ids give the same output
        out = g(b.x, b.attrs["instance"])
        assert torch.allclose(out, g(b.mask, b.attrs["instance"]))
        # Same labels, instances merged: the boundary between touching same-class objects vanishes, and G sees it.
        merged = torch.where(b.attrs["instance"] > 0, b.mask, 0)
        assert not torch.equal(get_edges(merged), get_edges(b.attrs["instance"]))
        assert not torch.allclose(out, g(b.x, merged))
        assert torch.allclose(g(b.x), g(b.x, b.mask))  # no instance map: the class map stands in


@pytest.mark.parametrize("preset", ["pix2pixhd-shapes", "pix2pixhd-shapes-local"])
def test_presets_run_from_the_cli(tmp_path, preset):
    from ganforge.cli import main

    out = str(tmp_path / preset)
    args = ["train", preset, "--out", out, "train.steps=2", "data.n=16", "train.batch_size=2", "train.progress=false",
            "train.eval_every=0", "train.threads=1"]
    if preset.endswith("local"):
        args += ["method.global_steps=1", "method.fix_global_steps=0", "method.cluster_n=8"]
    assert main(args) == 0
    assert (tmp_path / preset / "samples" / "latest.png").exists()
