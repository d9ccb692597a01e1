"""Two-domain data (ganforge.data.translation): the ground truth that translation scores rely on."""
import hashlib

import pytest
import torch

from ganforge.data import Batch
from ganforge.data.translation import (DigitsABConfig, ShapesEdgesConfig, ShapesPairsConfig, build_digits_ab,
                                       build_shapes_edges, build_shapes_labels, digits_b_style, edge_map,
                                       label_ids_from_colors)
from ganforge.errors import DataError

torch.set_num_threads(1)


def _all(data):
    return data.get(torch.arange(len(data)))


def test_label_maps_decode_exactly_to_the_class_masks_and_scenes_follow_them():
    data = build_shapes_labels(ShapesPairsConfig(n=64, resolution=24, seed=3))
    b = _all(data)
    assert torch.equal(label_ids_from_colors(b.x), b.mask)
    # The scene's object pixels are where the mask says: background pixels are grey-ish (channels close), object
    # pixels carry a saturated colour (a large spread between channels) on most of their area.
    spread = b.target.max(1).values - b.target.min(1).values
    assert spread[b.mask > 0].mean() > 3 * spread[b.mask == 0].mean()
    # deterministic from the seed, different across seeds
    again = _all(build_shapes_labels(ShapesPairsConfig(n=64, resolution=24, seed=3)))
    other = _all(build_shapes_labels(ShapesPairsConfig(n=64, resolution=24, seed=4)))
    assert torch.equal(again.target, b.target) and not torch.equal(other.target, b.target)
    assert data.info.paired and data.info.target_shape == (3, 24, 24) and data.info.two_domain


def _hashes(images):
    return {hashlib.sha1(im.numpy().tobytes()).hexdigest() for im in images}


def test_unpaired_scenes_share_no_image_with_the_paired_ones():
    paired = build_shapes_labels(ShapesPairsConfig(n=200, resolution=16))
    unpaired = build_shapes_labels(ShapesPairsConfig(n=200, resolution=16, unpaired=True))
    assert not unpaired.info.paired
    assert torch.equal(unpaired.x, paired.x)  # domain A is the same set
    assert not _hashes(paired.target) & _hashes(unpaired.target)  # B comes from disjoint scenes
    # every B image is used once: the pairing is a permutation
    assert sorted(unpaired.target_index.tolist()) == list(range(200))
    b = unpaired.get(torch.tensor([5, 7]))
    assert torch.equal(b.target, unpaired.target[unpaired.target_index[[5, 7]]].float() / 127.5 - 1)


def test_touching_puts_same_class_objects_side_by_side_and_only_instances_tell_them_apart():
    b = _all(build_shapes_labels(ShapesPairsConfig(n=100, resolution=32, touching=True, max_objects=2)))
    inst, cls = b.attrs["instance"], b.mask
    right = (inst[:, :, 1:] != inst[:, :, :-1]) & (inst[:, :, 1:] > 0) & (inst[:, :, :-1] > 0) \
        & (cls[:, :, 1:] == cls[:, :, :-1])
    down = (inst[:, 1:] != inst[:, :-1]) & (inst[:, 1:] > 0) & (inst[:, :-1] > 0) & (cls[:, 1:] == cls[:, :-1])
    touching = right.flatten(1).any(1) | down.flatten(1).any(1)
    assert touching.float().mean() > 0.8  # a same-class boundary that the class map does not show


def test_edge_maps_mark_exactly_the_instance_boundaries():
    inst = torch.tensor([[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 2, 0], [0, 0, 0, 0]]).numpy()
    e = edge_map(inst)
    assert e.astype(int).tolist() == [[0, 1, 1, 0], [1, 1, 1, 1], [1, 1, 1, 1], [0, 1, 1, 0]]
    data = build_shapes_edges(ShapesEdgesConfig(n=8, resolution=16))
    b = _all(data)
    assert b.x.shape[1] == 1
    assert torch.equal(b.x[:, 0] < 0, torch.from_numpy(edge_map(b.attrs["instance"].numpy())))


def test_digits_ab_keeps_labels_and_draws_b_from_the_other_half():
    data = build_digits_ab(DigitsABConfig())
    b = _all(data)
    assert len(data) == 2500 and data.info.num_classes == 10 and not data.info.paired
    assert sorted(data.target_index.tolist()) == list(range(2500))
    # B's label follows its image: samples drawing the same B image share its label
    lab = data.attrs["target_label"]
    idx = data.target_index
    same = idx[0] == idx
    assert (lab[same] == lab[0]).all()
    # no A digit appears in B: B's strokes thinned back are never an A digit (compare the stroke masks of B
    # re-rendered from A's digits: different images)
    a_as_b = digits_b_style(data.x[:50], seed=0)
    assert not _hashes(a_as_b) & _hashes(data.target)
    # the style is deterministic: strokes thick (more lit pixels than the plain digit) and coloured
    plain = data.x[:20].float() / 255
    styled = digits_b_style(data.x[:20], seed=0).float() / 255
    assert (styled.max(1).values - styled.min(1).values > 0.3).sum() > 1.5 * (plain > 0.5).sum()
    assert torch.equal(styled, digits_b_style(data.x[:20], seed=0).float() / 255)


def test_batches_carry_the_target_through_to_and_indexing():
    b = Batch(torch.zeros(4, 1, 2, 2), target=torch.arange(4.0).view(4, 1, 1, 1).expand(4, 3, 4, 4))
    assert torch.equal(b[1:3].target[:, 0, 0, 0], torch.tensor([1.0, 2.0]))
    moved = b.to("cpu", memory_format=torch.channels_last)
    assert moved.target.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("kw, message", [
    (dict(resolution=4), "resolution"), (dict(n=0), "n must"), (dict(min_objects=3, max_objects=2), "min_objects"),
    (dict(touching=True, max_objects=1), "touching"),
])
def test_bad_configs_are_one_line_data_errors(kw, message):
    with pytest.raises(DataError, match=message):
        build_shapes_labels(ShapesPairsConfig(**kw))
    with pytest.raises(DataError, match="digits-ab"):
        build_digits_ab(DigitsABConfig(n=-1))
