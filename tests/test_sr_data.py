"""Super-resolution data (ganforge.data.super_resolution): LR is PIL's bicubic downsampling of HR, crops are
where their attributes say, held-out regions never leak into train crops, bad configs are one-line DataErrors."""
import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.data import build_dataset
from ganforge.data import super_resolution as sr
from ganforge.data.shapes import ShapesConfig, build_shapes
from ganforge.errors import DataError


def pil_bicubic(hr: torch.Tensor, scale: int) -> np.ndarray:
    """PIL's BICUBIC resize (antialiased, float mode: no uint8 rounding between its two passes), rounded."""
    out = []
    for img in hr.numpy().astype(np.float32):
        h, w = img.shape[1] // scale, img.shape[2] // scale
        out.append([np.asarray(Image.fromarray(c, mode="F").resize((w, h), Image.BICUBIC)) for c in img])
    return np.clip(np.round(np.array(out)), 0, 255)


def test_lr_is_pil_bicubic_of_hr_and_batches_are_paired():
    ds = build_dataset(sr.SRPhotosConfig(n=64))
    assert np.array_equal(pil_bicubic(ds.target, 4), ds.x.numpy().astype(np.float64))
    assert ds.info.paired and ds.info.shape == (3, 8, 8) and ds.info.target_shape == (3, 32, 32)
    b = ds.get(torch.arange(8))
    assert b.x.min() >= -1 and b.x.max() <= 1 and b.target.shape == (8, 3, 32, 32)
    # x is sample i's own downsampled target (not an unrelated draw)
    assert torch.equal(b.x, sr.bicubic_down(ds.target[:8], 4).float() / 127.5 - 1)


def test_crops_come_from_their_recorded_place_and_held_out_region_never_leaks():
    cfg_train, cfg_test = sr.SRPhotosConfig(n=300), sr.SRPhotosConfig(n=300, split="test")
    train, test = build_dataset(cfg_train), build_dataset(cfg_test)
    photos = {n: sr.load_photo(p, 2) for n, p in sr.photo_paths("bundled").items()}
    for ds in (train, test):
        for i in range(0, 300, 7):
            name = ds.photo_names[int(ds.attrs["photo"][i])]
            top, left = int(ds.attrs["top"][i]), int(ds.attrs["left"][i])
            patch = photos[name][:, top:top + 32, left:left + 32]
            assert torch.equal(ds.target[i], patch.flip(-1) if ds.attrs["flipped"][i] else patch)
    assert 0 < float(train.attrs["flipped"].float().mean()) < 1
    for k, name in enumerate(train.photo_names):
        w = photos[name].shape[2]
        cut = int(round(w * 0.75))
        tr = train.attrs["photo"] == k
        te = test.attrs["photo"] == k
        assert tr.any() and te.any()
        assert int((train.attrs["left"][tr] + 32).max()) <= cut - 32  # train crops end a patch before the cut
        assert int(test.attrs["left"][te].min()) >= cut
    # no test patch equals any train patch
    flat_train = {bytes(t.numpy()) for t in train.target}
    assert not any(bytes(t.numpy()) in flat_train for t in test.target)


def test_held_out_photos_with_the_skimage_set(monkeypatch, tmp_path):
    """photos=all holds out whole photos; built here from stand-in files where scikit-image is absent."""
    fake = tmp_path / "skimage"
    (fake / "data").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in sr.SKIMAGE_PHOTOS:
        Image.fromarray(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)).save(fake / "data" / f"{name}.png")
    real_dir = sr._package_dir
    monkeypatch.setattr(sr, "_package_dir", lambda p: str(fake) if p == "skimage" else real_dir(p))
    train = build_dataset(sr.SRPhotosConfig(n=200, photos="all"))
    test = build_dataset(sr.SRPhotosConfig(n=200, photos="all", split="test"))
    used_train = {train.photo_names[i] for i in train.attrs["photo"].tolist()}
    used_test = {test.photo_names[i] for i in test.attrs["photo"].tolist()}
    assert used_test <= set(sr.HELD_OUT_PHOTOS) and len(used_test) >= 2
    assert not used_train & set(sr.HELD_OUT_PHOTOS) and len(used_train) >= 5


def test_same_seed_same_crops_other_seed_other_crops():
    a, b = (build_dataset(sr.SRPhotosConfig(n=50, seed=3)) for _ in range(2))
    c = build_dataset(sr.SRPhotosConfig(n=50, seed=4))
    assert torch.equal(a.target, b.target) and not torch.equal(a.target, c.target)


def test_sr_shapes_pairs_scenes_with_their_bicubic_lr():
    ds = build_dataset(sr.SRShapesConfig(n=20))
    scenes = build_shapes(ShapesConfig(resolution=64, n=20, min_objects=1, max_objects=3, seed=0))
    assert torch.equal(ds.target, scenes.x)
    assert np.array_equal(pil_bicubic(ds.target, 4), ds.x.numpy().astype(np.float64))
    assert ds.info.shape == (3, 16, 16) and ds.info.target_shape == (3, 64, 64) and ds.info.paired


@pytest.mark.parametrize("kwargs, match", [
    (dict(hr_size=30), "multiple of scale"),
    (dict(scale=3), "power of two"),
    (dict(split="val"), "split must be train or test"),
    (dict(hr_size=512), "does not fit"),
])
def test_bad_photo_configs_are_data_errors(kwargs, match):
    with pytest.raises(DataError, match=match):
        build_dataset(sr.SRPhotosConfig(n=4, **kwargs))


def test_missing_photos_are_data_errors(monkeypatch, tmp_path):
    real_dir = sr._package_dir
    monkeypatch.setattr(sr, "_package_dir", lambda p: "" if p == "skimage" else real_dir(p))
    with pytest.raises(DataError, match="scikit-image"):
        build_dataset(sr.SRPhotosConfig(n=4, photos="all"))
    monkeypatch.setattr(sr, "_package_dir", lambda p: str(tmp_path))
    with pytest.raises(DataError, match="photo files missing"):
        build_dataset(sr.SRPhotosConfig(n=4))
    with pytest.raises(DataError, match="resolution must be a multiple"):
        build_dataset(sr.SRShapesConfig(n=4, resolution=66))
