"""GAN Dissection (Bau et al., ICLR 2019): the quantile sketch, IoU, alignment, interventions, ACE, report."""
import copy
import json
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from ganforge.data import build_dataset
from ganforge.data.shapes import ShapesConfig
from ganforge.dissect import (RunningQuantile, ace, capture, dissect, edit, insertion_values, intervene,
                              learn_alpha, rank_units_by_ace, region_mask, upsample, write_report)
from ganforge.dissect.artifacts import rank_artifact_units, repair_fid, unit_fid, unit_score_effects
from ganforge.dissect.intervene import class_fractions, edit_where_active
from ganforge.dissect.stats import iou_from_counts, iqr_from_counts
from ganforge.errors import ConfigError
from ganforge.metrics.features import generator_source
from ganforge.metrics.fid import gaussian_stats
from ganforge.models.base import Generator, normal_init
from ganforge.models.dcgan import DCGANGenerator
from ganforge.models.stylegan import StyleGANGenerator

CLASSES = ("background", "circle", "square", "triangle")


class MaskGenerator(Generator):
    """A stand-in generator whose featuremap ("masks", full resolution) is the one-hot class mask of a shapes
    scene, and whose image encodes the class of each pixel in channel 0 (−1, −0.5, 0, 0.5): editing unit c
    edits exactly the pixels of class c, so causal effects are known in advance."""

    def __init__(self, masks: torch.Tensor):
        super().__init__()
        self.z_dim, self.out_shape = 4, (3,) + tuple(masks.shape[-2:])
        self.register_buffer("masks", masks)
        self.units = nn.Identity()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, z, y=None):
        idx = (z[:, 0].abs() * 1e4).long() % len(self.masks)
        r = self.units(F.one_hot(self.masks[idx], 4).permute(0, 3, 1, 2).float() * self.scale)
        code = (r * torch.arange(4.0)[None, :, None, None]).sum(1)
        x0 = (code * 0.5 - 1).clamp(-1, 0.5)
        return torch.stack([x0, torch.zeros_like(x0), torch.zeros_like(x0)], 1)

    def feature_layers(self):
        return {"masks": self.units}


class CodeSegmenter(nn.Module):
    """Reads MaskGenerator's class code back: logit_c = −200·(x0 − code_c)², differentiable (for α), and
    its argmax is the exact class of a coded pixel."""

    class_names = CLASSES

    def forward(self, x):
        codes = torch.arange(4.0) * 0.5 - 1
        return -200 * (x[:, None, 0] - codes[None, :, None, None]) ** 2


class ArtifactGenerator(Generator):
    """A planted artifact unit. Four units on a 4×4 featuremap ("units"); unit c < 3 draws colour channel c in its
    cell's 4×4 pixels, unit 3 draws grey in all three; every unit's ordinary values lie in [0, 0.5]. With
    `artifacts`, images with z0 > 1 (≈ 16 %) also get a spike of 3 in unit 3 on a 2×2 block of cells: a bright
    blotch that the real data (the same generator without artifacts) never has."""

    def __init__(self, artifacts: bool = True):
        super().__init__()
        self.z_dim, self.out_shape, self.artifacts = 8, (3, 16, 16), artifacts
        self.proj = nn.Linear(8, 4 * 16)
        with torch.no_grad():
            self.proj.weight.copy_(torch.randn(64, 8, generator=torch.Generator().manual_seed(3)))
            self.proj.bias.zero_()
        self.units = nn.Identity()

    def forward(self, z, y=None):
        r = 0.5 * torch.sigmoid(self.proj(z)).view(-1, 4, 4, 4)
        if self.artifacts:
            spike = torch.zeros_like(r)
            for i in torch.nonzero(z[:, 0] > 1).flatten().tolist():
                row, col = 2 * int(z[i, 1] > 0), 2 * int(z[i, 2] > 0)
                spike[i, 3, row:row + 2, col:col + 2] = 3.0
            r = r + spike
        r = self.units(r)
        rgb = r[:, :3] + r[:, 3:]
        return F.interpolate(rgb, scale_factor=4, mode="nearest") - 0.5

    def feature_layers(self):
        return {"units": self.units}


