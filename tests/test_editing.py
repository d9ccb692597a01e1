"""Editing real images through a GAN (iGAN, Zhu et al. ECCV 2016; Neural Photo Editor, Brock et al. ICLR 2017):
projection, constraints, strokes, flow transfer, the NPE rule, sessions and the CLI."""
import json
import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from ganforge.editing import (Constraints, EditSession, LatentSpace, StrokeError, apply_strokes, constrained_edit,
                              constraint_costs, edge_map, horn_schunck, load_encoder, npe_output, parse_strokes,
                              project, save_encoder, train_encoder, transfer_edit, warp)
from ganforge.editing.npe import dilate, gaussian_blur
from ganforge.errors import GanforgeError
from ganforge.models.dcgan import DCGANGenerator

torch.set_num_threads(1)


def tiny_g(seed=0, z_dim=8, channels=8):
    """A random DCGAN-32 whose images have real contrast: weights of unit-gain scale and BN statistics measured on
    512 draws (eval mode then uses them)."""
    torch.manual_seed(seed)
    g = DCGANGenerator((1, 32, 32), z_dim=z_dim, channels=channels)
    for m in g.modules():
        if isinstance(m, nn.ConvTranspose2d):
            nn.init.normal_(m.weight, 0, (1.0 / (m.weight.shape[0] * 4)) ** 0.5)
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = None
    g.train()
    with torch.no_grad():
        g(torch.randn(512, z_dim))
    return g.eval().requires_grad_(False)


@pytest.fixture(scope="module")
def gen_and_encoder():
    g = tiny_g()
    enc, report = train_encoder(g, steps=80, batch_size=16, lr=1e-3, channels=8, features=None, seed=0)
    return g, enc, report


# -- projection ----------------------------------------------------------------------------------------------------
def test_hybrid_recovers_own_samples_better_than_encoder_alone(gen_and_encoder):
    g, enc, report = gen_and_encoder
    assert report["loss_last"] < 0.5 * report["loss_first"]  # the encoder learnt something
    x = g(torch.randn(3, 8, generator=torch.Generator().manual_seed(9)))
    spread = ((x - x.mean(0)) ** 2).mean().item()  # error of guessing the mean image
    e = project(g, x, "encoder", encoder=enc)
    h = project(g, x, "hybrid", encoder=enc, steps=40)
    assert e.steps == 0 and h.steps == 40
    assert torch.all(h.error < e.error)
    assert h.error.max().item() < 0.01 * spread  # recovered: 1 % of the variance left at most
    assert torch.allclose(h.image, g(h.latent), atol=1e-6)  # the reported image is G(latent)


def test_opt_projection_keeps_the_best_of_several_starts():
    g = tiny_g()
    x = g(torch.randn(2, 8, generator=torch.Generator().manual_seed(3)))
    many = project(g, x, "opt", steps=15, starts=4, features=None)
    # the kept code is the best of its image's four starts: recompute every start's loss
    starts = LatentSpace(g).initial(8, torch.Generator().manual_seed(0))
    from ganforge.editing.projection import optimise_latent
    _, losses = optimise_latent(LatentSpace(g), x.repeat_interleave(4, 0), starts, 15, 0.05, None)
    assert torch.allclose(many.loss, losses.view(2, 4).min(1).values, rtol=1e-5, atol=1e-7)


def test_projection_refuses_what_it_cannot_project():
    g = tiny_g()
    with pytest.raises(GanforgeError, match="needs a trained encoder"):
        project(g, torch.zeros(1, 1, 32, 32), "hybrid")
    with pytest.raises(GanforgeError, match="images must be N×1×32×32"):
        project(g, torch.zeros(1, 3, 32, 32), "opt")
    with pytest.raises(GanforgeError, match="not style-based"):
        LatentSpace(g, "w")
    cond = DCGANGenerator((1, 32, 32), z_dim=8, channels=4, num_classes=10)
    with pytest.raises(GanforgeError, match="class-conditional"):
        LatentSpace(cond)
    assert LatentSpace(cond, y=3).labels(2).tolist() == [3, 3]
    from ganforge.models.base import Generator, Translator

    class Pix(Translator):
        out_shape = (3, 32, 32)

    class Points(Generator):
        z_dim, out_shape = 2, (2,)

    with pytest.raises(GanforgeError, match="image-to-image translator"):
        LatentSpace(Pix())
    with pytest.raises(GanforgeError, match="does not draw images"):
        LatentSpace(Points())


