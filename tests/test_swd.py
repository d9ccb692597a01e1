"""ProGAN's Sliced Wasserstein Distance (metrics/swd.py): pyramid filters against scipy (ProGAN's own formula) and
cv2 (optional), patch sampling, the SWD estimator against a numpy transcription, and the end-to-end behaviour."""
import numpy as np
import pytest
import scipy.ndimage
import torch
import torch.nn.functional as F

from ganforge.metrics import sliced_wasserstein, swd, swd_descriptors
from ganforge.metrics.swd import laplacian_pyramid, normalize_descriptors, pyr_down, pyr_up, pyramid_resolutions

_K = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256.0  # ProGAN's gaussian_filter


def _random_float_images(n, h, w, seed):
    return torch.rand(n, 3, h, w, generator=torch.Generator().manual_seed(seed)) * 255


def _smooth_images(n, size, seed):
    """uint8 pictures with structure at several scales: upsampled coarse noise + fine noise, in [20, 200]."""
    g = torch.Generator().manual_seed(seed)
    coarse = F.interpolate(torch.rand(n, 3, 4, 4, generator=g), size=(size, size), mode="bilinear",
                           align_corners=False)
    x = 20 + 160 * coarse + 20 * torch.rand(n, 3, size, size, generator=g)
    return x.round().clamp(0, 255).to(torch.uint8)


def test_pyr_down_and_pyr_up_match_progans_scipy_formula():
    x = _random_float_images(2, 32, 24, 0)
    down = scipy.ndimage.convolve(x.double().numpy(), _K[None, None], mode="mirror")[:, :, ::2, ::2]
    np.testing.assert_allclose(pyr_down(x).numpy(), down, atol=1e-3)
    small = pyr_down(x)
    up = np.zeros((2, 3, 32, 24))
    up[:, :, ::2, ::2] = small.double().numpy()
    up = scipy.ndimage.convolve(up, _K[None, None] * 4.0, mode="mirror")
    np.testing.assert_allclose(pyr_up(small).numpy(), up, atol=1e-3)


def test_pyr_down_and_pyr_up_match_opencv():
    cv2 = pytest.importorskip("cv2")
    x = _random_float_images(1, 32, 24, 1)
    for c in range(3):
        img = x[0, c].numpy()
        np.testing.assert_allclose(pyr_down(x)[0, c].numpy(), cv2.pyrDown(img), atol=1e-3)
        np.testing.assert_allclose(pyr_up(pyr_down(x))[0, c].numpy(), cv2.pyrUp(cv2.pyrDown(img)), atol=1e-3)
    odd = _random_float_images(1, 15, 11, 2)
    np.testing.assert_allclose(pyr_down(odd)[0, 0].numpy(), cv2.pyrDown(odd[0, 0].numpy()), atol=1e-3)


def test_laplacian_pyramid_collapses_back_to_the_image_and_ends_with_the_gaussian_level():
    x = _random_float_images(2, 64, 64, 3)
    levels = laplacian_pyramid(x, 3)
    assert [tuple(lv.shape[-2:]) for lv in levels] == [(64, 64), (32, 32), (16, 16)]
    torch.testing.assert_close(levels[-1], pyr_down(pyr_down(x)))  # last level Gaussian, not band-pass
    recon = levels[-1]
    for band in reversed(levels[:-1]):
        recon = band + pyr_up(recon)
    torch.testing.assert_close(recon, x, atol=1e-3, rtol=0)
    assert pyramid_resolutions(128) == [128, 64, 32, 16] and pyramid_resolutions(28, 7) == [28, 14, 7]
    with pytest.raises(ValueError):
        laplacian_pyramid(_random_float_images(1, 18, 18, 0), 3)  # 9 px cannot be halved


def test_patches_are_7x7_windows_centred_in_range_from_their_own_image():
    n, size = 3, 16
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    coded = torch.stack([yy, xx, torch.zeros_like(yy)]).repeat(n, 1, 1, 1).float()
    coded[:, 2] = torch.arange(n)[:, None, None].float()  # channel 2 = image index
    float_images = (coded - 127.5) / 127.5  # the [-1, 1] mapping inverts to the codes exactly
    (desc,) = swd_descriptors(float_images, min_resolution=16, patches_per_image=50, quantize=False, seed=1)
    assert desc.shape == (n * 50, 3, 7, 7)
    desc = desc.round()
    centre_y, centre_x = desc[:, 0, 3, 3], desc[:, 1, 3, 3]
    assert centre_y.min() >= 3 and centre_y.max() <= size - 4 and centre_x.min() >= 3 and centre_x.max() <= size - 4
    offsets = torch.arange(-3, 4).float()
    torch.testing.assert_close(desc[:, 0], centre_y[:, None, None] + offsets[None, :, None].expand(-1, 7, 7))
    torch.testing.assert_close(desc[:, 1], centre_x[:, None, None] + offsets[None, None, :].expand(-1, 7, 7))
    assert desc[:, 2, 3, 3].tolist() == np.repeat(np.arange(n), 50).tolist()  # image-major order
    assert len(set(zip(centre_y.tolist(), centre_x.tolist()))) > 30  # really random positions


