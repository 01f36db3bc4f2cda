import os
import subprocess
import threading

import cv2
import numpy as np
import pytest

from stylize.cli import main
from stylize.realtime.video_io import VideoWriter, encoder_threads_beside
from tests.conftest import make_clip, probe


def test_video_round_trip_keeps_frames_fps_size_and_audio(tmp_path, clip, negative_model):
    out = tmp_path / "out.mp4"
    assert main(["video", str(clip), "-o", str(out), "--model", str(negative_model), "--no-progress"]) == 0
    src, dst = probe(clip), probe(out)
    assert dst["frames"] == src["frames"] == 12
    assert dst["size"] == src["size"]
    assert dst["fps"] == pytest.approx(src["fps"], rel=1e-3)
    assert src["audio"] and dst["audio"]
    # the output really is the model's output (255 - frame), up to compression
    cap_in, cap_out = cv2.VideoCapture(str(clip)), cv2.VideoCapture(str(out))
    a, b = cap_in.read()[1], cap_out.read()[1]
    assert np.abs((255 - a.astype(int)) - b.astype(int)).mean() < 6
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]


@pytest.mark.parametrize("suffix, codecs", [(".mp4", ["h264", "aac"]), (".mkv", ["h264", "aac"]),
                                           (".webm", ["vp9", "opus"])])
def test_each_container_gets_codecs_it_can_hold(tmp_path, clip, negative_model, suffix, codecs, started_commands):
    """WebM holds only VP8/VP9/AV1 and Vorbis/Opus: H.264/AAC there once failed after all the work.
    Beside CPU inference the encoder runs one thread (its frame threads would take the cores' time)."""
    out = tmp_path / f"out{suffix}"
    assert main(["video", str(clip), "-o", str(out), "--model", str(negative_model), "--no-progress"]) == 0
    encoder = " ".join(next(c for c in started_commands if "-c:v" in c))
    assert ("threads=1" in encoder) if suffix != ".webm" else ("-threads 1" in encoder)
    assert encoder_threads_beside("CUDAExecutionProvider") is None  # beside a GPU the encoder has the cores
    info = probe(out)
    assert info["codecs"] == codecs and info["frames"] == 12 and info["size"] == probe(clip)["size"]
    odd = make_clip(tmp_path / "odd_in.mp4", size=(65, 47), frames=3, audio=False)  # 4:4:4 for odd sizes
    assert main(["video", str(odd), "-o", str(tmp_path / f"odd{suffix}"), "-m", str(negative_model),
                 "--no-progress"]) == 0
    assert probe(tmp_path / f"odd{suffix}")["size"] == (65, 47)


@pytest.mark.parametrize("size", [(64, 48), (65, 47)])  # 4:2:0 converted here, 4:4:4 by ffmpeg
def test_written_colours_come_back(tmp_path, size):
    """Flat blocks of saturated and gray colours decode to within a few levels of what was written
    (a wrong colour matrix, range or plane order is off by ten or more)."""
    colours = [(0, 0, 255), (0, 255, 0), (255, 0, 0), (128, 128, 128), (30, 200, 240), (250, 250, 250)]
    frames = [np.full((size[1], size[0], 3), c, np.uint8) for c in colours]
    with VideoWriter(tmp_path / "colours.mp4", size, 10.0) as writer:
        for frame in frames:
            writer.write(frame)
        writer.finish()
    cap = cv2.VideoCapture(str(tmp_path / "colours.mp4"))
    for frame in frames:
        ok, back = cap.read()
        assert ok and back.shape == frame.shape
        assert np.abs(back[8:-8, 8:-8].astype(int) - frame[8:-8, 8:-8]).mean(axis=(0, 1)).max() < 4


def test_video_without_audio_odd_size_and_resize(tmp_path, negative_model):
    clip = make_clip(tmp_path / "odd.mp4", size=(641, 479), frames=5, fps="30000/1001", audio=False)
    out = tmp_path / "odd_out.mp4"
    assert main(["video", str(clip), "-o", str(out), "-m", str(negative_model), "--no-progress"]) == 0
    info = probe(out)
    assert (info["frames"], info["size"], info["audio"]) == (5, (641, 479), False)
    assert info["fps"] == pytest.approx(29.97, abs=0.01)
    small = tmp_path / "small.mp4"
    assert main(["video", str(clip), "-o", str(small), "-m", str(negative_model), "--size", "320x240",
                 "--no-progress"]) == 0
    assert probe(small)["size"] == (320, 240)


