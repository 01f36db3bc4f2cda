"""Decoded frames at the pace players show them: a variable-frame-rate video (phones record them) read at a
constant rate, each frame repeated from its timestamp to the next frame's, so the picture stays in step
with the sound."""
from __future__ import annotations

import re
from collections.abc import Iterator

import cv2
import numpy as np

from .core.frames import fit
from .video_io import VideoInfo


def decoded_frames(cap: cv2.VideoCapture, size: tuple[int, int] | None,
                   rate: float | None = None) -> Iterator[np.ndarray]:
    """The frames of an open capture, each fitted to ``size`` (when given), until it ends; with ``rate``, at
    that constant rate by their timestamps (see :func:`variable_rate`)."""
    frames = _read_frames(cap) if rate is None else _at_constant_rate(cap, rate)
    for frame in frames:
        yield fit(frame, size)


def _read_frames(cap: cv2.VideoCapture) -> Iterator[np.ndarray]:
    while True:
        ok, frame = cap.read()
        if not ok or frame is None:
            return
        yield frame


def _at_constant_rate(cap: cv2.VideoCapture, rate: float) -> Iterator[np.ndarray]:
    """A variable-rate stream as a constant-rate one: each frame repeated (or, where frames come faster than
    ``rate``, dropped) so that it is shown from its own timestamp to the next frame's, as players show it."""
    slot = 1000.0 / rate
    previous, previous_at, next_slot, gap = None, 0.0, 0.0, slot
    while True:
        ok, frame = cap.read()
        if not ok or frame is None:
            break
        shown_at = cap.get(cv2.CAP_PROP_POS_MSEC)
        if previous is None:
            next_slot = shown_at
        else:
            gap = shown_at - previous_at
            while next_slot + slot / 2 <= shown_at:
                yield previous
                next_slot += slot
        previous, previous_at = frame, shown_at
    if previous is not None:  # the last frame lasts as long as the one before it
        for _ in range(max(1, round(gap / slot))):
            yield previous


def variable_rate(header: str, info: VideoInfo) -> float | None:
    """The base frame rate to convert a variable-frame-rate video (phones record them) at, or None for a
    constant-rate one: ffmpeg's ``tbr`` (in the file's ``media_header``) where it differs from the average rate
    OpenCV reports."""
    found = re.search(r"Stream #\S+.*: Video:.* ([\d.]+) fps, ([\d.]+) tbr", header)
    if not found:
        return None
    base = float(found.group(2))
    return base if 0 < base < 1000 and abs(base - info.fps) > 0.01 * base else None
