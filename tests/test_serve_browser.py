"""The explorer on a real server: `ganforge serve` started as a subprocess (uvicorn on a free loopback port),
driven by a real headless Chromium through Playwright (Debian's `chromium` package, Playwright's system-browser
option). Each page is loaded, clicked / dragged / painted, and checked: the image changed (or came back, for
undo) and the browser console has no errors. Without Chromium or Playwright the browser tests are skipped —
except under CI=true, where a missing browser is a failure. The server tests (address printed, host check,
a client that disconnects mid-stream, the warning off loopback) need no browser."""
import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from _serve_runs import serve_runs  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
IN_CI = os.environ.get("CI", "").lower() == "true"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_command(runs, *extra):
    return [sys.executable, "-m", "ganforge", "serve", *runs, "--dissect-n", "32", *extra]


def env():
    import ganforge

    src = os.path.dirname(os.path.dirname(os.path.abspath(ganforge.__file__)))
    return {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", ""),
            "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def start(cmd, wait_for: str, stream: str = "stdout", timeout: float = 90.0):
    """Start `cmd`; return (process, the first line of `stream` containing `wait_for`)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())
    pipe = proc.stdout if stream == "stdout" else proc.stderr
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = pipe.readline()
        if wait_for in line:
            return proc, line.strip()
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"{cmd} did not print {wait_for!r}: {proc.communicate()[1][-2000:]}")


def stop(proc) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    return serve_runs(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def server(runs):
    port = free_port()
    proc, line = start(serve_command([runs["dc"], runs["sg"], runs["cg"], runs["ed"]], "--port", str(port)), "http://")
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/api/runs", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    yield {"base": base, "line": line, "port": port}
    stop(proc)


# ---------------------------------------------------------------------------------------- the real server
def test_cli_prints_the_loopback_address_and_checks_the_host_header(server):
    assert server["line"].startswith(f"ganforge explorer: http://127.0.0.1:{server['port']}/")
    assert [r["name"] for r in httpx.get(server["base"] + "/api/runs").json()["runs"]] == ["dc", "sg", "cg", "ed"]
    # a page of another site that rebinds its name to 127.0.0.1 arrives with its own Host: refused
    r = httpx.get(server["base"] + "/api/runs", headers={"Host": "attacker.example"})
    assert r.status_code == 400


def test_raw_path_traversal_on_the_wire(server):
    for path in ("/api/runs/../../etc/passwd", "/static/../../runs.py", "/static/../server.py",
                 "/api/runs/%2e%2e%2f%2e%2e/samples", "/api/runs/../../../etc/passwd/samples"):
        with socket.create_connection(("127.0.0.1", server["port"]), timeout=10) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
            reply = b""
            while chunk := s.recv(65536):
                reply += chunk
        head = reply.decode("latin-1").split("\r\n")[0]
        assert head.split()[1] in ("400", "404", "405"), (path, head)
        assert b"root:" not in reply and b"def create_app" not in reply


def test_server_survives_a_client_that_leaves_mid_stream(server):
    base = server["base"]
    sid = httpx.post(base + "/api/lab", json={}).json()["id"]
    with httpx.Client(timeout=30) as c:
        with c.stream("GET", f"{base}/api/lab/{sid}/stream", params={"epochs": 2, "interval_ms": 10}) as r:
            for line in r.iter_lines():
                if line.startswith("data:"):
                    first = json.loads(line[5:])
                    break
    assert first["epoch"] == 2
    time.sleep(1.0)  # the server notices the disconnect and stops training
    e1 = httpx.get(f"{base}/api/lab/{sid}").json()["epoch"]
    time.sleep(1.0)
    e2 = httpx.get(f"{base}/api/lab/{sid}").json()["epoch"]
    assert e1 == e2 and e1 < 200, (e1, e2)  # training stopped with the page
    assert httpx.get(base + "/api/runs").status_code == 200
    r = httpx.post(f"{base}/api/lab/{sid}/step", json={"n": 3})
    assert r.status_code == 200 and r.json()["epoch"] == e2 + 3


def test_binding_beyond_loopback_warns(runs):
    proc, line = start(serve_command([runs["dc"]], "--host", "0.0.0.0", "--port", str(free_port())),
                       "warning", stream="stderr")
    stop(proc)
    assert "reachable from other machines" in line


def test_serve_refuses_what_is_not_a_run_directory(tmp_path, capsys):
    from ganforge.cli import main

    assert main(["serve", str(tmp_path / "nope")]) == 2
    assert "is not a run directory" in capsys.readouterr().err


# -------------------------------------------------------------------------------------------------- browser
@pytest.fixture(scope="module")
def browser():
    why = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        why = "Playwright's Python package is not installed (pip install playwright)"
    if why is None and not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        why = "Chromium is not installed (apt-get install chromium)"
    if why:
        if IN_CI:
            pytest.fail(f"CI=true needs the browser tests: {why}")
        pytest.skip(why)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium"),
                              headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server, tmp_path):
    context = browser.new_context(viewport={"width": 1240, "height": 860})
    pg = context.new_page()
    errors = []
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.set_default_timeout(60_000)
    pg.base = server["base"]
    yield pg
    pg.screenshot(path=str(tmp_path / "page.png"), full_page=True)
    context.close()
    assert not errors, errors


def loaded(pg, img_id: str, old_src: str = "") -> str:
    """Wait until <img id> shows a new image (a new blob URL, decoded); return its src."""
    pg.wait_for_function("([id, old]) => { const i = document.getElementById(id); "
                         "return i.src && i.src !== old && i.complete && i.naturalWidth > 0; }", arg=[img_id, old_src])
    return pg.eval_on_selector("#" + img_id, "i => i.src")


def test_runs_and_api_pages_list_everything(page):
    page.goto(page.base + "/")
    page.wait_for_selector(".card h3")
    assert page.locator("#cards .card").count() == 4
    page.goto(page.base + "/api")
    page.wait_for_selector("table.api tr")
    assert page.locator("table.api tr").count() >= 12


def test_samples_page_truncation_picks_and_interpolation(page):
    page.goto(page.base + "/samples?run=dc")
    src = loaded(page, "grid")
    before = page.locator("#grid").screenshot()
    page.locator("#psi").fill("0")
    src = loaded(page, "grid", src)
    assert page.locator("#grid").screenshot() != before
    page.locator("#psi").fill("1")
    src = loaded(page, "grid", src)
    box = page.locator("#grid").bounding_box()
    cell = box["width"] / 4
    page.locator("#grid").click(position={"x": cell * 0.5, "y": cell * 0.5})
    page.locator("#grid").click(position={"x": cell * 2.5, "y": cell * 1.5})
    assert page.locator(".pick").count() == 2 and "B = seed 6" in page.inner_text("#picks")
    page.click("#interp")
    loaded(page, "strip")
    assert "seed 0 → seed 6" in page.inner_text("#istatus")


def test_mixing_page_crossover_and_noise(page):
    page.goto(page.base + "/mixing?run=sg")
    src = loaded(page, "mix")
    coarse = page.locator("#mix").screenshot()
    page.locator("#crossover").fill("2")
    src = loaded(page, "mix", src)
    page.wait_for_function("document.getElementById('mix-label').textContent.includes('fine')")
    fine = page.locator("#mix").screenshot()
    assert fine != coarse and "fine styles of B" in page.inner_text("#mix-label")
    page.click("#noise")
    loaded(page, "mix", src)
    assert page.locator("#mix").screenshot() != fine


def test_paint_page_brush_and_undo(page):
    page.goto(page.base + "/paint?run=dc")
    page.wait_for_function("document.getElementById('cls').options.length > 2")
    src = loaded(page, "img")
    page.wait_for_function("document.getElementById('status').textContent.includes('0 stroke')")
    original = page.locator("#img").screenshot()
    box = page.locator("#overlay").bounding_box()
    page.mouse.move(box["x"] + 40, box["y"] + 40)
    page.mouse.down()
    page.mouse.move(box["x"] + 140, box["y"] + 110, steps=12)
    page.mouse.up()
    src = loaded(page, "img", src)
    page.wait_for_function("document.getElementById('status').textContent.includes('1 stroke')")
    assert page.locator("#img").screenshot() != original
    page.click("#undo")
    loaded(page, "img", src)
    page.wait_for_function("document.getElementById('status').textContent.includes('0 stroke')")
    assert page.locator("#img").screenshot() == original


def test_lab_page_step_and_play(page):
    page.goto(page.base + "/lab")
    page.wait_for_function("document.getElementById('dl').textContent !== '–'")
    before = page.locator("#view").screenshot()
    page.click("#step-d")
    page.wait_for_function("document.getElementById('epoch').textContent === '1'")
    assert page.locator("#view").screenshot() != before  # D's heatmap moved
    page.click("#play")
    page.wait_for_function("parseInt(document.getElementById('epoch').textContent) >= 12")
    page.click("#play")
    assert "updates/s" in page.inner_text("#status")
    epoch = int(page.inner_text("#epoch"))
    page.wait_for_timeout(500)
    assert int(page.inner_text("#epoch")) == epoch  # paused


def test_lab_page_drawing_mode(page):
    page.goto(page.base + "/lab")
    page.wait_for_function("document.getElementById('dl').textContent !== '–'")
    before = page.locator("#view").screenshot()
    page.click("#draw")
    box = page.locator("#view").bounding_box()
    page.mouse.move(box["x"] + 60, box["y"] + 380)
    page.mouse.down()
    page.mouse.move(box["x"] + 400, box["y"] + 80, steps=30)
    page.mouse.up()
    page.wait_for_function("document.getElementById('status').textContent === 'ready'")
    assert page.eval_on_selector("#data", "s => s.value") == "drawing"
    assert page.locator("#view").screenshot() != before


def test_edit_page_projects_paints_and_undoes(page, tmp_path):
    from PIL import Image

    page.goto(page.base + "/edit?run=ed")
    page.wait_for_function("document.getElementById('projector').textContent.includes('hybrid projection')")
    assert "sample seed 0" in page.inner_text("#projector") and "trained encoder" in page.inner_text("#projector")
    path = tmp_path / "photo.png"
    Image.new("RGB", (80, 60), (30, 120, 200)).save(path)
    page.set_input_files("#file", str(path))
    page.wait_for_function("document.getElementById('projector').textContent.startsWith('upload')")
    page.click("#pick-real")
    page.wait_for_function("document.getElementById('projector').textContent.startsWith('dataset image 0')")
    page.wait_for_function("document.getElementById('status').textContent.includes('0 strokes')")
    before = {k: page.eval_on_selector("#" + k, "i => i.src") for k in ("generated", "output")}
    shot = page.locator("#output").screenshot()
    box = page.locator("#overlay").bounding_box()
    page.mouse.move(box["x"] + 60, box["y"] + 80)
    page.mouse.down()
    page.mouse.move(box["x"] + 250, box["y"] + 90, steps=10)
    page.mouse.up()
    page.wait_for_function("document.getElementById('status').textContent.includes('1 stroke')")
    after = {k: page.eval_on_selector("#" + k, "i => i.src") for k in ("generated", "output")}
    assert after["generated"] != before["generated"] and after["output"] != before["output"]
    assert page.locator("#output").screenshot() != shot  # the edit shows on the photo
    page.click("#undo")
    page.wait_for_function("document.getElementById('status').textContent.includes('0 strokes')")
    assert page.eval_on_selector("#output", "i => i.src") == before["output"]  # the same PNG bytes


def test_edit_page_warp_brush(page):
    page.goto(page.base + "/edit?run=ed")
    page.wait_for_function("document.getElementById('status').textContent.includes('0 strokes')")
    page.click("#mode-warp")
    before = page.eval_on_selector("#generated", "i => i.src")
    overlay = page.locator("#overlay").screenshot()
    box = page.locator("#overlay").bounding_box()
    page.mouse.move(box["x"] + 150, box["y"] + 150)
    page.mouse.down()
    page.mouse.move(box["x"] + 60, box["y"] + 70, steps=8)
    page.mouse.up()
    page.wait_for_function("document.getElementById('status').textContent.includes('1 stroke')")
    assert page.eval_on_selector("#generated", "i => i.src") != before  # the warp re-optimised the code
    assert page.locator("#overlay").screenshot() != overlay  # the disc and the arrow are drawn
    page.click("#undo")
    page.wait_for_function("document.getElementById('status').textContent.includes('0 strokes')")
    assert page.eval_on_selector("#generated", "i => i.src") == before
