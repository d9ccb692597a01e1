"""FID Inception architecture and weights loading, input rules, streaming extraction, evaluation protocol."""
import os
import subprocess
import sys
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganforge.metrics import inception as inc
from ganforge.metrics import inception_weights as iw
from ganforge.metrics.features import extract, generator_source
from ganforge.metrics.inception import FIDInceptionV3, InceptionWeightsError, load_fid_inception
from ganforge.metrics.protocol import (EvalProtocol, ProtocolMismatchWarning, cached_reference, check_comparable,
                                       real_indices, reference_statistics)


# ----------------------------------------------------------------------------------- the pytorch-fid layout
def expected_layout():
    """{key: shape} of pytorch-fid's pt_inception-2015-12-05 state dict, written out from its module tree:
    torchvision Inception3(num_classes=1008, aux_logits=False) with FIDInceptionA/C/E_1/E_2 blocks; every
    BasicConv2d is conv (no bias) + bn."""
    convs = [("Conv2d_1a_3x3", 3, 32, 3, 3), ("Conv2d_2a_3x3", 32, 32, 3, 3), ("Conv2d_2b_3x3", 32, 64, 3, 3),
             ("Conv2d_3b_1x1", 64, 80, 1, 1), ("Conv2d_4a_3x3", 80, 192, 3, 3)]
    for name, cin, pf in (("Mixed_5b", 192, 32), ("Mixed_5c", 256, 64), ("Mixed_5d", 288, 64)):
        convs += [(f"{name}.{b}", i, o, kh, kw) for b, i, o, kh, kw in [
            ("branch1x1", cin, 64, 1, 1), ("branch5x5_1", cin, 48, 1, 1), ("branch5x5_2", 48, 64, 5, 5),
            ("branch3x3dbl_1", cin, 64, 1, 1), ("branch3x3dbl_2", 64, 96, 3, 3), ("branch3x3dbl_3", 96, 96, 3, 3),
            ("branch_pool", cin, pf, 1, 1)]]
    convs += [("Mixed_6a.branch3x3", 288, 384, 3, 3), ("Mixed_6a.branch3x3dbl_1", 288, 64, 1, 1),
              ("Mixed_6a.branch3x3dbl_2", 64, 96, 3, 3), ("Mixed_6a.branch3x3dbl_3", 96, 96, 3, 3)]
    for name, c in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
        convs += [(f"{name}.{b}", i, o, kh, kw) for b, i, o, kh, kw in [
            ("branch1x1", 768, 192, 1, 1), ("branch7x7_1", 768, c, 1, 1), ("branch7x7_2", c, c, 1, 7),
            ("branch7x7_3", c, 192, 7, 1), ("branch7x7dbl_1", 768, c, 1, 1), ("branch7x7dbl_2", c, c, 7, 1),
            ("branch7x7dbl_3", c, c, 1, 7), ("branch7x7dbl_4", c, c, 7, 1), ("branch7x7dbl_5", c, 192, 1, 7),
            ("branch_pool", 768, 192, 1, 1)]]
    convs += [("Mixed_7a.branch3x3_1", 768, 192, 1, 1), ("Mixed_7a.branch3x3_2", 192, 320, 3, 3),
              ("Mixed_7a.branch7x7x3_1", 768, 192, 1, 1), ("Mixed_7a.branch7x7x3_2", 192, 192, 1, 7),
              ("Mixed_7a.branch7x7x3_3", 192, 192, 7, 1), ("Mixed_7a.branch7x7x3_4", 192, 192, 3, 3)]
    for name, cin in (("Mixed_7b", 1280), ("Mixed_7c", 2048)):
        convs += [(f"{name}.{b}", i, o, kh, kw) for b, i, o, kh, kw in [
            ("branch1x1", cin, 320, 1, 1), ("branch3x3_1", cin, 384, 1, 1), ("branch3x3_2a", 384, 384, 1, 3),
            ("branch3x3_2b", 384, 384, 3, 1), ("branch3x3dbl_1", cin, 448, 1, 1),
            ("branch3x3dbl_2", 448, 384, 3, 3), ("branch3x3dbl_3a", 384, 384, 1, 3),
            ("branch3x3dbl_3b", 384, 384, 3, 1), ("branch_pool", cin, 192, 1, 1)]]
    layout = {}
    for name, cin, cout, kh, kw in convs:
        layout[f"{name}.conv.weight"] = (cout, cin, kh, kw)
        for p in ("weight", "bias", "running_mean", "running_var"):
            layout[f"{name}.bn.{p}"] = (cout,)
        layout[f"{name}.bn.num_batches_tracked"] = ()
    layout["fc.weight"], layout["fc.bias"] = (1008, 2048), (1008,)
    return layout


