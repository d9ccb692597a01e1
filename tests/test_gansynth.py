"""GANSynth and the WaveGAN baseline: networks on rectangular spectrograms, the pitch histogram, the AC pitch loss,
resume == uninterrupted through a fade, `ganforge synth` / `eval` end to end, bad input."""
import os

import pytest
import torch

from ganforge import api
from ganforge.cli import main
from ganforge.config import load_config
from ganforge.data.base import DataInfo
from ganforge.errors import ConfigError
from ganforge.models.gansynth import GANSynthDiscriminator, GANSynthGenerator
from ganforge.train import Trainer

TINY = ["data.n=50", "generator.channels=8", "generator.channel_base=64", "discriminator.channels=8",
        "discriminator.channel_base=64", "train.batch_size=8", "train.progress=false", "train.threads=1",
        "train.log_every=1", "train.n_samples=4", "method.progressive=true", "method.stabilize=16",
        "method.fade=16", "method.aux_fake_class=false"]  # the paper's pitch head


def _cfg(steps, *extra, preset="gansynth-notes"):
    return load_config(preset, TINY + [f"train.steps={steps}", "train.checkpoint_every=3", "train.sample_every=3",
                                       *extra])


def test_generator_grows_a_rectangular_spectrogram_and_takes_the_pitch():
    g = GANSynthGenerator((2, 64, 128), 25, 16, 8, 64)
    d = GANSynthDiscriminator((2, 64, 128), 25, 8, 64)
    z = torch.randn(3, 16)
    y = torch.tensor([0, 5, 24])
    for level, size in ((0, (2, 4)), (2, (8, 16)), (5, (64, 128))):
        g.set_level(level)
        d.set_level(level)
        x = g(z, y)
        assert x.shape == (3, 2, 64, 128) and x.abs().max() <= 1  # tanh output, always at full size
        # below the top level the output is constant over blocks of 64/size[0] × 128/size[1] pixels
        block = x[:, :, : 64 // size[0], : 128 // size[1]]
        assert torch.allclose(block, block[:, :, :1, :1].expand_as(block))
        score, feats = d.forward_with_features(x)
        assert score.shape == (3,) and d.classify(feats).shape == (3, 25)
    # the pitch one-hot changes the note; the same (z, pitch) gives the same note
    assert not torch.allclose(g(z, y), g(z, torch.tensor([1, 6, 23])))
    assert torch.equal(g(z, y), g(z, y))


def test_preset_pitch_moves_the_note_as_much_as_the_latent():
    """The fix of the pitch-blind generator: with the one-hot at value 1 beside a pixel-normalised z (norm √128),
    changing the pitch moved G's output about a third as much as changing z, and the equalised-lr input layer
    (Adam steps of ~lr on weights scaled by gain/√fan_in) needed thousands of steps to amplify it — D learnt to
    read pitch but G's pitch loss stayed above log 25. The preset scales the one-hot to √z_dim: at
    initialisation a pitch change (an octave) moves the note about as much as a new latent."""
    from ganforge.data import build_dataset
    from ganforge.models import build_generator

    cfg = load_config("gansynth-notes", ["data.n=25"])
    info = build_dataset(cfg.data).info
    ratios = {}
    for scale in (1.0, cfg.generator.onehot_scale):
        torch.manual_seed(0)
        cfg.generator.onehot_scale = scale
        g = build_generator(cfg.generator, info)
        z1, z2 = torch.randn(32, g.z_dim), torch.randn(32, g.z_dim)
        y1 = torch.randint(0, 25, (32,))
        y2 = (y1 + 12) % 25
        with torch.no_grad():
            dist = lambda a, b: float((a - b).flatten(1).norm(dim=1).mean())  # noqa: E731
            ratios[scale] = dist(g(z1, y1), g(z1, y2)) / dist(g(z1, y1), g(z2, y1))
    assert ratios[1.0] < 0.5 < 0.8 < ratios[cfg.generator.onehot_scale]
    assert cfg.generator.onehot_scale == pytest.approx(128 ** 0.5, rel=1e-3)


def test_fake_pitches_follow_the_data_histogram():
    cfg = load_config("gansynth-notes", TINY)
    info = DataInfo((2, 64, 128), 3, audio=(("pitch_counts", (1, 0, 3)),))
    from ganforge.methods.gansynth import GANSynth

    m = GANSynth(cfg.method, GANSynthGenerator((2, 64, 128), 3, 16, 8, 64),
                 GANSynthDiscriminator((2, 64, 128), 3, 8, 64), [1, 0, 3])
    y = m.fake_labels(4000)
    counts = torch.bincount(y, minlength=3).double() / 4000
    assert counts[1] == 0 and abs(counts[0] - 0.25) < 0.03 and abs(counts[2] - 0.75) < 0.03
    with pytest.raises(ConfigError, match="histogram"):
        GANSynth(cfg.method, m.generator, m.discriminator, [1, 2])
    assert info.is_audio


def test_pitch_loss_weight_ten_is_the_aux_term():
    """D's loss = WGAN + GP + drift + 10·CE(pitch head on reals): with the pitch weight doubled, D's loss grows
    by exactly the cross-entropy term ×10."""
    torch.manual_seed(0)
    from ganforge.methods.gansynth import GANSynth
    from ganforge.data import build_dataset

    cfg = load_config("gansynth-notes", TINY)
    ds = build_dataset(cfg.data)
    g = GANSynthGenerator(ds.info.shape, 25, 16, 8, 64)
    d = GANSynthDiscriminator(ds.info.shape, 25, 8, 64)
    m = GANSynth(cfg.method, g, d)
    real, y = ds.x[:8], ds.y[:8]
    fake = g(torch.randn(8, 16), y)
    base, _ = m.d_objective(real, y, fake, y)
    ce = torch.nn.functional.cross_entropy(d.classify(d.forward_with_features(real)[1]), y)
    m.cfg.aux_weight_d = 20.0
    doubled, _ = m.d_objective(real, y, fake, y)
    assert float((doubled - base).detach()) == pytest.approx(10 * float(ce.detach()), rel=1e-4)
    assert cfg.method.aux_weight_g == 10.0 and cfg.method.lr_g == 8e-4 and tuple(cfg.method.betas) == (0.0, 0.99)


def test_resume_through_a_fade_equals_uninterrupted(tmp_path):
    straight = Trainer(_cfg(6), run_dir=str(tmp_path / "a"))
    straight.fit()
    Trainer(_cfg(3), run_dir=str(tmp_path / "b")).fit()
    resumed = Trainer(_cfg(6), run_dir=str(tmp_path / "b"), resume=True)
    resumed.fit()
    assert 0 < straight.method.level() < 3  # 6 steps × 8 notes: into the second fade
    for (k, a), b in zip(straight.method.generator.state_dict().items(), resumed.method.generator.state_dict().values()):
        if isinstance(a, torch.Tensor):
            assert torch.equal(a, b), k
    assert straight.method.images == resumed.method.images == 48


def test_cli_train_resume_synth_interpolate_and_eval(tmp_path, capsys):
    run = str(tmp_path / "run")
    assert main(["train", "gansynth-notes", "--out", run, *TINY, "train.steps=3", "train.checkpoint_every=3"]) == 0
    assert main(["train", "--resume", run, "train.steps=5"]) == 0
    assert os.path.isfile(os.path.join(run, "samples", "latest.png"))
    capsys.readouterr()
    out = str(tmp_path / "notes")
    assert main(["synth", run, "--pitch", "60", "--n", "3", "--out", out, "--seed", "1"]) == 0
    wavs = sorted(f for f in os.listdir(out) if f.endswith(".wav"))
    assert wavs == ["note-060-000.wav", "note-060-001.wav", "note-060-002.wav"]
    from ganforge.audio.wav import read_wav

    x, sr = read_wav(os.path.join(out, wavs[0]))
    assert sr == 8000 and x.shape == (4096, 1)
    assert main(["synth", run, "--pitch", "60", "--n", "4", "--out", out, "--interpolate"]) == 0
    from ganforge.cli_audio import synth_notes

    model = api.load(run)
    ends, _ = synth_notes(model, 60, 2, 0)  # latents of seeds 0 and 1 ...
    path, _ = synth_notes(model, 60, 4, 0, interpolate=True)  # ... are the two ends of the path
    assert torch.allclose(path[0], ends[0], atol=1e-5)
    assert main(["sample", run, "--n", "2", "--out", str(tmp_path / "s.png")]) == 0  # WAVs + picture
    assert os.path.isfile(tmp_path / "s-001.wav") and os.path.isfile(tmp_path / "s.png")
    capsys.readouterr()
    assert main(["eval", run, "--n", "20", "--metrics", "pa,pe,ndb"]) == 0
    text = capsys.readouterr().out
    assert "pa" in text and "ndb" in text


def test_bad_pitch_and_non_audio_run_are_one_line_errors(tmp_path, capsys):
    run = str(tmp_path / "run")
    assert main(["train", "gansynth-notes", "--out", run, *TINY, "train.steps=1"]) == 0
    capsys.readouterr()
    assert main(["synth", run, "--pitch", "90"]) == 2
    err = capsys.readouterr().err
    assert "outside this run's pitches 48–72" in err and err.count("\n") == 1
    assert main(["train", "gansynth-notes", "--out", str(tmp_path / "x"), *TINY, "data.representation=wave",
                 "train.steps=1"]) == 2
    assert "need spectrogram notes" in capsys.readouterr().err


def test_wavegan_baseline_trains_evaluates_during_training_and_synthesises(tmp_path):
    run = str(tmp_path / "w")
    tiny = ["data.n=50", "generator.channels=16", "discriminator.channels=16", "train.batch_size=8",
            "train.progress=false", "train.threads=1", "train.steps=2", "train.n_samples=4", "train.eval_every=2",
            "train.eval_n=20", "train.eval_metrics=pa,ndb"]
    assert main(["train", "wavegan-notes", "--out", run, *tiny]) == 0
    import json

    scores = [json.loads(line) for line in open(os.path.join(run, "metrics.jsonl")) if "eval/pa" in line]
    assert len(scores) == 1 and 0 <= scores[0]["eval/pa"] <= 1 and scores[0]["eval_protocol"]["n_fake"] == 20
    assert main(["train", "wavegan-notes", "--out", str(tmp_path / "bad"), *tiny[:-1], "train.eval_metrics=pq"]) == 2
    from ganforge.cli_audio import synth_notes

    waves, _ = synth_notes(api.load(run), 50, 2, 0)
    assert waves.shape == (2, 4096) and waves.abs().max() <= 1
