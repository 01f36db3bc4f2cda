"""The live loop's model thread and its running figures (frame rate, latency, inference time)."""
from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .frame_stylizer import FrameStylizer
from .frames import painted_within
from .live_controls import LiveState
from .video_io import LatestFrameReader


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
    look: FrameStylizer
    captured_at: float
    infer_seconds: float


class InferenceWorker:
    """Runs the model on the newest camera frame in its own thread, so the display loop (stabilizer,
    overlay, window, recording) works on one frame while the model works on the next.

    ``next()`` gives an :class:`Inferred`, or None when the source ended; an error in the thread is
    raised there. The style and strength are read from ``state`` for every frame.
    """

    def __init__(self, reader: LatestFrameReader, looks: list[FrameStylizer], state: LiveState,
                 prepare: Callable[[np.ndarray], np.ndarray]):
        self.reader, self.looks, self.state, self.prepare = reader, looks, state, prepare
        # styles that are vectors of one live model blend (the 'm' hotkey, --mix)
        self.blendable = len(looks) > 1 and all(
            look.style is not None and look.session is looks[0].session for look in looks)
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
                look = self.looks[self.state.model_index]
                started = time.perf_counter()
                style = self.style_now(look)
                stylized = painted_within(frame, look.paint_size,
                                          lambda shown: look.session.run(shown, self.state.strength, style))
                if not self._hand_over(Inferred(frame, stylized, look, captured_at,
                                                time.perf_counter() - started)):
                    return
        except BaseException as exc:  # raised again in the display loop
            self._hand_over(exc)
            return
        self._hand_over(None)

    def style_now(self, look: FrameStylizer) -> np.ndarray | None:
        """The style vector for the next frame: the current look's, or the blend the state asks for."""
        if not self.blendable:
            return look.style
        weights = self.state.weights(len(self.looks))
        return np.sum([w * other.style for w, other in zip(weights, self.looks)], axis=0).astype(np.float32)

    def next(self) -> Inferred | None:
        item = self._results.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