def random_state(seed=0):
    g = torch.Generator().manual_seed(seed)
    state = {}
    for k, shape in expected_layout().items():
        if k.endswith("num_batches_tracked"):
            state[k] = torch.tensor(0)
        elif k.endswith("running_var"):
            state[k] = torch.rand(shape, generator=g) + 0.5
        elif k.endswith("conv.weight"):
            fan_in = shape[1] * shape[2] * shape[3]
            state[k] = torch.randn(shape, generator=g) * (2.0 / fan_in) ** 0.5
        else:
            state[k] = torch.randn(shape, generator=g) * 0.1 + (1.0 if k.endswith("bn.weight") else 0.0)
    return state


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory):
    from safetensors.torch import save_file

    state = random_state()
    path = str(tmp_path_factory.mktemp("inception") / "random-inception.safetensors")
    save_file(state, path)
    return path, state


def test_layout_matches_pytorch_fid_state_dict():
    model_state = FIDInceptionV3().state_dict()
    layout = expected_layout()
    assert {k: tuple(v.shape) for k, v in model_state.items()} == layout
    assert len(layout) == 566  # entries of the official file
    # torchvision's Inception-v3 has 27,161,264 parameters; minus its aux head (3,326,696), plus 8 more classes
    assert sum(p.numel() for p in FIDInceptionV3().parameters()) == 27_161_264 - 3_326_696 + 8 * 2049


def test_random_weights_load_strictly_and_give_2048_features_and_1008_logits(random_weights):
    path, state = random_weights
    model = load_fid_inception(path, download=False)
    assert not model.training and model.weights_sha256 == iw.sha256_file(path)
    assert torch.equal(model.Mixed_7c.branch_pool.conv.weight, state["Mixed_7c.branch_pool.conv.weight"])
    x = torch.rand(2, 1, 28, 28) * 2 - 1  # grayscale, not 299: repeated to RGB and resized
    f, logits = model(x)
    assert f.shape == (2, 2048) and logits.shape == (2, 1008)
    assert torch.isfinite(f).all() and (f >= 0).all() and f.std() > 0  # averages of ReLU outputs
    assert not torch.allclose(f[0], f[1])  # different images, different features
    assert torch.allclose(logits, f @ state["fc.weight"].t(), atol=1e-4)  # IS: logits without the FC bias
    assert torch.allclose(model.head(f, unbiased=False), logits + state["fc.bias"], atol=1e-4)
    assert torch.equal(model.features(x), f)  # deterministic
    v = model.preprocess(x)  # a grayscale image and its explicit RGB copy are the same input
    assert v.shape == (2, 3, 299, 299) and torch.equal(v, model.preprocess(x.repeat(1, 3, 1, 1)))
    assert -1.0 <= v.min() and v.max() <= 127 / 128  # (u - 128) / 128 of u in [0, 255]


def test_safetensors_weights_and_missing_step_counters(random_weights, tmp_path):
    from safetensors.torch import save_file

    _, state = random_weights
    slim = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}  # older exports
    path = str(tmp_path / "w.safetensors")
    save_file(slim, path)
    model = load_fid_inception(path, download=False)
    assert torch.equal(model.fc.weight, state["fc.weight"])
    bad = dict(slim)
    bad.pop("fc.bias")
    save_file(bad, path)
    with pytest.raises(InceptionWeightsError, match="fc.bias"):
        load_fid_inception(path, download=False)


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickled_weights_are_refused_unread_with_a_one_line_error(tmp_path):
    marker = str(tmp_path / "pwned")
    for name, kwargs in (("evil.pth", {}), ("legacy.pt", {"_use_new_zipfile_serialization": False})):
        path = str(tmp_path / name)
        torch.save({"fc.weight": _Exploit(marker)}, path, **kwargs)
        with pytest.raises(InceptionWeightsError) as err:
            load_fid_inception(path, download=False)
        msg = str(err.value)
        assert "\n" not in msg and "refused" in msg and iw.CONVERTER in msg and name in msg
    assert not os.path.exists(marker)