class ColourStats(nn.Module):
    """A tiny feature extractor: per-channel mean, maximum and standard deviation (9 features)."""

    def features(self, x):
        return torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3)), x.std(dim=(2, 3))], 1)


def _blotch_share(x):
    """The planted-artifact score: the share of pixels brighter than any ordinary pixel can be (> 0.5)."""
    return (x > 0.75).float().mean()


def _blotch_share_per_image(x):
    return (x > 0.75).float().mean(dim=(1, 2, 3))


@pytest.fixture(scope="module")
def planted():
    """(generator with the planted artifact unit 3, extractor, real statistics from the artifact-free one)."""
    clean = ArtifactGenerator(artifacts=False).eval()
    gen = ArtifactGenerator().eval()
    gen.load_state_dict(clean.state_dict())
    ext = ColourStats()
    with torch.no_grad():
        real = ext.features(clean(generator_source(clean, seed=100).latents(0, 2000)[0]))
    return gen, ext, gaussian_stats(real)


@pytest.fixture(scope="module")
def mask_gen():
    data = build_dataset(ShapesConfig(resolution=32, n=64, seed=5))
    return MaskGenerator(data.get(slice(0, 64)).mask).eval()


@pytest.fixture(scope="module")
def dcgan():
    torch.manual_seed(0)
    g = DCGANGenerator((3, 32, 32), z_dim=8, channels=8)
    normal_init(g, std=0.3)  # larger than DCGAN's 0.02, so that outputs are far from 0 and edits show
    return g.eval()


@pytest.fixture(scope="module")
def stylegan():
    torch.manual_seed(0)
    g = StyleGANGenerator((3, 16, 16), z_dim=8, w_dim=8, mapping_layers=2, channels=8, channel_base=64)
    for layer in g.synthesis_net.layers:  # a trained StyleGAN's noise matters; at init its strength is 0
        torch.nn.init.constant_(layer.noise.weight, 1.0)
    return g.eval()


# ---------------------------------------------------------------------------------------------- quantiles
def test_quantile_sketch_within_stated_error_of_exact_quantiles_on_a_stream_larger_than_its_memory():
    g = torch.Generator().manual_seed(0)
    sketch = RunningQuantile(resolution=128, seed=1)
    chunks = []
    for _ in range(40):  # 200,000 values per channel, mixed distributions incl. a point mass at 0 (ReLU)
        x = torch.stack([torch.randn(5000, generator=g) ** 3, torch.relu(torch.randn(5000, generator=g)),
                         torch.rand(5000, generator=g) * 7 - 2], 1)
        chunks.append(x)
        sketch.add(x)
    data = torch.cat(chunks).numpy()
    assert sketch.count == len(data) and sketch.memory * 50 < len(data)  # holds < 2% of the stream
    qs = np.linspace(0, 1, 401)
    est = sketch.quantiles(qs).numpy()
    bound = sketch.rank_error_bound()
    assert 0 < bound < 0.15
    for c in range(3):
        s = np.sort(data[:, c])
        lo = np.searchsorted(s, est[c], side="left") / len(s)
        hi = np.searchsorted(s, est[c], side="right") / len(s)
        rank_err = np.maximum(0, np.maximum(lo - qs, qs - hi))  # distance of q from the estimate's rank interval
        assert rank_err.max() <= bound  # the deterministic bound levels / resolution
        assert rank_err.max() <= 3.0 / sketch.resolution  # and the typical ~1/resolution of random compaction
        assert est[c, 0] == s[0] and est[c, -1] == s[-1]  # exact extremes
        np.testing.assert_allclose(est[c, 200], np.quantile(s, 0.5), atol=0.05)
    # the inverse maps quantile values back to their ranks (channels without a point mass there)
    np.testing.assert_allclose(sketch.normalize(torch.from_numpy(est[:, 100:101])).numpy()[[0, 2]], 0.25,
                               atol=2 / 128)