def test_several_videos_into_a_folder(tmp_path, clip, negative_model):
    second = make_clip(tmp_path / "second.mp4", frames=3, audio=False)
    out_dir = tmp_path / "outs"
    assert main(["video", str(clip), str(second), "-o", str(out_dir), "-m", str(negative_model),
                 "--no-progress"]) == 0
    assert sorted(p.name for p in out_dir.iterdir()) == ["clip_negative.mp4", "second_negative.mp4"]


def test_existing_output_needs_overwrite(tmp_path, clip, negative_model, capsys):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"precious")
    assert main(["video", str(clip), "-o", str(out), "-m", str(negative_model)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert out.read_bytes() == b"precious"
    assert main(["video", str(clip), "-o", str(out), "-m", str(negative_model), "--overwrite",
                 "--no-progress"]) == 0
    assert probe(out)["frames"] == 12


def test_output_never_overwrites_input(tmp_path, clip, negative_model, capsys):
    before = clip.read_bytes()
    assert main(["video", str(clip), "-o", str(clip), "-m", str(negative_model), "--overwrite"]) == 2
    assert "overwrite an input" in capsys.readouterr().err
    assert clip.read_bytes() == before


@pytest.mark.parametrize("content,message", [
    (None, "no such video file"),
    (b"hello, I am text", "not a video file"),
])
def test_missing_or_non_video_input(tmp_path, negative_model, capsys, content, message):
    path = tmp_path / "input.mp4"
    if content is not None:
        path.write_bytes(content)
    assert main(["video", str(path), "-o", str(tmp_path / "o.mp4"), "-m", str(negative_model)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "o.mp4").exists()


def test_corrupt_video(tmp_path, clip, negative_model, capsys):
    data = bytearray(clip.read_bytes())
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(bytes(data[:200]) + bytes(len(data) - 200))  # header kept, payload zeroed
    assert main(["video", str(corrupt), "-o", str(tmp_path / "o.mp4"), "-m", str(negative_model),
                 "--no-progress"]) == 2
    assert "error" in capsys.readouterr().err
    assert not (tmp_path / "o.mp4").exists()
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only folders")
def test_unwritable_output_folder(tmp_path, clip, negative_model, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert main(["video", str(clip), "-o", str(locked / "o.mp4"), "-m", str(negative_model)]) == 2
        assert "not writable" in capsys.readouterr().err
    finally:
        locked.chmod(0o700)


def test_output_under_a_file_is_a_clear_error(tmp_path, clip, negative_model, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["video", str(clip), "-o", str(blocker / "o.mp4"), "-m", str(negative_model)]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_interrupt_leaves_no_output(tmp_path, clip, negative_model, monkeypatch, capsys):
    from stylize.realtime import frame_stylizer

    calls = []
    real_infer = frame_stylizer.FrameStylizer.infer

    def interrupted(self, frame):  # Ctrl-C arrives during the fourth frame
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real_infer(self, frame)

    monkeypatch.setattr(frame_stylizer.FrameStylizer, "infer", interrupted)
    out = tmp_path / "o.mp4"
    assert main(["video", str(clip), "-o", str(out), "-m", str(negative_model), "--no-progress"]) == 130
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".mp4") == ["clip.mp4"]
    assert threading.active_count() < 5


def test_bad_model_arguments(tmp_path, clip, capsys):
    assert main(["video", str(clip), "-o", str(tmp_path / "o.mp4"), "-m", "no-such-style"]) == 2
    assert "no shipped model of that name" in capsys.readouterr().err
    assert main(["video", str(clip), "-o", str(tmp_path / "o.mp4"), "-m", str(tmp_path / "gone.onnx")]) == 2
    assert "no such model file" in capsys.readouterr().err


def test_image_round_trip_gray_alpha_and_odd(tmp_path, negative_model, photo):
    color = tmp_path / "color.jpg"
    cv2.imwrite(str(color), photo)
    gray = tmp_path / "gray.png"
    cv2.imwrite(str(gray), cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY))
    alpha = tmp_path / "alpha.png"
    cv2.imwrite(str(alpha), np.dstack([photo, np.full(photo.shape[:2], 200, np.uint8)]))
    odd = tmp_path / "odd.png"
    cv2.imwrite(str(odd), photo[:3, :5])
    out = tmp_path / "out"
    assert main(["image", str(color), str(gray), str(alpha), str(odd), "-o", str(out),
                 "-m", str(negative_model), "--paint-size", "full"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["alpha_negative.png", "color_negative.jpg", "gray_negative.png", "odd_negative.png"]
    assert cv2.imread(str(out / "odd_negative.png")).shape == (3, 5, 3)
    styled = cv2.imread(str(out / "alpha_negative.png"), cv2.IMREAD_UNCHANGED)
    assert styled.shape == (*photo.shape[:2], 4) and np.array_equal(styled[:, :, :3], 255 - photo)
    assert (styled[:, :, 3] == 200).all()  # the alpha channel passes through
    assert cv2.imread(str(out / "gray_negative.png")).shape == photo.shape


def test_image_errors_lose_nothing(tmp_path, negative_model, photo, capsys):
    good = tmp_path / "good.png"
    cv2.imwrite(str(good), photo)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG broken")
    out = tmp_path / "out"
    assert main(["image", str(good), str(bad), "-o", str(out), "-m", str(negative_model)]) == 2
    assert "not a readable image" in capsys.readouterr().err
    assert not out.exists()  # nothing written when any input is bad
    assert main(["image", str(good), "-o", str(out), "-m", str(negative_model)]) == 0
    first = (out / "good_negative.png").read_bytes()
    assert main(["image", str(good), "-o", str(out), "-m", str(negative_model), "--strength", "0.5"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "good_negative.png").read_bytes() == first


def test_strength_and_original_colors(tmp_path, negative_model, photo):
    src = tmp_path / "p.png"
    cv2.imwrite(str(src), photo)
    assert main(["image", str(src), "-o", str(tmp_path / "a"), "-m", str(negative_model), "--strength", "0", "--paint-size", "full"]) == 0
    assert np.array_equal(cv2.imread(str(tmp_path / "a" / "p_negative.png")), photo)
    assert main(["image", str(src), "-o", str(tmp_path / "b"), "-m", str(negative_model), "--original-colors", "--paint-size", "full"]) == 0
    kept = cv2.cvtColor(cv2.imread(str(tmp_path / "b" / "p_negative.png")), cv2.COLOR_BGR2YCrCb)
    orig = cv2.cvtColor(photo, cv2.COLOR_BGR2YCrCb)
    assert np.abs(kept[..., 1:].astype(int) - orig[..., 1:]).mean() < 3
    with pytest.raises(SystemExit):  # checked when the options are parsed
        main(["image", str(src), "-o", str(tmp_path / "c"), "-m", str(negative_model), "--strength", "2"])


def test_demo_writes_a_video_and_a_preview(tmp_path, clip, negative_model, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "-o", str(out), "-m", str(negative_model), "--video", str(clip)]) == 0
    assert probe(out / "demo_negative.mp4")["frames"] == 12
    preview = cv2.imread(str(out / "demo_negative.png"))
    assert preview.shape == (240, 320, 3)  # a frame from each half of the clip, original | stylized
    assert main(["demo", "-o", str(out), "-m", str(negative_model), "--video", str(clip)]) == 0  # replaces its own
    assert main(["demo", "-o", str(tmp_path), "-m", str(negative_model), "--video", str(clip)]) == 0
    assert probe(clip)["frames"] == 12  # never over its input


def test_demo_without_a_clip_films_the_shipped_photos(tmp_path, negative_model, capsys):
    from stylize.realtime.demo import CLIP_SIZE, SAMPLE_PHOTOS, SAMPLES_DIR, photo_tour

    out = tmp_path / "demo"
    assert main(["demo", "-o", str(out), "-m", str(negative_model)]) == 0
    video = probe(out / "demo_negative.mp4")
    assert (video["size"], video["frames"]) == (CLIP_SIZE, 30 * 2 * len(SAMPLE_PHOTOS))
    assert "camera move over chelsea.jpg and coffee.jpg" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["demo_negative.mp4", "demo_negative.png"]  # no source left
    photo = cv2.imread(str(SAMPLES_DIR / SAMPLE_PHOTOS[0]))
    first, *_, last = list(photo_tour(photo, CLIP_SIZE, 10))
    assert first.shape == (CLIP_SIZE[1], CLIP_SIZE[0], 3)
    assert np.abs(first.astype(int) - last).mean() > 10  # the camera moves
    assert first.std() > 20  # a real photo, not a flat frame


def test_image_float_tiff_single_file_output_and_model_names(tmp_path, negative_model, photo):
    tiff = tmp_path / "float.tif"
    cv2.imwrite(str(tiff), photo.astype(np.float32) / 255.0)  # a float image in 0..1, as HDR tools write
    assert cv2.imread(str(tiff), cv2.IMREAD_UNCHANGED).dtype == np.float32
    single = tmp_path / "single.png"
    assert main(["image", str(tiff), "-o", str(single), "-m", str(negative_model), "--paint-size", "full"]) == 0
    assert single.is_file() and not single.is_dir()
    assert np.abs(cv2.imread(str(single)).astype(int) - (255 - photo)).max() <= 1  # not black
    johnson = tmp_path / "negative.johnson.onnx"
    johnson.write_bytes(negative_model.read_bytes())
    out = tmp_path / "out"
    for model in (negative_model, johnson):
        assert main(["image", str(tiff), "-o", str(out), "-m", str(model), "--paint-size", "full"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["float_negative.johnson.tif", "float_negative.tif"]


def test_video_paints_at_the_paint_size_and_images_at_least_at_it(tmp_path, negative_model, photo, monkeypatch):
    """Video (like the webcam) paints every frame at --paint-size's pixel count (default 640x480) and
    resizes it back; images paint every pixel of a picture, large or small, unless --paint-size says
    otherwise (640x480+ enlarges a small one)."""
    from stylize.realtime.core.session import StyleSession

    seen = []
    run = StyleSession.run
    monkeypatch.setattr(StyleSession, "run", lambda self, frame, *a: seen.append(frame.shape[:2]) or run(self, frame, *a))
    clip = make_clip(tmp_path / "in.mp4", size=(320, 240), frames=3, audio=False)
    assert main(["video", str(clip), "-o", str(tmp_path / "small.mp4"), "-m", str(negative_model),
                 "--paint-size", "160x120", "--no-progress"]) == 0
    assert seen == [(120, 160)] * 3 and probe(tmp_path / "small.mp4")["size"] == (320, 240)
    seen.clear()
    assert main(["video", str(clip), "-o", str(tmp_path / "full.mp4"), "-m", str(negative_model), "--no-progress"]) == 0
    assert seen == [(480, 640)] * 3 and probe(tmp_path / "full.mp4")["size"] == (320, 240)  # default 640x480
    seen.clear()
    assert main(["video", str(clip), "-o", str(tmp_path / "own.mp4"), "-m", str(negative_model), "--no-progress",
                 "--paint-size", "full"]) == 0
    assert seen == [(240, 320)] * 3
    seen.clear()
    big, small = cv2.resize(photo, (1200, 900)), cv2.resize(photo, (320, 240))
    cv2.imwrite(str(tmp_path / "big.png"), big)
    cv2.imwrite(str(tmp_path / "small.png"), small)
    for name, extra in (("big", []), ("big", ["--paint-size", "400x300"]), ("small", []),
                        ("small", ["--paint-size", "640x480+"])):
        out = tmp_path / f"{name}_{len(extra)}.png"
        assert main(["image", str(tmp_path / f"{name}.png"), "-o", str(out), "-m", str(negative_model), *extra]) == 0
        assert cv2.imread(str(out)).shape == (big if name == "big" else small).shape
    assert seen == [(900, 1200), (300, 400), (240, 320), (480, 640)]


@pytest.mark.parametrize("verb, given", [("webcam", []), ("video", ["in.mp4", "-o", "out.mp4"]), ("demo", []),
                                         ("bench", []), ("image", ["in.png", "-o", "out.png"])])
def test_each_verb_has_its_picture_size_rule(verb, given):
    """The live verbs paint every frame at 640x480's pixel count, enlarged or shrunk; image every pixel."""
    from stylize.cli import build_parser
    from stylize.realtime.core.frames import PaintSize

    paint_size = build_parser().parse_args([verb, *given]).paint_size
    assert paint_size == (None if verb == "image" else PaintSize(640 * 480, at_least=False))


def test_a_folder_device_or_pipe_as_input_is_named_as_such(tmp_path, negative_model, capsys):
    """Never read (a FIFO or /dev/zero would block or never end): refused with what it is."""
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    for verb, source in (("image", fifo), ("image", tmp_path), ("video", "/dev/zero")):
        out = tmp_path / ("out.png" if verb == "image" else "out.mp4")
        assert main([verb, str(source), "-o", str(out), "-m", str(negative_model)]) == 2
        assert "a folder, device or pipe, not a regular file" in capsys.readouterr().err and not out.exists()
    assert main(["image", str(tmp_path / "missing.png"), "-o", str(tmp_path / "o.png"), "-m",
                 str(negative_model)]) == 2
    assert "no such image file" in capsys.readouterr().err


def test_pipeline_with_workers_writes_frames_in_order_and_stops_on_an_error():
    """Several frames at once, finishing out of order (later frames quicker), still come out in
    their order; a failing frame stops the run and its error reaches the caller."""
    import time

    from stylize.realtime.pipeline import run_pipeline

    frames = [np.full((2, 2, 3), i, np.uint8) for i in range(24)]
    in_flight, most = [0], [0]
    lock = threading.Lock()

    def slow_early(frame):
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        time.sleep(0.002 * (24 - int(frame[0, 0, 0])) % 0.017)
        with lock:
            in_flight[0] -= 1
        return frame

    written = []
    times = run_pipeline(iter(frames), slow_early, lambda f: written.append(int(f[0, 0, 0])), workers=3)
    assert written == list(range(24)) and times.frames == 24 and most[0] > 1

    def fails_at_five(frame):
        if frame[0, 0, 0] == 5:
            raise ValueError("frame five")
        return frame

    written.clear()
    with pytest.raises(ValueError, match="frame five"):
        run_pipeline(iter(frames), fails_at_five, lambda f: written.append(int(f[0, 0, 0])), workers=3)
    assert written == list(range(len(written))) and len(written) <= 5


def test_video_on_the_cpu_paints_frames_at_once_and_in_order(tmp_path, negative_model):
    """On the CPU a video runs as many single-threaded frames at once as the session had threads,
    and every output frame is its own input's painting (a mix-up of order would show)."""
    from stylize.realtime.frame_stylizer import FrameStylizer
    from stylize.realtime.core.session import StyleSession
    from stylize.realtime.video_conversion import convert_video

    two = FrameStylizer(StyleSession(negative_model, "cpu", threads=2))
    parallel, workers = two.frame_parallel()
    assert workers == 2 and parallel.session.threads == 1 and parallel.session is not two.session
    assert two.frame_parallel()[0].session is parallel.session  # opened once, not per file
    one = FrameStylizer(StyleSession(negative_model, "cpu", threads=1))
    assert one.frame_parallel() == (one, 1)
    levels = [8 * i for i in range(30)]  # each frame its own gray: a swap is off by 8 levels or more
    with VideoWriter(tmp_path / "grays.mp4", (96, 64), 25.0) as writer:
        for level in levels:
            writer.write(np.full((64, 96, 3), level, np.uint8))
        writer.finish()
    convert_video(tmp_path / "grays.mp4", tmp_path / "out.mp4", two, progress=False)
    cap = cv2.VideoCapture(str(tmp_path / "out.mp4"))
    painted = [float(cap.read()[1].mean()) for _ in levels]
    assert np.abs(np.array(painted) - (255 - np.array(levels))).max() < 3


def test_throughput_and_a_frames_painting_time_are_named_apart():
    from stylize.realtime.pipeline import StageTimes

    two = StageTimes(infer=16.0, frames=100, wall=4.0, workers=2).rates()
    assert two == ("throughput 25.0 frames/s (40.0 ms a frame); painting a frame took 160.0 ms on one thread, "
                   "2 frames at a time")
    assert StageTimes(infer=3.0, frames=100, wall=4.0).rates().endswith("painting a frame took 30.0 ms")


def test_a_variable_frame_rate_video_keeps_its_timing(tmp_path, negative_model):
    """60 frames at 30 fps, then 20 at 5 fps (as phones record): 6 s long, in step with the sound, not 80
    frames at the average rate (5.5 s, drifting)."""
    from tests.conftest import ffmpeg

    vfr = tmp_path / "phone.mp4"
    subprocess.run([ffmpeg(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=30",
                    "-frames:v", "80", "-vf", "setpts='if(lt(N,60),N/30,2+(N-60)/5)/TB'", "-fps_mode", "passthrough",
                    "-video_track_timescale", "90000", str(vfr)], check=True)
    out = tmp_path / "out.mp4"
    assert main(["video", str(vfr), "-o", str(out), "-m", str(negative_model), "--no-progress"]) == 0
    result = probe(out)
    assert result["frames"] == 180 and result["fps"] == pytest.approx(30, abs=0.1)  # 60 + 20 x 6
    source, painted = cv2.VideoCapture(str(vfr)), cv2.VideoCapture(str(out))
    frames = [source.read()[1] for _ in range(80)]
    painted_frames = [painted.read()[1] for _ in range(180)]
    for shown_at in (1.0, 3.0, 5.5):  # the same picture at the same time in both
        expected = frames[int(shown_at * 30)] if shown_at < 2 else frames[60 + int((shown_at - 2) * 5)]
        got = 255 - painted_frames[int(round(shown_at * 30))].astype(int)
        assert np.abs(got - expected).mean() < 12, shown_at
