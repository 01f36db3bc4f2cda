"""Copy the onnxruntime-web files the browser page needs into the package, gzip-compressed (the
14 MB wasm stays out of git: a wheel built after this carries it; .ci/run runs it).

    npm install && python scripts/vendor_ort_web.py

Writes realtime/web/ort/: ort.wasm.min.js, ort-wasm-simd-threaded.mjs and ort-wasm-simd-threaded.wasm
as .gz files (the server sends them with Content-Encoding: gzip), onnxruntime's MIT licence, and
manifest.json with the version and each file's SHA-256 (the tests check the served bytes against it).
Run it again whenever package.json's onnxruntime-web version changes.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "node_modules" / "onnxruntime-web"
TARGET = ROOT / "realtime" / "web" / "ort"
FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")  # serve.ORT_WEB_FILES
# the npm package declares "license": "MIT" but carries no licence file: onnxruntime's own LICENSE
MIT_LICENSE = """MIT License

Copyright (c) Microsoft Corporation

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


def main() -> int:
    if not (SOURCE / "package.json").is_file():
        print(f"no {SOURCE}: run npm install first", file=sys.stderr)
        return 1
    version = json.loads((SOURCE / "package.json").read_text())["version"]
    wanted = json.loads((ROOT / "package.json").read_text())["dependencies"]["onnxruntime-web"]
    if version != wanted:
        print(f"node_modules has onnxruntime-web {version}, package.json asks for {wanted}: run npm install",
              file=sys.stderr)
        return 1
    TARGET.mkdir(parents=True, exist_ok=True)
    if json.loads((SOURCE / "package.json").read_text()).get("license") != "MIT":
        print("onnxruntime-web's licence is no longer MIT: check it before shipping", file=sys.stderr)
        return 1
    manifest = {"package": "onnxruntime-web", "version": version, "license": "MIT", "files": {}}
    for name in FILES:
        data = (SOURCE / "dist" / name).read_bytes()
        manifest["files"][name] = hashlib.sha256(data).hexdigest()
        (TARGET / f"{name}.gz").write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
    (TARGET / "LICENSE").write_text(MIT_LICENSE)
    (TARGET / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"onnxruntime-web {version} -> {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
