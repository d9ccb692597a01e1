"""Users' own data under session 22's second audit: long and damaged audio, FLAC names, npz files that are not
archives / hold empty, non-square or absurdly labelled images, a decompression bomb among image pairs, landmarks
far outside their frame, a switch of data.name that must not carry the preset's n, and the Python API's own
argument checks."""
import os

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.audio.wav import AudioSkip, read_note, resample, write_wav
from ganforge.config import load_config
from ganforge.errors import ConfigError, DataError


def _tone(seconds, sr, f=261.6):
    t = np.arange(int(seconds * sr)) / sr
    return 0.5 * np.sin(2 * np.pi * f * t)


def test_a_long_file_is_read_as_its_first_note_without_resampling_all_of_it(tmp_path, monkeypatch):
    long = _tone(30, 44100)
    write_wav(str(tmp_path / "long.wav"), long, 44100)
    write_wav(str(tmp_path / "head.wav"), long[: 44100], 44100)
    import ganforge.audio.wav as wav

    sizes = []
    monkeypatch.setattr(wav, "resample", lambda x, a, b: sizes.append(len(x)) or resample(x, a, b))
    a = read_note(str(tmp_path / "long.wav"), 16000, 4096, 0.1)
    b = read_note(str(tmp_path / "head.wav"), 16000, 4096, 0.1)
    assert np.array_equal(a, b)  # the same note: only the first 0.26 s count
    assert max(sizes) < 44100 // 2  # and only about that much was resampled, not 30 s


def test_non_finite_samples_and_absurd_rates_skip_the_file(tmp_path):
    sf = pytest.importorskip("soundfile")
    x = _tone(0.5, 16000)
    x[5] = np.nan
    sf.write(str(tmp_path / "nan.wav"), x, 16000, subtype="FLOAT")
    with pytest.raises(AudioSkip, match="non-finite"):
        read_note(str(tmp_path / "nan.wav"), 16000, 4096, 0.1)
    write_wav(str(tmp_path / "slow.wav"), _tone(0.5, 16000), 16000)
    raw = bytearray(open(tmp_path / "slow.wav", "rb").read())
    raw[24:28] = (7).to_bytes(4, "little")  # the header's sample rate: 7 Hz
    open(tmp_path / "slow.wav", "wb").write(bytes(raw))
    with pytest.raises(AudioSkip, match="not an audio rate"):
        read_note(str(tmp_path / "slow.wav"), 16000, 4096, 0.1)


def test_flac_names_carry_pitch_like_wav_names():
    from ganforge.data.audio import NSYNTH_NAME

    assert NSYNTH_NAME.search("keyboard_acoustic_000-060-100.flac").group(1) == "060"
    assert NSYNTH_NAME.search("a-061-100.WAV").group(1) == "061"


@pytest.mark.parametrize("make, words", [
    (lambda p: np.save(p, np.zeros((20, 32, 32, 3), np.uint8)), "not a .npz archive"),
    (lambda p: np.savez(p, x=np.zeros((10, 0, 0), np.uint8)), "hold no pixels"),
    (lambda p: np.savez(p, x=np.zeros((20, 16, 48), np.uint8)), "set data.resolution"),
    (lambda p: np.savez(p, x=np.zeros((20, 32, 32, 3), np.uint8), y=np.array([0] * 19 + [10**9])), "0..K-1"),
])
def test_npz_files_that_cannot_be_a_dataset_are_one_data_error(tmp_path, make, words):
    from ganforge.data.folder import NpzConfig, build_npz

    path = str(tmp_path / "d.npz")
    make(path)
    if os.path.exists(path + ".npy"):
        os.rename(path + ".npy", path)
    assert os.path.exists(path)
    with pytest.raises(DataError, match=words):
        build_npz(NpzConfig(path=path, resolution=0, label_key="y"))


def test_a_decompression_bomb_among_image_pairs_is_skipped(tmp_path):
    from ganforge.data.folder_pairs import FolderPairsConfig, build_folder_pairs

    rng = np.random.default_rng(0)
    for side in "AB":
        os.makedirs(tmp_path / f"train{side}")
        for i in range(4):
            Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(tmp_path / f"train{side}/{i}.png")
    Image.new("L", (10_000, 10_000)).save(tmp_path / "trainA" / "9.png")  # 100 M pixels, a few KB
    ds = build_folder_pairs(FolderPairsConfig(path=str(tmp_path), paired=False, resolution=32, channels=3))
    assert len(ds) >= 4


def test_landmarks_far_outside_the_frame_are_a_data_error(tmp_path):
    from ganforge.data.talking_heads import read_frames

    pts = np.tile(np.linspace(4, 28, 68)[:, None], (1, 2))
    for i in range(2):
        Image.new("RGB", (32, 32)).save(tmp_path / f"f{i}.png")
        np.savetxt(tmp_path / f"f{i}.txt", pts)
    x, p = read_frames(str(tmp_path), 32)
    assert p.shape == (2, 68, 2)
    pts[5] = [1e7, 1e7]
    np.savetxt(tmp_path / "f1.txt", pts)
    with pytest.raises(DataError, match="frame 1 lie far outside"):
        read_frames(str(tmp_path), 32)


def test_switching_data_name_never_carries_the_presets_sample_count():
    c = load_config("cyclegan-digits", ["data.name=folder-pairs", "data.path=/somewhere"])
    assert c.data.n == 0  # every pair the folder holds, not the preset's generated count
    c = load_config("gansynth-notes", ["data.name=audio-folder", "data.path=/somewhere"])
    assert c.data.sample_rate == load_config("gansynth-notes").data.sample_rate  # shared settings are kept
    c = load_config("cyclegan-digits", ["data.name=folder-pairs", "data.path=/somewhere", "data.n=7"])
    assert c.data.n == 7  # what the user asks for stays


def test_the_python_api_checks_its_arguments(tmp_path):
    from ganforge import api

    run = str(tmp_path / "run")
    api.train("gan-ring8", ["train.steps=2", "train.progress=false", "train.eval_every=0", "train.batch_size=8",
                            "generator.hidden=8", "discriminator.hidden=8"], run_dir=run)
    g = api.load(run)
    for bad in (0, -1, 2.5, "4", True):
        with pytest.raises(ConfigError, match="n must be a whole number"):
            g.sample(bad)
    with pytest.raises(ConfigError, match="seed must be"):
        g.sample(2, seed=1.5)
    with pytest.raises(ConfigError, match="unconditional"):
        g.sample(2, y=[1, 2])
    with pytest.raises(ConfigError, match="latent codes must be"):
        g.generate(torch.zeros(3, g.z_dim + 1))
    assert torch.equal(g.sample(np.int64(3), seed=np.int64(4)), g.sample(3, seed=4))
    with pytest.raises(ConfigError, match="no metric named"):
        api.evaluate(run, metrics=[], n=10, record=False)
