"""The image pool of Shrivastava et al. 2017 as CycleGAN uses it (official util/image_pool.py semantics)."""
import torch

from ganforge.nn.image_pool import ImagePool


def _images(start, n):
    """n 1×2×2 images whose value identifies them: image k is filled with k."""
    return torch.arange(start, start + n, dtype=torch.float32)[:, None, None, None].expand(n, 1, 2, 2).clone()


def _ids(batch):
    return [int(v) for v in batch[:, 0, 0, 0]]


def test_pool_returns_the_first_images_unchanged_then_mixes_history():
    pool = ImagePool(5, torch.Generator().manual_seed(0))
    assert _ids(pool.query(_images(0, 3))) == [0, 1, 2]
    assert _ids(pool.query(_images(3, 2))) == [3, 4]  # fills exactly to 5
    assert len(pool) == 5
    old, stored_before = 0, set(range(5))
    for start in range(5, 205, 4):
        out = _ids(pool.query(_images(start, 4)))
        for k in out:  # every returned image is either a new one or one the pool held before (or got this batch)
            assert k >= start or k in stored_before
        old += sum(k < start for k in out)
        stored_before = set(_ids(pool.images))
    # about half of the 200 returned images come from the history (binomial(200, 0.5): 100 ± 7)
    assert 70 < old < 130
    # the pool keeps exactly pool_size images, all distinct earlier images
    assert len(set(_ids(pool.images))) == 5


def test_pool_choice_follows_the_given_generator():
    a = ImagePool(3, torch.Generator().manual_seed(1))
    b = ImagePool(3, torch.Generator().manual_seed(1))
    c = ImagePool(3, torch.Generator().manual_seed(2))
    outs = [[], [], []]
    for start in range(0, 60, 2):
        for p, o in zip((a, b, c), outs):
            o += _ids(p.query(_images(start, 2)))
    assert outs[0] == outs[1]
    assert outs[0] != outs[2]


def test_pool_size_zero_is_identity_and_keeps_the_graph():
    pool = ImagePool(0)
    x = torch.randn(4, 3, 2, 2, requires_grad=True)
    assert pool.query(x) is x
    assert len(pool) == 0


def test_pool_detaches_stored_and_returned_images():
    pool = ImagePool(2, torch.Generator().manual_seed(0))
    x = torch.randn(2, 1, 2, 2, requires_grad=True)
    out = pool.query(x * 2)
    assert not out.requires_grad and not pool.images.requires_grad


def test_pool_state_round_trip_continues_identically():
    gen = torch.Generator().manual_seed(3)
    pool = ImagePool(4, gen)
    for start in range(0, 24, 3):
        pool.query(_images(start, 3))
    state = pool.state_dict()
    state = {k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in state.items()}
    expected = [_ids(pool.query(_images(s, 3))) for s in range(100, 130, 3)]
    fresh = ImagePool(4, torch.Generator().manual_seed(99))
    fresh.load_state_dict(state)
    assert [_ids(fresh.query(_images(s, 3))) for s in range(100, 130, 3)] == expected


def test_empty_pool_state_round_trip():
    pool = ImagePool(4, torch.Generator().manual_seed(5))
    fresh = ImagePool(4, torch.Generator().manual_seed(6))
    fresh.load_state_dict(pool.state_dict())
    assert _ids(fresh.query(_images(0, 6))) == _ids(pool.query(_images(0, 6)))
