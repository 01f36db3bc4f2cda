"""Offline conversion of video files through a style model: every frame, same rate, audio kept."""
from __future__ import annotations

import logging
import sys
from contextlib import ExitStack
from pathlib import Path

import cv2
from tqdm import tqdm

from .core.errors import UserError
from .core.outputs import check_outputs, deferred_signals, ensure_writable_folder
from .core.text import printable
from .frame_stylizer import FrameStylizer
from .pipeline import StageTimes, run_pipeline
from .video_io import VideoWriter, encoder_threads_beside, has_audio, media_header, open_video_file
from .video_rate import decoded_frames, variable_rate

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".avi", ".m4v", ".webm")


def convert_video(source: Path, target: Path, stylize: FrameStylizer, size: tuple[int, int] | None = None,
                  progress: bool = True, allow_truncated: bool = False, overwrite: bool = True) -> StageTimes:
    """Stylize every frame of ``source`` into ``target`` at the same frame rate (and size, unless
    ``size`` is given), keeping the audio track. ``target`` appears only when complete; a file that
    yields fewer frames than it declares is an error unless ``allow_truncated``."""
    cap, info = open_video_file(source)
    out_size = size or (info.width, info.height)
    if stylize.stabilizer is not None:
        stylize.stabilizer.reset()
    try:
        header = media_header(source)  # one ffmpeg look at the file: its sound and its frame timing
        audio = source if has_audio(source, header) else None
        rate = variable_rate(header, info)  # a phone's variable frame rate: kept in step with the sound
        bar = tqdm(total=None if rate else info.frames or None, desc=printable(source.name, one_line=True),
                   unit="frame", disable=not progress, file=sys.stderr, dynamic_ncols=True)
        with ExitStack() as stack:
            with deferred_signals():  # a Ctrl-C while the encoder starts comes once the writer can be cleaned up
                writer = stack.enter_context(VideoWriter(target, out_size, rate or info.fps, audio_from=audio,
                                                         threads=encoder_threads_beside(stylize.session.provider),
                                                         overwrite=overwrite))
            parallel, workers = stylize.frame_parallel()
            times = run_pipeline(decoded_frames(cap, size, rate), parallel.infer,
                                 lambda pair: writer.write(parallel.finish(*pair)), on_frame=lambda n: bar.update(1),
                                 workers=workers)
            bar.close()
            if times.frames == 0:
                writer.abort()
                raise UserError(f"{source}: no frames could be decoded (corrupt or empty video)")
            decoded = int(cap.get(cv2.CAP_PROP_POS_FRAMES)) if rate else times.frames
            missing = info.frames - decoded
            if info.frames and missing > max(1, info.frames // 100):  # a frame or 1% is container rounding
                message = (f"{source}: decoded {decoded} of the {info.frames} frames the file declares "
                           "(truncated or damaged)")
                if not allow_truncated:
                    writer.abort()
                    raise UserError(f"{message}; nothing written. --allow-truncated converts the frames that "
                                    "can be read")
                log.warning(f"warning: {message}; converted what could be read")
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
        raise UserError(f"-o {out}: several inputs need a folder, and this is a file" if len(sources) > 1 else
                        f"-o {out}: not a folder, and not a video file name ({', '.join(VIDEO_SUFFIXES)})")
    else:
        targets = [out / f"{p.stem}_{model_name}{suffix}" for p in sources]
    check_outputs(sources, targets, overwrite)
    ensure_writable_folder(targets[0].parent)
    return sources, targets


def convert_videos(inputs: list[str], output: str, stylize: FrameStylizer, size: tuple[int, int] | None = None,
                   overwrite: bool = False, progress: bool = True, allow_truncated: bool = False) -> list[Path]:
    """Stylize several videos; all inputs and outputs are checked before the first one starts."""
    sources, targets = plan_video_outputs(inputs, output, stylize.name, overwrite)
    for src, target in zip(sources, targets):
        times = convert_video(src, target, stylize, size, progress, allow_truncated, overwrite)
        ms = times.per_frame_ms()
        log.info(f"{src} -> {target}: {times.frames} frames; {times.rates()} (decode {ms['decode']:.1f} ms, "
                 f"encode {ms['encode']:.1f} ms a frame; {stylize.session.provider})")
    return targets