# ---------------------------------------------------------------------------------------------- IoU / IQR
def test_iou_of_a_unit_whose_activation_equals_a_class_mask_is_one(mask_gen):
    result = dissect(mask_gen, CodeSegmenter(), "masks", n=64, batch_size=32, threshold=torch.full((4,), 0.5))
    m = result.iou_matrix()
    torch.testing.assert_close(m.diagonal(), torch.ones(4))  # unit c == mask of class c
    assert (m - torch.diag(m.diagonal())).max() < 1  # and no other pairing is perfect
    assert [u.label for u in result.units] == list(CLASSES)
    assert result.summary()["share_interpretable"] == 1.0


def test_extra_segmenter_heads_are_counted_as_concepts(mask_gen):
    """A second head (like the shipped segmenter's colour head; class 0 = no label) adds its classes as
    concepts: here "odd" = circle or triangle pixels, so IoU(circle unit, odd) = |circle| / |circle ∪ triangle|."""
    from types import SimpleNamespace

    class TwoHeads(CodeSegmenter):
        config = SimpleNamespace(extra_heads={"parity": ["none", "odd"]})

        def head_logits(self, x):
            logits = self(x)
            cls = logits.argmax(1)
            odd = ((cls == 1) | (cls == 3)).long()
            return {"class": logits, "parity": F.one_hot(odd, 2).permute(0, 3, 1, 2).float()}

    result = dissect(mask_gen, TwoHeads(), "masks", n=64, batch_size=32, threshold=torch.full((4,), 0.5))
    assert result.class_names == list(CLASSES) + ["odd"]
    z, _ = generator_source(mask_gen, seed=1).latents(0, 64)  # the dissection's samples
    masks = mask_gen.masks[(z[:, 0].abs() * 1e4).long() % len(mask_gen.masks)]
    expected = float((masks == 1).sum()) / float(((masks == 1) | (masks == 3)).sum())
    m = result.iou_matrix()
    assert m[1, 4] == pytest.approx(expected, abs=1e-4) and m[0, 4] == 0
    torch.testing.assert_close(m[:, :4].diagonal(), torch.ones(4))


def test_iqr_thresholds_find_the_class_of_a_noisy_unit(mask_gen):
    """With the paper's IQR-chosen thresholds (on a separate sample set), a unit that is the square mask plus
    noise is labelled square with a high IoU, and a pure-noise unit is not interpretable."""

    class Noisy(nn.Module):
        def forward(self, r):
            g = torch.Generator().manual_seed(int(r.sum()))
            noise = torch.rand(r.shape, generator=g) * 0.6
            return torch.cat([r[:, 2:3] + noise[:, :1], noise[:, 1:2]], 1)

    class Wrapped(MaskGenerator):
        def __init__(self, base):
            nn.Module.__init__(self)
            self.z_dim, self.out_shape, self.masks = base.z_dim, base.out_shape, base.masks
            self.units, self.scale, self.noisy = base.units, base.scale, Noisy()

        def feature_layers(self):
            return {"noisy": self.noisy}

        def forward(self, z, y=None):
            x = super().forward(z)
            idx = (z[:, 0].abs() * 1e4).long() % len(self.masks)
            self.noisy(F.one_hot(self.masks[idx], 4).permute(0, 3, 1, 2).float())
            return x

    result = dissect(Wrapped(mask_gen).eval(), CodeSegmenter(), "noisy", n=64, batch_size=64)
    square, noise = result.units
    assert square.label == "square" and square.iou > 0.9 and square.interpretable
    assert 0.6 <= square.threshold < 1.0  # between the noise and the mask
    assert not noise.interpretable


def test_iou_and_iqr_formulas():
    inter, act, lab = torch.tensor([30.0]), torch.tensor([40.0]), torch.tensor([50.0])
    assert float(iou_from_counts(inter, act, lab)) == pytest.approx(30 / 60)
    # independent variables have zero mutual information; identical ones have IQR 1
    assert float(iqr_from_counts(torch.tensor(25.0), torch.tensor(50.0), torch.tensor(50.0), 100)) == \
        pytest.approx(0, abs=1e-9)
    assert float(iqr_from_counts(torch.tensor(50.0), torch.tensor(50.0), torch.tensor(50.0), 100)) == \
        pytest.approx(1)


