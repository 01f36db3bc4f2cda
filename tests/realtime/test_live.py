import json
import os
import select
import shutil
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest

from stylize.cli import main
from stylize.realtime.video_io import LatestFrameReader
from stylize.realtime.frame_stylizer import FrameStylizer
from stylize.realtime.live_controls import HOTKEYS, LiveState
from tests.conftest import make_clip, probe


def test_hotkeys_change_the_state():
    state = LiveState()
    for key in "nnp":
        state.handle_key(ord(key), 3)
    assert state.model_index == 1
    state.handle_key(ord("p"), 3)
    state.handle_key(ord("p"), 3)
    assert state.model_index == 2  # wraps around
    state.handle_key(ord("-"), 3)
    state.handle_key(ord("-"), 3)
    assert state.strength == pytest.approx(0.8)
    for _ in range(5):
        state.handle_key(ord("+"), 3)
    assert state.strength == 1.0
    for key, attr in (("c", "original_colors"), ("o", "show_original"), ("h", "show_help")):
        state.handle_key(ord(key), 3)
        assert getattr(state, attr)
    state.handle_key(ord(" "), 3)
    state.handle_key(ord("r"), 3)
    assert state.snapshot and state.toggle_recording
    state.handle_key(27, 3)
    assert state.quit
    assert {k for k, _ in HOTKEYS} >= {"n / p", "+ / -", "c", "o", "space", "r", "h", "q / Esc"}


def test_webcam_help_lists_the_hotkeys(capsys):
    with pytest.raises(SystemExit):
        main(["webcam", "--help"])
    out = capsys.readouterr().out
    for what in ("next / previous style", "strength up / down", "original colours", "snapshot", "recording"):
        assert what in out


def test_latest_frame_reader_never_hands_out_stale_or_duplicate_frames(tmp_path):
    clip = make_clip(tmp_path / "c.mp4", frames=40, audio=False)
    reader = LatestFrameReader(cv2.VideoCapture(str(clip)), pace_fps=200)
    seen = []
    try:
        while (item := reader.next(timeout=2)) is not None:
            seen.append(item[0])
            time.sleep(0.02)  # a slow consumer: the reader must skip, not queue
    finally:
        reader.close()
    assert seen == sorted(set(seen))
    assert seen[-1] == 40
    assert len(seen) < 40 and reader.dropped > 0


def test_headless_webcam_with_a_file_as_camera_records_a_playable_file(tmp_path, negative_model, constant_model,
                                                                         capsys, started_commands):
    """The recording's encoder runs one thread beside CPU inference, as `stylize video`'s does; two
    frames at once on the CPU record as one does."""
    clip = make_clip(tmp_path / "cam.mp4", frames=30, audio=False)
    rec = tmp_path / "rec.mp4"
    code = main(["webcam", "--camera", str(clip), "--no-window", "-m", str(negative_model), "-m",
                 str(constant_model), "--record", str(rec), "--frames", "20", "--size", "160x120",
                 "--frames-at-once", "2"])
    assert code == 0
    assert "threads=1" in " ".join([c for c in started_commands if "-c:v" in c][-1])  # the clip's encoder came first
    info = probe(rec)
    assert info["frames"] > 0 and info["size"] == (160, 120)
    assert "frames" in capsys.readouterr().err


def test_camera_that_cannot_open(negative_model, capfd):
    assert main(["webcam", "--camera", "63", "--no-window", "-m", str(negative_model)]) == 2
    err = capfd.readouterr().err  # file descriptor 2: OpenCV's native error lines would show here
    assert "cannot open camera '63'" in err and "Traceback" not in err and "[ERROR" not in err


def test_existing_recording_is_not_overwritten(tmp_path, negative_model, capsys):
    rec = tmp_path / "rec.mp4"
    rec.write_bytes(b"keep me")
    assert main(["webcam", "--camera", "0", "--no-window", "-m", str(negative_model), "--record", str(rec)]) == 2
    assert rec.read_bytes() == b"keep me"


