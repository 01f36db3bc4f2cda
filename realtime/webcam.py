"""The live loop: newest camera frame -> style model -> window (with overlay and hotkeys) / recording."""
from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from .core.errors import UserError
from .core.frames import draw_text_lines, fit, fit_inside, side_by_side
from .core.images import write_image
from .core.outputs import prepare_output_file
from .frame_stylizer import FrameStylizer
from .live_controls import HOTKEYS, LiveState
from .live_inference import InferenceWorker, Stats
from .live_outputs import Recorder, VirtualCamera
from .painting_style import mix_weights
from .stabilize import Stabilizer
from .video_io import LatestFrameReader, encoder_threads_beside, open_camera, parse_camera

log = logging.getLogger(__name__)
_IMPORTED_AT = time.monotonic()

WINDOW = "stylize"


def timestamped(prefix: str, suffix: str, folder: Path) -> Path:
    return folder / f"{prefix}_{time.strftime('%Y%m%d_%H%M%S')}{suffix}"


def display_available() -> bool:
    """Whether a window can open: on Linux and BSD a running X11 or Wayland display is needed (without
    one, OpenCV's GUI backend aborts the process)."""
    if not sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def style_label(look: FrameStylizer) -> str:
    """A look's name on screen: the painting's for the live model, else the model's style."""
    return look.label or look.session.info.style


def blend_label(looks: list[FrameStylizer], state: LiveState) -> str:
    """``candy 75% + udnie 25%`` (styles with no weight left out)."""
    parts = [f"{style_label(look)} {round(100 * w)}%" for look, w in zip(looks, state.weights(len(looks))) if w > 0]
    return " + ".join(parts)


