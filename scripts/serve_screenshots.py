"""Screenshots of every page of the web explorer, for the docs (docs/img/serve/*.png).

    python scripts/serve_screenshots.py runs/claims/dcgan-shapes runs/gallery/stylegan-shapes runs/gallery/cgan-mnist

Starts the explorer on a free loopback port (uvicorn in this process), drives Debian's Chromium through
Playwright (headless), uses each page a little (a truncation change, two picked samples and their interpolation,
a style crossover, a painted stroke, a few seconds of GAN Lab training, a real image projected and painted with
a white stroke on the Edit page) and saves one full-page PNG per page.

The docs' Edit page shows an IAN run (iGAN and the Neural Photo Editor side by side):
    python scripts/serve_screenshots.py runs/claims/dcgan-shapes runs/gallery/stylegan-shapes \
        runs/gallery/cgan-mnist runs/claims/ian-claim-ian --edit-run ian-claim-ian --out /tmp/shots
"""
from __future__ import annotations

import argparse
import os
import socket
import threading
import time

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def serve(runs, port):
    import uvicorn

    from ganforge.app import create_app

    server = uvicorn.Server(uvicorn.Config(create_app(runs), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.1)
    return server


def shoot(base: str, out: str, chromium: str, paint_seed: int = 6, lab_epochs: int = 800,
          edit_run: str = "", edit_index: int = 0) -> None:
    from playwright.sync_api import sync_playwright

    os.makedirs(out, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1240, "height": 800})
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.set_default_timeout(120_000)

        def save(name):
            page.screenshot(path=os.path.join(out, f"{name}.png"), full_page=True)
            print("wrote", os.path.join(out, f"{name}.png"))

        page.goto(base + "/")
        page.wait_for_selector(".card h3")
        save("runs")
        page.goto(base + "/samples")
        page.wait_for_function("document.getElementById('grid').naturalWidth > 0")
        page.locator("#psi").fill("0.8")
        page.wait_for_timeout(1500)
        w = page.locator("#grid").bounding_box()["width"] / 4
        page.locator("#grid").click(position={"x": w * 0.5, "y": w * 0.5})
        page.locator("#grid").click(position={"x": w * 3.5, "y": w * 2.5})
        page.click("#interp")
        page.wait_for_function("document.getElementById('strip').naturalWidth > 0")
        save("samples")
        page.goto(base + "/mixing")
        page.wait_for_function("document.getElementById('mix').naturalWidth > 0")
        page.locator("#crossover").fill("1")
        page.click("#figure")
        page.wait_for_function("document.getElementById('fig').naturalWidth > 0")
        save("mixing")
        page.goto(base + "/paint")
        page.wait_for_function("document.getElementById('status').textContent.includes('stroke')")
        page.locator("#seed").fill(str(paint_seed))
        page.locator("#seed").dispatch_event("change")
        page.wait_for_timeout(1500)
        page.locator("#radius").fill("5")
        box = page.locator("#overlay").bounding_box()
        page.mouse.move(box["x"] + 120, box["y"] + 220)
        page.mouse.down()
        page.mouse.move(box["x"] + 330, box["y"] + 230, steps=15)
        page.mouse.up()
        page.wait_for_function("document.getElementById('status').textContent.includes('1 stroke')")
        save("paint")
        page.goto(base + "/lab")
        page.wait_for_function("document.getElementById('dl').textContent !== '–'")
        page.click("#play")
        page.wait_for_function(f"parseInt(document.getElementById('epoch').textContent) >= {lab_epochs}")
        page.click("#play")
        save("lab")
        page.goto(base + "/edit" + (f"?run={edit_run}" if edit_run else ""))
        page.wait_for_function("document.getElementById('projector').textContent.includes('MSE')")
        page.locator("#index").fill(str(edit_index))
        page.click("#pick-real")
        page.wait_for_function("document.getElementById('projector').textContent.startsWith('dataset')")
        page.locator("#color").fill("#ffffff")
        page.locator("#width").fill("4")
        page.locator("#steps").fill("60")
        box = page.locator("#overlay").bounding_box()
        page.mouse.move(box["x"] + 70, box["y"] + 230)
        page.mouse.down()
        page.mouse.move(box["x"] + 250, box["y"] + 230, steps=12)
        page.mouse.up()
        page.wait_for_function("document.getElementById('status').textContent.includes('1 stroke')")
        save("edit")
        page.goto(base + "/api")
        page.wait_for_selector("table.api tr")
        save("api")
        browser.close()
        if errors:
            raise SystemExit(f"console errors: {errors}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+")
    p.add_argument("--out", default="docs/img/serve")
    p.add_argument("--chromium", default="/usr/bin/chromium")
    p.add_argument("--edit-run", default="", help="the run shown on the Edit page (its name; default: the first)")
    p.add_argument("--edit-index", type=int, default=0, help="the dataset image edited on the Edit page")
    args = p.parse_args(argv)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = serve(args.runs, port)
    try:
        shoot(f"http://127.0.0.1:{port}", args.out, args.chromium, edit_run=args.edit_run, edit_index=args.edit_index)
    finally:
        server.should_exit = True
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