def test_converter_writes_safetensors_that_keep_the_source_identity(tmp_path, random_weights, monkeypatch):
    _, state = random_weights
    pth = str(tmp_path / "mine.pth")
    torch.save(state, pth)
    out = str(tmp_path / "mine.safetensors")
    with pytest.raises(InceptionWeightsError, match="not the official"):  # the library never unpickles others
        iw.convert_weights(pth, out)
    assert not os.path.exists(out)
    r = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "..", "scripts",
                                                     "convert_inception_weights.py"), pth],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert out in r.stdout and "not the official" in r.stderr
    model = load_fid_inception(out, download=False)
    assert torch.equal(model.fc.weight, state["fc.weight"])
    assert model.weights_sha256 == iw.sha256_file(pth)  # the protocol names the weights, not the container
    monkeypatch.setattr(iw, "FID_WEIGHTS_SHA256", iw.sha256_file(pth))  # had it been the official file ...
    again = str(tmp_path / "again.safetensors")
    assert iw.convert_weights(pth, again) == again  # ... the library converts it itself
    from safetensors.torch import save_file

    edited = dict(state, **{"fc.bias": state["fc.bias"] + 1})
    save_file(edited, again, metadata={"source_sha256": iw.sha256_file(pth), "tensors_sha256": "0" * 64})
    assert load_fid_inception(again, download=False).weights_sha256 == iw.sha256_file(again)  # altered: own hash


def test_first_use_downloads_checks_and_caches_safetensors_only(tmp_path, random_weights, monkeypatch):
    import shutil

    _, state = random_weights
    served = str(tmp_path / "served.pth")
    torch.save(state, served)
    monkeypatch.delenv(iw.WEIGHTS_ENV_VAR, raising=False)
    monkeypatch.setattr(iw, "FID_WEIGHTS_SHA256", iw.sha256_file(served))
    monkeypatch.setattr(iw, "FID_WEIGHTS_URL", "file://" + served)  # no network
    cache = tmp_path / "cache"
    model = load_fid_inception(cache_dir=str(cache))
    assert os.listdir(cache) == [iw.FID_WEIGHTS_SAFETENSORS]  # the downloaded pickle is not kept
    assert model.weights_sha256 == iw.FID_WEIGHTS_SHA256 and torch.equal(model.fc.bias, state["fc.bias"])
    legacy = tmp_path / "old-cache"  # an official .pth an earlier version cached is converted the same way
    legacy.mkdir()
    shutil.copyfile(served, legacy / iw.FID_WEIGHTS_FILE)
    assert iw.resolve_weights(cache_dir=str(legacy), download=False) == str(legacy / iw.FID_WEIGHTS_SAFETENSORS)
    assert os.listdir(legacy) == [iw.FID_WEIGHTS_SAFETENSORS]


def test_fid_blocks_pool_as_the_tf_graph():
    model = FIDInceptionV3()  # random weights are enough: the quirks are in the wiring
    model.load_state_dict(random_state())
    seen = {}
    for name in ("Mixed_5b", "Mixed_7b", "Mixed_7c"):
        block = getattr(model, name)
        block.register_forward_pre_hook(lambda m, a, name=name: seen.__setitem__(name + ".in", a[0]))
        block.branch_pool.register_forward_pre_hook(lambda m, a, name=name: seen.__setitem__(name, a[0]))
    with torch.no_grad():  # a 139×139 input (normalised) leaves 3×3 maps at Mixed_7b/7c, where pools differ
        model.pool3(torch.rand(1, 3, 139, 139, generator=torch.Generator().manual_seed(0)) * 2 - 1)
    for name in ("Mixed_5b", "Mixed_7b"):  # average without the zero padding (TF SAME pooling)
        x = seen[name + ".in"]
        scale = x.abs().max()
        assert scale > 1e-3
        assert (seen[name] - F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)).abs().max() < 1e-6 * scale
        assert (seen[name] - F.avg_pool2d(x, 3, 1, 1)).abs().max() > 1e-2 * scale
    x = seen["Mixed_7c.in"]  # the last block max-pools
    assert torch.equal(seen["Mixed_7c"], F.max_pool2d(x, 3, 1, 1))
    assert (seen["Mixed_7c"] - F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)).abs().max() > 1e-2 * x.abs().max()


