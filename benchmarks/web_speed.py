"""The browser page's frame rate on the webcam in headless Chromium, beside native onnxruntime on the same
frame size, in one run.

    python benchmarks/web_speed.py [--model candy] [--max-size 480] [--seconds 15]

Serves the page (`stylize serve`), opens it in Debian's Chromium (playwright) with Chromium's fake 640x480
camera, and counts painted frames over ``--seconds`` after a warm-up, with the int8 copy and with the fp32
model; then times the same model in Python
on frames of the page's size. Prints both with the date. Needs chromium and playwright.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import threading
import time

import numpy as np

from stylize import models
from stylize.realtime.serve import make_server
from stylize.realtime.core.session import StyleSession

# the fake camera at 60 fps, faster than the page paints: every frame painted is a new one
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream",
                  "--use-fake-device-for-media-stream=fps=60"]


def page_rate(url: str, max_size: int, precision: str, seconds: float, warmup_frames: int = 10) -> dict:
    """Frames per second of the page painting Chromium's fake camera, and its last frame's figures."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.goto(url)
        page.wait_for_function("() => ['ready', 'error'].includes(document.body.dataset.state)", timeout=120_000)
        page.select_option("#max-size", str(max_size))
        page.select_option("#precision", precision)
        page.click("#webcam")
        page.wait_for_function(f"() => window.stylize.frames >= {warmup_frames} || window.stylize.error",
                               timeout=120_000)
        if page.evaluate("window.stylize.error"):
            raise RuntimeError(page.evaluate("window.stylize.error"))
        first = page.evaluate("window.stylize.frames")
        started = time.perf_counter()
        page.wait_for_timeout(seconds * 1000)
        frames = page.evaluate("window.stylize.frames") - first
        elapsed = time.perf_counter() - started
        result = {"fps": frames / elapsed, "frames": frames, "shown": page.text_content("#fps"),
                  "status": page.text_content("#status")}
        browser.close()
    return result


def native_ms(model: str, size: tuple[int, int], frames: int = 40) -> float:
    """Best-of-three mean milliseconds per frame of the model in onnxruntime (CPU) at ``size``."""
    session = StyleSession(models.locate(model), "cpu")
    frame = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), np.uint8)
    session.run(frame)
    rounds = []
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(frames):
            session.run(frame)
        rounds.append((time.perf_counter() - started) / frames * 1000)
    return min(rounds)


def web_speed_lines(model: str, max_size: int = 480, seconds: float = 15.0) -> list[str]:
    """The page's frame rate with the int8 copy and the fp32 model, and native onnxruntime's, as report lines."""
    server = make_server(port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/?model={model}"
        pages = [page_rate(url, max_size, precision, seconds) for precision in ("int8", "fp32")]
    finally:
        server.shutdown()
        server.server_close()
    size = (max_size, max_size * 3 // 4)
    native = native_ms(model, size)
    return [f"{time.strftime('%Y-%m-%d')}, {model}, webcam 640x480 shown at {size[0]}x{size[1]}:",
            *(f"  browser page (headless Chromium, {page['status']}): {page['fps']:.1f} fps ({page['shown']})"
              for page in pages),
            f"  native onnxruntime fp32, inference alone: {native:.1f} ms/frame ({1000 / native:.1f} fps)"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=models.DEFAULT_STYLE)
    parser.add_argument("--max-size", type=int, default=480, help="the page's longer-side setting")
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args(argv)
    print("\n".join(web_speed_lines(args.model, args.max_size, args.seconds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
