"""The shipped evaluator networks: held-out accuracy re-measured, agreement with their cards, determinism."""
import os
import shutil

import pytest
import torch

from ganforge.data import build_dataset
from ganforge.data.bundled import MNISTConfig
from ganforge.data.shapes import ShapesConfig
from ganforge.metrics.evaluator import (ASSETS_DIR, EvaluatorError, evaluator_paths, file_sha256, load_evaluator,
                                        read_card)
from ganforge.metrics.features import extract


def held_out(name):
    """The held-out set named on the card: MNIST-5k test split; shapes drawn with another seed."""
    if name == "mnist5k":
        return build_dataset(MNISTConfig(resolution=32, split="test")), {"digit": "y"}
    card = read_card("shapes")
    n = card["held_out_n"]
    assert card["data"]["held_out"] == f"ShapesConfig(seed=1, n={n})"
    return build_dataset(ShapesConfig(resolution=32, seed=1, n=n)), {h: h for h in ("shape", "color", "background")}


@pytest.fixture(scope="module")
def measured():
    torch.manual_seed(0)
    out = {}
    for name in ("mnist5k", "shapes"):
        model, (data, heads) = load_evaluator(name), held_out(name)
        batch = data.get(slice(0, len(data)))
        with torch.no_grad():
            pred = model.predict(batch.x)
        out[name] = {h: (pred[h] == (batch.y if a == "y" else batch.attrs[a])).float().mean().item()
                     for h, a in heads.items()}
    return out


def test_mnist_evaluator_held_out_accuracy(measured):
    acc = measured["mnist5k"]["digit"]
    assert acc >= 0.97, acc
    assert abs(acc - read_card("mnist5k")["held_out_accuracy"]["digit"]) <= 0.005


def test_shapes_evaluator_held_out_accuracy(measured):
    card = read_card("shapes")["held_out_accuracy"]
    for head, acc in measured["shapes"].items():
        assert acc >= 0.99, (head, acc)
        assert abs(acc - card[head]) <= 0.005, head


def test_cards_describe_small_files_with_their_hash():
    total = 0
    for name in ("mnist5k", "shapes"):
        weights, _ = evaluator_paths(name)
        card = read_card(name)
        assert card["sha256"] == file_sha256(weights) and card["bytes"] == os.path.getsize(weights)
        assert card["training"]["command"].startswith("python scripts/train_evaluators.py")
        total += card["bytes"]
    assert total < 2_000_000


def test_features_are_deterministic_and_batch_independent():
    model = load_evaluator("mnist5k")
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    x = build_dataset(MNISTConfig(resolution=32, split="test")).get(slice(0, 64)).x
    with torch.no_grad():
        f = model.features(x)
    assert f.shape == (64, model.feature_dim) and f.std() > 0
    assert torch.equal(f, load_evaluator("mnist5k").features(x))
    assert torch.allclose(extract(model, x, batch_size=5), f, atol=1e-5)  # eval-mode BN: no batch dependence
    same, logits = model.features_and_logits(x)
    assert torch.equal(same, f) and torch.allclose(logits, model.heads["digit"](f))


def test_input_conversions():
    model = load_evaluator("mnist5k")
    ds = build_dataset(MNISTConfig(resolution=32, split="test"))
    x, y = ds.get(slice(0, 500)).x, ds.get(slice(0, 500)).y
    with torch.no_grad():
        f = model.features(x)
        assert torch.allclose(model.features(x.repeat(1, 3, 1, 1)), f, atol=1e-6)  # RGB grey = grey
        assert torch.equal(model.features(((x + 1) * 127.5).round().to(torch.uint8)), f)  # uint8 input
        # Float inputs are rounded to the data's 256 levels: sub-level noise does not move the features.
        assert torch.allclose(model.features(x + 0.001 * torch.rand_like(x)), f, atol=1e-6)
        # Another size is resized to 32×32; the digits then are larger than in training, but still read well.
        x28 = build_dataset(MNISTConfig(resolution=28, split="test")).get(slice(0, 500)).x
        assert (model.logits(x28).argmax(1) == y).float().mean() > 0.9


def test_shapes_heads_and_primary_logits():
    model = load_evaluator("shapes")
    batch = build_dataset(ShapesConfig(resolution=32, seed=2, n=64)).get(slice(0, 64))
    with torch.no_grad():
        heads = model.head_logits(batch.x)
        assert {k: v.shape[1] for k, v in heads.items()} == {"shape": 3, "color": 7, "background": 3}
        assert torch.equal(model.logits(batch.x), heads["shape"])


def test_tampered_weights_are_refused(tmp_path):
    for suffix in (".safetensors", ".json"):
        shutil.copy(os.path.join(ASSETS_DIR, "evaluator-mnist5k" + suffix), tmp_path)
    path = tmp_path / "evaluator-mnist5k.safetensors"
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(EvaluatorError, match="SHA-256"):
        load_evaluator("mnist5k", assets_dir=str(tmp_path))
    with pytest.raises(EvaluatorError, match="unknown evaluator"):
        load_evaluator("cifar10")


def test_protocol_and_reference_statistics_with_a_shipped_evaluator(tmp_path):
    from ganforge.metrics.protocol import EvalProtocol, reference_statistics

    model = load_evaluator("mnist5k")
    test_cfg = MNISTConfig(resolution=32, split="test")
    p = EvalProtocol.from_extractor(model, test_cfg, n_real=500, n_fake=500)
    assert p.extractor == "evaluator-mnist5k" and p.extractor_sha256 == read_card("mnist5k")["sha256"]
    assert p.dataset["split"] == "test" and p.resize == "torch_bilinear_aa"
    ref = reference_statistics(p, model, build_dataset(test_cfg), cache_dir=str(tmp_path))
    train = extract(model, build_dataset(MNISTConfig(resolution=32, split="train")), n=500)
    noise = extract(model, torch.rand(500, 1, 32, 32) * 2 - 1)
    # The embedding tells real digits from noise: other real digits lie far closer to the reference mean.
    gap_real = (train.double().mean(0) - ref["mu"]).norm()
    gap_noise = (noise.double().mean(0) - ref["mu"]).norm()
    assert gap_real * 5 < gap_noise, (gap_real, gap_noise)


def test_digits_b_evaluator_reads_the_translation_style_on_an_unseen_style_seed():
    """The classifier behind the translation label score: held-out MNIST-5k digits in an unseen B style seed."""
    from ganforge.data.translation import digits_b_style

    card = read_card("digits-b")
    plain = build_dataset(MNISTConfig(resolution=32, split="test"))
    x = digits_b_style(plain.x, seed=99)
    with torch.no_grad():
        pred = load_evaluator("digits-b").predict(x)["digit"]
    acc = (pred == plain.y).float().mean().item()
    assert acc >= 0.95 and abs(acc - card["held_out_accuracy"]["digit"]) <= 0.005, acc
    assert card["sha256"] == file_sha256(evaluator_paths("digits-b")[0])
