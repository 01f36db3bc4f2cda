"""The package as a user gets it: a wheel and an sdist built from the checkout's files, the wheel
installed into a fresh virtual environment outside the repository."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import make_clip

REPO = Path(__file__).resolve().parent.parent
pytest.importorskip("build")


def run(args: list, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


def checkout_files() -> list[str]:
    """The files a clean checkout would have: tracked ones plus new ones git does not ignore."""
    if not (REPO / ".git").exists() or shutil.which("git") is None:
        pytest.skip("needs a git checkout to know its files")
    listed = run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], REPO).stdout
    return [f for f in listed.split("\0") if f and (REPO / f).is_file()] + PACKED_ORT_WEB


# onnxruntime-web's wasm is not in git: scripts/vendor_ort_web.py packs it before a wheel is built
PACKED_ORT_WEB = [p.relative_to(REPO).as_posix() for p in (REPO / "realtime" / "web" / "ort").glob("*.wasm.gz")]


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> dict[str, Path]:
    """An sdist built from a copy of the checkout, and a wheel built from that sdist."""
    root = tmp_path_factory.mktemp("package")
    source = root / "checkout"
    for name in checkout_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, source / name)
    run([sys.executable, "-m", "build", "--no-isolation", "--outdir", root / "dist", source], root)
    wheel, = (root / "dist").glob("*.whl")
    sdist, = (root / "dist").glob("*.tar.gz")
    return {"wheel": wheel, "sdist": sdist, "root": root}


def make_venv(dist: dict[str, Path], name: str) -> Path:
    """A new venv with only the wheel installed; its dependencies (numpy, OpenCV, onnxruntime, ...)
    come from this test environment through a path entry, so no download is needed. That entry
    adds no import hooks, so the checkout's editable install is not visible there."""
    venv = dist["root"] / name
    run([sys.executable, "-m", "venv", venv], dist["root"])
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    run([python, "-m", "pip", "install", "--no-deps", "--no-index", "-q", dist["wheel"]], dist["root"])
    site = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], dist["root"])
                .stdout.strip())
    (site / "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


@pytest.fixture(scope="module")
def fresh_venv(dist) -> Path:
    return make_venv(dist, "venv")


def test_wheel_holds_one_namespace_with_models_web_page_and_samples(dist):
    names = zipfile.ZipFile(dist["wheel"]).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"stylize"}
    from stylize import models

    for path in models.shipped_models().values():
        assert f"stylize/models/{path.relative_to(models.MODELS_DIR).as_posix()}" in names
    for path in (models.STYLE_ENCODER, models.LIVE_STYLES, models.LIVE_MODEL_INT8, models.LIVE_DIR / "NOTICE",
                 *models.INT8_DIR.glob("*.onnx")):
        assert f"stylize/models/{path.relative_to(models.MODELS_DIR).as_posix()}" in names
    for name in ("stylize/realtime/web/index.html", "stylize/realtime/web/app.js", "stylize/realtime/samples/chelsea.jpg",
                 *[f"stylize/{p}" for p in PACKED_ORT_WEB], "stylize/realtime/web/ort/ort.wasm.min.js.gz",
                 "stylize/realtime/web/ort/ort-wasm-simd-threaded.mjs.gz", "stylize/realtime/web/ort/LICENSE",
                 "stylize/realtime/web/ort/manifest.json",
                 "stylize/realtime/samples/README.md", "stylize/export/nets.py", "stylize/__main__.py"):
        assert name in names
    assert not [n for n in names if "__pycache__" in n or n.startswith("stylize/tests")]


def test_only_stylize_is_importable_and_the_command_runs(fresh_venv, tmp_path):
    code = ("import importlib.util, stylize, stylize.cli, stylize.models as m; "
            "assert [n for n in ('realtime', 'export', 'models') if importlib.util.find_spec(n)] == []; "
            "print(m.MODELS_DIR)")
    models_dir = Path(run([fresh_venv, "-c", code], tmp_path).stdout.strip())
    assert REPO not in models_dir.parents and fresh_venv.parent.parent in models_dir.parents
    assert "VERB" in run([fresh_venv, "-m", "stylize", "--help"], tmp_path).stdout
    stylize = fresh_venv.parent / "stylize"
    demo = run([stylize, "demo", "-o", tmp_path / "demo"], tmp_path).stdout
    assert "camera move over" in demo
    assert (tmp_path / "demo" / "demo_candy.mp4").stat().st_size > 10_000
    assert (tmp_path / "demo" / "demo_candy.png").is_file()


def run_readme_api_example(python: Path, folder: Path) -> None:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Python API"):]
    example = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    shutil.copy(REPO / "realtime" / "samples" / "coffee.jpg", folder / "photo.jpg")
    make_clip(folder / "clip.mp4")
    run([python, "-c", example], folder)
    assert (folder / "photo_candy.png").is_file() and (folder / "clip_candy.mp4").is_file()


def test_the_readme_api_example_runs_in_the_installed_package(fresh_venv, tmp_path):
    run_readme_api_example(fresh_venv, tmp_path)


def test_the_lowest_supported_opencv_runs_the_demo_the_api_and_the_overlay(dist, tmp_path):
    """The OpenCV floor pyproject.toml claims (the newest release is what the rest of the suite runs)."""
    floor = re.search(r'"opencv-python>=([\d.]+)', (REPO / "pyproject.toml").read_text()).group(1)
    python = make_venv(dist, "venv-lowest-opencv")
    pip = subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", f"opencv-python=={floor}.*"],
                         capture_output=True, text=True, timeout=600)
    if pip.returncode != 0:
        pytest.skip(f"cannot install opencv-python {floor} (no package index?): {pip.stderr.strip()[-300:]}")
    version = run([python, "-c", "import cv2; print(cv2.__version__)"], tmp_path).stdout.strip()
    assert version.startswith(floor + ".")
    run([python, "-m", "stylize", "demo", "-o", tmp_path / "demo"], tmp_path)
    run_readme_api_example(python, tmp_path)
    overlay = ("import numpy as np; from stylize.realtime.core.frames import draw_text_lines; "
               "f = draw_text_lines(np.full((120, 320, 3), 128, np.uint8), ['candy 30 fps']); "
               "assert (f.min(axis=2) > 200).sum() > 50 and (f.max(axis=2) < 60).sum() > 50")  # white text, dark outline
    run([python, "-c", overlay], tmp_path)
