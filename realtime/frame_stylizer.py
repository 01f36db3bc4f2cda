"""The per-frame core every path shares (webcam, video, images, bench, flicker, API, Ray workers):
a model session plus what happens to each frame around it."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .core.frames import PaintSize, keep_original_colors, painted_within
from .core.session import StyleSession
from .stabilize import Stabilizer


@dataclass
class FrameStylizer:
    """A session plus the per-frame options: strength, original colours, the style vector (for the
    live any-painting model; None: the model's own style), the most pixels the net paints (larger
    frames are painted smaller and scaled up; None: every pixel) and, for a stream of frames, the
    temporal stabilizer (which keeps state between calls)."""

    session: StyleSession
    strength: float = 1.0
    original_colors: bool = False
    stabilizer: Stabilizer | None = None
    style: np.ndarray | None = None
    label: str = ""  # what output files are named after (default: the model's name)
    paint_size: PaintSize | None = None  # None: every frame painted at its own size

    @property
    def name(self) -> str:
        return self.label or self.session.info.name

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        return self.finish(*self.infer(frame))

    def infer(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The model's part: (frame, stylized frame)."""
        return frame, painted_within(frame, self.paint_size,
                                     lambda shown: self.session.run(shown, self.strength, self.style))

    def frame_parallel(self) -> tuple["FrameStylizer", int]:
        """This stylizer on a session made for several frames at once, and how many to run at once
        (see :meth:`StyleSession.frame_parallel`); the stabilizer is shared, so :meth:`finish` stays
        in frame order."""
        session, workers = self.session.frame_parallel()
        return (self if session is self.session else replace(self, session=session)), workers

    def finish(self, frame: np.ndarray, out: np.ndarray) -> np.ndarray:
        """The part after the model (original colours, stabilizer), in frame order; the video
        pipeline runs it beside the next frame's inference."""
        if self.original_colors:
            out = keep_original_colors(frame, out)
        return self.stabilizer(frame, out) if self.stabilizer is not None else out
