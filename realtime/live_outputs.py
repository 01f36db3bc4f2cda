"""Where the live stream goes besides the window: a real-time recording and a virtual webcam."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .core.errors import UserError
from .core.frames import fit
from .video_io import VideoWriter

log = logging.getLogger(__name__)


@dataclass
class Recorder:
    """Records the shown frames in real time: frames are repeated as needed so the file plays at
    the speed it was captured, whatever the processing rate. ``threads``: the encoder's (see
    ``video_io.encoder_threads_beside``)."""

    path: Path
    fps: float
    threads: int | None = None
    writer: VideoWriter | None = None
    started: float = 0.0

    def write(self, frame: np.ndarray) -> None:
        if self.writer is None:
            self.writer = VideoWriter(self.path, (frame.shape[1], frame.shape[0]), self.fps, threads=self.threads)
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
        log.info(f"virtual camera: {self.camera.device}")

    def send(self, frame: np.ndarray) -> None:
        self.camera.send(np.ascontiguousarray(fit(frame, self.size)))

    def close(self) -> None:
        self.camera.close()
