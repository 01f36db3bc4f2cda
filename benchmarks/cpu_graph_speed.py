"""What the CPU graph rewrites (`realtime/cpu_graph.py`) gain: every shipped model, fp32 and int8, run
as the file is and as `StyleSession` runs it on the CPU, in one run, rounds interleaved.

    python benchmarks/cpu_graph_speed.py [--size 640x480] [--rounds 6] [--frames 12]

Prints, with the date, ms per frame (the best round of each), the median of the rounds' ratios
with their range, and whether both give the same pixels.
"""
from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

import numpy as np

from stylize import models
from stylize.realtime.core.frames import parse_size
from stylize.realtime.core.session import StyleSession

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import interleaved, ms_per_frame, ratio_line  # noqa: E402


def shipped_files() -> list[str]:
    files = list(models.shipped_models().values())
    return [str(f) for f in files + [c for c in map(models.int8_copy, files) if c is not None]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--models", nargs="*", help="model files (default: every shipped model and int8 copy)")
    args = parser.parse_args(argv)
    w, h = parse_size(args.size)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (h, w, 3), np.uint8) for _ in range(args.frames)]
    print(f"{datetime.date.today()}, {w}x{h}, {args.rounds} rounds of {args.frames} frames in turn, CPU "
          "(ms per frame: best round)")
    print(f"{'model':<34} {'as file':>8} {'rewritten':>10}  ratio (median of rounds)  same pixels")
    for path in args.models or shipped_files():
        as_file, rewritten = StyleSession(path, "cpu", cpu_rewrites=False), StyleSession(path, "cpu")
        same = np.array_equal(as_file.run(frames[0]), rewritten.run(frames[0]))
        ms = interleaved({"file": lambda: ms_per_frame(as_file.run, frames),
                          "rewritten": lambda: ms_per_frame(rewritten.run, frames)}, args.rounds)
        label = "/".join(path.split("/")[-2:])
        print(f"{label:<34} {min(ms['file']):>8.1f} {min(ms['rewritten']):>10.1f}  "
              f"{ratio_line(ms['file'], ms['rewritten'])}  {'yes' if same else 'NO'} ({rewritten.cpu_rewrites} rewrites)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
