"""Videos per minute of `stylize video --ray local` against plain `stylize video` on the same batch,
measured side by side in one run (wall time of each command, start-up included).

    python benchmarks/ray_throughput.py [--videos 4] [--seconds 6] [--size 640x360] [--model candy]

The batch is the demo's camera move over the shipped photos, cut to length (the same for both).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stylize.realtime.demo import write_sample_clip
from stylize.realtime.video_io import ffmpeg_exe


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each video")
    parser.add_argument("--model", default="candy")
    parser.add_argument("--chunk-seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="stylize-ray-bench-") as tmp:
        folder = Path(tmp)
        sample = folder / "sample.mp4"
        write_sample_clip(sample)
        clips = []
        for i in range(args.videos):
            clips.append(folder / f"video_{i}.mp4")
            subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-stream_loop", "-1", "-i", str(sample), "-t",
                            str(args.seconds), "-c:v", "libx264", "-pix_fmt", "yuv420p", str(clips[-1])], check=True)
        base = [sys.executable, "-m", "stylize", "video", *map(str, clips), "-m", args.model, "--no-progress"]
        plain = timed(base + ["-o", str(folder / "plain")])
        ray = timed(base + ["-o", str(folder / "ray"), "--ray", "local", "--chunk-seconds", str(args.chunk_seconds)])
    per_minute = lambda seconds: 60 * args.videos / seconds  # noqa: E731
    print(f"{args.videos} videos of {args.seconds:g} s (576x384, 30 fps), model {args.model}")
    print(f"  stylize video:             {plain:6.1f} s  {per_minute(plain):5.1f} videos/min")
    print(f"  stylize video --ray local: {ray:6.1f} s  {per_minute(ray):5.1f} videos/min  ({plain / ray:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
