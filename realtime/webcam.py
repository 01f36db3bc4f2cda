"""The live loop: newest camera frame -> style model -> window (with overlay and hotkeys) / recording."""
from __future__ import annotations

import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from stylize.realtime.convert import FrameStylizer
from stylize.realtime.errors import UserError
from stylize.realtime.frames import draw_text_lines, fit, fit_inside, side_by_side
from stylize.realtime.images import write_image
from stylize.realtime.outputs import prepare_output_file
from stylize.realtime.session import StyleSession
from stylize.realtime.stabilize import Stabilizer
from stylize.realtime.video_io import LatestFrameReader, VideoWriter, open_camera, parse_camera

WINDOW = "stylize"
STRENGTH_STEP = 0.1
HOTKEYS = (
    ("n / p", "next / previous style"),
    ("+ / -", "strength up / down"),
    ("c", "original colours on/off"),
    ("o", "side-by-side with the original on/off"),
    ("space", "snapshot to a PNG file"),
    ("r", "start / stop recording"),
    ("h", "show / hide this help"),
    ("q / Esc", "quit"),
)


def hotkey_help() -> str:
    return "\n".join(f"  {keys:<8} {what}" for keys, what in HOTKEYS)


@dataclass
class LiveState:
    """What the hotkeys change."""

    model_index: int = 0
    strength: float = 1.0
    original_colors: bool = False
    show_original: bool = False
    show_help: bool = False
    quit: bool = False
    snapshot: bool = False
    toggle_recording: bool = False

    def handle_key(self, key: int, model_count: int) -> None:
        """Apply one key press (an OpenCV key code)."""
        char = chr(key) if 0 <= key < 256 else ""
        if char in ("q", "\x1b"):
            self.quit = True
        elif char == "n":
            self.model_index = (self.model_index + 1) % model_count
        elif char == "p":
            self.model_index = (self.model_index - 1) % model_count
        elif char in ("+", "="):
            self.strength = min(1.0, round(self.strength + STRENGTH_STEP, 2))
        elif char in ("-", "_"):
            self.strength = max(0.0, round(self.strength - STRENGTH_STEP, 2))
        elif char == "c":
            self.original_colors = not self.original_colors
        elif char == "o":
            self.show_original = not self.show_original
        elif char == "h":
            self.show_help = not self.show_help
        elif char == " ":
            self.snapshot = True
        elif char == "r":
            self.toggle_recording = True


@dataclass
class Recorder:
    """Records the shown frames in real time: frames are repeated as needed so the file plays at
    the speed it was captured, whatever the processing rate."""

    path: Path
    fps: float
    writer: VideoWriter | None = None
    started: float = 0.0

    def write(self, frame: np.ndarray) -> None:
        if self.writer is None:
            self.writer = VideoWriter(self.path, (frame.shape[1], frame.shape[0]), self.fps)
            self.started = time.perf_counter()
        due = int((time.perf_counter() - self.started) * self.fps) + 1
        while self.writer.frames < due:
            self.writer.write(frame)

    def finish(self) -> Path | None:
        if self.writer is None:
            return None
        return self.writer.finish()


class VirtualCamera:
    """Sends frames to a virtual webcam (pyvirtualcam: v4l2loopback on Linux, OBS's camera on
    Windows and macOS), so video-call apps can use the stylized stream."""

    def __init__(self, width: int, height: int, fps: float):
        try:
            import pyvirtualcam
        except ImportError as exc:
            raise UserError("--virtual-camera needs pyvirtualcam: pip install pyvirtualcam "
                            "(and v4l2loopback on Linux, or OBS on Windows/macOS)") from exc
        try:
            self.camera = pyvirtualcam.Camera(width=width, height=height, fps=fps, fmt=pyvirtualcam.PixelFormat.BGR)
        except Exception as exc:  # no loopback device, device busy, ...
            raise UserError(f"cannot start the virtual camera: {exc}") from exc
        self.size = (width, height)
        print(f"virtual camera: {self.camera.device}", file=sys.stderr)

    def send(self, frame: np.ndarray) -> None:
        self.camera.send(np.ascontiguousarray(fit(frame, self.size)))

    def close(self) -> None:
        self.camera.close()