# ----------------------------------------------------------------------------------- input rules
def test_tf1_resize_samples_at_i_times_in_over_out():
    x = torch.tensor([[[[0.0, 10.0]]]])
    assert inc.resize_tf1(x, (1, 4)).flatten().tolist() == [0.0, 5.0, 10.0, 10.0]
    half_pixel = F.interpolate(x, size=(1, 4), mode="bilinear", align_corners=False)
    assert half_pixel.flatten().tolist() == [0.0, 2.5, 7.5, 10.0]  # what "torch_bilinear" does instead


def test_tf1_resize_matches_the_affine_grid_emulation():
    """NVIDIA's TorchScript emulates TF1 with grid_sample and a theta offset of 1/W_in - 1/W_out (metrics.md §1)."""
    x = torch.rand(2, 3, 32, 24, generator=torch.Generator().manual_seed(0)) * 255
    theta = torch.tensor([[1.0, 0.0, 1 / 24 - 1 / 299], [0.0, 1.0, 1 / 32 - 1 / 299]]).expand(2, 2, 3)
    grid = F.affine_grid(theta, (2, 3, 299, 299), align_corners=False)
    nvidia = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    ours = inc.resize_images(x, "tf1")
    assert (ours - nvidia).abs().max() < 5e-3  # of 255: float32 rounding of the two formulas
    assert (inc.resize_images(x, "torch_bilinear") - nvidia).abs().max() > 1.0  # the other convention differs


def test_resize_rules_and_aliases():
    x = torch.rand(1, 3, 16, 16) * 255
    assert inc.canonical_resize("bilinear_aa") == "torch_bilinear_aa"
    aa = inc.resize_images(x, "torch_bilinear_aa", size=8)
    assert torch.allclose(aa, F.interpolate(x, size=(8, 8), mode="bilinear", antialias=True))
    pil = inc.resize_images(x, "pil_bicubic", size=8)
    assert pil.shape == (1, 3, 8, 8) and pil.min() >= 0 and pil.max() <= 255
    assert (pil - aa).abs().max() > 0.01  # a different filter
    with pytest.raises(ValueError, match="unknown resize"):
        inc.resize_images(x, "lanczos")
    with pytest.raises(ValueError, match="299"):
        inc.resize_images(x, "none")


def test_float_inputs_are_quantised_round_half_up_like_stylegan2_ada():
    levels = torch.arange(256, dtype=torch.float32)
    x = (levels / 127.5 - 1.0).view(1, 1, 16, 16)  # exactly the uint8 grid in [-1, 1]
    assert torch.equal(inc.to_uint8_scale(x)[0, 0].flatten(), levels)
    assert torch.equal(inc.to_uint8_scale(levels.to(torch.uint8).view(1, 1, 16, 16))[0, 2].flatten(), levels)
    y = torch.tensor([-2.0, -1.0, 0.0, 0.5 / 127.5 - 1e-6, 1.0, 3.0]).view(1, 1, 1, 6)
    assert inc.to_uint8_scale(y)[0, 0, 0].tolist() == [0.0, 0.0, 128.0, 128.0, 255.0, 255.0]
    assert inc.to_uint8_scale(y, quantize=False)[0, 0, 0, 2].item() == 127.5


