"""Offline conversion: video files and images through a style model."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from stylize.realtime.errors import UserError
from stylize.realtime.frames import fit, keep_original_colors
from stylize.realtime.images import ALPHA_SUFFIXES, IMAGE_SUFFIXES, read_image_with_alpha, write_image
from stylize.realtime.outputs import check_outputs, ensure_writable_folder
from stylize.realtime.pipeline import StageTimes, run_pipeline
from stylize.realtime.session import StyleSession
from stylize.realtime.stabilize import Stabilizer
from stylize.realtime.video_io import VideoWriter, has_audio, open_video_file

VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".avi", ".m4v", ".webm")


@dataclass
class FrameStylizer:
    """A session plus the per-frame options: strength, original colours and, for a stream of
    frames, the temporal stabilizer (which keeps state between calls)."""

    session: StyleSession
    strength: float = 1.0
    original_colors: bool = False
    stabilizer: Stabilizer | None = None

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        return self.finish(*self.infer(frame))

    def infer(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The model's part: (frame, stylized frame)."""
        return frame, self.session.run(frame, self.strength)

    def finish(self, frame: np.ndarray, out: np.ndarray) -> np.ndarray:
        """The part after the model (original colours, stabilizer), in frame order; the video
        pipeline runs it beside the next frame's inference."""
        if self.original_colors:
            out = keep_original_colors(frame, out)
        return self.stabilizer(frame, out) if self.stabilizer is not None else out


def decoded_frames(cap: cv2.VideoCapture, size: tuple[int, int] | None) -> Iterator[np.ndarray]:
    while True:
        ok, frame = cap.read()
        if not ok or frame is None:
            return
        yield fit(frame, size)


def convert_video(source: Path, target: Path, stylize: FrameStylizer, size: tuple[int, int] | None = None,
                  progress: bool = True, allow_truncated: bool = False) -> StageTimes:
    """Stylize every frame of ``source`` into ``target`` at the same frame rate (and size, unless
    ``size`` is given), keeping the audio track. ``target`` appears only when complete; a file that
    yields fewer frames than it declares is an error unless ``allow_truncated``."""
    cap, info = open_video_file(source)
    out_size = size or (info.width, info.height)
    if stylize.stabilizer is not None:
        stylize.stabilizer.reset()
    try:
        audio = source if has_audio(source) else None
        bar = tqdm(total=info.frames or None, desc=source.name, unit="frame", disable=not progress,
                   file=sys.stderr, dynamic_ncols=True)
        with VideoWriter(target, out_size, info.fps, audio_from=audio) as writer:
            times = run_pipeline(decoded_frames(cap, size), stylize.infer,
                                 lambda pair: writer.write(stylize.finish(*pair)), on_frame=lambda n: bar.update(1))
            bar.close()
            if times.frames == 0:
                writer.abort()
                raise UserError(f"{source}: no frames could be decoded (corrupt or empty video)")
            missing = info.frames - times.frames
            if info.frames and missing > max(1, info.frames // 100):  # a frame or 1% is container rounding
                message = (f"{source}: decoded {times.frames} of the {info.frames} frames the file declares "
                           "(truncated or damaged)")
                if not allow_truncated:
                    writer.abort()
                    raise UserError(f"{message}; nothing written. --allow-truncated converts the frames that "
                                    "can be read")
                print(f"warning: {message}; converted what could be read", file=sys.stderr)
            writer.finish()
    finally:
        cap.release()
    return times


def plan_video_outputs(inputs: list[str], output: str, model_name: str,
                       overwrite: bool) -> tuple[list[Path], list[Path]]:
    """Check every input video and name its output: ``output`` itself for one input with a video
    suffix, else ``<output>/<stem>_<model><suffix>``; nothing over an input or (without
    ``overwrite``) over an existing file, into a writable folder."""
    sources = [Path(p) for p in inputs]
    for src in sources:
        open_video_file(src)[0].release()
    out = Path(output)
    suffix = out.suffix if len(sources) == 1 and out.suffix else ".mp4"
    if out.suffix and out.suffix.lower() not in VIDEO_SUFFIXES and len(sources) == 1:
        raise UserError(f"-o {out}: unsupported video suffix; use one of {', '.join(VIDEO_SUFFIXES)}")
    if len(sources) == 1 and out.suffix and not out.is_dir():
        targets = [out]
    elif out.exists() and not out.is_dir():
        raise UserError(f"-o {out}: several inputs need a folder, and this is a file")
    else:
        targets = [out / f"{p.stem}_{model_name}{suffix}" for p in sources]
    check_outputs(sources, targets, overwrite)
    ensure_writable_folder(targets[0].parent)
    return sources, targets


def convert_videos(inputs: list[str], output: str, stylize: FrameStylizer, size: tuple[int, int] | None = None,
                   overwrite: bool = False, progress: bool = True, allow_truncated: bool = False) -> list[Path]:
    """Stylize several videos; all inputs and outputs are checked before the first one starts."""
    sources, targets = plan_video_outputs(inputs, output, stylize.session.info.name, overwrite)
    for src, target in zip(sources, targets):
        times = convert_video(src, target, stylize, size, progress, allow_truncated)
        ms = times.per_frame_ms()
        print(f"{src} -> {target}: {times.frames} frames, {times.fps:.1f} fps "
              f"(decode {ms['decode']:.1f} ms, inference {ms['inference']:.1f} ms, encode {ms['encode']:.1f} ms "
              f"per frame, {stylize.session.provider})", file=sys.stderr)
    return targets


def convert_images(inputs: list[str], output: str, stylize: FrameStylizer, overwrite: bool = False) -> list[Path]:
    """Stylize image files, keeping each image's size and alpha channel: one input may go to a file
    (``-o out.png``), any number into a folder as ``<stem>_<model><suffix>``."""
    sources = [Path(p) for p in inputs]
    images = [read_image_with_alpha(p) for p in sources]  # every input is checked before anything is written
    out = Path(output)
    tag = stylize.session.info.name  # the model's name: candy and candy.johnson never collide
    if out.suffix.lower() in IMAGE_SUFFIXES and not out.is_dir():
        if len(sources) > 1:
            raise UserError(f"-o {out}: several inputs need a folder, not a file name")
        targets, folder = [out], out.parent
    elif out.exists() and not out.is_dir():
        raise UserError(f"-o {out}: must be a folder or an image file name")
    else:
        suffixes = [p.suffix.lower() if p.suffix.lower() in IMAGE_SUFFIXES else ".png" for p in sources]
        targets, folder = [out / f"{p.stem}_{tag}{s}" for p, s in zip(sources, suffixes)], out
    check_outputs(sources, targets, overwrite)
    ensure_writable_folder(folder)
    for (image, alpha), target in zip(images, targets):
        styled = stylize(image)
        if alpha is not None and target.suffix.lower() in ALPHA_SUFFIXES:
            styled = np.dstack([styled, alpha])
        write_image(target, styled)
        print(f"wrote {target}", file=sys.stderr)
    return targets
