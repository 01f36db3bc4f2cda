"""Bad input, faults and signals on the runtime verbs: one clear line, a non-zero exit, nothing lost."""
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import zlib
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest

from stylize.cli import main
from tests.conftest import make_clip, probe

STYLIZE = [sys.executable, "-c", "import sys; from stylize.cli import main; sys.exit(main())"]
ROOT = Path(__file__).resolve().parents[2]


def png_claiming(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


def test_a_huge_image_header_is_refused_before_decoding(tmp_path, negative_model, photo, capsys):
    huge = png_claiming(tmp_path / "huge.png", 100_000, 100_000)
    assert main(["image", str(huge), "-o", str(tmp_path / "out"), "-m", str(negative_model)]) == 2
    err = capsys.readouterr().err
    assert "100000x100000" in err and "--max-pixels" in err and "Traceback" not in err
    big = tmp_path / "big.png"
    cv2.imwrite(str(big), np.zeros((300, 400, 3), np.uint8))
    assert main(["--max-pixels", "100000", "image", str(big), "-o", str(tmp_path / "o2"), "-m",
                 str(negative_model)]) == 2
    assert main(["--max-pixels", "200000", "image", str(big), "-o", str(tmp_path / "o3"), "-m",
                 str(negative_model)]) == 0


@pytest.mark.parametrize("verb", ["video", "bench"])
def test_a_huge_frame_size_is_a_clear_message(tmp_path, clip, negative_model, verb, capsys):
    args = [verb, str(clip), "-o", str(tmp_path / "o.mp4")] if verb == "video" else [verb]
    assert main(args + ["-m", str(negative_model), "--size", "100000x100000"]) == 2
    assert "over the limit" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["bench", "--frames", "0"], "--frames: 0: must be at least 1"),
    (["bench", "--threads", "0"], "--threads: 0: must be at least 1"),
    (["serve", "--port", "70000"], "--port: 70000: must be at least 0 and at most 65535"),
    (["video", "a.mp4", "-o", "b.mp4", "--strength", "2"], "--strength: 2: must be at least 0.0 and at most 1.0"),
    (["flicker", "--frames", "1"], "--frames: 1: must be at least 2"),
    (["gatys", "--content", "a", "--style", "b", "-o", "c.png", "--iterations", "0"], "must be at least 1"),
    (["gatys", "--content", "a", "--style", "b", "-o", "c.png", "--lr", "inf"], "must be a finite number"),
    (["eval", "-m", "x", "--content", "a", "-o", "r", "--size", "8"], "--size: 8: must be at least 32"),
    (["export", "run", "-o", "m.onnx", "--opset", "9"], "--opset: 9: must be at least 17 and at most 20"),
    (["train", "--style", "s", "--data", "d", "-o", "r", "--steps", "0"], "--steps: 0: must be at least 1"),
    (["train", "--style", "s", "--data", "d", "-o", "r", "--batch-size", "0"], "--batch-size: 0: must be at least 1"),
    (["train", "--style", "s", "--data", "d", "-o", "r", "--image-size", "8"], "--image-size: 8: must be at least 32"),
    (["train", "--style", "s", "--data", "d", "-o", "r", "--lr", "0"], "--lr: 0: must be greater than 0.0"),
    (["train", "--style", "s", "--data", "d", "-o", "r", "--lr", "nan"], "--lr: nan: must be a finite number"),
    (["train", "--style", "s", "--data", "d", "-o", "r", "--checkpoint-every", "0"], "must be at least 1"),
    (["train", "--style", "s", "--data", "d", "-o", "r", "--arch", "vgg"], "must be one of fast, fast-aa, fast-smooth, johnson"),
    (["--max-pixels", "0", "models"], "--max-pixels: 0: must be at least 1"),
    (["train", "--style", "s", "--data", "d", "-o", "r", "--seed", "-5"], "--seed: -5: must be at least 0"),
    (["image", "a.png", "-o", "o", "--threads", "10000"], "--threads: 10000: must be at least 1 and at most 256"),
    (["gatys", "--content", "a", "--style", "b", "-o", "c.png", "--size", "100000"], "must be at least 32 and at most"),
    (["image", "a.png", "-o", "o", "--style", "x", "--mix", "1,-1"], "weights must be finite, non-negative"),
])
def test_options_are_checked_at_parse_time(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_image_output_never_replaces_an_input_even_through_a_symlink(tmp_path, negative_model, photo, capsys):
    src = tmp_path / "in" / "a.png"
    src.parent.mkdir()
    cv2.imwrite(str(src), photo)
    out = tmp_path / "out"
    out.mkdir()
    (out / "a_negative.png").symlink_to(src)
    before = src.read_bytes()
    assert main(["image", str(src), "-o", str(out), "-m", str(negative_model), "--overwrite"]) == 2
    assert "overwrite an input" in capsys.readouterr().err
    assert src.read_bytes() == before


def run_in_own_group(args: list[str], **kwargs) -> subprocess.Popen:
    """The command as a terminal would run it: in a process group of its own, whose leader it is."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(STYLIZE + args, cwd=ROOT, env=env, start_new_session=True, stderr=subprocess.PIPE,
                            text=True, **kwargs)


def wait_for(predicate, timeout: float = 60.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_ctrl_c_to_the_process_group_keeps_the_webcam_recording(tmp_path, negative_model):
    """A terminal's Ctrl-C signals the whole foreground group, the encoder included."""
    camera = make_clip(tmp_path / "cam.mp4", frames=2000, audio=False)
    rec = tmp_path / "rec.mp4"
    proc = run_in_own_group(["webcam", "--camera", str(camera), "--no-window", "-m", str(negative_model),
                             "--record", str(rec), "--size", "160x120"])
    assert wait_for(lambda: any(p.stat().st_size > 8000 for p in tmp_path.glob("*partial*")) or proc.poll() is not None)
    os.killpg(proc.pid, signal.SIGINT)  # some frames into the recording
    _, err = proc.communicate(timeout=60)
    assert "encoding failed" not in err and "Traceback" not in err, err
    assert rec.is_file(), err
    assert probe(rec)["frames"] > 0


def test_sigterm_during_video_leaves_no_partial_file(tmp_path, negative_model):
    clip = make_clip(tmp_path / "long.mp4", size=(320, 240), frames=1500, audio=False)
    out = tmp_path / "out.mp4"
    proc = run_in_own_group(["video", str(clip), "-o", str(out), "-m", str(negative_model)])
    assert wait_for(lambda: any(tmp_path.glob("*partial*")) or proc.poll() is not None)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert not out.exists() and not list(tmp_path.glob("*partial*")), sorted(tmp_path.iterdir())
    assert "Traceback" not in err


def test_an_interrupt_while_the_encoder_starts_leaves_no_partial_file(tmp_path, clip, negative_model, monkeypatch):
    """The worst moment for Ctrl-C: the temporary file just made, the encoder not yet started. It comes once the
    writer is in charge of both, which then removes the file and stops the encoder."""
    from stylize.realtime import video_io
    from stylize.realtime.model_lookup import open_stylizer
    from stylize.realtime.video_conversion import convert_video

    made = video_io.reserve_temporary

    def interrupted_after_making(target):
        tmp = made(target)
        signal.raise_signal(signal.SIGINT)  # as a terminal's Ctrl-C would, at this very moment
        return tmp

    monkeypatch.setattr(video_io, "reserve_temporary", interrupted_after_making)
    with pytest.raises(KeyboardInterrupt):
        convert_video(Path(clip), tmp_path / "out.mp4", open_stylizer(str(negative_model)), progress=False)
    assert not list(tmp_path.glob("*partial*")) and not (tmp_path / "out.mp4").exists()


def test_an_interrupt_as_an_output_is_reserved_leaves_no_partial_file(tmp_path, monkeypatch):
    from stylize.realtime.core import outputs

    made = outputs.reserve_temporary

    def interrupted_after_making(target):
        tmp = made(target)
        signal.raise_signal(signal.SIGINT)
        return tmp

    monkeypatch.setattr(outputs, "reserve_temporary", interrupted_after_making)
    with pytest.raises(KeyboardInterrupt):
        with outputs.atomic_output(tmp_path / "picture.png") as tmp:
            tmp.write_bytes(b"never finished")
    assert list(tmp_path.iterdir()) == []


def test_an_interrupt_while_the_pipeline_starts_stops_its_decoder(monkeypatch):
    """A decoder left reading a capture that its caller then releases aborts the process (libavcodec)."""
    import threading

    from stylize.realtime.pipeline import run_pipeline

    start, started = threading.Thread.start, []

    def second_start_interrupted(thread):
        start(thread)
        started.append(thread)
        if len(started) == 2:
            raise KeyboardInterrupt

    def endless_frames():
        while True:
            time.sleep(0.01)
            yield np.zeros((4, 4, 3), np.uint8)

    monkeypatch.setattr(threading.Thread, "start", second_start_interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(endless_frames(), lambda frame: frame, lambda frame: None)
    assert not any(thread.is_alive() for thread in started)


def test_json_output_stays_clean_when_cuda_libraries_complain(negative_model, monkeypatch, capfd):
    import onnxruntime as ort

    from stylize.realtime.core import session

    monkeypatch.setattr(session, "nvidia_gpu_present", lambda: True)  # a GPU machine whose CUDA libraries are missing
    def noisy_preload():
        print("Failed to load libcublasLt.so.12")  # what onnxruntime-gpu does without the CUDA libraries
        os.write(1, b"native loader noise\n")

    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(ort, "preload_dlls", noisy_preload, raising=False)
    assert main(["bench", "-m", str(negative_model), "--size", "32x24", "--frames", "2", "--json"]) == 0
    out, err = capfd.readouterr()
    assert json.loads(out)["frames"] == 2
    assert "Failed to load" in err and "native loader noise" in err


def test_a_cpu_machine_with_the_gpu_build_hears_one_note_and_no_cuda_noise(negative_model, monkeypatch, capfd,
                                                                          tmp_path):
    import onnxruntime as ort

    from stylize.realtime.core import session

    monkeypatch.setenv("STYLIZE_CACHE", str(tmp_path / "fresh-cache"))  # a machine that never ran stylize
    monkeypatch.setattr(session, "nvidia_gpu_present", lambda: False)
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(ort, "preload_dlls", lambda: os.write(2, b"Failed to load libcublasLt.so.13\n"), raising=False)
    assert main(["bench", "-m", str(negative_model), "--size", "32x24", "--frames", "2", "--json"]) == 0
    err = capfd.readouterr().err
    assert "no NVIDIA GPU here: running on the CPU" in err and "Failed to load" not in err
    assert main(["bench", "-m", str(negative_model), "--size", "32x24", "--frames", "2"]) == 0
    assert "NVIDIA" not in capfd.readouterr().err  # said once on a machine, not on every command
    assert main(["bench", "-m", str(negative_model), "--size", "32x24", "--frames", "2", "--device", "cpu"]) == 0
    assert "NVIDIA" not in capfd.readouterr().err  # nothing at all with --device cpu


def test_webcam_window_without_a_display_is_a_clear_message(negative_model, monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert main(["webcam", "--camera", "0", "-m", str(negative_model)]) == 2
    assert "--no-window" in capsys.readouterr().err


def test_overlay_text_is_outlined_on_the_installed_opencv():
    """Every lit text pixel sits inside the dark outline (OpenCV 5 misaligned two-pass drawing)."""
    from stylize.realtime.core.frames import draw_text_lines

    background = np.array([120, 60, 200], np.uint8)  # no blend towards black or white keeps all three
    frame = np.tile(background, (70, 460, 1))
    draw_text_lines(frame, ["candy (fast)  31.2 fps  latency 40 ms", "strength 1.0  REC"])
    lit = (frame[..., 0] > 130).astype(np.uint8)
    untouched = (frame == background).all(axis=2)
    assert lit.sum() > 200
    assert not (cv2.dilate(lit, np.ones((3, 3), np.uint8)).astype(bool) & untouched).any()


def test_a_truncated_video_is_reported_not_silently_shortened(tmp_path, negative_model, capsys):
    from tests.conftest import ffmpeg

    whole = make_clip(tmp_path / "whole.mp4", frames=60, audio=False)
    front = tmp_path / "front.mp4"  # index at the front, as streaming files have it, so a cut file still opens
    subprocess.run([ffmpeg(), "-loglevel", "error", "-i", str(whole), "-c", "copy", "-movflags", "+faststart",
                    str(front)], check=True)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(front.read_bytes()[: front.stat().st_size * 6 // 10])
    out = tmp_path / "out.mp4"
    assert main(["video", str(cut), "-o", str(out), "-m", str(negative_model), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "of the 60 frames the file declares" in err and "--allow-truncated" in err
    assert not out.exists() and not list(tmp_path.glob("*partial*"))
    assert main(["video", str(cut), "-o", str(out), "-m", str(negative_model), "--no-progress",
                 "--allow-truncated"]) == 0
    assert "warning" in capsys.readouterr().err and 0 < probe(out)["frames"] < 60
    assert main(["video", str(whole), "-o", str(tmp_path / "w.mp4"), "-m", str(negative_model), "--no-progress"]) == 0


def test_a_video_file_as_camera_keeps_its_aspect(tmp_path, negative_model, capsys):
    from stylize.realtime.core.frames import fit_inside

    assert fit_inside((1280, 720), (640, 480)) == (640, 360)
    assert fit_inside((480, 640), (640, 480)) == (360, 480)
    clip = make_clip(tmp_path / "wide.mp4", size=(320, 180), frames=10, audio=False)
    rec = tmp_path / "rec.mp4"
    assert main(["webcam", "--camera", str(clip), "--no-window", "-m", str(negative_model), "--record", str(rec),
                 "--frames", "5", "--size", "640x480"]) == 0
    assert probe(rec)["size"] == (640, 360)
    assert "aspect kept" in capsys.readouterr().err


def test_a_jpeg_whose_size_hides_behind_a_fill_byte_is_refused_before_decoding(tmp_path, negative_model, capsys):
    """A legal 0xFF fill byte before the SOF marker once hid a 20000x20000 JPEG from the size check."""
    ok, encoded = cv2.imencode(".jpg", np.zeros((16, 16, 3), np.uint8))
    data = bytearray(encoded.tobytes())
    sof = data.find(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", 20000, 20000)
    bomb = tmp_path / "bomb.jpg"
    bomb.write_bytes(bytes(data[:sof]) + b"\xff" + bytes(data[sof:]))
    assert main(["image", str(bomb), "-o", str(tmp_path / "out"), "-m", str(negative_model)]) == 2
    err = capsys.readouterr().err
    assert "20000x20000" in err and "--max-pixels" in err and not (tmp_path / "out").exists()


def test_a_file_whose_size_cannot_be_read_is_refused(tmp_path, negative_model, capsys):
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 10)
    assert main(["image", str(junk), "-o", str(tmp_path / "out"), "-m", str(negative_model)]) == 2
    assert "size cannot be read" in capsys.readouterr().err


def test_inputs_named_like_temporary_files_are_never_touched(tmp_path, negative_model, photo, clip):
    """Outputs are written under unique, exclusively created names: an input that looks like one survives."""
    victim = tmp_path / ".victim.png.partial"
    cv2.imwrite(str(tmp_path / "v.png"), photo)
    (tmp_path / "v.png").rename(victim)
    before = victim.read_bytes()
    assert main(["image", str(victim), "-o", str(tmp_path / "victim.png"), "-m", str(negative_model)]) == 0
    assert victim.read_bytes() == before and (tmp_path / "victim.png").is_file()
    video_victim = tmp_path / ".out.partial.mp4"
    video_victim.write_bytes(clip.read_bytes())
    assert main(["video", str(video_victim), "-o", str(tmp_path / "out.mp4"), "-m", str(negative_model),
                 "--no-progress"]) == 0
    assert video_victim.read_bytes() == clip.read_bytes() and probe(tmp_path / "out.mp4")["frames"] == 12
    assert not list(tmp_path.glob(".*partial*")) or set(tmp_path.glob(".*partial*")) == {victim, video_victim}


def test_a_model_that_breaks_the_contract_writes_nothing(tmp_path, photo, capsys):
    from tests.conftest import make_contract_model

    broken = make_contract_model(tmp_path / "one_pixel.onnx", kind="one_pixel")
    cv2.imwrite(str(tmp_path / "p.png"), photo)
    assert main(["image", str(tmp_path / "p.png"), "-o", str(tmp_path / "out"), "-m", str(broken)]) == 2
    err = capsys.readouterr().err
    assert "broke the model contract" in err and "Traceback" not in err
    assert not any((tmp_path / "out").glob("*.png"))


def test_a_cut_off_jpeg_is_refused_unless_allowed(tmp_path, negative_model, capsys):
    photo = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    ok, encoded = cv2.imencode(".jpg", photo)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(encoded.tobytes()[: len(encoded) * 2 // 3])
    assert main(["image", str(cut), "-o", str(tmp_path / "out"), "-m", str(negative_model)]) == 2
    assert "cut off" in capsys.readouterr().err and not (tmp_path / "out").exists()
    assert main(["image", str(cut), "-o", str(tmp_path / "out"), "-m", str(negative_model), "--allow-truncated"]) == 0
    whole = tmp_path / "whole.jpg"
    whole.write_bytes(encoded.tobytes() + b"trailing camera data")  # data after the end marker is fine
    assert main(["image", str(whole), "-o", str(tmp_path / "out"), "-m", str(negative_model)]) == 0


def test_two_runs_to_one_output_leave_one_whole_file(tmp_path, clip, negative_model):
    """Each run writes its own temporary file; taking the output's name is the only shared step, and it
    is exclusive: the run that finishes second (or starts after the other has finished) refuses."""
    out = tmp_path / "out.mp4"
    runs = [subprocess.Popen(STYLIZE + ["video", str(clip), "-o", str(out), "-m", str(negative_model),
                                        "--no-progress", "--device", "cpu"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [run.communicate(timeout=120) for run in runs]
    assert any(run.returncode == 0 for run in runs), results
    assert all(run.returncode == 0 or "already exists" in err for run, (_, err) in zip(runs, results)), results
    assert probe(out)["frames"] == 12
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["clip.mp4", "negative.onnx", "out.mp4"])


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_honoured_as_photo_viewers_do(tmp_path, negative_model, orientation):
    """A phone photo tagged "rotate 90" once came out sideways: pixels are turned upright as Pillow's
    exif_transpose (and every photo viewer) turns them, before the model sees them."""
    from PIL import Image, ImageOps

    from stylize.realtime.core.images import read_image

    pixels = np.random.default_rng(orientation).integers(0, 256, (12, 20, 3), np.uint8)
    stored = Image.fromarray(pixels)
    exif = stored.getexif()
    exif[0x0112] = orientation
    path = tmp_path / "phone.png"
    stored.save(path, exif=exif)
    with Image.open(path) as image:
        viewed = np.asarray(ImageOps.exif_transpose(image))[:, :, ::-1]
    assert np.array_equal(read_image(path), viewed)
    assert main(["image", str(path), "-o", str(tmp_path / "out.png"), "-m", str(negative_model), "--paint-size", "full"]) == 0
    assert np.array_equal(cv2.imread(str(tmp_path / "out.png")), 255 - viewed)  # the negative model: 255 - frame


def test_a_model_returning_nan_is_refused_not_written_black(tmp_path, photo, capsys):
    """A float-layout model whose output is not finite once gave black pictures and exit 0."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    from stylize.realtime.core import contract
    from tests.conftest import contract_metadata

    shape = ["N", 3, "H", "W"]
    graph = helper.make_graph(
        [helper.make_node("Mul", [contract.INPUT_FRAME, "nan"], [contract.OUTPUT])], "nan",
        [helper.make_tensor_value_info(contract.INPUT_FRAME, TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info(contract.OUTPUT, TensorProto.FLOAT, shape)],
        initializer=[numpy_helper.from_array(np.array(np.nan, np.float32), "nan")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for key, value in contract_metadata("nan", contract.IO_FLOAT_RGB).items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(tmp_path / "nan.onnx"))
    cv2.imwrite(str(tmp_path / "p.png"), photo)
    assert main(["image", str(tmp_path / "p.png"), "-o", str(tmp_path / "out"), "-m", str(tmp_path / "nan.onnx")]) == 2
    err = capsys.readouterr().err
    assert "not-a-number or infinite values" in err and "Traceback" not in err and "RuntimeWarning" not in err
    assert not any((tmp_path / "out").glob("*.png"))


@pytest.mark.parametrize("length", [240, 255])
def test_an_output_name_at_the_file_systems_limit_is_written(tmp_path, negative_model, photo, length):
    source = tmp_path / "p.png"
    cv2.imwrite(str(source), photo)
    target = tmp_path / ("n" * (length - 4) + ".png")
    assert main(["image", str(source), "-o", str(target), "-m", str(negative_model)]) == 0
    assert target.is_file() and sorted(p.name for p in tmp_path.iterdir()) == sorted(["p.png", target.name,
                                                                                    "negative.onnx"])


def test_a_double_ctrl_c_ends_the_webcam_cleanly(tmp_path, negative_model):
    """A terminal's double interrupt (or `timeout -s INT` to the group): the second arrives while the loop's
    threads close, which once aborted the interpreter (exit 134, 'terminate called ...')."""
    camera = make_clip(tmp_path / "cam.mp4", frames=2000, audio=False)
    for gap in (0.0, 0.02, 0.2):
        proc = run_in_own_group(["webcam", "--camera", str(camera), "--no-window", "-m", str(negative_model),
                                 "--size", "160x120"])
        time.sleep(2.0)  # in the loop, or still starting under load: both must end cleanly
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(gap)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode in (0, 130) and "terminate" not in err and "no partial output" not in err, (gap, err)


def test_a_generated_output_name_over_the_limit_is_a_message(tmp_path, negative_model, photo, capsys):
    source = tmp_path / ("n" * 250 + ".png")
    cv2.imwrite(str(source), photo)
    assert main(["image", str(source), "-o", str(tmp_path / "out"), "-m", str(negative_model)]) == 2
    err = capsys.readouterr().err
    assert "over the file system's 255" in err and "Traceback" not in err
