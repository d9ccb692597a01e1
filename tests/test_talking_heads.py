"""Few-shot talking heads (Zakharov et al., ICCV 2019): procedural data, networks, losses, meta-learning,
fine-tuning and the `ganforge talking-head` command."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from ganforge.cli import main
from ganforge.config import load_config
from ganforge.data import build_dataset
from ganforge.data.talking_heads import (PARTS, TalkingHeadsConfig, identity_params, make_videos,
                                         rasterize_landmarks, write_folder)
from ganforge.methods import build_method
from ganforge.methods.talking_head import (VideoIndex, adversarial_loss, content_loss, feature_matching_loss,
                                           hinge_d_loss, match_loss, personal_models)
from ganforge.models.talking_head import AdaIN, AdaBlock

TINY = ["data.resolution=16", "data.identities=6", "data.frames=6", "generator.channels=8",
        "generator.embedder_channels=8", "generator.embed_dim=16", "discriminator.channels=8",
        "discriminator.embed_dim=16", "method.shots=3", "method.feature_net=none", "train.batch_size=4",
        "train.threads=1", "train.progress=false", "train.n_samples=6"]


def tiny_method(extra=()):
    cfg = load_config("talking-heads", TINY + list(extra))
    ds = build_dataset(cfg.data)
    torch.manual_seed(0)
    return cfg, ds, build_method(cfg, ds.info)


# -------------------------------------------------------------------------------------------- data


def test_renderer_is_deterministic_and_splits_are_disjoint():
    a = make_videos(TalkingHeadsConfig(identities=3, frames=4, resolution=32, seed=5))
    b = make_videos(TalkingHeadsConfig(identities=3, frames=4, resolution=32, seed=5))
    assert torch.equal(a.x, b.x) and torch.equal(a.target, b.target) and torch.equal(a.attrs["points"],
                                                                                      b.attrs["points"])
    c = make_videos(TalkingHeadsConfig(identities=3, frames=4, resolution=32, seed=6))
    assert not torch.equal(a.x, c.x)
    tr, te = identity_params(0, "train", 50), identity_params(0, "test", 50)
    # no test identity repeats a meta-training one (continuous parameters: any shared draw would be equal)
    assert not np.isin(te["face_w"].numpy(), tr["face_w"].numpy()).any()
    # a video is a smooth trajectory: consecutive landmarks move far less than the face size
    step = (a.attrs["points"][1:4] - a.attrs["points"][0:3]).norm(dim=-1).mean()
    assert float(step) < 3.0
    assert a.info.num_classes == 3 and a.y.tolist() == [0] * 4 + [1] * 4 + [2] * 4


def test_landmarks_align_with_the_rendered_face():
    ds = make_videos(TalkingHeadsConfig(identities=6, frames=4, resolution=64, seed=1))
    idp = identity_params(1, "train", 6)
    x, pts = ds.x.float() / 255, ds.attrs["points"]
    skin = idp["skin"][ds.attrs["identity"]]
    def colour_at(p):
        i = p.round().long().clamp(0, 63)
        return x[torch.arange(len(x)), :, i[:, 1], i[:, 0]]
    eye = pts[:, 36:42].mean(1)  # the left eye's centre: white / iris / pupil, never skin
    cheek = 0.5 * (pts[:, 36:42].mean(1) + pts[:, 3])  # half-way eye → jaw point 3: skin
    far = (colour_at(eye) - skin).norm(dim=1)
    near = (colour_at(cheek) - skin).norm(dim=1)
    open_eye = (pts[:, 40:42, 1].mean(1) - pts[:, 37:39, 1].mean(1)) > 1.5  # not mid-blink
    assert int(open_eye.sum()) >= 8
    assert float(near.max()) < 0.1 < float(far[open_eye].min())
    # the rasterised landmarks are drawn exactly where the points are, in the part's colour, and nowhere far away
    lm = rasterize_landmarks(pts[:2] / 2, 32).float() / 255
    for first, last, _, rgb in PARTS[:1]:
        p = (pts[0, first : last + 1] / 2).floor().long()
        drawn = lm[0, :, p[:, 1], p[:, 0]]
        assert float((drawn - torch.tensor(rgb)[:, None] / 255).abs().max()) < 0.35
    assert float(lm[0, :, :3, :3].abs().max()) == 0.0  # the corner holds no landmark


def test_video_index_draws_other_frames_of_the_same_video():
    ds = make_videos(TalkingHeadsConfig(identities=3, frames=5, resolution=16))
    index = VideoIndex(ds)
    video, frame = torch.tensor([0, 1, 2, 2]), torch.tensor([0, 4, 2, 3])
    idx = index.others(video, frame, torch.rand(4, 50))
    assert torch.equal(ds.y[idx], video[:, None].expand(-1, 50))  # same video
    assert not (ds.attrs["frame"][idx] == frame[:, None]).any()  # never the target frame
    assert set(ds.attrs["frame"][idx[0]].tolist()) == {1, 2, 3, 4}  # all the others


# -------------------------------------------------------------------------------------------- networks


def test_embedding_is_the_mean_over_the_k_frames():
    _, ds, m = tiny_method()
    e = m.embedder.eval()
    frames, lm = ds.get(torch.arange(6)).x, ds.get(torch.arange(6)).target
    each = e(frames, lm)
    avg = e.average(frames.view(2, 3, 3, 16, 16), lm.view(2, 3, 3, 16, 16))
    assert torch.allclose(avg, each.view(2, 3, -1).mean(1), atol=1e-5)
    assert torch.allclose(e.average(frames[:1, None].expand(-1, 4, -1, -1, -1), lm[:1, None].expand(-1, 4, -1, -1,
                                                                                                    -1)),
                          each[:1], atol=1e-5)  # K copies of one frame embed as that frame


def test_adain_parameters_are_projected_from_the_embedding():
    _, ds, m = tiny_method()
    g = m.generator.eval()
    n_adain = sum(mod.channels for mod in g.modules() if isinstance(mod, AdaIN))
    assert g.n_psi == 2 * n_adain and g.project.weight.shape == (g.n_psi, 16)
    e = torch.randn(2, 16)
    lm = ds.get(torch.arange(2)).target
    assert torch.allclose(g(lm, e), g(lm, psi=e @ g.project.weight.T), atol=1e-6)  # ψ = P·ê
    # AdaIN: per-channel mean β and standard deviation 1 + γ
    h = torch.randn(2, 4, 8, 8) * 3 + 1
    gamma, beta = torch.tensor([[0.5, -0.5, 0.0, 1.0]] * 2), torch.tensor([[1.0, 2.0, -1.0, 0.0]] * 2)
    out = AdaIN(4)(h, torch.cat([gamma, beta], 1))
    assert torch.allclose(out.mean((2, 3)), beta, atol=1e-4)
    assert torch.allclose(out.var((2, 3), unbiased=False).sqrt(), (1 + gamma).abs(), atol=1e-3)
    # each block reads its own slice of ψ: changing the last block's slice leaves the earlier ones' inputs alone
    blocks = [b for b in g.modules() if isinstance(b, AdaBlock)]
    assert sum(b.n_params for b in blocks) + 2 * g.out_norm.channels == g.n_psi


def test_fine_tuning_initialises_w_and_psi_from_the_embedding():
    _, ds, m = tiny_method()
    frames, lm = ds.get(torch.arange(4)).x, ds.get(torch.arange(4)).target
    with torch.no_grad():
        m.discriminator.w0.normal_()
    head, d_prime, w = personal_models(m.embedder, m.generator, m.discriminator, frames, lm)
    m.embedder.eval()
    e_new = m.embedder(frames, lm).mean(0)
    assert torch.allclose(w, m.discriminator.w0 + e_new, atol=1e-5)  # w' = w0 + ê_NEW
    assert torch.allclose(head.psi[0], m.generator.project(e_new), atol=1e-5)  # ψ' = P ê_NEW
    with torch.no_grad():  # the feed-forward model is G(y, P ê)
        m.generator.eval(), head.eval()
        assert torch.allclose(head(lm), m.generator(lm, e_new[None].expand(4, -1)), atol=1e-5)
        d_prime.eval(), m.discriminator.eval()
        v, _ = m.discriminator.features(frames, lm)
        assert torch.allclose(d_prime(frames, lm, w=w)[0], v @ w + m.discriminator.b, atol=1e-4)


# -------------------------------------------------------------------------------------------- losses


def test_losses_against_hand_computed_values():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.5])
    assert float(hinge_d_loss(real, fake)) == pytest.approx((0 + 0.5) / 2 + (0 + 1.5) / 2)
    f1 = [torch.tensor([1.0, 3.0]), torch.tensor([[0.0, 2.0]])]
    r1 = [torch.tensor([2.0, 1.0]), torch.tensor([[1.0, 2.0]])]
    assert float(feature_matching_loss(f1, r1)) == pytest.approx((1 + 2) / 2 + (1 + 0) / 2)
    assert float(adversarial_loss(torch.tensor([1.0, 3.0]), f1, r1, 10.0)) == pytest.approx(-2.0 + 10 * 2.0)
    W, e = torch.tensor([[1.0, -1.0]]), torch.tensor([[0.5, 1.0]])
    assert float(match_loss(W, e, 80.0)) == pytest.approx(80 * (0.5 + 2.0) / 2)
    x, y = torch.zeros(1, 3, 2, 2), torch.full((1, 3, 2, 2), 0.25)

    class Net(torch.nn.Module):  # features: the images themselves and their doubles, weights 1 and 0.5
        weights = (1.0, 0.5)

        def forward(self, t):
            return [t, 2 * t]

    assert float(content_loss(y, x, None, 10.0, 1.0)) == pytest.approx(2.5)
    assert float(content_loss(y, x, Net(), 10.0, 2.0)) == pytest.approx(2.5 + 2 * (0.25 + 0.5 * 0.5))


# -------------------------------------------------------------------------------------------- end to end


def _person(tmp_path, n=6, name="person"):
    ds = make_videos(TalkingHeadsConfig(identities=2, frames=n, resolution=16, split="test"))
    write_folder(str(tmp_path / name), ds.x[:n], ds.attrs["points"][:n])
    write_folder(str(tmp_path / "drive"), ds.x[n:], ds.attrs["points"][n:])
    return ds


@pytest.mark.slow
def test_meta_train_fine_tune_and_animate_end_to_end(tmp_path, capsys):
    from PIL import Image

    from ganforge.talking_head_api import load_talking_head

    run = str(tmp_path / "run")
    assert main(["train", "talking-heads", "--out", run, *TINY, "train.steps=3", "train.checkpoint_every=3",
                 "train.sample_every=3", "method.finetune_steps=3"]) == 0
    ds = _person(tmp_path)
    capsys.readouterr()
    gif = str(tmp_path / "out.gif")
    assert main(["talking-head", run, "--frames", str(tmp_path / "person"), "--drive", str(tmp_path / "drive"),
                 "--shots", "3", "--finetune-steps", "2", "--out", gif]) == 0
    assert capsys.readouterr().out.strip().endswith("(6 frames)")
    with Image.open(gif) as im:
        assert im.n_frames == 6
    # fine-tuning fits the person: the K frames are reproduced better than by the feed-forward model
    model = load_talking_head(run)
    x, lm = ds.x[:4].float() / 127.5 - 1, ds.target[:4].float() / 127.5 - 1
    ff = (model.animate(model.feed_forward(x, lm), lm) - x).abs().mean()
    ft = (model.animate(model.fine_tune(x, lm, steps=25), lm) - x).abs().mean()
    assert float(ft) < 0.9 * float(ff)  # measured: 0.51 vs 0.59
    # `ganforge eval`: the few-shot protocol on an unseen person (n 16 = one person's 16 held-out poses),
    # recorded in metrics.jsonl and reproducible from the API
    from ganforge.talking_head_api import evaluate_few_shot

    assert main(["eval", run, "--n", "16"]) == 0
    rec = [json.loads(line) for line in open(os.path.join(run, "metrics.jsonl"))][-1]
    again = evaluate_few_shot(load_talking_head(run), people=1, shots=8)
    assert -1 <= rec["eval/csim"] <= 1 and rec["eval/csim"] == pytest.approx(again["csim"], abs=1e-6)
    assert rec["eval/landmark_error_px"] == pytest.approx(again["landmark_error_px"], abs=1e-4)


def test_bad_input_gives_one_line_errors(tmp_path, capsys):
    run = str(tmp_path / "run")
    assert main(["train", "talking-heads", "--out", run, *TINY, "train.steps=1", "train.checkpoint_every=1",
                 "train.sample_every=1"]) == 0
    _person(tmp_path, n=4)
    person, drive = tmp_path / "person", str(tmp_path / "drive")

    def error(frames, shots=2):
        capsys.readouterr()
        assert main(["talking-head", run, "--frames", str(frames), "--drive", drive, "--shots", str(shots),
                     "--finetune-steps", "0", "--out", str(tmp_path / "o.gif")]) != 0
        err = capsys.readouterr().err.strip()
        assert "Traceback" not in err and len(err.splitlines()) == 1
        return err

    capsys.readouterr()
    assert main(["sample", run, "--out", str(tmp_path / "s.png")]) != 0  # no z to sample from
    assert "talking-head" in capsys.readouterr().err
    assert "more than the 4 frames" in error(person, shots=5)  # K larger than the frames given
    os.remove(person / "frame_0001.txt")  # a frame without landmarks
    assert "no landmark file" in error(person)
    (person / "extra.txt").write_text("1 2\n")  # counts no longer pair up / a malformed landmark file
    assert "landmark" in error(person)
    other = tmp_path / "sizes"
    ds = make_videos(TalkingHeadsConfig(identities=1, frames=2, resolution=16))
    write_folder(str(other), ds.x, ds.attrs["points"])
    from PIL import Image

    Image.new("RGB", (20, 16)).save(other / "frame_0001.png")  # not square
    assert "square" in error(other)


def test_scores_and_the_shipped_evaluator():
    from ganforge.metrics.talking_heads import csim, landmark_error, load_evaluator, score_frames

    a = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    assert torch.allclose(csim(a, torch.tensor([[2.0, 0.0], [1.0, -1.0]])), torch.tensor([1.0, 0.0]))
    p = torch.zeros(1, 68, 2)
    assert float(landmark_error(p + torch.tensor([3.0, 4.0]), p)) == pytest.approx(5.0)
    ident, lmk, card = load_evaluator()
    assert card["held_out_identity_accuracy"] > 0.9
    ds = make_videos(TalkingHeadsConfig(identities=4, frames=4, split="test", seed=3))  # unseen people
    x = ds.x.float() / 127.5 - 1
    same = score_frames(x[0:4], x[[1, 2, 3, 0]], ds.attrs["points"][0:4], (ident, lmk, card))
    other = score_frames(x[0:4], x[4:8], ds.attrs["points"][0:4], (ident, lmk, card))
    assert same["csim"] > other["csim"] + 0.2  # the identity network tells people apart
    assert same["landmark_error_px"] < 1.5  # real frames: the regressor finds the renderer's landmarks