# ----------------------------------------------------------------------------------- where weights come from
def test_weights_resolution_never_downloads_and_explains(tmp_path, monkeypatch):
    monkeypatch.delenv(iw.WEIGHTS_ENV_VAR, raising=False)
    monkeypatch.setattr(iw, "_download", lambda *a: pytest.fail("tests must never download"))
    with pytest.raises(InceptionWeightsError, match=iw.WEIGHTS_ENV_VAR):
        iw.resolve_weights(cache_dir=str(tmp_path), download=False)
    with pytest.raises(InceptionWeightsError, match="does not exist"):
        iw.resolve_weights(str(tmp_path / "nope.pth"))
    monkeypatch.setenv(iw.WEIGHTS_ENV_VAR, str(tmp_path / "missing.pth"))
    with pytest.raises(InceptionWeightsError, match="GANFORGE_INCEPTION_WEIGHTS"):
        iw.resolve_weights(cache_dir=str(tmp_path))  # a named file that is absent is no silent fall-back
    (tmp_path / "given.pth").write_bytes(b"x")
    monkeypatch.setenv(iw.WEIGHTS_ENV_VAR, str(tmp_path / "given.pth"))
    assert iw.resolve_weights(cache_dir=str(tmp_path)) == str(tmp_path / "given.pth")
    monkeypatch.delenv(iw.WEIGHTS_ENV_VAR)
    cached = tmp_path / iw.FID_WEIGHTS_SAFETENSORS
    cached.write_bytes(b"y")
    assert iw.resolve_weights(cache_dir=str(tmp_path)) == str(cached)


def test_download_keeps_only_a_file_with_the_expected_hash(tmp_path):
    import hashlib

    src = tmp_path / "served.bin"
    src.write_bytes(b"weights" * 1000)
    url = src.as_uri()  # a local file:// URL: no network
    dest = tmp_path / "cache" / "w.pth"
    with pytest.raises(InceptionWeightsError, match="SHA-256"):
        iw._download(url, str(dest), "0" * 64)
    assert not dest.exists() and not [p for p in dest.parent.iterdir()]  # no partial file left
    iw._download(url, str(dest), hashlib.sha256(src.read_bytes()).hexdigest())
    assert dest.read_bytes() == src.read_bytes()


def _official_weights():
    cache = iw.default_cache_dir()
    for path in (os.environ.get(iw.WEIGHTS_ENV_VAR), os.path.join(cache, iw.FID_WEIGHTS_SAFETENSORS),
                 os.path.join(cache, iw.FID_WEIGHTS_FILE)):
        if path and os.path.isfile(path):
            return path
    return None


@pytest.mark.skipif(_official_weights() is None, reason="the official FID Inception weights are not on this machine")
def test_official_weights(tmp_path):
    path = _official_weights()
    if not path.endswith(".safetensors"):  # the .pth as published: convert a copy first
        path = iw.convert_weights(path, str(tmp_path / iw.FID_WEIGHTS_SAFETENSORS))
    model = load_fid_inception(path, download=False)
    assert model.weights_sha256 == iw.FID_WEIGHTS_SHA256
    from ganforge.data import build_dataset
    from ganforge.data.bundled import MNISTConfig

    x = build_dataset(MNISTConfig(resolution=28, split="test")).get(slice(0, 4)).x
    f, logits = model(x)
    assert torch.isfinite(f).all() and (f >= 0).all() and torch.isfinite(logits).all()
    assert f.mean() > 0.05 and (f[0] - f[1]).abs().mean() > 0.01