def test_style_based_generator_is_projected_in_w():
    from ganforge.models.stylegan import StyleGANGenerator

    torch.manual_seed(0)
    g = StyleGANGenerator((3, 16, 16), z_dim=8, w_dim=8, mapping_layers=2, channels=8, channel_base=32).eval()
    ls = LatentSpace(g)
    assert ls.space == "w" and ls.dim == 8
    w = ls.from_z(torch.randn(2, 8))
    x = ls.decode(w).detach()
    assert torch.equal(ls.decode(w), x)  # deterministic in eval mode: each layer's stored noise
    p = project(g, x, "opt", steps=40, lr=0.05, features=None)
    start = project(g, x, "opt", steps=0, features=None)  # the random starts themselves (w = mapping(z))
    assert p.space == "w" and torch.all(p.error < 0.25 * start.error)
    enc_z = type("E", (), {"config": type("C", (), {"space": "z", "dim": 8})()})()
    with pytest.raises(GanforgeError, match="predicts z codes"):
        project(g, x, "hybrid", encoder=enc_z)


def test_encoder_round_trip_through_safetensors(gen_and_encoder, tmp_path):
    g, enc, report = gen_and_encoder
    save_encoder(enc, str(tmp_path / "run" / "encoder"), report, "ckpt")
    back = load_encoder(str(tmp_path / "run"))  # a run directory is looked into for encoder/
    x = g(torch.randn(4, 8))
    assert torch.equal(back(x), enc(x))
    card = json.loads((tmp_path / "run" / "encoder" / "encoder.json").read_text())
    assert card["architecture"]["dim"] == 8 and card["training"]["steps"] == 80


# -- constraints ----------------------------------------------------------------------------------------------------
def test_edge_map_hand_value_and_constraints_zero_when_satisfied():
    step = -torch.ones(1, 1, 8, 8)
    step[..., 4:] = 1.0  # a black-to-white vertical edge between columns 3 and 4
    e = edge_map(step)[0]
    assert torch.allclose(e[:, 3:5], torch.ones(8, 2)) and torch.all(e[:, :3] == 0) and torch.all(e[:, 5:] == 0)
    img = torch.rand(2, 3, 16, 16) * 2 - 1
    mask = torch.zeros(16, 16)
    mask[3:9, 2:12] = 1
    sat = Constraints(img[0].clone(), mask, edge_map(img[:1])[0], mask.clone())
    costs = constraint_costs(img[:1], sat, torch.ones(1, 5), torch.ones(1, 5))
    assert all(v.item() == 0 for v in costs.values())
    # violated: a constant image 0 against colour 1 costs exactly 1; the smoothness term is 5·mean((z − z0)²)
    bad = constraint_costs(torch.zeros(1, 3, 16, 16), Constraints(torch.ones(3, 16, 16), mask, torch.zeros(16, 16),
                                                                  torch.zeros(16, 16)),
                           torch.zeros(1, 4), torch.full((1, 4), 2.0))
    assert bad["colour"].item() == pytest.approx(1.0) and bad["smooth"].item() == pytest.approx(20.0)
    assert bad["sketch"].item() == 0.0  # no sketch strokes, no sketch cost


def test_warp_stroke_is_satisfied_by_the_moved_content():
    torch.manual_seed(0)
    ref = nn.functional.avg_pool2d(torch.rand(1, 3, 40, 40) * 2 - 1, 5, 1)[0]  # smooth 3×36×36 -> crop 32
    ref = ref[:, :32, :32].contiguous()
    c = apply_strokes(Constraints.empty((3, 32, 32)),
                      parse_strokes([{"type": "warp", "from": [12, 14], "to": [17, 16], "radius": 4}], 32), ref)
    moved = torch.roll(ref, shifts=(2, 5), dims=(1, 2))  # content shifted by (dx, dy) = (5, 2)
    costs = constraint_costs(moved[None], c)
    assert costs["colour"].item() < 1e-10 and costs["sketch"].item() < 1e-10
    assert constraint_costs(ref[None], c)["colour"].item() > 1e-3  # unmoved content does not satisfy it
    assert int(c.colour_mask.sum()) == int(c.edge_mask.sum()) > 40  # a disc of radius 4: ~50 pixels