def test_bench_prints_every_stage(negative_model, capsys):
    assert main(["bench", "-m", str(negative_model), "--size", "64x48", "--frames", "6", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["provider"] == "CPUExecutionProvider" or result["provider"].endswith("ExecutionProvider")
    assert result["frames"] == 6 and result["size"] == "64x48"
    assert set(result["stage_ms"]) == {"decode", "inference", "encode"}
    assert all(v > 0 for v in result["stage_ms"].values())
    assert result["pipelined_fps"] > 0 and result["sequential_fps"] > 0
    assert main(["bench", "-m", str(negative_model), "--size", "64x48", "--frames", "3"]) == 0
    text = capsys.readouterr().out
    assert "inference" in text and "pipelined" in text


def test_models_lists_given_models_with_metadata(negative_model, capsys):
    assert main(["models", "--model", str(negative_model), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    given = [r for r in rows if r["path"] == str(negative_model)]
    assert given and given[0]["style"] == "negative" and given[0]["architecture"] == "test"
    assert given[0]["metadata"]["stylize.contract_version"] == "1"


@pytest.mark.parametrize("settings, shown", [({"trained_steps": 700}, "700"),
                                             ({"trained_steps": 200, "init_from": "/runs/candy_zeros"},
                                              "200 after an earlier run"),
                                             ({"trained_steps": 300, "init_from": "starry_night"},
                                              "300 after starry_night"),
                                             ({"trained_steps": 250, "init_live": True}, "250 after the live model")])
def test_models_say_what_a_last_training_stage_continued(settings, shown):
    from stylize.realtime.model_listing import started_from, steps_text

    assert steps_text({"trained_steps": settings["trained_steps"], "started_from": started_from(settings)}) == shown


def test_models_say_their_net_shape():
    from stylize.realtime.model_listing import describe_models, net_shape

    shipped = {row["name"]: row["shape"] for row in describe_models(None)}
    assert shipped["candy"] == "width 0.75, 4 blocks"  # the slim default net
    assert net_shape({"width": 1.0}) == "width 1, 5 blocks"  # made before the block count was a setting
    assert net_shape({}) is None


def test_runtime_never_imports_torch(negative_model, tmp_path):
    code = (
        "import sys; from stylize.cli import main; "
        f"main(['image', {str(negative_model)!r}, '-o', {str(tmp_path)!r}]); "
        "import stylize.realtime.webcam, stylize.realtime.bench, stylize.realtime.video_conversion, stylize.models; "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb is not installed")
def test_window_on_a_virtual_display(tmp_path, negative_model):
    """The real window loop on Xvfb, with a video file as the camera; a screenshot of the screen
    must show the stylized (inverted) frame."""
    # Xvfb picks a free display and writes its number to -displayfd once it accepts connections
    ready_read, ready_write = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(ready_write), "-screen", "0", "800x600x24"],
                            pass_fds=(ready_write,), stderr=subprocess.DEVNULL)
    os.close(ready_write)
    try:
        assert select.select([ready_read], [], [], 15)[0], "Xvfb did not start"
        display = ":" + os.read(ready_read, 16).decode().strip()
        assert display != ":", "Xvfb did not start"
        clip = make_clip(tmp_path / "cam.mp4", size=(320, 240), frames=400, audio=False)
        env = {"DISPLAY": display, "PATH": os.environ.get("PATH", "")}
        proc = subprocess.Popen([sys.executable, "-m", "stylize", "webcam", "--camera", str(clip),
                                 "-m", str(negative_model), "--frames", "300"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        shot, shown = tmp_path / "screen.png", False
        # screenshots until the window shows the stylized frame (the start takes longer on a busy machine)
        while shutil.which("import") and not shown and proc.poll() is None:
            time.sleep(0.5)
            grab = subprocess.run(["import", "-window", "root", "-display", display, str(shot)], capture_output=True)
            assert grab.returncode == 0, grab.stderr.decode()
            screen = cv2.imread(str(shot))
            assert screen is not None
            drawn = screen[screen.sum(axis=2) > 0]  # Xvfb's empty root window is black
            shown = len(drawn) > 320 * 240 * 0.9 and screen.std() > 10
        proc.wait(timeout=60)
        assert proc.returncode == 0, proc.stderr.read().decode()
        assert shown or not shutil.which("import")
    finally:
        os.close(ready_read)
        xvfb.terminate()


class FakeVirtualCamera:
    """Stands in for pyvirtualcam.Camera: records what would reach the video-call app."""

    sent: list = []

    def __init__(self, width, height, fps, fmt):
        self.width, self.height, self.device = width, height, "/dev/video-fake"

    def send(self, frame):
        assert frame.shape == (self.height, self.width, 3)
        FakeVirtualCamera.sent.append(frame)

    def close(self):
        pass


def test_virtual_camera_gets_the_stylized_frames(tmp_path, negative_model, monkeypatch):
    import types

    fake = types.SimpleNamespace(Camera=FakeVirtualCamera, PixelFormat=types.SimpleNamespace(BGR="BGR"))
    monkeypatch.setitem(sys.modules, "pyvirtualcam", fake)
    FakeVirtualCamera.sent = []
    clip = make_clip(tmp_path / "cam.mp4", frames=10, audio=False)
    assert main(["webcam", "--camera", str(clip), "--no-window", "-m", str(negative_model), "--virtual-camera",
                 "--frames", "5", "--size", "96x72", "--paint-size", "full"]) == 0
    assert len(FakeVirtualCamera.sent) == 5
    first = cv2.resize(cv2.VideoCapture(str(clip)).read()[1], (96, 72), interpolation=cv2.INTER_AREA)
    assert np.abs(FakeVirtualCamera.sent[0].astype(int) - (255 - first.astype(int))).mean() < 3


def test_virtual_camera_without_pyvirtualcam_is_a_clear_error(tmp_path, negative_model, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pyvirtualcam", None)  # import fails
    clip = make_clip(tmp_path / "cam.mp4", frames=3, audio=False)
    assert main(["webcam", "--camera", str(clip), "--no-window", "-m", str(negative_model), "--virtual-camera"]) == 2
    assert "pip install pyvirtualcam" in capsys.readouterr().err


def test_headless_webcam_with_stabilizer_and_mirror(tmp_path, negative_model, capsys):
    clip = make_clip(tmp_path / "cam.mp4", frames=12, audio=False)
    assert main(["webcam", "--camera", str(clip), "--no-window", "-m", str(negative_model), "--stabilize",
                 "--mirror", "--frames", "8"]) == 0
    assert "8 frames" in capsys.readouterr().err


def test_training_verbs_without_torch_give_an_install_hint(tmp_path):
    code = (
        "import sys; sys.modules['torch'] = None; from stylize.cli import main; "
        f"sys.exit(main(['export', {str(tmp_path / 'run')!r}, '-o', {str(tmp_path / 'm.onnx')!r}]))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 2
    assert "pip install -e '.[train]'" in result.stderr and "Traceback" not in result.stderr


class _FakeReader:
    """LatestFrameReader's part the inference worker uses: each frame once, numbered from 1."""

    def __init__(self, frames):
        self.frames, self.seq, self.lock = list(frames), 0, threading.Lock()

    def next(self):
        with self.lock:
            if not self.frames:
                return None
            self.seq += 1
            return self.seq, self.frames.pop(0), time.perf_counter()


class _FakeSession:
    def __init__(self, fail_at=None):
        self.calls, self.fail_at = 0, fail_at

    def run(self, frame, strength, style=None):
        self.calls += 1
        self.styles = getattr(self, "styles", []) + [style]
        self.sizes = getattr(self, "sizes", []) + [frame.shape[:2]]
        if self.calls == self.fail_at:
            raise RuntimeError("inference failed")
        return 255 - frame


def test_inference_worker_hands_over_frames_in_order_then_the_end():
    from stylize.realtime.live_inference import InferenceWorker

    frames = [np.full((4, 4, 3), i, np.uint8) for i in range(5)]
    state = LiveState()
    worker = InferenceWorker(_FakeReader(frames), [FrameStylizer(_FakeSession())], state, prepare=lambda f: f + 1)
    results = [worker.next() for _ in range(5)]
    assert [int(r.frame[0, 0, 0]) for r in results] == [1, 2, 3, 4, 5]  # prepared, in order
    assert all(np.array_equal(r.stylized, 255 - r.frame) for r in results)
    assert worker.next() is None
    worker.close()


class _ParallelSession:
    """A CPU session stand-in whose single-threaded copy paints frames at uneven speeds."""

    def __init__(self):
        self.lock, self.running, self.most = threading.Lock(), 0, 0

    def frame_parallel(self):
        return self, 2

    def run(self, frame, strength, style=None):
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.02 if int(frame[0, 0, 0]) % 3 == 0 else 0.002)  # every third frame is slow
        with self.lock:
            self.running -= 1
        return 255 - frame


def test_frames_at_once_paint_side_by_side_and_never_go_back_in_time():
    """Two frames in flight: both threads paint at once, every frame handed over is its own painting,
    and a slow frame that finishes after a newer one was handed over is dropped, not shown late."""
    from stylize.realtime.live_inference import InferenceWorker

    frames = [np.full((4, 4, 3), i, np.uint8) for i in range(30)]
    session = _ParallelSession()
    worker = InferenceWorker(_FakeReader(frames), [FrameStylizer(session)], LiveState(), prepare=lambda f: f,
                             frames_at_once=2)
    results = []
    while (result := worker.next()) is not None:
        results.append(result)
    worker.close()
    seqs = [r.seq for r in results]
    assert worker.frames_at_once == 2 and session.most == 2
    assert seqs == sorted(set(seqs)) and 10 <= len(seqs) < 30  # in order; frames that finished late dropped
    assert seqs[-1] == 30  # the end comes after the last frame, not when the first thread runs out
    assert all(np.array_equal(r.stylized, 255 - r.frame) and int(r.frame[0, 0, 0]) == r.seq - 1 for r in results)
    single = InferenceWorker(_FakeReader(frames[:3]), [FrameStylizer(_FakeSession())], LiveState(),
                             prepare=lambda f: f, frames_at_once=1)
    assert [single.next().seq for _ in range(3)] == [1, 2, 3] and single.next() is None
    single.close()


def test_live_frames_are_painted_at_the_paint_size_and_resized_back():
    """1280x720 live costs what 640x480 does: the net sees --paint-size's pixels (same aspect), larger
    or smaller, and the window gets the frame's size; 'full' paints every frame at its own size."""
    from stylize.realtime.core.frames import PaintSize
    from stylize.realtime.live_inference import InferenceWorker

    frames = [np.full((72, 128, 3), 40 * i, np.uint8) for i in range(3)]
    # 73x41: 64x48's pixels at 16:9; 147x83: 128x96's
    for pixels, seen in ((PaintSize(64 * 48), (41, 73)), (PaintSize(128 * 96), (83, 147)), (None, (72, 128))):
        session = _FakeSession()
        worker = InferenceWorker(_FakeReader(list(frames)), [FrameStylizer(session, paint_size=pixels)], LiveState(),
                                 prepare=lambda f: f)
        results = [worker.next() for _ in frames]
        worker.close()
        assert session.sizes == [seen] * 3
        assert all(r.stylized.shape == (72, 128, 3) and np.array_equal(r.stylized, 255 - r.frame) for r in results)


@pytest.mark.parametrize("size, painted", [("1280x720", "739x415"), ("640x480", "640x480"), ("320x240", "640x480")])
def test_bench_reports_the_size_frames_are_painted_at(negative_model, capsys, size, painted):
    assert main(["bench", "-m", str(negative_model), "--size", size, "--frames", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["painted_at"] == painted
    assert main(["bench", "-m", str(negative_model), "--size", size, "--frames", "2", "--json", "--paint-size",
                 "full"]) == 0
    assert json.loads(capsys.readouterr().out)["painted_at"] == size


@pytest.mark.parametrize("text", ["10x10", "big", "0x480", "-640x480", "10x10+", "640x480++"])
def test_a_paint_size_that_cannot_be_is_refused_at_parse_time(negative_model, capsys, text):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "-m", str(negative_model), "--paint-size", text])
    assert exit_info.value.code == 2 and "--paint-size" in capsys.readouterr().err


def test_inference_worker_raises_its_errors_in_the_display_loop():
    from stylize.realtime.live_inference import InferenceWorker

    frames = [np.zeros((4, 4, 3), np.uint8)] * 3
    worker = InferenceWorker(_FakeReader(frames), [FrameStylizer(_FakeSession(fail_at=2))], LiveState(),
                             prepare=lambda f: f)
    assert worker.next() is not None
    with pytest.raises(RuntimeError, match="inference failed"):
        worker.next()
    worker.close()


def test_live_model_styles_blend_with_the_m_hotkey_and_mix():
    """Paintings on one live-model session: n/p switch, 'm' steps the current one's share of a blend,
    --mix starts from given weights; the vector handed to the model is the weighted blend."""
    from stylize.realtime.live_inference import InferenceWorker

    session = _FakeSession()
    a, b = np.eye(2, dtype=np.float32)
    looks = [FrameStylizer(session, style=a, label="a"), FrameStylizer(session, style=b, label="b")]
    state = LiveState(mix=[0.25, 0.75])
    worker = InferenceWorker(_FakeReader([]), looks, state, prepare=lambda f: f)
    assert worker.blendable
    np.testing.assert_allclose(worker.style_now(looks[0]), [0.25, 0.75])
    state.handle_key(ord("m"), 2)  # the current style (a) at 75%, the explicit mix dropped
    np.testing.assert_allclose(worker.style_now(looks[0]), [0.75, 0.25])
    state.handle_key(ord("n"), 2)  # b is current, still at 75%
    np.testing.assert_allclose(worker.style_now(looks[1]), [0.25, 0.75])
    for _ in range(3):
        state.handle_key(ord("m"), 2)
    np.testing.assert_allclose(worker.style_now(looks[1]), [0.0, 1.0])  # back to the style alone
    worker.close()
    fixed = InferenceWorker(_FakeReader([]), [FrameStylizer(_FakeSession()), FrameStylizer(_FakeSession())],
                            LiveState(), prepare=lambda f: f)
    assert not fixed.blendable and fixed.style_now(fixed.looks[0]) is None  # fixed models never blend
    fixed.close()


def test_output_piped_into_a_closed_pipe_is_not_an_error():
    import os

    read_end, write_end = os.pipe()
    os.close(read_end)  # like `stylize models | head` once head has exited
    done = subprocess.run([sys.executable, "-m", "stylize", "models"], stdout=write_end, stderr=subprocess.PIPE,
                          text=True, timeout=60)
    os.close(write_end)
    assert done.returncode == 0 and done.stderr == ""


def test_the_webcam_says_when_its_first_painted_frame_came(clip, negative_model, capsys):
    import re

    assert main(["webcam", "--camera", str(clip), "--no-window", "--frames", "2", "-m", str(negative_model)]) == 0
    found = re.search(r"first painted frame ([\d.]+) s after the command started", capsys.readouterr().err)
    assert found and 0 < float(found.group(1)) < 120  # timed from main(), not from this long-running process
