"""Shared fixtures: tiny contract models built with onnx.helper, generated clips and images."""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from stylize.realtime.core import contract

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# `pytest -m "not slow"` leaves these out: the training runs, packaging and cluster tests, and the tests that
# wait on real processes, windows and browsers (the README's command and CI run everything)
SLOW_MODULES = {"test_train_export.py", "test_style_refine.py", "test_live_model.py", "test_distributed.py",
                "test_weights.py", "test_gatys.py", "test_quantize.py", "test_package.py", "test_cluster.py",
                "test_web.py"}
SLOW_TESTS = {"test_ctrl_c_to_the_process_group_keeps_the_webcam_recording", "test_a_double_ctrl_c_ends_the_webcam_cleanly",
              "test_the_cli_answers_any_file_name_with_a_result_or_a_message", "test_window_on_a_virtual_display"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in SLOW_MODULES or item.originalname in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True, scope="session")
def own_cache(tmp_path_factory):
    """The suite never writes into the user's ~/.cache/stylize: its encoded paintings and notes go to a
    folder of its own."""
    previous = os.environ.get("STYLIZE_CACHE")
    os.environ["STYLIZE_CACHE"] = str(tmp_path_factory.mktemp("stylize-cache"))
    yield
    if previous is None:
        os.environ.pop("STYLIZE_CACHE", None)
    else:
        os.environ["STYLIZE_CACHE"] = previous


def contract_metadata(style: str = "negative", io_layout: str = contract.IO_UINT8_BGR) -> dict[str, str]:
    return {
        contract.META_CONTRACT: contract.CONTRACT_VERSION,
        contract.META_STYLE: style,
        contract.META_ARCH: "test",
        contract.META_BACKBONE: "none",
        contract.META_SETTINGS: json.dumps({"made_by": "tests"}),
        contract.META_IO: io_layout,
    }


def make_contract_model(path: Path, kind: str = "negative", metadata: dict[str, str] | None = None,
                        frame_name: str = contract.INPUT_FRAME, with_strength: bool = True) -> Path:
    """A tiny contract model: 'negative' returns 255 - frame, 'constant' returns mid-grey; both blended
    with the frame by ``strength`` like a real exported model."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    nodes = [helper.make_node("Cast", [frame_name], ["x"], to=TensorProto.FLOAT)]
    inits = [numpy_helper.from_array(np.array(255.0, np.float32), "c255"),
             numpy_helper.from_array(np.array(128.0, np.float32), "c128"),
             numpy_helper.from_array(np.array(0.0, np.float32), "c0")]
    if kind == "negative":
        nodes.append(helper.make_node("Sub", ["c255", "x"], ["styled"]))
    elif kind == "one_pixel":  # breaks the contract: a 1x1 output whatever the frame's size
        inits += [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in
                  (("s0", [0, 0]), ("s1", [1, 1]), ("axes", [1, 2]))]
        nodes.append(helper.make_node("Slice", ["x", "s0", "s1", "axes"], ["corner"]))
        nodes.append(helper.make_node("Sub", ["c255", "corner"], ["styled_small"]))
        nodes.append(helper.make_node("Cast", ["styled_small"], [contract.OUTPUT], to=TensorProto.UINT8))
    elif kind == "square_only":  # paints 64x64 frames (the bounds probe's) alone: other sizes fail while running
        inits.append(numpy_helper.from_array(np.array([1, 64, 64, 3], np.int64), "square"))
        nodes.append(helper.make_node("Reshape", ["x", "square"], ["x64"]))
        nodes.append(helper.make_node("Sub", ["c255", "x64"], ["styled"]))
    else:
        nodes.append(helper.make_node("Sub", ["x", "x"], ["zero"]))
        nodes.append(helper.make_node("Add", ["zero", "c128"], ["styled"]))
    nodes += [] if kind == "one_pixel" else [
        helper.make_node("Sub", ["styled", "x"], ["delta"]),
        helper.make_node("Mul", ["delta", contract.INPUT_STRENGTH], ["scaled"]),
        helper.make_node("Add", ["x", "scaled"], ["blend"]),
        helper.make_node("Clip", ["blend", "c0", "c255"], ["clipped"]),
        helper.make_node("Round", ["clipped"], ["rounded"]),
        helper.make_node("Cast", ["rounded"], [contract.OUTPUT], to=TensorProto.UINT8),
    ]
    inputs = [helper.make_tensor_value_info(frame_name, TensorProto.UINT8, ["N", "H", "W", 3])]
    strength_default = numpy_helper.from_array(np.array(1.0, np.float32), contract.INPUT_STRENGTH)
    inits.append(strength_default)
    if with_strength:
        inputs.append(helper.make_tensor_value_info(contract.INPUT_STRENGTH, TensorProto.FLOAT, []))
    graph = helper.make_graph(nodes, "tiny", inputs,
                              [helper.make_tensor_value_info(contract.OUTPUT, TensorProto.UINT8, ["N", "H", "W", 3])],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for key, value in (contract_metadata(kind) if metadata is None else metadata).items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.fixture
def negative_model(tmp_path: Path) -> Path:
    return make_contract_model(tmp_path / "negative.onnx")


@pytest.fixture
def constant_model(tmp_path: Path) -> Path:
    return make_contract_model(tmp_path / "constant.onnx", kind="constant")


def ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def make_clip(path: Path, size: tuple[int, int] = (160, 120), frames: int = 12, fps: str = "25",
              audio: bool = True) -> Path:
    """A short test clip from ffmpeg's test source, with a sine tone when ``audio``."""
    w, h = size
    cmd = [ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
           "-i", f"testsrc=size={w}x{h}:rate={fps}"]
    if audio:
        cmd += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=5", "-c:a", "aac"]
    cmd += ["-frames:v", str(frames)]
    pix = "yuv420p" if w % 2 == 0 and h % 2 == 0 else "yuv444p"
    cmd += ["-c:v", "libx264", "-pix_fmt", pix, str(path)]
    subprocess.run(cmd, check=True)
    return path


def probe(path: Path) -> dict:
    """Frame count, fps and size (decoded with OpenCV) and whether there is audio (ffmpeg)."""
    cap = cv2.VideoCapture(str(path))
    count = 0
    size = None
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        count += 1
        size = (frame.shape[1], frame.shape[0])
    fps = cap.get(cv2.CAP_PROP_FPS)
    cap.release()
    info = subprocess.run([ffmpeg(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    codecs = re.findall(r"Stream #\S+: (?:Video|Audio): (\w+)", info)
    return {"frames": count, "fps": fps, "size": size, "audio": "Audio:" in info, "codecs": codecs}


@pytest.fixture
def started_commands(monkeypatch) -> list[list[str]]:
    """Every command line given to subprocess.Popen during the test (the processes still run)."""
    import subprocess

    commands, popen = [], subprocess.Popen
    monkeypatch.setattr(subprocess, "Popen", lambda cmd, *a, **k: commands.append(cmd) or popen(cmd, *a, **k))
    return commands


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return make_clip(tmp_path / "clip.mp4")


@pytest.fixture
def photo() -> np.ndarray:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:61, 0:83]
    img = np.stack([xx * 3, yy * 4, (xx + yy) * 2], -1) + rng.integers(0, 20, (61, 83, 3))
    return np.clip(img, 0, 255).astype(np.uint8)