# -- strokes ---------------------------------------------------------------------------------------------------------
def test_stroke_frame_mapping_and_rasterisation():
    s = parse_strokes({"size": [64, 48], "strokes": [{"type": "color", "points": [[8, 24]], "width": 2,
                                                      "color": [255, 0, 0]}]}, 32)
    # 64×48 -> shorter side 48 scaled to 32 (×2/3), centre crop drops (64·2/3 − 32)/2 = 5.33 px on the left
    assert s[0]["points"][0] == pytest.approx((8 * 2 / 3 - 16 / 3, 16.0))
    c = apply_strokes(Constraints.empty((1, 32, 32)),
                      parse_strokes([{"type": "color", "points": [[4, 10], [20, 10]], "width": 3, "color": 255}], 32),
                      torch.zeros(1, 32, 32))
    assert c.colour_mask[9:12, 4:21].all() and c.colour_mask.sum() == 3 * 17 + 2 * 3  # a line + round caps
    assert torch.all(c.colour_target[0][c.colour_mask.bool()] == 1.0)


@pytest.mark.parametrize("doc, message", [
    ({"strokes": [], "colour": 1}, "unknown key(s) 'colour'"),
    ({"strokes": [{"type": "color", "points": [[1, 1]], "color": 9, "size": 2}]}, "unknown key(s) 'size'"),
    ({"strokes": [{"type": "sketch", "points": [[1, 40]]}]}, "outside the 32×32 frame"),
    ({"strokes": [{"type": "warp", "from": [-1, 3], "to": [3, 3]}]}, "outside the 32×32 frame"),
    ({"strokes": [{"type": "color", "points": [[1, 1]], "color": [300, 0, 0]}]}, "0–255"),
    ({"strokes": [{"type": "blur", "points": [[1, 1]]}]}, "needs \"type\""),
])
def test_bad_strokes_give_one_line_errors(doc, message):
    with pytest.raises(StrokeError) as e:
        parse_strokes(doc, 32)
    assert message in str(e.value) and "\n" not in str(e.value)


# -- flow transfer ---------------------------------------------------------------------------------------------------
def _blob(cx, cy, size=32):
    ys, xs = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    return (2 * torch.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / 30.0) - 1)[None, None]


def test_horn_schunck_finds_a_known_shift_and_transfer_carries_detail():
    a, b = _blob(14, 16), _blob(15, 16)  # one pixel to the right
    flow = horn_schunck(a, b, iterations=300)
    region = (a[0, 0] > -0.5)
    assert flow[0, 0][region].mean().item() == pytest.approx(1.0, abs=0.3)
    assert flow[0, 1][region].abs().mean().item() < 0.15
    assert (warp(a, flow) - b).abs().mean() < 0.5 * (a - b).abs().mean()
    detail = 0.1 * torch.sign(torch.sin(torch.arange(32.0) * 1.3))[None, None, None, :] * (a > -0.5)
    out, _ = transfer_edit(a + detail, a, b)
    want = _blob(15, 16) + torch.roll(detail, 1, dims=3)
    assert (out - want).abs().mean() < 0.6 * ((a + detail) - want).abs().mean()
    same, f0 = transfer_edit(a + detail, a, a.clone())
    assert torch.equal(same, a + detail) and not f0.any()  # no edit: the photo exactly