def test_grayscale_is_tiled_to_rgb_descriptors():
    gray = _smooth_images(2, 32, 0)[:, :1]
    levels = swd_descriptors(gray)
    assert [d.shape for d in levels] == [(256, 3, 7, 7)] * 2
    torch.testing.assert_close(levels[0][:, 0], levels[0][:, 2])


def _progan_sliced_wasserstein(a, b, dirs_list):
    """numpy transcription of ProGAN's `sliced_wasserstein` with given direction matrices."""
    results = []
    for dirs in dirs_list:
        dirs = dirs / np.sqrt(np.sum(np.square(dirs), axis=0, keepdims=True))
        proj_a, proj_b = np.sort(a @ dirs, axis=0), np.sort(b @ dirs, axis=0)
        results.append(np.mean(np.abs(proj_a - proj_b)))
    return np.mean(results)


def test_sliced_wasserstein_matches_progans_code_with_4x128_unit_directions():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(500, 147, generator=g, dtype=torch.float64), torch.randn(500, 147, generator=g) * 1.3
    ours = sliced_wasserstein(a, b.double(), seed=5)
    g = torch.Generator().manual_seed(5)  # the same stream: 4 draws of 147×128
    dirs = [torch.randn(147, 128, generator=g, dtype=torch.float64).numpy() for _ in range(4)]
    assert ours == pytest.approx(_progan_sliced_wasserstein(a.numpy(), b.double().numpy(), dirs), rel=1e-12)
    assert sliced_wasserstein(a, b.double(), seed=6) != ours  # fresh directions on another seed
    with pytest.raises(ValueError):
        sliced_wasserstein(a, a[:-1])


def test_normalisation_is_per_channel_over_patches_and_pixels():
    desc = torch.randn(400, 3, 7, 7, dtype=torch.float64) * torch.tensor([1.0, 5.0, 0.1]).view(1, 3, 1, 1) + 7
    flat = normalize_descriptors(desc).view(400, 3, 7, 7)
    torch.testing.assert_close(flat.mean(dim=(0, 2, 3)), torch.zeros(3, dtype=torch.float64))
    torch.testing.assert_close(flat.std(dim=(0, 2, 3), correction=0), torch.ones(3, dtype=torch.float64))


def test_swd_of_a_set_with_itself_is_zero_and_invariant_to_descriptor_order():
    x = _smooth_images(8, 32, 1)
    r = swd(x, x, dirs_per_repeat=16)
    assert r["resolutions"] == [32, 16] and r["levels"] == [0.0, 0.0] and r["avg"] == 0.0
    a, b = swd_descriptors(x, seed=0)[0], swd_descriptors(_smooth_images(8, 32, 2), seed=0)[0]
    a, b = normalize_descriptors(a), normalize_descriptors(b)
    perm = torch.randperm(a.shape[0], generator=torch.Generator().manual_seed(0))
    assert sliced_wasserstein(a[perm], b, seed=3) == pytest.approx(sliced_wasserstein(a, b, seed=3), rel=1e-6)
    assert sliced_wasserstein(a, b, seed=3) > 0


def test_swd_grows_with_the_distortion_and_does_not_depend_on_batch_size():
    x = _smooth_images(8, 32, 3)
    g = torch.Generator().manual_seed(4)
    noise = torch.randn(x.shape, generator=g)
    kw = dict(patches_per_image=48, dirs_per_repeat=32)
    avgs = [swd(x, (x.float() + s * noise).round().clamp(0, 255).to(torch.uint8), **kw)["avg"] for s in (4, 16, 48)]
    assert 0 < avgs[0] < avgs[1] < avgs[2]
    # Brightness shifts change SWD only through clipping at 255 (the per-set normalisation removes the rest).
    shifted = [swd(x, (x.float() + s).clamp(0, 255).to(torch.uint8), **kw)["avg"] for s in (60, 90, 120)]
    assert shifted[0] < shifted[1] < shifted[2]
    y = (x.float() + 16 * noise).round().clamp(0, 255).to(torch.uint8)
    assert swd(x, y, batch_size=5, **kw) == swd(x, y, batch_size=256, **kw)


def test_swd_is_invariant_to_an_affine_intensity_change_without_clipping():
    x = _smooth_images(8, 32, 5).float() / 127.5 - 1  # float input in [-1, 1]
    brighter = 0.5 * x + 0.2  # stays inside [-1, 1]: nothing clips
    kw = dict(patches_per_image=64, dirs_per_repeat=64)
    r = swd(x, brighter, quantize=False, **kw)
    assert r["avg"] < 1e-3  # SWD×1e3 of exactly standardised-equal descriptors: float rounding only
    assert swd(x, brighter, **kw)["avg"] > 100 * r["avg"]  # with uint8 quantisation the halved contrast loses levels


def test_swd_of_non_finite_float_images_is_nan():
    x = _smooth_images(2, 16, 0).float() / 127.5 - 1
    y = x.clone()
    y[1, 2, 5, 5] = float("nan")
    r = swd(x, y)
    assert np.isnan(r["avg"]) and np.isnan(r["levels"]).all()


def test_swd_rejects_unequal_sets_and_too_small_images():
    x = _smooth_images(4, 32, 0)
    with pytest.raises(ValueError):
        swd(x, x[:3])
    with pytest.raises(ValueError):
        swd(x[:, :, :8, :8], x[:, :, :8, :8])
    with pytest.raises(TypeError):
        swd(x.int(), x.int())
