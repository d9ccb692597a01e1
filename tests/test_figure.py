"""Labelled grids (utils/figure.py): every image lands in its cell unchanged, and the labels are drawn in margins."""
import numpy as np
import pytest
import torch

from ganforge.utils.figure import labelled_grid
from ganforge.utils.images import to_uint8


def _cells(img, x, nrow, left, top, cell, pad=2):
    arr = np.asarray(img)
    out = []
    for i in range(len(x)):
        r, c = divmod(i, nrow)
        y0, x0 = top + pad + r * (cell + pad), left + pad + c * (cell + pad)
        out.append(arr[y0:y0 + cell, x0:x0 + cell])
    return out


def test_cells_hold_the_images_and_margins_hold_the_labels():
    torch.manual_seed(0)
    x = torch.rand(6, 3, 8, 8) * 2 - 1
    plain = labelled_grid(x, nrow=3, cell=32)
    assert plain.size == (3 * 34 + 2, 2 * 34 + 2)  # no margins without labels
    want = to_uint8(x).repeat(4, axis=1).repeat(4, axis=2)  # nearest upscale ×4
    for got, ref in zip(_cells(plain, x, 3, 0, 0, 32), want):
        assert np.array_equal(got, ref)

    img = labelled_grid(x, nrow=3, row_labels=["coarse", "fine"], col_labels=["A", "B0", "B1"], cell=32)
    left, top = img.size[0] - plain.size[0], img.size[1] - plain.size[1]
    assert left > 0 and top > 0
    for got, ref in zip(_cells(img, x, 3, left, top, 32), want):
        assert np.array_equal(got, ref)  # the images moved by the margins, unchanged
    arr = np.asarray(img)
    assert (arr[top:, :left] < 128).any()  # row labels drawn (dark text on white)
    assert (arr[:top, left:] < 128).any()  # column labels drawn


def test_label_counts_must_match_the_grid():
    x = torch.zeros(4, 1, 8, 8)
    with pytest.raises(ValueError):
        labelled_grid(x, nrow=2, row_labels=["one"])
    with pytest.raises(ValueError):
        labelled_grid(x, nrow=2, col_labels=["a", "b", "c"])


def test_labels_draw_greek_letters_not_missing_glyph_boxes():
    """The truncation figure's columns read "ψ = 0.5": the label font must have ψ and α. A glyph the font lacks
    renders as the same .notdef box as an unassigned code point (U+E000); Pillow's bundled default font does that
    for ψ, the DejaVu font the figures use does not."""
    import numpy as np

    from ganforge.utils.figure import _font

    font = _font(14)
    missing = np.array(font.getmask("\ue000"))
    for ch in "ψα":
        mask = np.array(font.getmask(ch))
        assert mask.shape != missing.shape or not (mask == missing).all(), ch
        assert mask.any(), ch
