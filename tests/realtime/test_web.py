"""The browser page (`stylize serve`, onnxruntime-web) and the Node.js example, checked against
onnxruntime in Python on the same frames.

The browser tests need Debian's chromium and the playwright package (onnxruntime-web comes with the
package); the Node test needs node and onnxruntime-web from ``npm install``. Each skips without them.
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest

from stylize import models
from stylize.realtime.core.errors import UserError
from stylize.realtime.serve import ORT_WEB_FILES, ORT_WEB_VERSION, PACKAGED_ORT_WEB, find_ort_web, make_server
from stylize.realtime.core.session import StyleSession

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--use-fake-ui-for-media-stream",
                  "--use-fake-device-for-media-stream"]
NPM_ORT_WEB = ROOT / "node_modules" / "onnxruntime-web" / "dist"
needs_npm_ort_web = pytest.mark.skipif(not (NPM_ORT_WEB / "ort.wasm.min.js").is_file(),
                                       reason="onnxruntime-web not installed: npm install")


def test_web_runtime_versions_agree():
    package = json.loads((ROOT / "package.json").read_text())
    app = (ROOT / "realtime" / "web" / "app.js").read_text()
    assert package["dependencies"]["onnxruntime-web"] == ORT_WEB_VERSION
    assert re.search(r'const ORT_VERSION = "([^"]+)"', app).group(1) == ORT_WEB_VERSION


@pytest.fixture
def ort_web():
    try:
        return find_ort_web()
    except UserError:
        pytest.skip("onnxruntime-web not here: npm install (and scripts/vendor_ort_web.py to pack it)")


@pytest.fixture
def server(ort_web):
    server = make_server(port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def get(url: str) -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(url) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), b""


def test_server_lists_models_serves_them_and_nothing_else(server):
    status, headers, body = get(server + "models.json")
    assert status == 200 and headers["Cross-Origin-Opener-Policy"] == "same-origin"
    listed = {m["name"]: m for m in json.loads(body)["models"]}
    assert set(listed) == set(models.shipped_models()) and json.loads(body)["default"] == models.DEFAULT_STYLE
    name = models.DEFAULT_STYLE
    status, _, onnx_bytes = get(server + listed[name]["url"])
    assert status == 200 and onnx_bytes == models.locate(name).read_bytes()
    assert listed[name]["int8Url"] == f"models/{name}.int8.onnx"
    assert get(server + listed[name]["int8Url"])[2] == models.int8_copy(models.locate(name)).read_bytes()
    assert get(server)[0] == 200 and b"app.js" in get(server)[2]
    for outside in ("../pyproject.toml", "models/../../pyproject.toml", "models/nope.onnx", "models/nope.int8.onnx",
                    "models/.int8.onnx", "ort/../package.json"):
        assert get(server + outside)[0] == 404, outside


def test_server_answers_odd_requests_without_dropping_them(server, monkeypatch):
    import http.client
    import socket
    from urllib.parse import urlsplit

    for path in ("x" * 300, "models/" + "y" * 300 + ".onnx", "a/" * 200):  # names too long for a file system
        assert get(server + path)[0] == 404, path
    assert get(server + "z" * 5000)[0] == 414
    for path in ("", "models.json", f"models/{models.DEFAULT_STYLE}.onnx", "app.js"):
        head = urllib.request.Request(server + path, method="HEAD")
        with urllib.request.urlopen(head) as response:
            assert response.status == 200 and response.read() == b"", path
    host, port = urlsplit(server).hostname, urlsplit(server).port
    from stylize.realtime.serve import PageHandler

    assert 0 < PageHandler.timeout <= 60
    monkeypatch.setattr(PageHandler, "timeout", 0.5)
    with socket.create_connection((host, port), timeout=5) as idle:  # connects, then says nothing
        started = time.monotonic()
        assert idle.recv(100) == b""  # the server hangs up
        assert time.monotonic() - started < 4
    connection = http.client.HTTPConnection(host, port, timeout=5)
    connection.request("GET", "/models.json")
    assert connection.getresponse().status == 200


def test_serve_rejects_a_bad_ort_web_folder(tmp_path):
    with pytest.raises(UserError, match="ort.wasm.min.js"):
        find_ort_web(tmp_path)


def test_without_onnxruntime_web_serve_says_how_to_get_it(tmp_path, monkeypatch):
    from stylize.realtime import serve

    monkeypatch.setattr(serve, "PACKAGED_ORT_WEB", tmp_path / "packaged")  # a checkout: the wasm is not in git
    monkeypatch.setattr(serve, "PROJECT_ORT_WEB", tmp_path / "node_modules")
    with pytest.raises(UserError, match="run 'npm install' in the project root"):
        make_server(port=0)


def test_the_page_loads_only_from_this_server(server):
    """onnxruntime-web is served from the copy inside the package, byte for byte the npm release's
    files, compressed or not as the client asks; the page names no other host."""
    manifest = json.loads((PACKAGED_ORT_WEB / "manifest.json").read_text())
    assert manifest["version"] == ORT_WEB_VERSION and (PACKAGED_ORT_WEB / "LICENSE").is_file()
    assert tuple(manifest["files"]) == ORT_WEB_FILES
    for name, sha256 in manifest["files"].items():
        for encoding in ("gzip", "identity"):
            request = urllib.request.Request(server + "ort/" + name, headers={"Accept-Encoding": encoding})
            with urllib.request.urlopen(request) as response:
                body = response.read()
                if response.headers.get("Content-Encoding") == "gzip":
                    assert encoding == "gzip"
                    body = gzip.decompress(body)
                if name.endswith(".wasm"):
                    assert response.headers["Content-Type"] == "application/wasm"  # streaming compilation
            assert hashlib.sha256(body).hexdigest() == sha256, (name, encoding)
        if NPM_ORT_WEB.is_dir():  # the packaged copy is the release package.json names
            assert hashlib.sha256((NPM_ORT_WEB / name).read_bytes()).hexdigest() == sha256
    for page_file in (ROOT / "realtime" / "web").glob("*.*"):
        assert not re.search(r"https?://", page_file.read_text()), page_file.name
    assert get(server + "ort/..%2F..%2Fserve.py")[0] == 404
    policy = get(server)[1]["Content-Security-Policy"]  # and the browser enforces it (every page test runs under it)
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy and "http" not in policy


@pytest.fixture
def page(server):
    if CHROMIUM is None:
        pytest.skip("no chromium installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.goto(server)
        page.wait_for_function("() => ['ready', 'error'].includes(document.body.dataset.state)", timeout=60_000)
        assert page.evaluate("window.stylize.error") is None
        yield page
        browser.close()


INT8_MIN_PSNR = 35  # dB against the fp32 model: the floor `stylize export --int8` holds its copies to


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255 ** 2 / mse)


def canvas_image(page) -> np.ndarray:
    url = page.evaluate("document.getElementById('output').toDataURL('image/png')")
    return cv2.imdecode(np.frombuffer(base64.b64decode(url.split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR)


def test_page_offers_every_shipped_model_and_paints_in_a_worker_per_core(page):
    options = page.eval_on_selector_all("#style option", "options => options.map(o => o.value)")
    assert sorted(options) == sorted(models.shipped_models())
    assert page.evaluate("window.stylize.ortFrom") == "ort/"  # the packaged copy
    assert page.evaluate("window.stylize.painters") == page.evaluate("Math.min(4, navigator.hardwareConcurrency)")
    assert page.evaluate("self.crossOriginIsolated")  # the server's headers isolate the page


@pytest.mark.parametrize("name", sorted(models.shipped_models()))
def test_page_stylizes_an_image_like_onnxruntime_in_python(page, tmp_path, name):
    """By default the page runs a model's int8 copy (faster in onnxruntime-web; its look against the fp32 model
    is checked in tests/test_models.py) and paints as that file does in Python; with fp32 chosen, as the model."""
    rng = np.random.default_rng(1)
    photo = cv2.GaussianBlur(rng.integers(0, 256, (61, 83, 3), np.uint8), (0, 0), 2)  # odd size on purpose
    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), photo)
    page.select_option("#style", name)
    page.select_option("#max-size", "0")
    page.set_input_files("#image-input", str(path))
    page.wait_for_function("() => window.stylize.frames >= 1 || window.stylize.error", timeout=60_000)
    assert page.evaluate("window.stylize.error") is None
    int8 = models.int8_copy(models.locate(name))
    assert int8 is not None and page.evaluate("window.stylize.precision") == "int8"
    browser_output = canvas_image(page)
    assert browser_output.shape == photo.shape
    # int8 kernels round differently in WebAssembly and on x86 in a few models (within 1 level on average)
    assert psnr(browser_output, StyleSession(int8, "cpu").run(photo)) >= 40
    assert psnr(browser_output, StyleSession(models.locate(name), "cpu").run(photo)) >= INT8_MIN_PSNR
    assert np.abs(browser_output.astype(int) - photo).mean() > 5  # stylized, not the input
    assert "ms/frame" in page.text_content("#fps") and "int8" in page.text_content("#status")

    page.select_option("#precision", "fp32")
    page.wait_for_function("() => window.stylize.frames >= 2 || window.stylize.error", timeout=60_000)
    expected = StyleSession(models.locate(name), "cpu").run(photo)
    assert np.abs(canvas_image(page).astype(int) - expected).max() <= 2

    page.eval_on_selector("#strength", "s => { s.value = '0.5'; s.dispatchEvent(new Event('change')); }")
    page.wait_for_function("() => window.stylize.frames >= 3 || window.stylize.error", timeout=60_000)
    half = StyleSession(models.locate(name), "cpu").run(photo, strength=0.5)
    assert np.abs(canvas_image(page).astype(int) - half).max() <= 2


def test_page_stylizes_the_webcam_live(page):
    page.click("#webcam")  # chromium's fake camera stands in for a real one
    page.wait_for_function("() => window.stylize.frames >= 4 || window.stylize.error", timeout=60_000)
    assert page.evaluate("window.stylize.error") is None
    assert re.match(r"\d+\.\d fps", page.text_content("#fps"))
    assert page.evaluate("window.stylize.fps") > 0
    assert canvas_image(page).std() > 1  # a real picture, not an empty canvas


def test_a_still_image_replaces_the_webcam_while_its_frames_are_painting(page, tmp_path):
    photo = np.full((40, 60, 3), 90, np.uint8)
    cv2.imwrite(str(tmp_path / "photo.png"), photo)
    page.select_option("#max-size", "0")
    page.click("#webcam")
    page.wait_for_function("() => window.stylize.frames >= 2 || window.stylize.error", timeout=60_000)
    page.set_input_files("#image-input", str(tmp_path / "photo.png"))
    page.wait_for_function("() => window.stylize.source === 'image' && document.getElementById('output').width === 60"
                           " || window.stylize.error", timeout=60_000)
    frames = page.evaluate("window.stylize.frames")
    page.wait_for_timeout(500)  # no webcam frame still painting is shown over the image
    assert page.evaluate("window.stylize.error") is None and page.evaluate("window.stylize.frames") == frames
    assert canvas_image(page).shape == photo.shape


@pytest.mark.skipif(shutil.which("node") is None, reason="node not installed")
@needs_npm_ort_web
def test_node_example_matches_onnxruntime_in_python(tmp_path):
    rng = np.random.default_rng(2)
    photo = cv2.GaussianBlur(rng.integers(0, 256, (45, 67, 3), np.uint8), (0, 0), 2)
    cv2.imwrite(str(tmp_path / "in.ppm"), photo)
    model = models.locate(models.DEFAULT_STYLE)
    done = subprocess.run(["node", str(ROOT / "examples" / "stylize_node.mjs"), str(model), str(tmp_path / "in.ppm"),
                           str(tmp_path / "out.ppm"), "0.5"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "67x45 in" in done.stdout
    expected = StyleSession(model, "cpu").run(photo, strength=0.5)
    assert np.abs(cv2.imread(str(tmp_path / "out.ppm")).astype(int) - expected).max() <= 1


def test_page_starts_on_the_default_style_or_the_one_in_the_address(page, server):
    assert page.evaluate("window.stylize.model") == models.DEFAULT_STYLE
    other = next(n for n in sorted(models.shipped_models()) if n != models.DEFAULT_STYLE)
    page.goto(f"{server}?model={other}")
    page.wait_for_function("() => document.body.dataset.state === 'ready'", timeout=60_000)
    assert page.evaluate("window.stylize.model") == other == page.eval_on_selector("#style", "s => s.value")


def test_server_offers_the_users_own_models_too(negative_model, ort_web):
    server = make_server(port=0, extra_models=[str(negative_model)])
    try:
        name = negative_model.stem
        assert name in server.RequestHandlerClass.keywords["catalogue"]
    finally:
        server.server_close()


def test_serve_rejects_a_file_that_is_not_a_contract_model(tmp_path):
    from stylize.realtime.core.errors import UserError

    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(UserError, match="bad.onnx"):
        make_server(port=0, extra_models=[str(bad)])


def test_page_paints_with_a_painting_given_to_it_like_python(page, tmp_path):
    """A painting chosen (or dropped) in the page is encoded there and the live model paints with it,
    as the desktop tool does with that painting."""
    from stylize.realtime.painting_style import StyleEncoder

    rng = np.random.default_rng(2)
    art = cv2.GaussianBlur(rng.integers(0, 256, (256, 256, 3), np.uint8), (0, 0), 3)  # the encoder's size: no resize
    cv2.imwrite(str(tmp_path / "art.png"), art)
    page.set_input_files("#painting-input", str(tmp_path / "art.png"))
    page.wait_for_function("() => window.stylize.styleVector || window.stylize.error", timeout=60_000)
    assert page.evaluate("window.stylize.error") is None
    vector = np.array(page.evaluate("Array.from(window.stylize.styleVector)"), np.float32)
    # the int8 encoder may land one quantization step (0.02) apart where a canvas pixel rounds differently
    np.testing.assert_allclose(vector, StyleEncoder().encode_image(art), atol=0.025)
    assert page.evaluate("window.stylize.model") == models.LIVE_MODEL.stem
    photo = cv2.GaussianBlur(rng.integers(0, 256, (61, 83, 3), np.uint8), (0, 0), 2)
    cv2.imwrite(str(tmp_path / "photo.png"), photo)
    page.select_option("#max-size", "0")
    page.set_input_files("#image-input", str(tmp_path / "photo.png"))
    page.wait_for_function("() => window.stylize.frames >= 1 || window.stylize.error", timeout=60_000)
    expected = StyleSession(models.int8_copy(models.LIVE_MODEL), "cpu").run(photo, 1.0, vector)
    assert np.abs(canvas_image(page).astype(int) - expected).max() <= 2  # the int8 copy, with the painting's style
    assert "art.png" in page.text_content("#status")


def test_a_client_leaving_mid_answer_is_one_line_not_a_traceback(server, capfd):
    import socket
    from urllib.parse import urlsplit

    from stylize.realtime.serve import PageServer

    assert PageServer.request_queue_size >= 128  # many parallel GETs are queued, not refused
    address = urlsplit(server)
    for _ in range(5):
        with socket.create_connection((address.hostname, address.port)) as client:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            client.sendall(f"GET /models/{models.DEFAULT_STYLE}.onnx HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert get(server + "models.json")[0] == 200  # still serving
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize("host,bound,allowed", [
    ("127.0.0.1:8000", "127.0.0.1", True), ("localhost:8000", "127.0.0.1", True), ("[::1]:8000", "::1", True),
    ("192.168.1.7:8000", "0.0.0.0", True), ("studio.lan:8000", "studio.lan", True), ("LOCALHOST", "127.0.0.1", True),
    ("attacker.example:8000", "127.0.0.1", False), ("attacker.example", "0.0.0.0", False), ("", "127.0.0.1", False),
    ("localhost.attacker.example", "127.0.0.1", False)])
def test_the_server_answers_only_requests_addressed_to_it(host, bound, allowed):
    from stylize.realtime.serve import allowed_host

    assert allowed_host(host, bound) is allowed


def test_a_dns_rebinding_request_gets_nothing(server):
    import http.client
    from urllib.parse import urlsplit

    connection = http.client.HTTPConnection(urlsplit(server).hostname, urlsplit(server).port, timeout=5)
    connection.request("GET", "/models.json", headers={"Host": "attacker.example"})
    response = connection.getresponse()
    assert response.status == 421 and b"models" not in response.read()


def test_serve_on_an_ipv6_address_or_a_name_that_is_not_here_is_a_clear_message(ort_web):
    with pytest.raises(UserError, match="not an address of this machine"):
        make_server(host="no-such-host.invalid", port=0)
    try:
        server = make_server(host="::1", port=0)
    except UserError as exc:
        assert "pick another --port" not in str(exc)  # no IPv6 here: said as it is
    else:
        server.server_close()
