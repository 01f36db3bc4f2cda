"""The Python API: ``from stylize import Stylizer``."""
import cv2
import numpy as np
import pytest

from stylize import Stylizer
from stylize.realtime.core.errors import UserError
import stylize
from tests.conftest import make_clip, probe


def test_the_api_error_is_the_one_the_library_raises():
    assert stylize.UserError is UserError and set(stylize.__all__) == {"Stylizer", "UserError"}


def test_frames_images_and_strength(tmp_path, negative_model):
    stylizer = Stylizer(negative_model, device="cpu")
    assert (stylizer.info.style, stylizer.provider, stylizer.notice) == ("negative", "CPUExecutionProvider", None)
    assert stylizer.metadata["stylize.contract_version"] == "1"
    frame = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    assert np.abs(stylizer.frame(frame).astype(int) - (255 - frame)).max() <= 1
    stylizer.strength = 0.0
    assert np.array_equal(stylizer.frame(frame), frame)
    stylizer.strength = 1.0
    grey = stylizer.image(frame[:, :, 0].astype(np.float32) / 255.0)  # any dtype and channel count
    assert grey.shape == (48, 64, 3) and grey.dtype == np.uint8

    bgra = np.dstack([frame, np.full((48, 64), 77, np.uint8)])
    cv2.imwrite(str(tmp_path / "in.png"), bgra)
    out = stylizer.image(tmp_path / "in.png", tmp_path / "out.png")
    assert out.shape == (48, 64, 4) and (cv2.imread(str(tmp_path / "out.png"), cv2.IMREAD_UNCHANGED)[..., 3] == 77).all()
    with pytest.raises(UserError, match="--overwrite|overwrite|exists"):
        stylizer.image(tmp_path / "in.png", tmp_path / "out.png")
    with pytest.raises(UserError):
        stylizer.image(tmp_path / "in.png", tmp_path / "in.png", overwrite=True)  # never over its input
    assert (cv2.imread(str(tmp_path / "in.png"), cv2.IMREAD_UNCHANGED) == bgra).all()


def test_video_keeps_frames_and_audio(tmp_path, negative_model):
    clip = make_clip(tmp_path / "clip.mp4")
    written = Stylizer(negative_model, device="cpu").video(clip, tmp_path / "out.mp4")
    assert written == tmp_path / "out.mp4" and probe(written) == probe(clip)  # frames, fps, size, audio


@pytest.mark.parametrize("call,message", [
    (lambda s: setattr(s, "strength", 1.5), "strength 1.5: must be between 0 and 1"),
    (lambda s: s.frame(np.zeros((8, 8), np.float32)), "expected a uint8 BGR array of shape HxWx3"),
    (lambda s: s.image(np.zeros((4, 4, 2), np.uint8)), "expected an HxW, HxWx3 or HxWx4 array"),
    (lambda s: s.image("missing.png"), "missing.png"),
])
def test_bad_input_is_a_message(negative_model, call, message):
    with pytest.raises(UserError, match=message.replace(".", r"\.")):
        call(Stylizer(negative_model, device="cpu"))


def test_unknown_model_names_the_shipped_ones():
    with pytest.raises(UserError, match="no shipped model of that name.*candy"):
        Stylizer("no-such-style")


@pytest.mark.parametrize("bad", ["abc", None, "0.5", True, float("nan"), 2])
def test_strength_takes_numbers_between_zero_and_one_only(negative_model, bad):
    stylizer = Stylizer(negative_model, device="cpu")
    with pytest.raises(UserError, match="strength"):
        stylizer.strength = bad
    stylizer.strength = np.float32(0.5)
    assert stylizer.strength == 0.5


def test_an_empty_frame_is_a_clear_error(negative_model):
    with pytest.raises(UserError, match="not empty"):
        Stylizer(negative_model, device="cpu").frame(np.zeros((0, 4, 3), np.uint8))


