"""Hostile text: file names that are not UTF-8 and model metadata with control characters are data to
show or refuse, never a crash, a traceback or a terminal driven by a model file."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import onnx
import pytest

from stylize.cli import main
from stylize.realtime.core.text import metadata_text, opencv_path, printable
from stylize.realtime.core.errors import UserError
from tests.conftest import contract_metadata, make_contract_model

STYLIZE = [sys.executable, "-c", "import sys; from stylize.cli import main; sys.exit(main())"]
NOT_UTF8 = b"in\xff"

needs_byte_names = pytest.mark.skipif(sys.platform in ("win32", "darwin"),
                                      reason="the file system takes only valid Unicode names")


def run(args: list, cwd) -> subprocess.CompletedProcess:
    """The command in a process of its own (a crash inside OpenCV would take pytest down with it)."""
    return subprocess.run(STYLIZE + [os.fsdecode(a) if isinstance(a, bytes) else str(a) for a in args],
                          cwd=cwd, capture_output=True, timeout=300)


@needs_byte_names
def test_an_image_whose_name_is_not_utf8_is_painted(tmp_path, negative_model, photo):
    name = os.fsdecode(NOT_UTF8 + b".png")
    cv2.imencode(".png", photo)[1].tofile(str(tmp_path / name))
    done = run(["image", name, "-o", "out", "-m", negative_model, "--paint-size", "full"], tmp_path)
    assert done.returncode == 0, done.stderr
    written = os.listdir(os.fsencode(tmp_path / "out"))
    assert written == [NOT_UTF8 + b"_negative.png"]
    painted = cv2.imdecode(np.fromfile(os.fsdecode(os.fsencode(tmp_path / "out") + b"/" + written[0]), np.uint8), 1)
    assert np.array_equal(painted, 255 - photo)


@needs_byte_names
@pytest.mark.parametrize("verb", ["video", "webcam"])
def test_a_video_or_camera_whose_name_is_not_utf8_is_a_message(tmp_path, negative_model, clip, verb):
    name = os.fsdecode(NOT_UTF8 + b".mp4")
    shutil.copyfile(clip, tmp_path / name)
    args = ["video", name, "-o", "out.mp4"] if verb == "video" else ["webcam", "--camera", name, "--no-window"]
    done = run(args + ["-m", negative_model], tmp_path)
    err = done.stderr.decode()
    assert done.returncode == 2 and "not valid UTF-8" in err and "in\\xff.mp4" in err and "Traceback" not in err
    assert not (tmp_path / "out.mp4").exists()


def test_model_metadata_cannot_drive_the_terminal(tmp_path, capsys):
    metadata = contract_metadata() | {"stylize.style": "\x1b[2J\x1b[Hforged\nrow\tx"}
    model = make_contract_model(tmp_path / "evil.onnx", metadata=metadata)
    assert main(["models", "--model", str(model)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\\x1b[2J" in out and "forged\\x0arow" in out
    assert main(["models", "--model", str(model), "--markdown"]) == 0
    assert "\x1b" not in capsys.readouterr().out


def test_text_guards():
    assert printable("a\x1bb\x9b\udcffc\nd") == "a\\x1bb\\x9b\\xffc\nd"
    assert printable("a\nb\tc", one_line=True) == "a\\x0ab\\x09c"
    assert printable("café ✓") == "café ✓"  # ordinary text untouched
    assert metadata_text("in\udcff.jpg") == "in\\xff.jpg" and metadata_text("café") == "café"
    metadata_text("in\udcff.jpg").encode("utf-8")
    assert opencv_path("ok/clip.mp4") == "ok/clip.mp4"
    with pytest.raises(UserError, match="not valid UTF-8"):
        opencv_path("in\udcff.mp4", "video")


@needs_byte_names
def test_a_painting_whose_name_is_not_utf8_bakes_into_valid_metadata(tmp_path, photo):
    painting = tmp_path / os.fsdecode(NOT_UTF8 + b".png")
    cv2.imencode(".png", photo)[1].tofile(str(painting))
    assert main(["bake", str(painting), "-o", str(tmp_path / "baked.onnx")]) == 0
    meta = {p.key: p.value for p in onnx.load(str(tmp_path / "baked.onnx")).metadata_props}
    assert meta["stylize.style"] == "in\\xff"


@needs_byte_names
def test_a_model_whose_name_is_not_utf8_is_baked_checked_and_run(tmp_path, photo):
    """onnxruntime takes only names it can encode: such a model is handed to it as bytes, in the bounds probe too."""
    painting, model = tmp_path / "art.png", tmp_path / os.fsdecode(NOT_UTF8 + b".onnx")
    cv2.imwrite(str(painting), photo)
    assert main(["bake", str(painting), "-o", str(model)]) == 0
    assert main(["image", str(painting), "-m", str(model), "-o", str(tmp_path / "painted.png")]) == 0
    assert cv2.imread(str(tmp_path / "painted.png")).shape == photo.shape


def test_output_names_with_control_characters_print_as_escapes(tmp_path, photo, negative_model, capfd):
    cv2.imwrite(str(tmp_path / "photo.png"), photo)
    output = tmp_path / "x\x1b[2Jy.png"
    assert main(["image", str(tmp_path / "photo.png"), "-m", str(negative_model), "-o", str(output)]) == 0
    printed = capfd.readouterr()
    assert output.is_file() and "\x1b" not in printed.out + printed.err and "x\\x1b[2Jy.png" in printed.err


@pytest.mark.parametrize("settings", ["[" * 100_000, "{\"trained_steps\": " + "9" * 5000 + "}", "[1, 2]",
                                      "{\"width\": \"abc\", \"trained_steps\": Infinity}", "x" * (2 << 20)])
def test_hostile_settings_metadata_is_ignored_not_a_traceback(tmp_path, capsys, settings):
    metadata = contract_metadata() | {"stylize.training_settings": settings}
    model = make_contract_model(tmp_path / "odd.onnx", metadata=metadata)
    for extra in ([], ["--markdown"]):
        assert main(["models", "--model", str(model), *extra]) == 0
        assert "Traceback" not in capsys.readouterr().err
    assert main(["models", "--model", str(model), "--json"]) == 0  # strictly JSON: no Infinity or NaN
    json.loads(capsys.readouterr().out, parse_constant=lambda name: pytest.fail(f"{name} in --json output"))


def hostile_model(path, kind: str):
    """A tiny contract-shaped model that asks for 6 GB (``ConstantOfShape`` to 1x3x30000x17000) or loops 2^62
    times, whatever the frame."""
    from onnx import TensorProto, helper, numpy_helper

    frame = helper.make_tensor_value_info("frame", TensorProto.UINT8, ["N", "H", "W", 3])
    out = helper.make_tensor_value_info("stylized", TensorProto.UINT8, ["N", "H", "W", 3])
    if kind == "huge":
        inits = [numpy_helper.from_array(np.array([1, 3, 30000, 17000], np.int64), "shape")]
        nodes = [helper.make_node("ConstantOfShape", ["shape"], ["big"]),
                 helper.make_node("ReduceMax", ["big"], ["m"], keepdims=0),
                 helper.make_node("Cast", ["m"], ["m8"], to=TensorProto.UINT8),
                 helper.make_node("Add", ["frame", "m8"], ["stylized"])]
    else:
        body = helper.make_graph([helper.make_node("Identity", ["cond"], ["cond_out"])], "body",
                                 [helper.make_tensor_value_info("i", TensorProto.INT64, []),
                                  helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
                                 [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, [])])
        inits = [numpy_helper.from_array(np.array(2 ** 62, np.int64), "trips"),
                 numpy_helper.from_array(np.array(True), "yes")]
        nodes = [helper.make_node("Loop", ["trips", "yes"], [], body=body),
                 helper.make_node("Identity", ["frame"], ["stylized"])]
    graph = helper.make_graph(nodes, kind, [frame], [out], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for key, value in contract_metadata().items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("kind,message", [("huge", "within 3 GB"), ("loop", "Loop")])
def test_an_unbounded_model_is_refused_before_it_runs(tmp_path, photo, capsys, kind, message):
    model = hostile_model(tmp_path / f"{kind}.onnx", kind)
    cv2.imwrite(str(tmp_path / "p.png"), photo)
    assert main(["image", str(tmp_path / "p.png"), "-o", str(tmp_path / "out"), "-m", str(model)]) == 2
    err = capsys.readouterr().err
    assert "refused" in err and message in err and "Traceback" not in err and not (tmp_path / "out").exists()
    assert main(["import", str(model), "-o", str(tmp_path / "wrapped.onnx")]) == 2
    assert "refused" in capsys.readouterr().err and not (tmp_path / "wrapped.onnx").exists()


def test_misleading_messages_now_say_what_happened(tmp_path, photo, clip, negative_model, capsys):
    cv2.imwrite(str(tmp_path / "p.png"), photo)
    (tmp_path / "taken.mp4").write_bytes(b"mine")
    cases = [
        (["--max-pixels", "1", "image", str(tmp_path / "p.png"), "-o", str(tmp_path / "o"), "-m", str(negative_model)],
         "83x61 is 5063 pixels, over the limit of 1 pixels"),
        (["webcam", "--camera", str(clip), "--no-window", "-m", str(negative_model), "--record",
          str(tmp_path / "taken.mp4")], "choose another file name"),
        (["video", str(clip), "-o", "/dev/null", "-m", str(negative_model)], "not a folder, and not a video file"),
        (["image", str(tmp_path / "p.png"), "-o", str(tmp_path / "o"), "--style", str(tmp_path)],
         "a folder, device or pipe"),
    ]
    for argv, message in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and "--overwrite" not in err, (argv, err)
    assert (tmp_path / "taken.mp4").read_bytes() == b"mine"


def test_a_model_that_fails_while_painting_is_a_sentence(tmp_path, photo, capsys):
    model = make_contract_model(tmp_path / "square.onnx", kind="square_only")
    cv2.imwrite(str(tmp_path / "photo.png"), photo)
    assert main(["image", str(tmp_path / "photo.png"), "-m", str(model), "-o", str(tmp_path / "out.png")]) == 2
    err = capsys.readouterr().err
    assert "failed to paint" in err and "Traceback" not in err and len(err.strip().splitlines()) <= 2
