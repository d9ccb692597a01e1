import errno
import os
import pickle

import pytest
import torch

from ganforge.errors import CheckpointError
from ganforge.train import checkpoint as ck
from ganforge.utils import safeio


def _state(seed=0):
    g = torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net(torch.randn(8, 3, generator=g)).pow(2).mean().backward()
    opt.step()
    return {"generator": net.state_dict(), "optim": {"g": opt.state_dict()},
            "counters": {"g_steps": 3, "note": (1, "x", None)}}


def _assert_same(a, b):
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b) and a.dtype == b.dtype
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    else:
        assert a == b


def test_round_trip_is_exact_including_optimizer_state(tmp_path):
    state = _state()
    path = ck.save_checkpoint(str(tmp_path), 5, state, {"extra": 1})
    assert sorted(os.listdir(path)) == ["generator.safetensors", "optim.safetensors", "state.json"]
    loaded, meta = ck.load_checkpoint(path)
    _assert_same(state, loaded)
    assert meta["step"] == 5 and meta["extra"] == 1
    assert ck.latest_checkpoint(str(tmp_path)) == path


def test_keep_last_k_and_latest(tmp_path):
    for step in (1, 2, 3, 4):
        ck.save_checkpoint(str(tmp_path), step, _state(step), {}, keep_last=2)
    assert sorted(d for d in os.listdir(tmp_path) if d.startswith("step-")) == ["step-000003", "step-000004"]
    assert ck.latest_checkpoint(str(tmp_path)).endswith("step-000004")


def test_a_failed_write_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    good = ck.save_checkpoint(str(tmp_path), 1, _state(1), {})

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ck, "write_tensors", disk_full)
    with pytest.raises(CheckpointError, match="No space left.*intact.*step-000001"):
        ck.save_checkpoint(str(tmp_path), 2, _state(2), {})
    assert ck.latest_checkpoint(str(tmp_path)) == good
    assert sorted(os.listdir(tmp_path)) == ["LATEST", "step-000001"]  # no half-written folder left behind
    _assert_same(ck.load_checkpoint(good)[0], _state(1))


def test_pickles_are_refused_never_executed(tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = ck.save_checkpoint(str(tmp_path), 1, _state(), {})
    target = os.path.join(path, "generator.safetensors")
    with open(target, "wb") as f:
        pickle.dump(Exploit(), f)
    with pytest.raises(CheckpointError, match="pickle"):
        safeio.read_tensors(target)
    torch.save({"w": torch.zeros(3)}, target)  # torch.save's zip format is refused too
    with pytest.raises(CheckpointError, match="pickle"):
        safeio.read_tensors(target)
    assert not marker.exists()


def test_truncated_and_foreign_checkpoints_are_refused(tmp_path):
    path = ck.save_checkpoint(str(tmp_path), 1, _state(), {})
    target = os.path.join(path, "optim.safetensors")
    data = open(target, "rb").read()
    open(target, "wb").write(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        ck.load_checkpoint(path)
    # The bytes alone (without our size record) are refused as damaged, not mis-read.
    with pytest.raises(CheckpointError, match="damaged or truncated"):
        safeio.read_tensors(target)
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "state.json").write_text('{"hello": "world"}')
    with pytest.raises(CheckpointError, match="not a ganforge checkpoint"):
        ck.load_checkpoint(str(stranger))


def test_latest_naming_a_missing_checkpoint_falls_back_to_the_newest_complete_one(tmp_path, caplog):
    import logging
    import shutil

    root = str(tmp_path)
    for step in (1, 2, 3):
        ck.save_checkpoint(root, step, _state(step), {})
    shutil.rmtree(tmp_path / "step-000003")  # LATEST still names it
    os.remove(tmp_path / "step-000002" / "optim.safetensors")  # and the one before is incomplete
    with caplog.at_level(logging.WARNING, logger="ganforge.train.checkpoint"):
        found = ck.latest_checkpoint(root)
    assert found == os.path.join(root, "step-000001")
    _assert_same(ck.load_checkpoint(found)[0], _state(1))
    assert any("step-000003" in r.getMessage() and "step-000001" in r.getMessage() for r in caplog.records)
    os.remove(tmp_path / "LATEST")  # killed before the first LATEST was written: the folder is still found
    assert ck.latest_checkpoint(root) == found
    shutil.rmtree(found)
    assert ck.latest_checkpoint(root) is None  # nothing complete left; nothing invented


def test_a_kill_during_a_write_leaves_temporaries_that_the_next_start_clears(tmp_path, monkeypatch):
    root = str(tmp_path)
    good = ck.save_checkpoint(root, 1, _state(1), {})

    class Killed(BaseException):  # SIGKILL: no except clause runs, nothing is cleaned up
        pass

    def killed(path, data):
        raise Killed()

    monkeypatch.setattr(ck, "write_json", killed)
    with pytest.raises(Killed):
        ck.save_checkpoint(root, 2, _state(2), {})
    open(os.path.join(root, ".LATEST-99999"), "w").write("step-000002\n")  # killed before its rename
    stale = sorted(d for d in os.listdir(root) if d.startswith("."))
    assert len(stale) == 2 and stale[1].startswith(".tmp-step-000002-")
    assert ck.clear_stale_temporaries(root) == stale
    assert sorted(os.listdir(root)) == ["LATEST", "step-000001"]
    assert ck.latest_checkpoint(root) == good