def seconds_since_start() -> float:
    """How long this process has run (Linux: from /proc; elsewhere from when this module was imported)."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return time.monotonic() - _IMPORTED_AT


@contextmanager
def interrupts_quit(state: LiveState) -> Iterator[None]:
    """While the live loop runs and closes, Ctrl-C and SIGTERM ask it to quit (``state.quit``) instead of raising
    inside whatever it is doing: an interrupt inside a lock's wait broke the lock ('release unlocked lock'), and a
    second one while the threads closed left native threads running as the interpreter exited (exit 134)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def quit_loop(signum, frame) -> None:
        state.quit = True

    previous = {number: signal.signal(number, quit_loop) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def run_webcam(looks: list[FrameStylizer], camera: str = "0", size: tuple[int, int] | None = None,
               record: str | None = None, window: bool = True, mirror: bool = False, strength: float = 1.0,
               max_frames: int | None = None, output_dir: str = ".", stabilize: bool = False,
               virtual_camera: bool = False, mix: list[float] | None = None, frames_at_once: int = 1,
               started: float | None = None) -> int:
    """Run the live loop until the user quits, the source ends, Ctrl-C or ``max_frames``.

    ``started``: the ``time.monotonic()`` at which the command started, from which the first painted frame
    is timed (default: when this process started).

    ``looks`` are what n/p switch between (models, or paintings on the live model, which the 'm'
    hotkey also blends; ``mix`` gives the blend to start with). ``frames_at_once``: see
    :class:`InferenceWorker`."""
    if mix is not None:
        mix = [float(w) for w in mix_weights(mix, len(looks))]
    if window and not display_available():
        raise UserError("cannot open a window: no display here (SSH or a server?). Use --no-window, "
                        "or 'stylize video' for files")
    if record:
        if Path(record).is_file():  # the webcam has no --overwrite: a recording never replaces a file
            raise UserError(f"--record {record} already exists: choose another file name")
        prepare_output_file(record, [camera], overwrite=False, suffixes=(".mp4", ".mkv", ".mov", ".avi"))
    cap, info = open_camera(camera, size)
    is_file = isinstance(parse_camera(camera), str) and Path(camera).is_file()
    if size is not None and (info.width, info.height) != size and not is_file:
        log.info(f"camera gives {info.width}x{info.height} (asked for {size[0]}x{size[1]})")
    if is_file and size is not None:
        fitted = fit_inside((info.width, info.height), size)
        if fitted != (info.width, info.height):
            log.info(f"video {info.width}x{info.height} shown at {fitted[0]}x{fitted[1]} (fitted inside "
                     f"{size[0]}x{size[1]}, aspect kept)")
        size = fitted
        info.width, info.height = size
    try:
        virtual = VirtualCamera(info.width, info.height, info.fps) if virtual_camera else None
    except UserError:
        cap.release()
        raise
    reader = LatestFrameReader(cap, pace_fps=info.fps if is_file else None)
    state = LiveState(strength=strength, mix=mix)
    stabilizer = Stabilizer() if stabilize else None
    for look in looks:
        look.stabilizer = stabilizer
    previous_look = looks[0]
    stats = Stats()
    folder = Path(output_dir)
    encoder_threads = encoder_threads_beside(looks[0].session.provider)
    recorder = Recorder(Path(record), info.fps, encoder_threads) if record else None
    if window:
        try:
            cv2.namedWindow(WINDOW, cv2.WINDOW_AUTOSIZE)
        except cv2.error as exc:
            reader.close()
            if virtual is not None:
                virtual.close()
            raise UserError("cannot open a window (no display?): use --no-window to run headless") from exc
    keys = "press h in the window for keys, q to quit" if window else "Ctrl-C to stop"
    blends = len(looks) > 1 and all(look.style is not None for look in looks)
    log.info(f"live: {info.width}x{info.height} from {camera}, style "
             f"{blend_label(looks, state) if blends else style_label(looks[0])} on "
             f"{looks[0].session.provider}; {keys}")

    def prepare(frame: np.ndarray) -> np.ndarray:
        frame = fit(frame, size) if is_file else frame
        return cv2.flip(frame, 1) if mirror else frame

    worker = InferenceWorker(reader, looks, state, prepare, frames_at_once)
    with interrupts_quit(state):  # Ctrl-C ends the loop as q does
        try:
            while not state.quit and (max_frames is None or stats.frames < max_frames):
                result = worker.next()
                if result is None:
                    log.info("interrupted" if state.quit else "the source ended")
                    break
                frame, look = result.frame, result.look
                if stabilizer is not None and look is not previous_look:
                    stabilizer.reset()  # no blending across a style switch
                previous_look = look
                look.strength, look.original_colors = state.strength, state.original_colors
                out = look.finish(frame, result.stylized)
                infer = result.infer_seconds
                captured_at = result.captured_at
                shown = side_by_side(frame, out) if state.show_original else out
                new_fps = stats.update(time.perf_counter() - captured_at, infer)
                if stats.frames == 1:
                    waited = seconds_since_start() if started is None else time.monotonic() - started
                    log.info(f"first painted frame {waited:.2f} s after the command started (loading the "
                             "model, encoding any painting, opening the camera and painting the frame)")
                if recorder is not None:
                    recorder.write(shown)
                if virtual is not None:
                    virtual.send(out)
                if state.snapshot:
                    path = timestamped("snapshot", ".png", folder)
                    write_image(path, shown)
                    log.info(f"snapshot: {path}")
                    state.snapshot = False
                if state.toggle_recording:
                    state.toggle_recording = False
                    if recorder is None:
                        recorder = Recorder(timestamped("recording", ".mp4", folder), info.fps, encoder_threads)
                        log.info(f"recording to {recorder.path}")
                    else:
                        log.info(f"saved {recorder.finish()}")
                        recorder = None
                if window:
                    overlay = shown.copy()
                    style = blend_label(looks, state) if worker.blendable else style_label(look)
                    lines = [f"{style} ({look.session.info.architecture})  {stats.fps:.1f} fps  "
                             f"latency {stats.latency_ms:.0f} ms",
                             f"strength {state.strength:.1f}" + ("  original colours" if state.original_colors else "")
                             + ("  REC" if recorder is not None else "")]
                    if state.show_help:
                        lines += [f"{keys}: {what}" for keys, what in HOTKEYS]
                    cv2.imshow(WINDOW, draw_text_lines(overlay, lines))
                    state.handle_key(cv2.waitKey(1) & 0xFF, len(looks))
                elif new_fps:
                    log.info(f"{stats.fps:5.1f} fps  inference {stats.infer_ms:5.1f} ms  latency {stats.latency_ms:5.1f} ms"
                             f"  dropped {reader.dropped}  [{style_label(look)}, {look.session.provider}]")
        finally:  # still inside interrupts_quit: a second Ctrl-C does not cut the closing short
            worker.close()
            reader.close()
            if virtual is not None:
                virtual.close()
            if window:
                cv2.destroyAllWindows()
            if recorder is not None:
                saved = recorder.finish()
                if saved:
                    log.info(f"saved {saved}")
    log.info(f"{stats.frames} frames")
    return 0