def test_paint_size_paints_frames_at_that_many_pixels_and_resizes_them_back(negative_model, monkeypatch):
    from stylize.realtime.core.session import StyleSession

    seen = []
    run = StyleSession.run
    monkeypatch.setattr(StyleSession, "run", lambda self, frame, *a: seen.append(frame.shape[:2]) or run(self, frame, *a))
    frame = np.tile(np.linspace(0, 255, 400, dtype=np.uint8)[None, :, None], (300, 1, 3))
    full = Stylizer(negative_model, device="cpu").frame(frame)
    assert np.array_equal(full, 255 - frame) and seen.pop() == (300, 400)
    for paint_size, painted in (((200, 150), (150, 200)), ((800, 600), (600, 800)), ("200x150+", (300, 400)),
                                ("800x600+", (600, 800))):
        out = Stylizer(negative_model, device="cpu", paint_size=paint_size).frame(frame)
        assert seen.pop() == painted and out.shape == frame.shape
        assert np.abs(out.astype(int) - full).mean() < 3  # a smooth ramp survives the round trip
    for bad in [(10, 10), ("a", 4), 640, "10x10+"]:
        with pytest.raises(UserError, match="paint"):
            Stylizer(negative_model, device="cpu", paint_size=bad)


def test_threads_racing_for_one_new_output_leave_one_writer_and_one_whole_file(tmp_path, negative_model, photo):
    from concurrent.futures import ThreadPoolExecutor

    stylizer = Stylizer(str(negative_model), device="cpu")
    target = tmp_path / "once.png"
    images = [photo, 255 - photo] * 4
    barrier = __import__("threading").Barrier(len(images))

    def write(image):
        barrier.wait()
        try:
            stylizer.image(image, target)
            return "written"
        except UserError as exc:
            assert "--overwrite" in str(exc)
            return "refused"

    with ThreadPoolExecutor(len(images)) as pool:
        outcomes = list(pool.map(write, images))
    assert outcomes.count("written") == 1, outcomes
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".png"] == ["once.png"]
    written = cv2.imread(str(target))
    assert any(np.array_equal(written, 255 - image) for image in images)


def test_threads_writing_different_files_into_one_folder_all_succeed(tmp_path, negative_model, photo):
    from concurrent.futures import ThreadPoolExecutor

    stylizer = Stylizer(str(negative_model), device="cpu")
    folder = tmp_path / "out"
    folder.mkdir()  # each write checks that the folder is writable: those checks run at once
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: stylizer.image(photo, folder / f"{i}.png"), range(48)))
    assert len(list(folder.glob("*.png"))) == 48 and not list(folder.glob(".*"))


@pytest.mark.parametrize("threads", [0, 10_000, "2", 2.5, True, -1])
def test_the_api_refuses_thread_counts_the_cli_refuses(negative_model, threads):
    with pytest.raises(UserError, match="threads"):
        Stylizer(str(negative_model), device="cpu", threads=threads)


@pytest.mark.parametrize("source", [5, None, np.zeros((0, 4, 3), np.uint8), np.zeros(12, np.uint8),
                                    np.zeros((4, 4, 2), np.uint8)])
def test_the_api_refuses_images_that_are_not_pictures(negative_model, source):
    with pytest.raises(UserError, match="image: expected"):
        Stylizer(str(negative_model), device="cpu").image(source)


@pytest.mark.parametrize("size,message", [((0, 10), "positive"), ((100_000, 100_000), "megapixels"),
                                          ((640.5, 480), "whole pixels"), ("big", "WIDTHxHEIGHT")])
def test_the_api_checks_video_sizes_before_anything_is_written(tmp_path, negative_model, clip, size, message):
    with pytest.raises(UserError, match=message):
        Stylizer(str(negative_model), device="cpu").video(clip, tmp_path / "out.mp4", size=size)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["clip.mp4", "negative.onnx"])


def test_the_api_takes_a_video_size_as_text_too(tmp_path, negative_model, clip):
    out = Stylizer(str(negative_model), device="cpu").video(clip, tmp_path / "out.mp4", size="64x48")
    assert probe(out)["size"] == (64, 48)
