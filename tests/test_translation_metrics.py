"""Translation scores (ganforge.metrics.translation): PSNR/SSIM closed forms and an independent SSIM, the
FCN-score's confusion-matrix arithmetic, and a perfect segmenter scoring 1 on real images."""
import math

import numpy as np
import pytest
import torch

from ganforge.metrics.translation import (confusion_matrix, label_accuracy, luma, psnr, segmentation_scores, ssim,
                                          to_unit)


def test_psnr_closed_form_and_identity():
    x = torch.zeros(2, 3, 16, 16)
    y = x.clone()
    y[0] += 0.2  # [0, 1] scale: every pixel off by 0.1 -> MSE 0.01 -> 20 dB
    y[1] -= 0.02  # off by 0.01 -> 40 dB
    torch.testing.assert_close(psnr(y, x), torch.tensor([20.0, 40.0]), atol=1e-3, rtol=0)
    assert torch.isinf(psnr(x, x)).all()


def test_luma_is_bt601_and_crop_drops_the_border():
    white, black = torch.ones(1, 3, 4, 4), -torch.ones(1, 3, 4, 4)
    assert torch.allclose(luma(to_unit(white)), torch.full((1, 1, 4, 4), 235 / 255))
    assert torch.allclose(luma(to_unit(black)), torch.full((1, 1, 4, 4), 16 / 255))
    a, b = torch.zeros(1, 3, 12, 12), torch.zeros(1, 3, 12, 12)
    b[..., 0, :] = 1.0  # a difference on the outermost row only
    assert torch.isinf(psnr(a, b, crop=1)).all() and torch.isfinite(psnr(a, b)).all()


def _ssim_numpy(a, b, window=11, sigma=1.5):
    """Straight-from-the-paper SSIM of two 2-D arrays in [0, 1]: Gaussian-weighted local statistics at every valid
    window position, averaged (Wang et al. 2004, eq. 13 with C1=(0.01)^2, C2=(0.03)^2)."""
    t = np.arange(window) - (window - 1) / 2
    g = np.exp(-t ** 2 / (2 * sigma ** 2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    vals = []
    for i in range(a.shape[0] - window + 1):
        for j in range(a.shape[1] - window + 1):
            pa, pb = a[i:i + window, j:j + window], b[i:i + window, j:j + window]
            ma, mb = (w * pa).sum(), (w * pb).sum()
            va, vb = (w * pa * pa).sum() - ma ** 2, (w * pb * pb).sum() - mb ** 2
            cov = (w * pa * pb).sum() - ma * mb
            vals.append(((2 * ma * mb + 1e-4) * (2 * cov + 9e-4)) / ((ma ** 2 + mb ** 2 + 1e-4) * (va + vb + 9e-4)))
    return float(np.mean(vals))


def test_ssim_matches_an_independent_computation_and_is_one_on_identical_images():
    g = torch.Generator().manual_seed(0)
    a = torch.rand(1, 1, 20, 20, generator=g) * 2 - 1
    b = (a + 0.3 * torch.randn(1, 1, 20, 20, generator=g)).clamp(-1, 1)
    expect = _ssim_numpy(to_unit(a)[0, 0].double().numpy(), to_unit(b)[0, 0].double().numpy())
    assert ssim(a, b).item() == pytest.approx(expect, abs=1e-5)
    assert ssim(a, a).item() == pytest.approx(1.0, abs=1e-6)
    assert ssim(a, b).item() < 0.9  # noise lowers it


def test_ssim_rejects_images_smaller_than_the_window():
    with pytest.raises(ValueError, match="window"):
        ssim(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))


def test_fcn_scores_from_a_hand_made_confusion():
    label = torch.tensor([0, 0, 0, 0, 1, 1, 2, 2])
    pred = torch.tensor([0, 0, 0, 1, 1, 0, 2, 2])
    hist = confusion_matrix(pred, label, 3)
    assert hist.tolist() == [[3, 1, 0], [1, 1, 0], [0, 0, 2]]
    s = segmentation_scores(hist)
    assert s["pixel_acc"] == pytest.approx(6 / 8)
    assert s["class_acc"] == pytest.approx((3 / 4 + 1 / 2 + 1) / 3)
    assert s["class_iou"] == pytest.approx((3 / 5 + 1 / 3 + 1) / 3)
    # a class absent from the labels does not enter the means (nanmean of the official script)
    s4 = segmentation_scores(confusion_matrix(pred, label, 4))
    assert s4["class_iou"] == pytest.approx(s["class_iou"])
    # labels outside [0, K) are ignored
    assert confusion_matrix(torch.tensor([0, 1]), torch.tensor([0, 255]), 3).sum() == 1


def test_a_perfect_segmenter_scores_one_on_real_scenes():
    from ganforge.data.translation import ShapesPairsConfig, build_shapes_labels

    data = build_shapes_labels(ShapesPairsConfig(n=20, resolution=16))
    b = data.get(torch.arange(20))
    perfect = b.mask  # what a perfect segmenter returns on the real scenes
    s = segmentation_scores(confusion_matrix(perfect, b.mask, 4))
    assert s == {"pixel_acc": 1.0, "class_acc": 1.0, "class_iou": 1.0}
    wrong = torch.zeros_like(b.mask)  # everything called background
    s = segmentation_scores(confusion_matrix(wrong, b.mask, 4))
    assert s["class_acc"] == pytest.approx(1 / 4) and s["pixel_acc"] < 1


def test_label_accuracy():
    assert label_accuracy(torch.tensor([1, 2, 3, 4]), torch.tensor([1, 2, 0, 4])) == 0.75
    with pytest.raises(ValueError):
        label_accuracy(torch.tensor([1]), torch.tensor([1, 2]))
    assert math.isclose(label_accuracy(torch.tensor([5]), torch.tensor([5])), 1.0)


def test_the_shipped_scenes_segmenter_reads_shape_not_the_class_colours():
    """The FCN-score's network must not pass a correctly coloured blob for a shape: on held-out scenes whose colour
    channels are swapped (the classes' typical colours scrambled) it still labels the shapes, and the held-out
    mean IoU on its card is what it measures."""
    from ganforge.data.translation import ShapesPairsConfig, build_shapes_labels
    from ganforge.dissect.segmenter import load_segmenter, read_segmenter_card

    seg = load_segmenter("scenes")
    b = build_shapes_labels(ShapesPairsConfig(n=200, seed=1)).get(torch.arange(200))
    with torch.no_grad():
        plain = segmentation_scores(confusion_matrix(seg(b.target).argmax(1), b.mask, 4))["class_iou"]
        swapped = segmentation_scores(confusion_matrix(seg(b.target[:, [2, 0, 1]]).argmax(1), b.mask, 4))["class_iou"]
    assert plain > 0.95 and abs(plain - read_segmenter_card("scenes")["held_out_mean_iou"]) < 0.02
    assert swapped > 0.9