# ----------------------------------------------------------------------------------- streaming extraction
class TinyExtractor(nn.Module):
    """A fixed random conv net with features() and logits(), recording the largest batch it saw."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(1, 8, 3)
        self.fc = nn.Linear(8, 5)
        self.largest = 0
        self.eval()

    def features(self, x):
        self.largest = max(self.largest, len(x))
        return torch.tanh(self.conv(x)).mean(dim=(2, 3))

    def features_and_logits(self, x):
        f = self.features(x)
        return f, self.fc(f)


def test_extract_streams_batches_and_equals_one_shot():
    images = torch.rand(103, 1, 12, 12) * 2 - 1
    requests = []

    def batch_fn(start, count):
        requests.append((start, count))
        return images[start: start + count].clone()

    ex = TinyExtractor()
    feats, logits = extract(ex, batch_fn, n=103, batch_size=16, logits=True)
    assert max(c for _, c in requests) <= 16 and ex.largest <= 16
    assert requests == [(s, min(16, 103 - s)) for s in range(0, 103, 16)]  # each image asked once, in order
    with torch.no_grad():
        one_shot = ex.features(images)
    assert torch.allclose(feats, one_shot, atol=1e-6)
    assert torch.allclose(logits, ex.fc(one_shot).detach(), atol=1e-6)
    from ganforge.data import TensorDataset

    ds = TensorDataset(((images + 1) * 127.5).round().to(torch.uint8))
    via_dataset = extract(ex, ds, batch_size=50)
    assert torch.allclose(via_dataset, extract(ex, ds.get(slice(0, 103)).x, batch_size=103), atol=1e-6)
    sub = extract(ex, ds, indices=[5, 2, 80], batch_size=2)
    assert torch.allclose(sub, via_dataset[[5, 2, 80]], atol=1e-6)
    with pytest.raises(ValueError, match="only"):
        extract(ex, ds, n=200)


class TinyGenerator(nn.Module):
    def __init__(self, num_classes=0):
        super().__init__()
        torch.manual_seed(1)
        self.z_dim, self.num_classes = 4, num_classes
        self.fc = nn.Linear(4 + num_classes, 144)
        self.eval()

    def forward(self, z, y=None):
        if self.num_classes:
            z = torch.cat([z, F.one_hot(y, self.num_classes).float()], 1)
        return torch.tanh(self.fc(z)).view(-1, 1, 12, 12)


def test_generator_source_is_seeded_and_independent_of_batching():
    g = TinyGenerator()
    a = extract(TinyExtractor(), generator_source(g, seed=3, chunk=10), n=45, batch_size=7)
    b = extract(TinyExtractor(), generator_source(g, seed=3, chunk=10), n=45, batch_size=45)
    c = extract(TinyExtractor(), generator_source(g, seed=4, chunk=10), n=45, batch_size=7)
    assert torch.allclose(a, b, atol=1e-6) and not torch.allclose(a, c, atol=1e-3)
    src = generator_source(g, seed=3, chunk=10)
    z_all, _ = src.latents(0, 45)
    assert torch.equal(src.latents(17, 9)[0], z_all[17:26])  # sample i's code depends only on (seed, i)
    assert abs(z_all.std().item() - 1.0) < 0.3
    cond = generator_source(TinyGenerator(num_classes=3), seed=0, chunk=8)
    _, y = cond.latents(0, 300)
    assert set(y.tolist()) == {0, 1, 2} and cond(0, 5).shape == (5, 1, 12, 12)
    fixed = generator_source(TinyGenerator(num_classes=3), seed=0, y=2)
    assert fixed.latents(3, 4)[1].tolist() == [2, 2, 2, 2]
    with pytest.warns(UserWarning, match="training mode"):
        generator_source(TinyGenerator().train())


# ----------------------------------------------------------------------------------- protocol
def make_protocol(**kw):
    args = dict(extractor="evaluator-mnist5k", extractor_sha256="ab" * 32,
                dataset={"name": "mnist5k", "resolution": 32, "split": "test", "seed": 0}, n_real=200,
                n_fake=500, resize="torch_bilinear_aa", seed=0, feature="pooled")
    args.update(kw)
    return EvalProtocol(**args)


def test_protocol_key_is_stable_and_sensitive():
    p = make_protocol()
    q = EvalProtocol.from_json(p.to_json())
    assert q == p and q.key() == p.key()
    assert EvalProtocol.from_json(__import__("json").dumps(p.to_json())).key() == p.key()
    shuffled = make_protocol(dataset={"seed": 0, "split": "test", "resolution": 32, "name": "mnist5k"})
    assert shuffled.key() == p.key()
    code = ("from ganforge.metrics.protocol import EvalProtocol as E; import json, sys; "
            "print(E.from_json(json.loads(sys.argv[1])).key())")
    other = subprocess.run([sys.executable, "-c", code, __import__("json").dumps(p.to_json())],
                           capture_output=True, text=True, check=True, env=dict(os.environ, PYTHONHASHSEED="123"))
    assert other.stdout.strip() == p.key()  # same key in another process (no hash() randomisation)
    more_fakes = make_protocol(n_fake=1000)
    assert more_fakes.key() != p.key() and more_fakes.reference_key() == p.reference_key()
    for change in (dict(n_real=300), dict(resize="tf1"), dict(extractor_sha256="cd" * 32),
                   dict(dataset={"name": "mnist5k", "resolution": 32, "split": "train", "seed": 0}),
                   dict(conventions={"fid": {"ddof": 0}})):
        changed = make_protocol(**change)
        assert changed.key() != p.key() and changed.reference_key() != p.reference_key(), change
    assert make_protocol(conventions={"kid": {"num_subsets": 50}}).reference_key() == p.reference_key()
    with pytest.raises(ValueError, match="unknown"):
        EvalProtocol.from_json(dict(p.to_json(), colour="red"))
    with pytest.raises(ValueError, match="unknown kid conventions"):
        make_protocol(conventions={"kid": {"subsets": 50}})


def test_protocol_conventions_are_the_metric_functions_keyword_arguments():
    import inspect

    from ganforge import metrics

    p = make_protocol(conventions={"kid": {"num_subsets": 7}})
    assert p.metric_kwargs("kid")["num_subsets"] == 7 and p.metric_kwargs("kid")["subset_size"] == 1000
    for name in ("fid", "kid", "inception_score", "precision_recall", "prdc"):
        params = inspect.signature(getattr(metrics, name)).parameters
        for key, value in make_protocol().metric_kwargs(name).items():
            assert params[key].default == value, (name, key)  # defaults = the functions' standard defaults
    real, fake = torch.randn(300, 4), torch.randn(300, 4) + 0.5
    assert metrics.kid(real, fake, **p.metric_kwargs("kid")).mean > 0


def test_check_comparable_warns_and_logs(caplog):
    p = make_protocol()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_comparable(p, make_protocol()) is True
        assert check_comparable(p.to_json(), p) is True
    other = make_protocol(n_fake=1000, conventions={"kid": {"num_subsets": 10}})
    with pytest.warns(ProtocolMismatchWarning, match=r"n_fake: 500 vs 1000.*kid.num_subsets: 100 vs 10"):
        assert check_comparable(p, other, "FIDs") is False
    assert any("different evaluation protocols" in r.getMessage() and r.levelname == "WARNING"
               for r in caplog.records)
    with pytest.warns(ProtocolMismatchWarning, match="no evaluation protocol"):
        assert check_comparable(p, None) is False


def test_reference_cache_hit_returns_identical_tensors_without_recomputing(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"mu": torch.randn(7, dtype=torch.float64), "features": torch.randn(5, 7)}

    p = make_protocol()
    first = cached_reference(p, compute, cache_dir=str(tmp_path))
    second = cached_reference(p, compute, cache_dir=str(tmp_path))
    assert len(calls) == 1 and all(torch.equal(first[k], second[k]) for k in first)
    assert second["mu"].dtype == torch.float64
    cached_reference(make_protocol(n_fake=9999), compute, cache_dir=str(tmp_path))  # same reference data
    assert len(calls) == 1
    third = cached_reference(make_protocol(n_real=100), compute, cache_dir=str(tmp_path))
    assert len(calls) == 2 and not torch.equal(third["mu"], first["mu"])
    cached_reference(p, compute, cache_dir=str(tmp_path), required=["logits"])  # lacks a tensor: recomputed
    assert len(calls) == 3


def test_reference_statistics_of_a_dataset(tmp_path):
    from ganforge.data import TensorDataset

    ds = TensorDataset(torch.randint(0, 256, (60, 1, 12, 12), dtype=torch.uint8))
    ex = TinyExtractor()
    ex.weights_sha256 = "ab" * 32
    p = make_protocol(n_real=40)
    stats = reference_statistics(p, ex, ds, batch_size=16, cache_dir=str(tmp_path))
    idx = real_indices(p, 60)
    assert len(idx) == 40 and len(set(idx.tolist())) == 40 and torch.equal(idx, real_indices(p, 60))
    direct = extract(ex, ds, indices=idx)
    assert torch.allclose(stats["features"], direct, atol=1e-6)
    assert torch.allclose(stats["mu"], direct.double().mean(0), atol=1e-6)
    assert torch.allclose(stats["sigma"], torch.from_numpy(__import__("numpy").cov(direct.double().numpy(),
                                                                                   rowvar=False)), atol=1e-6)
    ex.largest = 0
    again = reference_statistics(p, ex, ds, batch_size=16, cache_dir=str(tmp_path))
    assert ex.largest == 0 and torch.equal(again["sigma"], stats["sigma"])  # served from the cache
    ex.weights_sha256 = "cd" * 32
    with pytest.raises(ValueError, match="weights"):
        reference_statistics(p, ex, ds, cache_dir=str(tmp_path))