# -- the Neural Photo Editor rule -----------------------------------------------------------------------------------
def test_npe_output_is_exact_outside_the_smoothed_mask():
    torch.manual_seed(1)
    x = torch.rand(1, 3, 24, 24) * 2 - 1
    recon0 = x + 0.1 * torch.randn_like(x)
    recon = recon0 + 0.05 * torch.randn_like(x)  # the whole reconstruction moved a little
    painted = torch.zeros(24, 24, dtype=torch.bool)
    painted[10:13, 10:14] = True
    y, mask = npe_output(x, recon0, recon, painted, reach=2)
    outside = mask[0, 0] == 0
    assert outside.sum() > 300 and torch.equal(y[..., outside], x[..., outside])  # bit-exact
    far = ~dilate(painted, 2 + 3)  # reach + the blur's radius int(4·0.7 + 0.5) = 3
    assert torch.all(mask[0, 0][far] == 0)
    inside = mask[0, 0] > 0
    assert torch.allclose(y, x + mask * (recon - x))
    assert (y[..., inside] - x[..., inside]).abs().max() > 0
    # the official global mask: everything moves, by M·(new − photo) = recon0 + MΔ + (1 − M)(x − recon0)
    yg, mg = npe_output(x, recon0, recon, reach=None)
    assert (mg > 0).all() and torch.allclose(yg, recon0 + mg * (recon - recon0) + (1 - mg) * (x - recon0), atol=1e-6)
    blurred = gaussian_blur(torch.ones(1, 1, 9, 9))
    assert blurred[0, 0, 4, 4].item() == pytest.approx(1.0)  # a normalised kernel


# -- sessions: iGAN and NPE, per stroke --------------------------------------------------------------------------------
STROKE = [{"type": "color", "points": [[6, 8], [24, 8]], "width": 4, "color": 255}]


def test_igan_constrained_edit_meets_the_colours_and_stays_near_the_projection():
    g = tiny_g()
    ls = LatentSpace(g)
    z0 = torch.randn(1, 8, generator=torch.Generator().manual_seed(21))
    photo = g(z0)
    other = g(z0 + 0.7 * torch.randn(1, 8, generator=torch.Generator().manual_seed(1)))
    bar = torch.zeros(32, 32)
    bar[6:11, 4:26] = 1
    c = Constraints(other[0], bar, torch.zeros(32, 32), torch.zeros(32, 32))  # per-pixel colours, reachable
    before = constraint_costs(photo, c)["colour"].item()
    r = constrained_edit(ls, z0, c, steps=60, smooth_weight=0.05)
    assert r.costs["colour"] < 0.3 * before and r.costs["smooth"] > 0
    outside = bar == 0
    moved = (r.image - photo).abs()[0, 0][outside].mean()
    assert moved < (other - photo).abs()[0, 0][outside].mean()  # the rest stays closer to the projection
    official = constrained_edit(ls, z0, c, steps=60)  # smoothness 5: a smaller move, a partial match
    assert (official.latent - z0).norm() < 0.5 * (r.latent - z0).norm()
    assert (official.image - photo).abs()[0, 0][outside].mean() < 0.5 * moved
    assert r.costs["colour"] < official.costs["colour"] < before
    best = constrained_edit(ls, z0, c, steps=60, candidates=4)  # the kept candidate is the cheapest of the four
    assert best.costs["colour"] + best.costs["smooth"] <= official.costs["colour"] + official.costs["smooth"] + 1e-6


def test_igan_session_output_is_the_flow_transfer_and_undo_restores(gen_and_encoder):
    g, enc, _ = gen_and_encoder
    photo = (g(torch.randn(1, 8, generator=torch.Generator().manual_seed(21))) + 0.1).clamp(-1, 1)
    s = EditSession(g, photo, encoder=enc, project_steps=20, edit_steps=20, features=None)
    assert s.projection.method == "hybrid"
    r = s.stroke(STROKE)
    assert r.costs["colour"] < constraint_costs(s.recon0, s.constraints)["colour"].item()
    assert torch.equal(r.output, transfer_edit(s.original, s.recon0, r.generated)[0])
    assert s.painted.sum() == s.constraints.colour_mask.sum() > 0
    same = s.stroke([], steps=0)  # no new stroke and no step: nothing moves
    assert torch.equal(same.latent, r.latent) and torch.equal(same.output, r.output)
    more = s.stroke([], steps=5)  # a page refines the same constraints with a few steps per call
    assert not torch.equal(more.latent, r.latent)
    s.undo()
    assert torch.equal(s.result.latent, r.latent)
    s.undo()
    s.undo()
    assert torch.equal(s.result.output, s.original) and not s.painted.any()


