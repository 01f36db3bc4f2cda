"""Small frame operations used by the outputs: sizes, original colours, side-by-side, overlays, and a
generated test scene."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from . import images
from .errors import UserError


def as_size(size: tuple[int, int] | str | None) -> tuple[int, int] | None:
    """A frame size from the API: (width, height), 'WxH' or None, checked as ``--size`` is."""
    if size is None or isinstance(size, str):
        return parse_size(size)
    try:
        width, height = size
        if any(isinstance(v, bool) or int(v) != v for v in (width, height)):
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise UserError(f"size {size!r}: expected (width, height) in whole pixels, 'WxH' or None") from None
    return parse_size(f"{int(width)}x{int(height)}")


def parse_size(text: str | None) -> tuple[int, int] | None:
    """'640x480' -> (640, 480); None stays None."""
    if text is None:
        return None
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UserError(f"size {text!r} is not WIDTHxHEIGHT, e.g. 640x480") from None
    if width <= 0 or height <= 0:
        raise UserError(f"size {text!r} must be positive")
    if width * height > images.max_pixels():
        raise UserError(images.over_the_limit(f"size {text!r}", width, height))
    return width, height


def fit_inside(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """The largest (width, height) with the aspect of ``size`` inside ``box``, in even numbers (as
    video encoders want them)."""
    scale = min(box[0] / size[0], box[1] / size[1])
    return max(2, int(size[0] * scale) // 2 * 2), max(2, int(size[1] * scale) // 2 * 2)


@dataclass(frozen=True)
class PaintSize:
    """How many pixels the net paints a frame at (``--paint-size``), in the frame's own aspect.

    A frame with more pixels is painted shrunk to ``pixels`` and scaled back up (a 1280x720 frame costs
    what 640x480 does); a frame with fewer is painted enlarged to that many and scaled back down. The
    strokes then keep their size relative to the frame at every frame size: a 320x240 frame looks like
    its 640x480 painting, not swamped by strokes sized for a larger one. With ``at_least``, a frame with
    more pixels is painted at its own size (every pixel) and only smaller ones are enlarged.
    """

    pixels: int
    at_least: bool = False


MIN_PAINT_PIXELS = 64 * 64
# a frame within this ratio of the paint size is painted as it is: resampling it would only blur it
PAINT_SIZE_SLACK = 1.1


def parse_paint_size(text: str) -> PaintSize | None:
    """``--paint-size``: 'WxH' -> paint at W*H pixels; 'WxH+' -> at least that many; 'full' -> None (every
    frame at its own size)."""
    text = text.strip().lower()
    if text == "full":
        return None
    at_least = text.endswith("+")
    width, height = parse_size(text.removesuffix("+"))
    if width * height < MIN_PAINT_PIXELS:
        raise UserError(f"paint size {text!r}: at least 64x64, or 'full'")
    return PaintSize(width * height, at_least)


def painted_size(size: tuple[int, int], paint: PaintSize | None) -> tuple[int, int]:
    """The (width, height) a frame of ``size`` is painted at, same aspect (see :class:`PaintSize`)."""
    if paint is None:
        return size
    width, height = size
    ratio = width * height / paint.pixels
    if 1 / PAINT_SIZE_SLACK <= ratio <= PAINT_SIZE_SLACK or (paint.at_least and ratio > 1):
        return size
    scale = ratio ** -0.5
    return max(1, int(width * scale)), max(1, int(height * scale))


def painted_within(frame: np.ndarray, paint_size: PaintSize | None, paint: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``paint(frame)`` at the size :func:`painted_size` gives, resized back to the frame's (area
    averaging when shrinking, bicubic when enlarging)."""
    size = (frame.shape[1], frame.shape[0])
    at = painted_size(size, paint_size)
    if at == size:
        return paint(frame)
    shrinking = at[0] * at[1] < size[0] * size[1]
    painted = paint(cv2.resize(frame, at, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC))
    return cv2.resize(painted, size, interpolation=cv2.INTER_CUBIC if shrinking else cv2.INTER_AREA)


def fit(frame: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    """Resize a frame to (width, height) unless it already has that size."""
    if size is None or (frame.shape[1], frame.shape[0]) == size:
        return frame
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def keep_original_colors(original: np.ndarray, stylized: np.ndarray) -> np.ndarray:
    """The stylized frame's luminance with the original frame's chroma (YCrCb)."""
    styled = cv2.cvtColor(stylized, cv2.COLOR_BGR2YCrCb)
    styled[..., 1:] = cv2.cvtColor(original, cv2.COLOR_BGR2YCrCb)[..., 1:]
    return cv2.cvtColor(styled, cv2.COLOR_YCrCb2BGR)


def side_by_side(original: np.ndarray, stylized: np.ndarray) -> np.ndarray:
    """Original and stylized frames next to each other."""
    return np.hstack([original, stylized])


def draw_text_lines(frame: np.ndarray, lines: list[str], origin: tuple[int, int] = (10, 22)) -> np.ndarray:
    """Draw lines of white text with a dark outline so they read on any background (in place).

    The text is drawn once, into a mask; the outline is that mask grown by one pixel. (Drawing it
    twice with two thicknesses misaligns on OpenCV 5, whose glyphs advance further when thicker.)
    """
    x, y = origin
    fill = np.zeros(frame.shape[:2], np.uint8)
    for line in lines:
        cv2.putText(fill, line, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.55, 255, 1, cv2.LINE_AA)
        y += 22
    rows = np.flatnonzero(fill.any(axis=1))
    if rows.size == 0:
        return frame
    top, bottom = max(0, rows[0] - 1), rows[-1] + 2  # only the band with text is blended
    band = frame[top:bottom]
    outline = cv2.dilate(fill[top:bottom], np.ones((3, 3), np.uint8))
    for mask, colour in ((outline, 0.0), (fill[top:bottom], 255.0)):
        weight = (mask.astype(np.float32) / 255.0)[..., None]
        band[:] = (band * (1.0 - weight) + colour * weight).round().astype(np.uint8)
    return frame


def synthetic_frames(size: tuple[int, int], count: int) -> list[np.ndarray]:
    """A moving, textured test scene (no camera or clip needed)."""
    width, height = size
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    frames = []
    for i in range(count):
        shift = 3.0 * i
        channels = [127 + 120 * np.sin((xx + shift) / (17 + 9 * c)) * np.cos((yy - shift) / (23 + 5 * c))
                    for c in range(3)]
        frame = np.stack(channels, -1).astype(np.uint8)
        cv2.circle(frame, (int(width / 2 + width / 4 * np.sin(i / 9)), height // 2), max(4, height // 6),
                   (40, 200, 240), -1)
        frames.append(frame)
    return frames
