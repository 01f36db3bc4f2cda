"""`stylize serve`: the browser page (onnxruntime-web, WebAssembly) with the shipped models.

The page is static (``realtime/web``); this server adds ``models.json`` (the style list), the model
files under ``models/``, and onnxruntime-web itself under ``ort/``, from the copy inside the package
(or a checkout's ``npm install``): nothing is loaded from elsewhere, so the page works offline and no
third-party script sees the camera. The page paints in workers, one per core; the server isolates it
(cross-origin isolation, a content security policy that names no other host).
"""
from __future__ import annotations

import errno
import gzip
import ipaddress
import json
import logging
import socket
import sys
import tempfile
import webbrowser
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .bake import with_required_style_input
from .core.errors import UserError
from .model_listing import describe_models
from .painting_style import ENCODER_INPUT_SIZE, shipped_style_vectors
from .. import models

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent / "web"
ORT_WEB_VERSION = "1.30.0"  # keep in step with package.json and web/app.js
# onnxruntime-web's files: gzip-compressed inside the package (scripts/vendor_ort_web.py packs them
# into a wheel), or a checkout's npm install; the page never loads anything from elsewhere
ORT_WEB_FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
PACKAGED_ORT_WEB = WEB_DIR / "ort"
PROJECT_ORT_WEB = Path(__file__).resolve().parents[1] / "node_modules" / "onnxruntime-web" / "dist"
MAX_URL_LENGTH = 2048  # longer request targets get 414
IDLE_TIMEOUT_S = 30
# cross-origin isolation (which also lets onnxruntime-web run threads), and a policy under which the browser
# itself refuses to load or send anything from or to another host
PAGE_HEADERS = {"Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "credentialless",
                "Content-Security-Policy": "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; "
                                           "worker-src 'self' blob:; img-src 'self' blob: data:; "
                                           "media-src 'self' blob: mediastream:; connect-src 'self' blob: data:; "
                                           "style-src 'self' 'unsafe-inline'; form-action 'none'"}


def find_ort_web(explicit: str | Path | None = None) -> Path:
    """The folder of onnxruntime-web files the page loads: ``explicit`` (another build's dist folder;
    an error when it lacks ``ort.wasm.min.js``), else the copy inside the package (a wheel carries it),
    else a checkout's ``npm install``; never a CDN."""
    if explicit:
        candidates = [Path(explicit), Path(explicit) / "dist", Path(explicit) / "node_modules" / "onnxruntime-web" / "dist"]
    elif all((PACKAGED_ORT_WEB / f"{name}.gz").is_file() for name in ORT_WEB_FILES):
        return PACKAGED_ORT_WEB
    else:
        candidates = [PROJECT_ORT_WEB]
    for folder in candidates:
        if all((folder / name).is_file() for name in ORT_WEB_FILES):
            return folder
    if explicit:
        raise UserError(f"--ort-web {explicit}: no onnxruntime-web {ORT_WEB_VERSION} files there "
                        f"({', '.join(ORT_WEB_FILES)}); give its dist folder, or leave the option out")
    raise UserError(f"onnxruntime-web {ORT_WEB_VERSION} is not in this checkout: run 'npm install' in the project "
                    "root once (wheels carry it; scripts/vendor_ort_web.py packs it)")


INT8_SUFFIX = ".int8"  # models/<name>.int8.onnx: a shipped model's int8 copy


def model_catalogue(extra: list[str] | None = None, web_forms: Path | None = None) -> dict[str, dict]:
    """Every shipped model plus the given contract model files, by name, with what the page shows.
    Reading each file's metadata validates it: a file that is not a contract model fails here. A model
    with a style input (the live model) is served as a copy whose style input the page can feed,
    written into ``web_forms``, with its default style vector listed. A shipped model's int8 copy is
    offered beside it (``int8Url``): onnxruntime-web runs int8 convolutions faster than float ones."""
    catalogue = {}
    for r in describe_models(extra):
        entry = {"name": r["name"], "style": r["style"], "architecture": r["architecture"], "size_mb": r["size_mb"],
                 "url": f"models/{r['name']}.onnx", "path": Path(r["path"])}
        int8 = models.int8_copy(entry["path"])
        if int8 is not None:
            entry.update(int8Url=f"models/{r['name']}{INT8_SUFFIX}.onnx", int8_path=int8)
        if r["style_dims"] and web_forms is not None:
            entry["path"] = web_forms / f"{r['name']}.onnx"
            entry["styleDefault"] = [round(float(v), 6) for v in with_required_style_input(r["path"], entry["path"])]
            if int8 is not None:
                entry["int8_path"] = web_forms / f"{r['name']}{INT8_SUFFIX}.onnx"
                with_required_style_input(int8, entry["int8_path"])
        catalogue[r["name"]] = entry
    return catalogue


