"""The live loop's model thread and its running figures (frame rate, latency, inference time)."""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .core.frames import painted_within
from .frame_stylizer import FrameStylizer
from .live_controls import LiveState
from .video_io import LatestFrameReader

log = logging.getLogger(__name__)


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
    seq: int  # the camera frame's number: with several frames at once, older ones finishing late are dropped


class InferenceWorker:
    """Runs the model on the newest camera frame in its own thread, so the display loop (stabilizer,
    overlay, window, recording) works on one frame while the model works on the next.

    With ``frames_at_once`` > 1 (CPU sessions only), that many threads each paint their own newest
    frame on a single-threaded copy of the session: a higher frame rate where one frame's layers cannot
    keep the cores busy, for about one more frame of latency; a frame that finishes after a newer one
    was handed over is dropped. ``next()`` gives an :class:`Inferred`, or None when the source ended;
    an error in a thread is raised there. The style and strength are read from ``state`` for every frame.
    """

    def __init__(self, reader: LatestFrameReader, looks: list[FrameStylizer], state: LiveState,
                 prepare: Callable[[np.ndarray], np.ndarray], frames_at_once: int = 1):
        self.reader, self.looks, self.state, self.prepare = reader, looks, state, prepare
        # styles that are vectors of one live model blend (the 'm' hotkey, --mix)
        self.blendable = len(looks) > 1 and all(
            look.style is not None and look.session is looks[0].session for look in looks)
        self._sessions = {id(look.session): look.session for look in looks}  # what each look's session runs on
        if frames_at_once > 1:
            parallel = {key: session.frame_parallel() for key, session in self._sessions.items()}
            if all(workers > 1 for _, workers in parallel.values()):
                self._sessions = {key: twin for key, (twin, _) in parallel.items()}
            else:
                log.info("frames at once: 1 (a GPU session, or one CPU thread, paints one frame at a time)")
                frames_at_once = 1
        self.frames_at_once = frames_at_once
        self._results: queue.Queue = queue.Queue(maxsize=frames_at_once)
        self._handed_seq = 0
        self._painting = frames_at_once  # threads that have not yet handed over the source's end
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._loop, name=f"inference-{i}", daemon=True)
                         for i in range(frames_at_once)]
        for thread in self._threads:
            thread.start()

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
                seq, frame, captured_at = item
                frame = self.prepare(frame)
                look = self.looks[self.state.model_index]
                session = self._sessions[id(look.session)]
                started = time.perf_counter()
                style = self.style_now(look)
                stylized = painted_within(frame, look.paint_size,
                                          lambda shown: session.run(shown, self.state.strength, style))
                if not self._hand_over(Inferred(frame, stylized, look, captured_at,
                                                time.perf_counter() - started, seq)):
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
        """The next painted frame, or None when the source ended or the loop was asked to quit."""
        while True:
            try:
                item = self._results.get(timeout=0.2)
            except queue.Empty:
                if self.state.quit:  # Ctrl-C sets it (webcam.interrupts_quit): no frame is waited for
                    return None
                continue
            if isinstance(item, BaseException):
                raise item
            if item is None:  # one thread ran out; the others may still be painting the last frames
                self._painting -= 1
                if self._painting == 0:
                    return None
                continue
            if item.seq > self._handed_seq:  # else an older frame that finished late: dropped
                self._handed_seq = item.seq
                return item

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
