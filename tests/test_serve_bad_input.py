"""The explorer under the bad input of session 22's audit: a diverging GAN Lab session, a broken run among good ones,
a damaged dissection report, JSON bodies over their own limit (declared or chunked), a foreign Host header, seeds
running past the largest one, a busy port; every answer is a 4xx with the API's one-line JSON error."""
import json
import os
import shutil
import socket
import subprocess
import sys

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402

from _serve_runs import serve_runs  # noqa: E402
from ganforge.app import create_app  # noqa: E402
from ganforge.app.schemas import MAX_SEED  # noqa: E402
from ganforge.app.server import Limits  # noqa: E402


@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    return serve_runs(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def client(runs):
    app = create_app([runs["dc"], runs["toy"]], limits=Limits(max_json_bytes=50_000, max_upload_bytes=200_000),
                     allowed_hosts=["127.0.0.1", "localhost"])
    return TestClient(app, raise_server_exceptions=False, base_url="http://127.0.0.1")


def test_a_diverging_lab_session_reports_it_in_json_and_stops(client):
    sid = client.post("/api/lab", json={"lr_d": 10, "lr_g": 10, "g_hidden": 100, "d_hidden": 100,
                                        "g_layers": 5, "d_layers": 5}).json()["id"]
    for _ in range(6):
        r = client.post(f"/api/lab/{sid}/step", json={"n": 5})
        if r.status_code != 200:
            break
    state = client.get(f"/api/lab/{sid}")
    assert state.status_code == 200  # finite JSON: NaN became null
    body = state.json()
    assert body["diverged"] is True and body["done"] is True
    assert r.status_code == 409 and "diverged" in r.json()["error"]
    assert client.get(f"/api/lab/{sid}/stream?events=2&interval_ms=0").status_code == 200


def test_one_lab_request_trains_a_bounded_number_of_points(client):
    sid = client.post("/api/lab", json={"batch_size": 1000, "k_d": 10, "k_g": 10}).json()["id"]
    state = client.post(f"/api/lab/{sid}/step", json={"n": 500}).json()
    assert state["epoch"] == 400_000 // (20 * 1000)  # not the 500 asked for


def test_a_broken_run_is_skipped_and_the_others_served(runs, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(runs["dc"], broken)
    latest = open(broken / "checkpoints" / "LATEST").read().strip()
    gen = broken / "checkpoints" / latest / "generator.safetensors"
    gen.write_bytes(gen.read_bytes()[:1000])
    app = create_app([str(broken), runs["toy"]])
    assert [r["name"] for r in TestClient(app).get("/api/runs").json()["runs"]] == ["toy"]
    assert len(app.state.table.skipped) == 1 and "truncated" in app.state.table.skipped[0]


def test_a_damaged_dissection_report_is_recomputed(runs, tmp_path):
    run = tmp_path / "stale"
    shutil.copytree(runs["dc"], run)
    app = create_app([str(run)], limits=Limits(dissect_n=16))
    c = TestClient(app, raise_server_exceptions=False)
    layer = c.get("/api/runs/0").json()["paint_layer"]
    os.makedirs(run / "dissect" / layer)
    (run / "dissect" / layer / "dissect.json").write_text(json.dumps(
        {"layer": layer, "num_units": 0, "feature_size": 4, "class_names": ["a"], "units": []}))
    r = c.get(f"/api/runs/0/paint/classes?layer={layer}")
    assert r.status_code == 200 and r.json()["classes"]
    # a report of another network (more units than the layer has), well formed: recomputed as well
    stale = tmp_path / "stale2"
    shutil.copytree(runs["dc"], stale)
    n = 200
    units = [{"unit": u, "label": "circle", "iou": 0.5, "iqr": 0.1, "threshold": 0.1, "interpretable": True,
              "iou_per_class": [0.5, 0.1, 0.1, 0.1]} for u in range(n)]
    os.makedirs(stale / "dissect" / layer)
    (stale / "dissect" / layer / "dissect.json").write_text(json.dumps(
        {"layer": layer, "num_units": n, "feature_size": 4, "units": units,
         "class_names": ["background", "circle", "square", "triangle"]}))
    c2 = TestClient(create_app([str(stale)], limits=Limits(dissect_n=16)), raise_server_exceptions=False)
    r = c2.get(f"/api/runs/0/paint/classes?layer={layer}")
    assert r.status_code == 200 and r.json()["num_units"] < n


def test_json_bodies_have_their_own_limit_declared_or_chunked(client):
    big = b'{"n": 1' + b" " * 60_000 + b"}"
    r = client.post("/api/runs/0/samples", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "50,000" in r.json()["error"]
    r = client.post("/api/runs/0/samples", content=iter([big[:30_000], big[30_000:]]),
                    headers={"content-type": "application/json"})
    assert r.status_code == 413 and "limit" in r.json()["error"]
    ok = client.post("/api/runs/0/samples", content=iter([b'{"n": ', b"1}"]),
                     headers={"content-type": "application/json"})
    assert ok.status_code == 200 and ok.headers["content-type"] == "image/png"


def test_a_foreign_host_header_gets_the_json_error(client):
    r = client.get("/api/runs", headers={"host": "evil.example"})
    assert r.status_code == 400 and "Host" in r.json()["error"]
    assert client.get("/api/runs", headers={"host": "localhost:8000"}).status_code == 200


def test_seeds_running_past_the_largest_are_refused_not_repeated(client):
    r = client.post("/api/runs/0/samples", json={"seed": MAX_SEED, "n": 2})
    assert r.status_code == 422 and "largest seed" in r.json()["error"]
    assert client.post("/api/runs/0/samples", json={"seed": MAX_SEED, "n": 1}).status_code == 200


def test_serve_on_a_busy_port_is_one_line_before_any_banner(runs):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = subprocess.run([sys.executable, "-m", "ganforge", "serve", runs["toy"], "--port", str(port)],
                           capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.strip().count("\n") == 0 and f"cannot listen on 127.0.0.1:{port}" in p.stderr


def test_audio_like_runs_are_not_served_as_images(runs):
    from ganforge.app.runs import ServedRun
    from ganforge.data.base import DataInfo

    class Loaded:
        info = DataInfo(shape=(2, 64, 128), audio=(("representation", "if-mel"),))

    served = ServedRun("notes", "/nowhere", Loaded())
    assert served.kind == "audio"
    with pytest.raises(Exception, match="notes \\(audio\\), not images"):
        served.require_images()
    Loaded.info = DataInfo(shape=(2, 64, 64))
    assert ServedRun("two", "/nowhere", Loaded()).kind == "other"