def model_file(catalogue: dict[str, dict], file_name: str) -> Path | None:
    """The file behind ``models/<file_name>``: a model's, or its int8 copy's (``<name>.int8.onnx``)."""
    stem = file_name.removesuffix(".onnx")
    if stem in catalogue:
        return catalogue[stem]["path"]
    entry = catalogue.get(stem.removesuffix(INT8_SUFFIX)) if stem.endswith(INT8_SUFFIX) else None
    return entry.get("int8_path") if entry else None


class PageHandler(SimpleHTTPRequestHandler):
    """Serves the page's files, ``models.json``, ``models/<name>.onnx`` and ``ort/<file>``; nothing else."""

    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".wasm": "application/wasm",
                      ".mjs": "text/javascript", ".js": "text/javascript"}

    timeout = IDLE_TIMEOUT_S  # an idle or stalled connection is closed instead of holding a thread forever

    def __init__(self, *args, catalogue: dict[str, dict], ort_dir: Path | None, **kwargs):
        self.catalogue = catalogue
        self.ort_dir = ort_dir
        super().__init__(*args, directory=str(WEB_DIR), **kwargs)

    def end_headers(self) -> None:
        for key, value in PAGE_HEADERS.items():
            self.send_header(key, value)
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def translate_path(self, path: str) -> str:
        try:
            return self._known_file(path)
        except (OSError, ValueError):  # a name too long for the file system, a NUL byte, ...
            return str(WEB_DIR / "does-not-exist")

    def _known_file(self, path: str) -> str:
        parts = unquote(urlsplit(path).path).strip("/").split("/")
        if parts == [""]:
            return str(WEB_DIR / "index.html")
        if len(parts) == 1 and (WEB_DIR / parts[0]).is_file():
            return str(WEB_DIR / parts[0])
        if len(parts) == 2 and parts[0] == "models" and parts[1].endswith(".onnx"):
            found = model_file(self.catalogue, parts[1])
            if found:
                return str(found)
        if parts == ["encoder.onnx"] and models.STYLE_ENCODER.is_file():
            return str(models.STYLE_ENCODER)
        if len(parts) == 2 and parts[0] == "ort":
            for name in (parts[1], f"{parts[1]}.gz"):  # a packaged file is sent as what it holds
                if (self.ort_dir / name).is_file():
                    return str(self.ort_dir / name)
        return str(WEB_DIR / "does-not-exist")  # 404, and never a path outside these folders

    def do_GET(self) -> None:
        self._answer(with_body=True)

    def do_HEAD(self) -> None:
        self._answer(with_body=False)

    def _answer(self, with_body: bool) -> None:
        if len(self.path) > MAX_URL_LENGTH:
            self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG)
            return
        if not allowed_host(self.headers.get("Host", ""), self.server.server_address[0]):
            self.send_error(HTTPStatus.MISDIRECTED_REQUEST, "this server answers only its own address")
            return
        if urlsplit(self.path).path == "/models.json":
            live = [e["name"] for e in self.catalogue.values() if "styleDefault" in e]
            paintings = {"encoder": "encoder.onnx", "inputSize": ENCODER_INPUT_SIZE, "model": live[0],
                         "styles": {k: v["vector"] for k, v in shipped_style_vectors().items()}} \
                if live and models.STYLE_ENCODER.is_file() else None
            body = json.dumps({"ortVersion": ORT_WEB_VERSION,
                               "default": models.DEFAULT_STYLE, "paintings": paintings,
                               "models": [{k: v for k, v in e.items() if k not in ("path", "int8_path")}
                                          for e in self.catalogue.values()]}).encode()
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if with_body:
                self.wfile.write(body)
            return
        found = Path(self.translate_path(self.path))
        if found.suffix == ".gz" and found.parent == self.ort_dir:
            self._send_gzipped(found, with_body)
            return
        super().do_GET() if with_body else super().do_HEAD()

    def _send_gzipped(self, path: Path, with_body: bool) -> None:
        """A packaged .gz file as what it holds: sent compressed to clients that accept gzip (every
        browser), decompressed for the others."""
        body = path.read_bytes()
        compressed = "gzip" in self.headers.get("Accept-Encoding", "")
        if not compressed:
            body = gzip.decompress(body)
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", self.guess_type(path.name[: -len(".gz")]))
        if compressed:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def log_request(self, code="-", size="-") -> None:  # keep the terminal quiet; failures still show
        if str(getattr(code, "value", code)).startswith(("4", "5")):
            super().log_request(code, size)