# ---------------------------------------------------------------------------------------------- alignment
def test_upsampling_aligns_featuremap_cells_with_their_image_patches():
    h, H = 8, 32
    # one active cell: the upsampled bump is centred on the centre of that cell's 4×4 patch (no half-cell shift)
    r = torch.zeros(1, 1, h, h)
    r[0, 0, 2, 5] = 1
    up = upsample(r, (H, H))[0, 0]
    ys, xs = torch.meshgrid(torch.arange(H, dtype=torch.float32), torch.arange(H, dtype=torch.float32),
                            indexing="ij")
    cy, cx = float((up * ys).sum() / up.sum()), float((up * xs).sum() / up.sum())
    assert (cy, cx) == (pytest.approx(2 * 4 + 1.5, abs=1e-4), pytest.approx(5 * 4 + 1.5, abs=1e-4))
    # a band of cells thresholded at 0.5 gives back exactly its patches
    band = torch.zeros(1, 1, h, h)
    band[..., 3:6] = 1
    truth = band.repeat_interleave(4, -1).repeat_interleave(4, -2)[0, 0] > 0.5
    assert torch.equal(upsample(band, (H, H))[0, 0] > 0.5, truth)
    # same geometry as interpolate(align_corners=False); align_corners=True geometry would shift the mask
    torch.testing.assert_close(upsample(band, (H, H)), F.interpolate(band, size=(H, H), mode="bilinear",
                                                                      align_corners=False))
    wrong = F.interpolate(band, size=(H, H), mode="bilinear", align_corners=True)[0, 0] > 0.5
    assert not torch.equal(wrong, truth)