def test_npe_session_changes_only_the_painted_neighbourhood(gen_and_encoder):
    g, enc, _ = gen_and_encoder
    photo = g(torch.randn(1, 8, generator=torch.Generator().manual_seed(22))) + 0.05  # off the manifold a little
    s = EditSession(g, photo.clamp(-1, 1), method="npe", encoder=enc, projector="encoder", npe_steps=15, reach=2)
    r = s.stroke(STROKE)
    far = ~dilate(s.painted, 2 + 3)
    assert far.sum() > 500 and torch.equal(r.output[..., far], s.original[..., far])
    info = s.summary()
    assert info["colour_cost_after"] < info["colour_cost_before"]
    with pytest.raises(StrokeError, match="colours only"):
        s.stroke([{"type": "sketch", "points": [[3, 3], [9, 9]]}])
    assert torch.equal(s.result.output, r.output)  # a failed stroke changes nothing


# -- command line ------------------------------------------------------------------------------------------------------
def ganforge(capsys, *args):
    """Run the CLI in this process (as `ganforge ARGS`); returns (exit code, stdout, stderr)."""
    from ganforge.cli import main

    capsys.readouterr()
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.slow  # a tiny training run and five CLI calls
def test_cli_project_and_edit_end_to_end(tmp_path, tiny, capsys):
    from ganforge.train import Trainer
    from ganforge.utils.safeio import read_tensors

    run = tmp_path / "run"
    Trainer(tiny(steps=4, threads=1), run_dir=str(run)).fit()
    code, out, err = ganforge(capsys, "train-encoder", run, "--steps", 3, "--batch-size", 4)
    assert code == 0, err
    assert (run / "encoder" / "encoder.safetensors").is_file()
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (50, 40, 3), dtype=np.uint8)).save(photos / "a.png")  # RGB, not square
    Image.fromarray(rng.integers(0, 255, (32, 32), dtype=np.uint8)).save(photos / "b.png")
    (photos / "junk.png").write_bytes(b"not an image")
    proj = tmp_path / "proj"
    code, out, err = ganforge(capsys, "project", run, "--input", photos, "--out", proj, "--steps", 3)
    assert code == 0, err
    assert "by hybrid" in out and "skipped 1" in err
    assert Image.open(proj / "a.png").size == (32, 32) and Image.open(proj / "a.png").mode == "L"
    lat = read_tensors(str(proj / "latents.safetensors"))
    assert set(lat) == {"a", "b"} and lat["a"].shape == (100,)
    report = json.loads((proj / "projection.json").read_text())
    assert report["images"]["a"]["error"] > 0
    strokes = tmp_path / "s.json"
    strokes.write_text(json.dumps({"strokes": STROKE}))
    for method in ("igan", "npe"):
        code, out, err = ganforge(capsys, "edit", run, "--input", photos / "b.png", "--strokes", strokes,
                                  "--out", tmp_path / f"{method}.png", "--method", method, "--steps", 3,
                                  "--edit-steps", 3, "--npe-steps", 2)
        assert code == 0, err
        assert "colour_cost_after" in out and (tmp_path / f"{method}-generated.png").is_file()
    before = np.asarray(Image.open(photos / "b.png"), dtype=np.int16)
    after = np.asarray(Image.open(tmp_path / "npe.png"), dtype=np.int16)
    assert (after[20:, :] == before[20:, :]).all()  # rows past the stroke (y 8 ± 2) + reach 3 + blur 3 untouched
    strokes.write_text(json.dumps({"strokes": [{"type": "color", "points": [[1, 99]], "color": 3}]}))
    code, out, err = ganforge(capsys, "edit", run, "--input", photos / "b.png", "--strokes", strokes,
                              "--out", tmp_path / "x.png")
    assert code == 2 and "outside the 32×32 frame" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    code, out, err = ganforge(capsys, "project", run, "--input", photos / "b.png", "--out", proj, "--method", "opt",
                              "--class", 3)
    assert code == 2 and "unconditional" in err and len(err.strip().splitlines()) == 1