def allowed_host(header: str, bound: str) -> bool:
    """Whether a request's Host names this server: an IP address, ``localhost`` or the address it is bound
    to. Any other name is refused, so a web page whose domain was made to resolve to this machine (DNS
    rebinding) cannot read the models or the page through the visitor's browser."""
    host = header.strip().lower()
    if host.startswith("["):  # [v6 address]:port
        host = host[1:host.find("]")] if "]" in host else ""
    elif host.count(":") == 1:
        host = host.split(":")[0]
    if not host:
        return False
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return host in ("localhost", bound.lower())


class PageServer(ThreadingHTTPServer):
    """The page's server: a listen backlog for many browsers' parallel requests (the default is 5)."""

    request_queue_size = 1024
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """A client that goes away mid-answer is one line in the log, not a traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            log.info(f"{client_address[0]} left before the answer was sent ({error.__class__.__name__})")
            return
        super().handle_error(request, client_address)


def make_server(host: str = "127.0.0.1", port: int = 8000, extra_models: list[str] | None = None,
                ort_web: str | Path | None = None) -> ThreadingHTTPServer:
    """An HTTP server for the page (port 0 picks a free one); call ``serve_forever`` on it."""
    web_forms = tempfile.TemporaryDirectory(prefix="stylize-serve-")  # removed with the server object
    catalogue = model_catalogue(extra_models, Path(web_forms.name))
    if not catalogue:
        raise UserError("no models to serve: none shipped, and no --model given")
    handler = partial(PageHandler, catalogue=catalogue, ort_dir=find_ort_web(ort_web))
    server_class = PageServer
    if ":" in host:  # an IPv6 address
        server_class = type("PageServer6", (PageServer,), {"address_family": socket.AF_INET6})
    try:
        server = server_class((host, port), handler)
    except socket.gaierror as exc:
        raise UserError(f"--host {host}: not an address of this machine ({exc.strerror})") from exc
    except OSError as exc:
        hint = "pick another --port" if exc.errno == errno.EADDRINUSE else "check --host and --port"
        raise UserError(f"cannot listen on {host}:{port} ({exc.strerror}); {hint}") from exc
    server.web_forms = web_forms
    return server


def serve(host: str, port: int, extra_models: list[str] | None, ort_web: str | None, open_browser: bool) -> int:
    """Serve the page until Ctrl-C."""
    server = make_server(host, port, extra_models, ort_web)
    url = f"http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{server.server_address[1]}/"
    ort_dir = server.RequestHandlerClass.keywords["ort_dir"]
    log.info(f"serving the browser page at {url}  (Ctrl-C to stop)")
    log.info(f"onnxruntime-web {ORT_WEB_VERSION} from {'the package' if ort_dir == PACKAGED_ORT_WEB else ort_dir}: "
             "the page loads nothing from elsewhere, and frames never leave this machine")
    if open_browser and not webbrowser.open(url):
        log.warning(f"no web browser found to open; open {url} in one yourself")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
