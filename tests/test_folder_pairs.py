"""Users' two-domain folders (ganforge.data.folder_pairs): the official pix2pix / CycleGAN layouts and bad input."""
import os

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.data.folder_pairs import FolderPairsConfig, build_folder_pairs
from ganforge.errors import DataError


def _save(path, arr):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(np.asarray(arr, dtype=np.uint8)).save(path)


def _solid(h, w, rgb):
    return np.broadcast_to(np.array(rgb, dtype=np.uint8), (h, w, 3)).copy()


def test_ab_images_split_into_left_a_and_right_b(tmp_path):
    for i in range(3):
        _save(tmp_path / f"{i}.png", np.concatenate([_solid(8, 8, (10 * i, 0, 0)), _solid(8, 8, (0, 0, 200))], 1))
    data = build_folder_pairs(FolderPairsConfig(path=str(tmp_path), resolution=8))
    b = data.get(torch.arange(3))
    assert data.info.paired and data.info.target_shape == (3, 8, 8)
    assert torch.allclose((b.x[:, 0, 0, 0] + 1) * 127.5, torch.tensor([0.0, 10.0, 20.0]))  # A = left halves
    assert torch.allclose((b.target[:, 2] + 1) * 127.5, torch.full((3, 8, 8), 200.0))  # B = right halves


def test_an_ab_image_with_an_odd_width_is_named(tmp_path):
    _save(tmp_path / "ok.png", _solid(8, 16, (1, 2, 3)))
    _save(tmp_path / "bad.png", _solid(8, 15, (1, 2, 3)))
    with pytest.raises(DataError, match="bad.png is 15 pixels wide"):
        build_folder_pairs(FolderPairsConfig(path=str(tmp_path), resolution=8))


def test_split_layout_pairs_by_file_name(tmp_path):
    for name, v in (("b", 50), ("a", 100)):
        _save(tmp_path / "trainA" / f"{name}.png", _solid(8, 8, (v, v, v)))
        _save(tmp_path / "trainB" / f"{name}.jpg", _solid(8, 8, (v, 0, 0)))
    data = build_folder_pairs(FolderPairsConfig(path=str(tmp_path), resolution=8))
    b = data.get(torch.arange(2))
    assert len(build_folder_pairs(FolderPairsConfig(path=str(tmp_path), resolution=8, n=1))) == 1
    # the same stem on both sides is one pair, whatever the listing order or extension
    assert torch.allclose(b.x[:, 0, 0, 0], b.target[:, 0, 0, 0], atol=0.05)


@pytest.mark.parametrize("case, message", [
    ("missing_b", "trainB is missing"), ("unmatched", "have no partner, e.g. c"), ("sizes", "the pair a has A 8×8 but B 10×10"),
])
def test_split_layout_errors_name_what_is_wrong(tmp_path, case, message):
    _save(tmp_path / "trainA" / "a.png", _solid(8, 8, (1, 1, 1)))
    if case != "missing_b":
        _save(tmp_path / "trainB" / "a.png", _solid(10, 10, (1, 1, 1)) if case == "sizes" else _solid(8, 8, (1, 1, 1)))
    if case == "unmatched":
        _save(tmp_path / "trainA" / "c.png", _solid(8, 8, (1, 1, 1)))
    with pytest.raises(DataError, match=message):
        build_folder_pairs(FolderPairsConfig(path=str(tmp_path), resolution=8))


def test_unpaired_split_takes_any_counts_and_covers_every_b(tmp_path):
    for i in range(5):
        _save(tmp_path / "trainA" / f"a{i}.png", _solid(12, 16, (i, i, i)))  # mixed sizes: resized by the rule
    for i in range(2):
        _save(tmp_path / "trainB" / f"b{i}.png", _solid(9, 9, (0, 0, 0)))
    data = build_folder_pairs(FolderPairsConfig(path=str(tmp_path), resolution=8, paired=False))
    assert not data.info.paired and len(data) == 5 and data.x.shape[-2:] == (8, 8)
    assert set(data.target_index.tolist()) == {0, 1}


def test_mixed_grey_and_colour_is_an_error_unless_channels_are_set(tmp_path):
    _save(tmp_path / "trainA" / "a.png", _solid(8, 8, (1, 2, 3)))
    _save(tmp_path / "trainA" / "b.png", np.zeros((8, 8)))
    for n in ("a", "b"):
        _save(tmp_path / "trainB" / f"{n}.png", _solid(8, 8, (1, 2, 3)))
    with pytest.raises(DataError, match="b.png is a grey image among colour ones"):
        build_folder_pairs(FolderPairsConfig(path=str(tmp_path), resolution=8))
    data = build_folder_pairs(FolderPairsConfig(path=str(tmp_path), resolution=8, channels=3))
    assert data.x.shape[1] == 3 and len(data) == 2


def test_unreadable_files_are_skipped_and_counted(tmp_path, caplog):
    for i in range(3):
        _save(tmp_path / "trainA" / f"a{i}.png", _solid(8, 8, (1, 2, 3)))
    _save(tmp_path / "trainB" / "b0.png", _solid(8, 8, (1, 2, 3)))
    (tmp_path / "trainA" / "broken.png").write_bytes(b"not a png")
    data = build_folder_pairs(FolderPairsConfig(path=str(tmp_path), resolution=8, paired=False))
    assert len(data) == 3
    assert "skipped 1 of 4 files" in caplog.text