@dataclass
class Stats:
    frames: int = 0
    fps: float = 0.0
    latency_ms: float = 0.0
    infer_ms: float = 0.0
    _window_start: float = field(default_factory=time.perf_counter)
    _window_frames: int = 0

    def update(self, latency: float, infer: float) -> bool:
        """Add one frame; returns True when a new FPS figure is ready (every second)."""
        self.frames += 1
        self._window_frames += 1
        self.latency_ms = 0.9 * self.latency_ms + 0.1 * latency * 1000 if self.frames > 1 else latency * 1000
        self.infer_ms = 0.9 * self.infer_ms + 0.1 * infer * 1000 if self.frames > 1 else infer * 1000
        elapsed = time.perf_counter() - self._window_start
        if elapsed >= 1.0:
            self.fps = self._window_frames / elapsed
            self._window_start, self._window_frames = time.perf_counter(), 0
            return True
        return False


@dataclass
class Inferred:
    """One frame through the model, as the inference thread hands it to the display loop."""
    frame: np.ndarray
    stylized: np.ndarray
    session: StyleSession
    captured_at: float
    infer_seconds: float


class InferenceWorker:
    """Runs the model on the newest camera frame in its own thread, so the display loop (stabilizer,
    overlay, window, recording) works on one frame while the model works on the next.

    ``next()`` gives an :class:`Inferred`, or None when the source ended; an error in the thread is
    raised there. The style and strength are read from ``state`` for every frame.
    """

    def __init__(self, reader: LatestFrameReader, sessions: list[StyleSession], state: LiveState,
                 prepare: Callable[[np.ndarray], np.ndarray]):
        self.reader, self.sessions, self.state, self.prepare = reader, sessions, state, prepare
        self._results: queue.Queue = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="inference", daemon=True)
        self._thread.start()

    def _hand_over(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._results.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                item = self.reader.next()
                if item is None:
                    break
                _, frame, captured_at = item
                frame = self.prepare(frame)
                session = self.sessions[self.state.model_index]
                started = time.perf_counter()
                stylized = session.run(frame, self.state.strength)
                if not self._hand_over(Inferred(frame, stylized, session, captured_at,
                                                time.perf_counter() - started)):
                    return
        except BaseException as exc:  # raised again in the display loop
            self._hand_over(exc)
            return
        self._hand_over(None)

    def next(self) -> Inferred | None:
        item = self._results.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def timestamped(prefix: str, suffix: str, folder: Path) -> Path:
    return folder / f"{prefix}_{time.strftime('%Y%m%d_%H%M%S')}{suffix}"


def display_available() -> bool:
    """Whether a window can open: on Linux and BSD a running X11 or Wayland display is needed (without
    one, OpenCV's GUI backend aborts the process)."""
    if not sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run_webcam(sessions: list[StyleSession], camera: str = "0", size: tuple[int, int] | None = None,
               record: str | None = None, window: bool = True, mirror: bool = False, strength: float = 1.0,
               max_frames: int | None = None, output_dir: str = ".", stabilize: bool = False,
               virtual_camera: bool = False) -> int:
    """Run the live loop until the user quits, the source ends, Ctrl-C or ``max_frames``."""
    if window and not display_available():
        raise UserError("cannot open a window: no display here (SSH or a server?). Use --no-window, "
                        "or 'stylize video' for files")
    if record:
        prepare_output_file(record, [camera], overwrite=False, suffixes=(".mp4", ".mkv", ".mov", ".avi"))
    cap, info = open_camera(camera, size)
    is_file = isinstance(parse_camera(camera), str) and Path(camera).is_file()
    if size is not None and (info.width, info.height) != size and not is_file:
        print(f"camera gives {info.width}x{info.height} (asked for {size[0]}x{size[1]})", file=sys.stderr)
    if is_file and size is not None:
        fitted = fit_inside((info.width, info.height), size)
        if fitted != (info.width, info.height):
            print(f"video {info.width}x{info.height} shown at {fitted[0]}x{fitted[1]} (fitted inside "
                  f"{size[0]}x{size[1]}, aspect kept)", file=sys.stderr)
        size = fitted
        info.width, info.height = size
    try:
        virtual = VirtualCamera(info.width, info.height, info.fps) if virtual_camera else None
    except UserError:
        cap.release()
        raise
    reader = LatestFrameReader(cap, pace_fps=info.fps if is_file else None)
    state = LiveState(strength=strength)
    stabilizer = Stabilizer() if stabilize else None
    previous_session = sessions[0]
    stats = Stats()
    folder = Path(output_dir)
    recorder = Recorder(Path(record), info.fps) if record else None
    if window:
        try:
            cv2.namedWindow(WINDOW, cv2.WINDOW_AUTOSIZE)
        except cv2.error as exc:
            reader.close()
            if virtual is not None:
                virtual.close()
            raise UserError("cannot open a window (no display?): use --no-window to run headless") from exc
    print(f"live: {info.width}x{info.height} from {camera}, style {sessions[0].info.style} on "
          f"{sessions[0].provider}; press h in the window for keys, q to quit", file=sys.stderr)

    def prepare(frame: np.ndarray) -> np.ndarray:
        frame = fit(frame, size) if is_file else frame
        return cv2.flip(frame, 1) if mirror else frame

    worker = InferenceWorker(reader, sessions, state, prepare)
    try:
        while not state.quit and (max_frames is None or stats.frames < max_frames):
            result = worker.next()
            if result is None:
                print("the source ended", file=sys.stderr)
                break
            frame, session = result.frame, result.session
            if stabilizer is not None and session is not previous_session:
                stabilizer.reset()  # no blending across a style switch
            previous_session = session
            out = FrameStylizer(session, state.strength, state.original_colors, stabilizer).finish(frame, result.stylized)
            infer = result.infer_seconds
            captured_at = result.captured_at
            shown = side_by_side(frame, out) if state.show_original else out
            new_fps = stats.update(time.perf_counter() - captured_at, infer)
            if recorder is not None:
                recorder.write(shown)
            if virtual is not None:
                virtual.send(out)
            if state.snapshot:
                path = timestamped("snapshot", ".png", folder)
                write_image(path, shown)
                print(f"snapshot: {path}", file=sys.stderr)
                state.snapshot = False
            if state.toggle_recording:
                state.toggle_recording = False
                if recorder is None:
                    recorder = Recorder(timestamped("recording", ".mp4", folder), info.fps)
                    print(f"recording to {recorder.path}", file=sys.stderr)
                else:
                    print(f"saved {recorder.finish()}", file=sys.stderr)
                    recorder = None
            if window:
                overlay = shown.copy()
                lines = [f"{session.info.style} ({session.info.architecture})  {stats.fps:.1f} fps  "
                         f"latency {stats.latency_ms:.0f} ms",
                         f"strength {state.strength:.1f}" + ("  original colours" if state.original_colors else "")
                         + ("  REC" if recorder is not None else "")]
                if state.show_help:
                    lines += [f"{keys}: {what}" for keys, what in HOTKEYS]
                cv2.imshow(WINDOW, draw_text_lines(overlay, lines))
                state.handle_key(cv2.waitKey(1) & 0xFF, len(sessions))
            elif new_fps:
                print(f"{stats.fps:5.1f} fps  inference {stats.infer_ms:5.1f} ms  latency {stats.latency_ms:5.1f} ms"
                      f"  dropped {reader.dropped}  [{session.info.style}, {session.provider}]", file=sys.stderr)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
    finally:
        worker.close()
        reader.close()
        if virtual is not None:
            virtual.close()
        if window:
            cv2.destroyAllWindows()
        if recorder is not None:
            saved = recorder.finish()
            if saved:
                print(f"saved {saved}", file=sys.stderr)
    print(f"{stats.frames} frames", file=sys.stderr)
    return 0
