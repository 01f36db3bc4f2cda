"""`stylize bench`: per-stage milliseconds and the pipelined loop's frame rate, measured in one run."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from .core import contract
from .core.frames import painted_size, synthetic_frames
from .core.session import StyleSession
from .frame_stylizer import FrameStylizer
from .pipeline import run_pipeline
from .video_io import VideoWriter, encoder_threads_beside, open_video_file
from .video_rate import decoded_frames


def bench(stylize: FrameStylizer | StyleSession, size: tuple[int, int] = (640, 480), frames: int = 60,
          video: str | None = None, warmup: int = 3) -> dict:
    """Measure decode, inference and encode separately, then the pipelined decode->infer->encode
    loop on the same clip; returns the figures as a dict."""
    if isinstance(stylize, StyleSession):
        stylize = FrameStylizer(stylize)
    session = stylize.session
    with tempfile.TemporaryDirectory(prefix="stylize-bench-") as tmp:
        clip = Path(tmp) / "clip.mp4"
        if video is None:
            with VideoWriter(clip, size, 30.0) as writer:
                for frame in synthetic_frames(size, frames):
                    writer.write(frame)
                writer.finish()
        else:
            clip = Path(video)

        cap, info = open_video_file(clip)
        t = time.perf_counter()
        decoded = [f for _, f in zip(range(frames), decoded_frames(cap, size))]
        decode_s = time.perf_counter() - t
        cap.release()
        n = len(decoded)

        for frame in decoded[:warmup]:
            stylize(frame)
        t = time.perf_counter()
        outputs = [stylize(frame) for frame in decoded]
        infer_s = time.perf_counter() - t

        t = time.perf_counter()
        with VideoWriter(Path(tmp) / "encoded.mp4", size, info.fps) as writer:
            for out in outputs:
                writer.write(out)
            writer.finish()
        encode_s = time.perf_counter() - t

        cap, _ = open_video_file(clip)
        limited = (f for _, f in zip(range(frames), decoded_frames(cap, size)))
        with VideoWriter(Path(tmp) / "pipelined.mp4", size, info.fps,
                         threads=encoder_threads_beside(stylize.session.provider)) as writer:
            parallel, workers = stylize.frame_parallel()  # as `stylize video` runs it
            times = run_pipeline(limited, parallel.infer, lambda pair: writer.write(parallel.finish(*pair)),
                                 workers=workers)
            writer.finish()
        cap.release()

    stage_ms = {"decode": 1000 * decode_s / n, "inference": 1000 * infer_s / n, "encode": 1000 * encode_s / n}
    return {
        "model": session.info.name,
        "style": stylize.label or session.info.style,
        "architecture": session.info.architecture,
        "precision": session.info.metadata.get(contract.META_PRECISION, "fp32"),
        "provider": session.provider,
        "size": f"{size[0]}x{size[1]}",
        "painted_at": "{}x{}".format(*painted_size(size, stylize.paint_size)),
        "frames": n,
        "stage_ms": {k: round(v, 2) for k, v in stage_ms.items()},
        "inference_fps": round(1000 / stage_ms["inference"], 1),
        "sequential_fps": round(1000 / sum(stage_ms.values()), 1),
        "pipelined_fps": round(times.fps, 1),
        "pipelined_frames_at_once": workers,
    }


def format_bench(result: dict) -> str:
    ms = result["stage_ms"]
    painted = "" if result["painted_at"] == result["size"] else f" (painted at {result['painted_at']})"
    return (f"{result['model']} ({result['architecture']}, {result['precision']}) at {result['size']}{painted} on "
            f"{result['provider']}, "
            f"{result['frames']} frames\n"
            f"  decode     {ms['decode']:7.2f} ms/frame\n"
            f"  inference  {ms['inference']:7.2f} ms/frame  ({result['inference_fps']} fps)\n"
            f"  encode     {ms['encode']:7.2f} ms/frame\n"
            f"  sequential {result['sequential_fps']:7.1f} fps (sum of the stages)\n"
            f"  pipelined  {result['pipelined_fps']:7.1f} fps (decode, inference, encode in threads, "
            f"{result['pipelined_frames_at_once']} frame(s) at once: as `stylize video` runs)")
