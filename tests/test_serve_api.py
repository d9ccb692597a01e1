"""The web explorer's JSON API (ganforge.app) through FastAPI's test client: every endpoint, checked by values
(same seed -> same bytes, ψ = 0 -> one image, the grid equals the API's samples, GANPaint edits stay near the
stroke and undo gives the earlier bytes back, GAN Lab's D steps lower D's loss), and a fuzz of every endpoint
with malformed requests that must all be 4xx with a one-line message."""
import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402

from _serve_runs import FakeClock, serve_runs  # noqa: E402
from ganforge import api  # noqa: E402
from ganforge.app import create_app  # noqa: E402
from ganforge.app.images import PAD  # noqa: E402
from ganforge.app.server import Limits  # noqa: E402
from ganforge.utils.images import to_uint8  # noqa: E402

RES = 32


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """The server's setting (`ganforge serve --threads 1`): tiny networks are far slower with two threads on a
    busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    return serve_runs(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def client(runs):
    limits = Limits(max_upload_bytes=200_000, max_upload_pixels=1_000_000, dissect_n=32, lab_sessions=3,
                    lab_max_steps=400, edit_project_steps=10)
    app = create_app([runs["dc"], runs["sg"], runs["cg"], runs["toy"]], limits=limits)
    return TestClient(app, raise_server_exceptions=False)


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def cell(grid: np.ndarray, i: int, cols: int, res: int = RES) -> np.ndarray:
    r, c = divmod(i, cols)
    y, x = PAD + r * (res + PAD), PAD + c * (res + PAD)
    return grid[y:y + res, x:x + res]


def png(client, path, body) -> bytes:
    r = client.post(path, json=body)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png" and r.content[:8] == b"\x89PNG\r\n\x1a\n"
    return r.content


# ---------------------------------------------------------------------------------------------- runs and paths
def test_runs_are_listed_and_addressed_by_name_or_index(client):
    runs = client.get("/api/runs").json()["runs"]
    assert [r["name"] for r in runs] == ["dc", "sg", "cg", "toy"]
    by = {r["name"]: r for r in runs}
    assert by["sg"]["style_based"] and not by["dc"]["style_based"]
    assert by["cg"]["num_classes"] == 10 and by["dc"]["num_classes"] == 0
    assert by["dc"]["paintable"] and not by["cg"]["paintable"]  # shapes segmenter vs MNIST digits
    assert by["toy"]["kind"] == "points"
    assert client.get("/api/runs/1").json() == client.get("/api/runs/sg").json()


@pytest.mark.parametrize("key", ["%2e%2e", "..%2Fdc", "%2e%2e%2fetc%2fpasswd", "%2Ftmp", "4", "-1", "dc%00",
                                 "dc%2F..%2Fsg", "~", "%2Fetc%2Fpasswd", "%2e%2e%2f%2e%2e%2fsg"])
def test_path_traversal_and_unknown_runs_are_refused(client, key):
    for method, path in (("get", f"/api/runs/{key}"), ("post", f"/api/runs/{key}/samples")):
        r = getattr(client, method)(path, **({"json": {}} if method == "post" else {}))
        assert r.status_code in (404, 405, 422), (key, r.status_code, r.text)
        assert "error" in r.json()


def test_a_run_directory_not_named_at_start_is_unreachable(client, runs, tmp_path):
    import shutil

    shutil.copytree(runs["dc"], tmp_path / "secret")
    for key in ("secret", str(tmp_path / "secret"), f"..{tmp_path}/secret"):
        r = client.post(f"/api/runs/{key}/samples", json={})
        assert r.status_code in (404, 422), r.text


# ---------------------------------------------------------------------------------------------------- samples
def test_same_seed_same_bytes_and_the_grid_is_the_api_samples(client, runs):
    a = png(client, "/api/runs/dc/samples", {"seed": 7, "n": 4})
    assert png(client, "/api/runs/dc/samples", {"seed": 7, "n": 4}) == a
    assert png(client, "/api/runs/dc/samples", {"seed": 8, "n": 4}) != a
    grid = decode(a)
    assert grid.shape == (2 * (RES + PAD) + PAD, 2 * (RES + PAD) + PAD, 3)
    g = api.load(runs["dc"])
    for i in range(4):
        want = to_uint8(g.generate(g.latents(1, seed=7 + i)))[0]
        assert np.array_equal(cell(grid, i, 2), want)
    # explicit seeds: the cell of seed 9 is the same wherever it stands
    other = decode(png(client, "/api/runs/dc/samples", {"seeds": [9, 3]}))
    assert np.array_equal(cell(other, 0, 2), cell(grid, 2, 2))


@pytest.mark.parametrize("run", ["dc", "sg"])
def test_truncation_to_zero_gives_one_image_for_every_seed(client, run):
    grid = decode(png(client, f"/api/runs/{run}/samples", {"seed": 3, "n": 4, "psi": 0.0}))
    first = cell(grid, 0, 2)
    assert all(np.array_equal(cell(grid, i, 2), first) for i in range(1, 4))
    grid = decode(png(client, f"/api/runs/{run}/samples", {"seed": 3, "n": 4, "psi": 0.7}))
    assert not np.array_equal(cell(grid, 0, 2), cell(grid, 1, 2))


def test_class_picker_of_a_conditional_run(client, runs):
    a = decode(png(client, "/api/runs/cg/samples", {"seed": 1, "n": 1, "cls": 3}))
    b = decode(png(client, "/api/runs/cg/samples", {"seed": 1, "n": 1, "cls": 5}))
    assert not np.array_equal(a, b)
    g = api.load(runs["cg"])
    want = to_uint8(g.generate(g.latents(1, seed=1), torch.tensor([5])))[0]
    assert np.array_equal(cell(b, 0, 1)[..., 0], want[..., 0])
    r = client.post("/api/runs/cg/samples", json={"cls": 10})
    assert r.status_code == 400 and "0–9" in r.json()["error"]
    r = client.post("/api/runs/dc/samples", json={"cls": 1})
    assert r.status_code == 400 and "unconditional" in r.json()["error"]
    r = client.post("/api/runs/toy/samples", json={})
    assert r.status_code == 400 and "points" in r.json()["error"]


@pytest.mark.parametrize("run", ["dc", "sg"])
def test_interpolation_starts_at_a_and_ends_at_b(client, run):
    strip = decode(png(client, f"/api/runs/{run}/interpolate", {"seed_a": 4, "seed_b": 9, "steps": 5}))
    grid = decode(png(client, f"/api/runs/{run}/samples", {"seeds": [4, 9]}))
    first, last = cell(strip, 0, 5).astype(int), cell(strip, 4, 5).astype(int)
    assert np.abs(first - cell(grid, 0, 2)).max() <= 1  # slerp at t=0 is a up to rounding
    assert np.abs(last - cell(grid, 1, 2)).max() <= 1
    middle = cell(strip, 2, 5).astype(int)
    assert (middle != first).any() and (middle != last).any()


# ------------------------------------------------------------------------------------------------ style mixing
def test_style_mixing_takes_b_styles_on_the_crossover_layers(client, runs):
    from ganforge.latent.style import layer_ranges

    body = {"seed_a": 2, "seed_b": 5, "crossover": "middle"}
    strip = decode(png(client, "/api/runs/sg/mix", body))
    g = api.load(runs["sg"])
    G = g.generator
    w = G.mapping(torch.cat([g.latents(1, seed=2), g.latents(1, seed=5)]))
    ws = G.broadcast(w)
    lo, hi = layer_ranges(G.num_ws)["middle"]
    mixed = ws[:1].clone()
    mixed[:, lo:hi] = ws[1:, lo:hi]
    with torch.no_grad():
        want = to_uint8(G.synthesis(torch.cat([ws[:1], mixed, ws[1:]])))
    for i in range(3):
        assert np.array_equal(cell(strip, i, 3), want[i])
    samples = decode(png(client, "/api/runs/sg/samples", {"seeds": [2, 5]}))
    assert np.array_equal(cell(strip, 0, 3), cell(samples, 0, 2))  # A is the plain sample (same fixed noise)
    coarse = decode(png(client, "/api/runs/sg/mix", {**body, "crossover": "coarse"}))
    assert not np.array_equal(cell(coarse, 1, 3), cell(strip, 1, 3))
    noisy = png(client, "/api/runs/sg/mix", {**body, "noise_seed": 11})
    assert noisy == png(client, "/api/runs/sg/mix", {**body, "noise_seed": 11})
    assert not np.array_equal(decode(noisy), strip)


def test_style_mixing_refuses_other_runs_and_draws_the_paper_figure(client):
    r = client.post("/api/runs/dc/mix", json={})
    assert r.status_code == 400 and "style-based" in r.json()["error"]
    fig = decode(png(client, "/api/runs/sg/mix-figure", {"seed": 0, "n_a": 2, "n_b": 3}))
    rows = 1 + 2 * 3  # B on top, then 2 sources A for each of coarse / middle / fine
    assert fig.shape[:2] == (rows * (RES + PAD) + PAD, 4 * (RES + PAD) + PAD)


# --------------------------------------------------------------------------------------------------- GANPaint
def stroke(cls="circle", mode="remove", radius=3.0, points=((6, 6), (9, 7))):
    return {"cls": cls, "mode": mode, "radius": radius, "points": [list(p) for p in points]}


def test_paint_classes_come_from_a_dissection_of_the_layer(client):
    c = client.get("/api/runs/dc/paint/classes").json()
    assert c["layer"] == "layer2" and {"circle", "square", "triangle"} <= set(c["classes"])
    assert "background" not in c["classes"] and all(len(v) == 8 for v in c["top_units"].values())
    r = client.get("/api/runs/dc/paint/classes", params={"layer": "nope"})
    assert r.status_code == 400 and "layer1" in r.json()["error"]
    assert client.get("/api/runs/cg/paint/classes").status_code == 400


def test_paint_uses_the_runs_own_dissection_report(runs, tmp_path):
    import shutil

    from ganforge.dissect import dissect

    run = tmp_path / "dc-dissected"
    shutil.copytree(runs["dc"], run)
    report = dissect(api.load(str(run)), "shapes", "layer2", n=16, threshold=0.99, top_k=0).to_json()
    for u in report["units"]:  # a report that ranks units 15, 14, 13, ... first for circles
        u["iou_per_class"][report["class_names"].index("circle")] = u["unit"] / 100
    (run / "dissect" / "layer2").mkdir(parents=True)
    (run / "dissect" / "layer2" / "dissect.json").write_text(json.dumps(report))
    with TestClient(create_app([str(run)], limits=Limits(dissect_n=16))) as c:
        top = c.get("/api/runs/0/paint/classes").json()["top_units"]["circle"]
        assert top == list(range(15, 7, -1))
        r = c.post("/api/runs/0/paint", json={"units": 3, "strokes": [stroke()]})
        assert json.loads(r.headers["x-paint-units"]) == {"circle": [15, 14, 13]}


def test_paint_without_strokes_is_the_sample_and_ablation_stays_near_the_stroke(client):
    plain = decode(png(client, "/api/runs/dc/paint", {"seed": 4}))
    sample = decode(png(client, "/api/runs/dc/samples", {"seeds": [4]}))
    assert np.array_equal(plain, cell(sample, 0, 1))
    painted = decode(png(client, "/api/runs/dc/paint", {"seed": 4, "units": 8, "strokes": [stroke()]}))
    changed = np.abs(painted.astype(int) - plain.astype(int)).sum(2) > 0
    assert changed.sum() >= 5
    ys, xs = np.nonzero(changed)
    # the stroke covers x 3..12, y 3..10; layer2 is 8×8 cells of 4 px, the layers after it spread ≤ 2 cells more
    assert xs.max() < 12 + 12 and ys.max() < 10 + 12, (xs.max(), ys.max())
    far = np.ones_like(changed)
    far[:24, :24] = False
    assert not changed[far].any()


def test_paint_undo_gives_the_earlier_bytes_back(client):
    s1, s2 = stroke(), stroke("square", "insert", 4.0, ((24, 24), (28, 20)))
    one = png(client, "/api/runs/dc/paint", {"seed": 2, "strokes": [s1]})
    two = png(client, "/api/runs/dc/paint", {"seed": 2, "strokes": [s1, s2]})
    assert two != one
    assert png(client, "/api/runs/dc/paint", {"seed": 2, "strokes": [s1]}) == one  # undo
    r = client.post("/api/runs/dc/paint", json={"seed": 2, "strokes": [s1]})
    assert json.loads(r.headers["x-paint-units"])["circle"] == \
        client.get("/api/runs/dc/paint/classes").json()["top_units"]["circle"]


def test_paint_refuses_bad_strokes(client):
    for s, word in ((stroke(cls="dragon"), "unknown class"), (stroke(cls="background"), "unknown class"),
                    (stroke(points=((500, 500),)), "outside")):
        r = client.post("/api/runs/dc/paint", json={"strokes": [s]})
        assert r.status_code == 400 and word in r.json()["error"], r.text
    r = client.post("/api/runs/dc/paint", json={"strokes": [stroke(points=[(1, 1)] * 2001)]})
    assert r.status_code == 422
    r = client.post("/api/runs/dc/paint", json={"strokes": [stroke(points=[(1, 1), (1e300, 5)])]})
    assert r.status_code == 422


def test_stroke_mask_is_the_capsule_around_the_polyline():
    from ganforge.app.paint import Stroke, stroke_mask

    m = stroke_mask(Stroke(cls="circle", radius=2.0, points=[[4.0, 10.0], [20.0, 10.0]]), 32).numpy()
    ys, xs = np.nonzero(m)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (2, 21, 8, 11)
    assert m[10, 12] and not m[13, 12] and not m[10, 23]
    far = stroke_mask(Stroke(cls="circle", radius=3.0, points=[[-9000.0, 16.0], [9000.0, 16.0]]), 32).numpy()
    assert far[13:19].all() and not far[:13].any() and not far[19:].any()


# ---------------------------------------------------------------------------------------------------- uploads
def _png_file(w, h, mode="RGB", colour=(200, 30, 30)):
    buf = io.BytesIO()
    Image.new(mode, (w, h), colour if mode == "RGB" else 0).save(buf, format="PNG")
    return buf.getvalue()


def test_upload_is_converted_to_the_run_input(client):
    r = client.post("/api/runs/dc/upload", content=_png_file(64, 48), headers={"content-type": "image/png"})
    assert r.status_code == 200
    arr = decode(r.content)
    assert arr.shape == (RES, RES, 3) and (arr == [200, 30, 30]).all()
    r = client.post("/api/runs/cg/upload", content=_png_file(40, 40))
    assert np.asarray(Image.open(io.BytesIO(r.content))).shape == (RES, RES)  # grey run: one channel


def test_request_bodies_are_limited_in_bytes(client):
    big = b'{"seed": 1, "pad": "' + b"x" * 5_000_000 + b'"}'
    r = client.post("/api/runs/dc/samples", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "limit" in r.json()["error"]

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(50):
            yield b"x" * 100_000

    r = client.post("/api/runs/dc/samples", content=chunks(), headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500


def test_upload_limits_and_decompression_bomb(client):
    bomb = _png_file(2000, 2000, mode="L")  # 4 megapixels of zeros compress to a few kilobytes
    assert len(bomb) < 200_000
    r = client.post("/api/runs/dc/upload", content=bomb)
    assert r.status_code == 413 and "pixels" in r.json()["error"]
    r = client.post("/api/runs/dc/upload", content=b"\x00" * 200_001)
    assert r.status_code == 413 and "bytes" in r.json()["error"]
    assert client.post("/api/runs/dc/upload", content=b"not an image").status_code == 415
    assert client.post("/api/runs/dc/upload", content=_png_file(20, 20)[:60]).status_code == 400
    assert client.post("/api/runs/dc/upload", content=b"").status_code == 400
    r = client.post("/api/runs/dc/upload", content=_png_file(4000, 2, mode="L"))
    assert r.status_code == 400 and "elongated" in r.json()["error"]


# ----------------------------------------------------------------------------------------------------- GAN Lab
def test_lab_session_state_and_determinism(client):
    a = client.post("/api/lab", json={"data": "ring8", "seed": 3}).json()
    b = client.post("/api/lab", json={"data": "ring8", "seed": 3}).json()
    sa, sb = a["state"], b["state"]
    assert len(sa["real"]) == 450 and len(sa["fake"]) == 450 and len(sa["gradient"]) == 450
    assert np.array(sa["heatmap"]).shape == (30, 30) and len(sa["manifold"]) == 21 * 21
    assert np.array(sa["manifold_area"]).shape == (20, 20)
    assert sa["fake"] == sb["fake"] and sa["heatmap"] == sb["heatmap"]
    ta = client.post(f"/api/lab/{a['id']}/step", json={"n": 5}).json()
    tb = client.post(f"/api/lab/{b['id']}/step", json={"n": 5}).json()
    assert ta["fake"] == tb["fake"] and ta["d_loss"] == tb["d_loss"] and ta["epoch"] == 5


def test_lab_d_steps_lower_d_loss_and_leave_g_alone(client):
    sid = client.post("/api/lab", json={"data": "gaussians", "seed": 1}).json()["id"]
    before = client.get(f"/api/lab/{sid}").json()
    after = client.post(f"/api/lab/{sid}/step", json={"what": "d", "n": 40}).json()
    assert after["d_steps"] == 80 and after["g_steps"] == 0
    assert after["fake"] == before["fake"]  # G untouched
    assert after["d_loss"] < before["d_loss"] - 0.05, (before["d_loss"], after["d_loss"])
    assert after["heatmap"] != before["heatmap"]
    g = client.post(f"/api/lab/{sid}/step", json={"what": "g", "n": 5}).json()
    assert g["fake"] != after["fake"] and g["g_steps"] == 5 and g["d_steps"] == 80
    # the gradient arrows point where G's loss falls: a small move along them lowers the per-point G loss
    assert len(g["history"]) == 45


def test_lab_stream_is_bounded_by_the_budget(client):
    sid = client.post("/api/lab", json={"max_epochs": 6}).json()["id"]
    with client.stream("GET", f"/api/lab/{sid}/stream", params={"epochs": 4, "events": 10, "interval_ms": 0}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[5:]) for line in r.iter_lines() if line.startswith("data:")]
    assert [e["epoch"] for e in events] == [4, 6] and events[-1]["done"]
    r = client.post(f"/api/lab/{sid}/step", json={})
    assert r.status_code == 409 and "budget" in r.json()["error"]


def test_lab_training_brings_the_fakes_closer_to_the_ring():
    from ganforge.ganlab import LabConfig, LabSession

    s = LabSession(LabConfig(data="ring", seed=0))
    js0 = s.state()["js"]
    s.train(400)
    st = s.state()
    assert st["js"] < js0 - 0.05, (js0, st["js"])
    assert st["epoch"] == 400 and st["d_steps"] == 800 and st["g_steps"] == 400


def test_lab_drawing_mode_trains_on_the_drawn_points(client):
    path = [[0.2 + 0.6 * i / 49, 0.5] for i in range(50)]  # a horizontal line
    st = client.post("/api/lab", json={"data": "drawing", "drawing": path}).json()["state"]
    real = np.array(st["real"])
    assert np.abs(real[:, 1] - 0.5).mean() < 0.03 and real[:, 0].min() > 0.1 and real[:, 0].max() < 0.9
    r = client.post("/api/lab", json={"data": "drawing"})
    assert r.status_code == 400 and "drawn points" in r.json()["error"]
    assert client.post("/api/lab", json={"data": "drawing", "drawing": [[0.1, 1.5], [0.2, 0.2]]}).status_code == 422


def test_lab_idle_sessions_expire(runs, monkeypatch):
    from ganforge.app import lab

    clock = FakeClock()
    monkeypatch.setattr(lab, "time", clock)  # idle time counted on a clock the test moves, not the machine's
    app = create_app([runs["toy"]], limits=Limits(lab_idle_s=0.3))
    with TestClient(app) as c:
        sid = c.post("/api/lab", json={}).json()["id"]
        clock.now += 0.2
        assert c.get(f"/api/lab/{sid}").status_code == 200  # touched: idle from here
        clock.now += 0.25
        assert c.get(f"/api/lab/{sid}").status_code == 200
        clock.now += 0.5
        assert c.get(f"/api/lab/{sid}").status_code == 404


def test_lab_keeps_a_bounded_number_of_sessions(client):
    ids = [client.post("/api/lab", json={}).json()["id"] for _ in range(4)]  # the test server keeps 3
    assert client.get(f"/api/lab/{ids[0]}").status_code == 404
    assert client.get(f"/api/lab/{ids[-1]}").status_code == 200
    assert client.delete(f"/api/lab/{ids[-1]}").status_code == 200
    assert client.get(f"/api/lab/{ids[-1]}").status_code == 404
    assert client.get("/api/lab/0123456789abcdef").status_code == 404
    assert client.get("/api/lab/..%2F..").status_code in (404, 422)


def test_lab_gradient_arrows_point_downhill():
    from ganforge.ganlab import LabConfig, LabSession

    s = LabSession(LabConfig(data="ring", seed=2))
    s.train(20)
    st = s.state()
    fake, grad = torch.tensor(st["fake"]), torch.tensor(st["gradient"])
    with torch.no_grad():
        before = s.g_loss_per_point(fake)
        after = s.g_loss_per_point(fake + 1e-3 * grad / grad.norm(dim=1, keepdim=True).clamp_min(1e-12))
    assert (after <= before + 1e-6).float().mean() > 0.95


# --------------------------------------------------------------------------------------------- openapi, pages
def test_openapi_documents_every_endpoint_and_pages_are_served(client):
    spec = client.get("/openapi.json").json()
    paths = set(spec["paths"])
    for p in ("/api/runs", "/api/runs/{run}/samples", "/api/runs/{run}/interpolate", "/api/runs/{run}/mix",
              "/api/runs/{run}/paint", "/api/runs/{run}/paint/classes", "/api/lab", "/api/lab/{sid}/step",
              "/api/lab/{sid}/stream", "/api/runs/{run}/upload", "/api/runs/{run}/edit", "/api/runs/{run}/edit/upload",
              "/api/edit/{sid}", "/api/edit/{sid}/stroke", "/api/edit/{sid}/undo", "/api/edit/{sid}/reset"):
        assert p in paths, p
    for page in ("/", "/samples", "/mixing", "/paint", "/lab", "/edit", "/api"):
        r = client.get(page)
        assert r.status_code == 200 and "<html" in r.text and "/static/common.js" in r.text
    assert client.get("/static/../server.py").status_code == 404
    assert client.get("/static/%2e%2e/server.py").status_code == 404


# ------------------------------------------------------------------------------------------------------- fuzz
JUNK_VALUES = ["x", 10**40, -(10**40), 1e308, -1, [], {}, True]
RAW_BODIES = [b"", b"{", b"[]", b"null", b'"text"', b"123", b"{\"a\":", b"\xff\xfe", b'{"seed": NaN}',
              b'{"seed": 1e400}', b"[" * 5000]


def _endpoints(client):
    spec = client.get("/openapi.json").json()
    sid = client.post("/api/lab", json={}).json()["id"]
    edit_sid = client.post("/api/runs/dc/edit", json={}).json()["id"]  # the photo editor's sessions
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            url = path.replace("{run}", "sg" if "mix" in path else "dc").replace(
                "{sid}", edit_sid if path.startswith("/api/edit/") else sid)
            schema = (op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema"))
            if schema and "$ref" in schema:
                schema = spec["components"]["schemas"][schema["$ref"].split("/")[-1]]
            yield method, url, schema, [p for p in op.get("parameters", []) if p["in"] == "query"]


def _check_4xx(r, what):
    assert 400 <= r.status_code < 500, (what, r.status_code, r.text[:300])
    msg = r.json()["error"]
    assert msg and "\n" not in msg and "Traceback" not in msg, (what, msg)


def test_fuzz_every_endpoint_with_malformed_requests(client):
    checked = 0
    for method, url, schema, query in _endpoints(client):
        if schema is not None:
            for raw in RAW_BODIES:
                r = client.request(method, url, content=raw, headers={"content-type": "application/json"})
                _check_4xx(r, (url, raw[:20]))
                checked += 1
            _check_4xx(client.request(method, url, json={"no_such_key": 1}), (url, "unknown key"))
            for field in schema.get("properties", {}):
                for value in JUNK_VALUES:
                    kind = schema["properties"][field].get("type")
                    if (value is True and kind == "boolean") or (value == [] and kind == "array"):
                        continue  # valid values of those fields
                    _check_4xx(client.request(method, url, json={field: value}), (url, field, value))
                    checked += 1
        for param in query:
            for value in ("x", str(10**40), "-1", "1e400", "nan", ""):
                types = {param["schema"].get("type")} | {a.get("type") for a in param["schema"].get("anyOf", [])}
                if "string" in types and value in ("x", "-1", "nan", ""):
                    continue  # any string is a valid string (checked by the endpoint itself below)
                r = client.request(method, url, params={param["name"]: value})
                _check_4xx(r, (url, param["name"], value))
                checked += 1
        for bad in ("/%00", "/" + "a" * 5000):
            r = client.request(method, url + bad)
            assert 400 <= r.status_code < 500, (url, bad, r.status_code)
    assert checked > 300


def test_fuzz_string_query_values_and_run_keys(client):
    for value in ("x", "-1", "nan", "../layer1", "a" * 101):
        r = client.get("/api/runs/dc/paint/classes", params={"layer": value})
        _check_4xx(r, value)
    for key in ("a" * 101, "%20", "0x1", "01", "1e2"):
        _check_4xx(client.post(f"/api/runs/{key}/samples", json={}), key)
