"""What the CPU graph rewrites (`realtime/cpu_graph.py`) gain: every shipped model, fp32 and int8, run
as the file is and as `StyleSession` runs it on the CPU, in one run, rounds interleaved.

    python benchmarks/cpu_graph_speed.py [--size 640x480] [--rounds 6] [--frames 12]

Prints, with the date, ms per frame (the best round of each) and the ratio, and checks that both
give the same pixels.
"""
from __future__ import annotations

import argparse
import datetime
import time

import numpy as np

from stylize import models
from stylize.realtime.frames import parse_size
from stylize.realtime.session import StyleSession


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
    frames = [rng.integers(0, 256, (h, w, 3), np.uint8) for _ in range(4)]
    print(f"{datetime.date.today()}, {w}x{h}, best of {args.rounds} rounds of {args.frames} frames, CPU")
    print(f"{'model':<34} {'as file':>8} {'rewritten':>10} {'ratio':>6}  same pixels")
    for path in args.models or shipped_files():
        sessions = {"file": StyleSession(path, "cpu", cpu_rewrites=False), "rewritten": StyleSession(path, "cpu")}
        same = np.array_equal(sessions["file"].run(frames[0]), sessions["rewritten"].run(frames[0]))
        best = dict.fromkeys(sessions, float("inf"))
        for _ in range(args.rounds):
            for name, session in sessions.items():
                started = time.perf_counter()
                for i in range(args.frames):
                    session.run(frames[i % len(frames)])
                best[name] = min(best[name], 1000 * (time.perf_counter() - started) / args.frames)
        label = "/".join(path.split("/")[-2:])
        print(f"{label:<34} {best['file']:>8.1f} {best['rewritten']:>10.1f} {best['file'] / best['rewritten']:>6.2f}  "
              f"{'yes' if same else 'NO'} ({sessions['rewritten'].cpu_rewrites} rewrites)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