# ---------------------------------------------------------------------------------------------- interventions
def test_ablating_all_units_changes_the_output_and_ablating_none_is_bitwise_identical(dcgan):
    z = torch.randn(6, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = dcgan(z)
        with edit(dcgan, "layer2", []):
            none = dcgan(z)
        with edit(dcgan, "layer2", range(16)):
            every = dcgan(z)
    assert torch.equal(none, ref)
    assert (every - ref).abs().mean() > 0.1 * ref.abs().mean() > 0
    # all units zero: the output no longer depends on z through this layer
    assert torch.allclose(every, every[:1].expand_as(every), atol=1e-6)
    before, after = intervene(dcgan, "layer2", [], n=4)
    assert torch.equal(before, after)


def test_stylegan_interventions_compare_images_made_with_the_same_noise(stylegan):
    before, after = intervene(stylegan, "layer2_8", [], n=4)
    assert torch.equal(before, after)  # intervening on no unit changes nothing, noise inputs included
    stylegan.train()  # left in training mode by the caller: the tools still sample with the fixed noise
    try:
        again, _ = intervene(stylegan, "layer2_8", [], n=4)
        r = ace(stylegan, CodeSegmenter(), "layer2_8", [], "circle", value=1.0, n=8, batch_size=4)
    finally:
        stylegan.eval()
    assert torch.equal(again, before)
    assert r["original"] == r["ablated"] == r["inserted"] and r["ace"] == 0.0
    with edit(stylegan, "layer2_8", range(8)), torch.no_grad():  # ...and the equality above is not vacuous
        assert not torch.allclose(stylegan(generator_source(stylegan).latents(0, 4)[0]), before)


def _modes(module):
    return [m.training for m in module.modules()]


def test_intervention_tools_run_a_batchnorm_generator_in_eval_mode_and_restore_its_modes(dcgan):
    seg = CodeSegmenter()
    tools = {
        "insertion_values": lambda g: insertion_values(g, seg, "layer2", "circle", n=16, batch_size=8),
        "ace": lambda g: torch.tensor(ace(g, seg, "layer2", [1, 5], "circle", value=1.0, n=16, batch_size=8)["ace"]),
        "class_fractions": lambda g: class_fractions(g, seg, "layer2", [1, 5], n=16, batch_size=8),
        "rank_units_by_ace": lambda g: rank_units_by_ace(g, seg, "layer2", "circle", value=1.0, n=8, batch_size=8),
        "unit_score_effects": lambda g: unit_score_effects(g, "layer2", lambda x: x.mean(dim=(1, 2, 3)), n=8,
                                                           batch_size=8),
        "intervene": lambda g: intervene(g, "layer2", [1], n=4)[1],
        "intervene above": lambda g: intervene(g, "layer2", [1, 5], above=0.1, n=4)[1],
        "repair_fid": lambda g: torch.tensor(repair_fid(g, "layer2", [1], ColourStats(), stats, n=16, batch_size=8,
                                                        random_sets=1, top_fraction=0.5)["fid_after"]),
        "rank_artifact_units": lambda g: rank_artifact_units(g, "layer2", ColourStats(), stats, n=16, top=4,
                                                             batch_size=8, null_draws=2)["fid"],
    }
    stats = gaussian_stats(torch.randn(50, 9, generator=torch.Generator().manual_seed(0)))
    live = copy.deepcopy(dcgan).train()
    live.net[1].eval()  # a caller's mixed modes: one BatchNorm already in eval mode
    modes, state = _modes(live), {k: v.clone() for k, v in live.state_dict().items()}
    for name, tool in tools.items():
        assert torch.equal(tool(live), tool(dcgan)), name  # batch statistics would change every number
        assert _modes(live) == modes, name
    assert all(torch.equal(v, live.state_dict()[k]) for k, v in state.items())  # running statistics untouched


def test_insertion_inside_a_region_leaves_activations_outside_unchanged(dcgan):
    z = torch.randn(4, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        with capture(dcgan, "layer2") as plain:
            ref = dcgan(z)
        with edit(dcgan, "layer2", [1, 5], value=torch.tensor([3.0, 7.0]), region=(8, 0, 24, 12)):
            with capture(dcgan, "layer2") as edited:  # registered after the edit: sees the edited featuremap
                out = dcgan(z)
    a, b = plain["r"], edited["r"]
    inside = region_mask((8, 0, 24, 12), (32, 32), (8, 8)).bool()  # cells of 4×4 pixels: rows 0-2, cols 2-5
    assert inside.sum() == 3 * 4 and inside[0:3, 2:6].all()
    assert torch.equal(a[:, :, ~inside], b[:, :, ~inside])  # outside the region: untouched, every unit
    assert torch.equal(a[:, [0, 2, 3]], b[:, [0, 2, 3]])  # other units: untouched everywhere
    assert (b[:, 1][:, inside] == 3.0).all() and (b[:, 5][:, inside] == 7.0).all()
    assert not torch.equal(ref, out)


def test_ace_of_inserting_a_class_unit_inside_a_region(mask_gen):
    seg = CodeSegmenter()
    box = (0, 0, 16, 32)  # the left half
    r = ace(mask_gen, seg, "masks", [3], "triangle", value=torch.ones(4), region=box, n=64, batch_size=32)
    # ablating the triangle unit removes every triangle pixel (where the region is)...
    assert r["inside"]["ablated"] == 0 and r["outside"]["ablated"] == r["outside"]["original"]
    # ...and inserting it makes triangles appear inside the region, and nowhere else
    assert r["inside"]["insert_gain"] > 0.5
    assert r["outside"]["insert_gain"] == 0
    full = ace(mask_gen, seg, "masks", [2], "square", value=1.0, n=64, batch_size=32)
    assert full["removed"] == 1.0 and full["ablated"] == 0 and full["ace"] > 0.5


def test_ace_ranking_and_learned_alpha_find_the_class_unit(mask_gen):
    seg = CodeSegmenter()
    scores = rank_units_by_ace(mask_gen, seg, "masks", "circle", value=torch.ones(4), n=32, batch_size=32)
    assert int(scores.argmax()) == 1
    alpha = learn_alpha(mask_gen, seg, "masks", "circle", value=torch.ones(4), n=32, steps=40, batch_size=8,
                        lr=0.05)
    assert int(alpha.argmax()) == 1 and alpha[1] > 0.6
    assert alpha[[0, 2, 3]].max() < alpha[1] - 0.3  # the L2 penalty pulls the non-causal units down
    assert ((alpha >= 0) & (alpha <= 1)).all()


def test_artifact_ranking_finds_the_unit_that_raises_the_score(mask_gen):
    score = lambda x: (x[:, 0] > 0.25).float().mean(dim=(1, 2))  # "artifact": triangle-coded pixels  # noqa: E731
    effects = unit_score_effects(mask_gen, "masks", score, n=32, batch_size=32)
    assert int(effects.argmax()) == 3 and effects[3] > 0 and effects[:3].abs().max() < effects[3]


def test_per_unit_fid_ranks_the_planted_artifact_unit_worst_and_far_above_chance(planted):
    gen, ext, real = planted
    r = rank_artifact_units(gen, "units", ext, real, n=1000, top=100, batch_size=250)
    assert r["order"][0] == 3
    assert torch.equal(r["fid"], unit_fid(gen, "units", ext, real, n=1000, top=100, batch_size=250))
    # the artifact unit's top images are far from the real data; the ordinary units' (slightly biased towards
    # their colour) stay near random subsets of the same size
    assert r["fid"][3] > r["null_mean"] + 10 * r["null_std"]
    assert r["fid"][:3].max() < r["fid"][3] / 3


def test_ablating_where_a_unit_fires_changes_pixels_only_there(planted):
    gen = planted[0]
    src = generator_source(gen, seed=4)
    z = src.latents(0, 64)[0]
    t = torch.full((4,), 1.0)
    with torch.no_grad(), capture(gen, "units") as plain:
        gen(z)
    active = plain["r"][:, 3] > 1.0  # N×4×4: the blotch cells
    assert 0 < active.any(dim=(1, 2)).sum() < 64  # some images have a blotch, some do not
    before, after = intervene(gen, "units", [3], above=t, z=z)
    changed = (after != before).any(dim=1)  # N×16×16 pixels
    assert torch.equal(changed, F.interpolate(active[:, None].float(), scale_factor=4)[:, 0].bool())
    assert _blotch_share(before) > 0.01 and _blotch_share(after) == 0  # the planted artifact is gone
    # the unit keeps its ordinary values elsewhere, the other units everywhere
    with torch.no_grad(), edit_where_active(gen, "units", [3], t), capture(gen, "units") as edited:
        gen(z)
    assert torch.equal(edited["r"][:, :3], plain["r"][:, :3])
    assert torch.equal(edited["r"][:, 3][~active], plain["r"][:, 3][~active]) and (edited["r"][:, 3][active] == 0).all()
    # ...whereas ablating the unit everywhere also changes the pixels where it does not fire
    _, everywhere = intervene(gen, "units", [3], z=z)
    assert ((everywhere != before).any(dim=1) & ~changed).any()
    # grow=1: the region also takes the 8 neighbouring cells of each active cell
    with torch.no_grad(), edit_where_active(gen, "units", [3], t, grow=1), capture(gen, "units") as grown:
        gen(z)
    ring = F.max_pool2d(active[:, None].float(), 3, stride=1, padding=1)[:, 0].bool()
    assert (ring & ~active).any()
    assert (grown["r"][:, 3][ring] == 0).all() and torch.equal(grown["r"][:, 3][~ring], plain["r"][:, 3][~ring])


def test_repair_fid_region_ablation_of_the_artifact_unit_lowers_fid_and_random_units_do_not(planted):
    gen, ext, real = planted
    t = torch.full((4,), 1.0)
    r = repair_fid(gen, "units", [3], ext, real, thresholds=t, n=1000, batch_size=250, random_sets=2,
                   image_score=_blotch_share_per_image)
    # the planted-artifact score: gone after the repair, concentrated in the top-artifact subset before it
    assert r["score_after"] == r["top_score_after"] == 0 < r["score_before"] < r["top_score_before"]
    assert r["score_random"] == r["score_before"] and r["top_score_random"] == r["top_score_before"]
    assert r["fid_after"] < r["fid_before"] / 5 and r["top_after"] < r["top_before"] / 5
    assert r["top_before"] > r["fid_before"]  # the top-artifact subset is where the blotches are
    assert 0.02 < r["edited_share"] < 0.07  # ≈ 16 % of images × 4 of 16 cells
    # random units never exceed the threshold here: ablating them where they fire edits nothing
    assert r["random_edited_share"] == 0 and r["fid_random"] == r["fid_before"] and r["top_random"] == r["top_before"]
    # zeroing the unit everywhere removes its ordinary drawing too: worse than ablating it where it fires
    full = repair_fid(gen, "units", [3], ext, real, where="everywhere", thresholds=t, n=1000, batch_size=250,
                      random_sets=1)
    assert full["fid_before"] == r["fid_before"] and full["edited_share"] == 1.0
    assert full["fid_after"] > 2 * r["fid_after"]
    assert abs(r["fid_resample"] - r["fid_before"]) < 0.5 * r["fid_before"]  # another seed: same quality


def test_score_ranking_with_thresholds_ablates_only_where_units_fire(planted):
    gen = planted[0]
    effects = unit_score_effects(gen, "units", lambda x: (x > 0.75).float().mean(dim=(1, 2, 3)), n=200,
                                 batch_size=100, thresholds=1.0)
    assert int(effects.argmax()) == 3 and effects[3] > 0.005
    assert (effects[:3] == 0).all()  # the other units never exceed 1: nothing edited, no effect


# ---------------------------------------------------------------------------------------------- errors
def test_bad_input_gives_clear_errors(dcgan, mask_gen):
    with pytest.raises(ConfigError, match="layer1, layer2, layer3"):
        dissect(dcgan, CodeSegmenter(), "layer9", n=4)
    with pytest.raises(ConfigError, match="outside this layer's units 0..15"):
        intervene(dcgan, "layer2", [3, 16], n=2)
    with pytest.raises(ConfigError, match="outside the 32×32 image"):
        intervene(dcgan, "layer2", [3], "insert", value=1.0, region=(10, 10, 40, 20), n=2)
    with pytest.raises(ConfigError, match="empty or outside"):
        intervene(dcgan, "layer2", [3], region=(10, 10, 10, 20), n=2)
    with pytest.raises(ConfigError, match="needs a value"):
        intervene(dcgan, "layer2", [3], "insert", n=2)
    with pytest.raises(ConfigError, match="unknown class 'dome'"):
        ace(mask_gen, CodeSegmenter(), "masks", [1], "dome", value=1.0, n=4)
    with pytest.raises(ConfigError, match="threshold"):
        dissect(dcgan, CodeSegmenter(), "layer2", n=4, threshold=1.5)
    with pytest.raises(ConfigError, match="not both"):
        intervene(dcgan, "layer2", [3], region=(0, 0, 8, 8), above=0.5, n=2)
    with pytest.raises(ConfigError, match="thresholds must be a number, one value per listed unit"):
        intervene(dcgan, "layer2", [3, 4], above=torch.ones(5), n=2)
    stats = gaussian_stats(torch.randn(50, 9, generator=torch.Generator().manual_seed(0)))
    with pytest.raises(ConfigError, match="where must be one of active, everywhere"):
        repair_fid(dcgan, "layer2", [3], ColourStats(), stats, where="outside", n=4)


# ---------------------------------------------------------------------------------------------- report
def test_report_files_are_written_with_every_unit(dcgan, tmp_path):
    from ganforge.dissect.segmenter import SegmenterConfig, SegmenterNet

    torch.manual_seed(0)
    seg = SegmenterNet(SegmenterConfig("t", list(CLASSES))).eval()
    result = dissect(dcgan, seg, "layer2", n=40, batch_size=20, top_k=3)
    paths = write_report(result, dcgan, str(tmp_path / "rep"))
    data = json.load(open(paths["json"]))
    assert [u["unit"] for u in data["units"]] == list(range(16))
    assert data["summary"]["units"] == 16 and data["layer"] == "layer2"
    page = open(paths["html"]).read()
    for u in range(16):
        png = os.path.join(paths["images"], f"unit-{u:04d}.png")
        assert f"unit-{u:04d}.png" in page and os.path.getsize(png) > 0
        assert Image.open(png).size == (3 * (3 * 32) + 2 * 2, 3 * 32)  # 3 top images ×3 with 2-pixel gaps
    # units sorted by IoU, best first
    order = [int(s.split("'>unit ")[1].split("<")[0]) for s in page.split("<tr class='unit'>")[1:]]
    ious = {u["unit"]: u["iou"] for u in data["units"]}
    assert sorted(order) == list(range(16)) and [ious[u] for u in order] == sorted(ious.values(), reverse=True)
    # each unit's top images are its highest per-image maxima
    top = data["units"][0]["top_max"]
    assert top == sorted(top, reverse=True)
