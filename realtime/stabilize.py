"""Temporal stabilisation of stylized video: blend each output with the previous output warped by
optical flow, except where the flow is not trusted (occlusions, fast motion), so strokes stop
flickering on still parts of the scene and moving objects leave no ghost trails."""
from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

FLOW_WIDTH = 160  # flow and trust are computed on small gray frames: cheap, and enough for both
UNTRUSTED = -1e5  # a sampling position far outside any frame


def _gray_small(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    width = min(FLOW_WIDTH, w)
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)  # gray first: the area resize then reads a third of the data
    return cv2.resize(gray, (width, max(8, round(h * width / w))), interpolation=cv2.INTER_AREA)


def _identity_grid(h: int, w: int) -> np.ndarray:
    ys, xs = np.indices((h, w), dtype=np.float32)
    return np.dstack([xs, ys])


_DIS = None


def _dis() -> cv2.DISOpticalFlow:
    global _DIS
    if _DIS is None:
        _DIS = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
    return _DIS


def small_flow(current_gray: np.ndarray, previous_gray: np.ndarray) -> np.ndarray:
    """DIS flow on small gray frames: for each pixel of ``current``, the offset to ``previous``."""
    return _dis().calc(current_gray, previous_gray, None)


def estimate_flow(current: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """Dense flow (H x W x 2, full-resolution pixels) mapping each pixel of ``current`` to its place
    in ``previous``, estimated with OpenCV's DIS on small gray frames."""
    a = _gray_small(current)
    flow = small_flow(a, _gray_small(previous))
    h, w = current.shape[:2]
    return cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR) * (w / a.shape[1])


def warp(image: np.ndarray, flow: np.ndarray, grid: np.ndarray | None = None) -> np.ndarray:
    """Sample ``image`` at (x, y) + flow: brings the previous frame onto the current one."""
    maps = (grid if grid is not None else _identity_grid(*flow.shape[:2])) + flow
    return cv2.remap(image, maps, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


class Stabilizer:
    """Per-stream state: call it with each (input frame, stylized frame) pair, in order.

    Where the flow is trusted, the output keeps ``weight`` of the previous output warped onto the
    current frame; elsewhere it is the current stylized frame as it is. The flow is not trusted where
    the warped previous input differs from the current input by more than ``tolerance`` gray
    levels (occlusion, fast motion, scene cut), so moving objects leave no ghost trails.
    """

    def __init__(self, weight: float = 0.7, tolerance: float = 12.0):
        self.weight, self.tolerance = weight, tolerance
        self._prev_gray: np.ndarray | None = None
        self._prev_out: np.ndarray | None = None
        self._grids: dict[tuple[int, int], np.ndarray] = {}

    def reset(self) -> None:
        """Forget the previous frame (a new clip starts)."""
        self._prev_gray = self._prev_out = None

    def _grid(self, h: int, w: int) -> np.ndarray:
        if (h, w) not in self._grids:
            self._grids[(h, w)] = _identity_grid(h, w)
        return self._grids[(h, w)]

    def __call__(self, frame: np.ndarray, stylized: np.ndarray) -> np.ndarray:
        gray = _gray_small(frame)
        if self._prev_out is None or self._prev_out.shape != stylized.shape:
            self._prev_gray, self._prev_out = gray, stylized
            return stylized
        flow = small_flow(gray, self._prev_gray)
        sh, sw = gray.shape
        grid = self._grid(sh, sw)
        disagreement = cv2.absdiff(warp(self._prev_gray, flow, grid), gray)
        h, w = stylized.shape[:2]
        # sampling positions, computed small and scaled up: one resize instead of resize + add;
        # untrusted places point far outside the frame, where a transparent-border remap writes nothing
        maps = (grid + flow + np.float32(0.5)) * np.array([w / sw, h / sh], np.float32) - np.float32(0.5)
        maps[disagreement > self.tolerance] = UNTRUSTED
        map_xy, map_frac = cv2.convertMaps(cv2.resize(maps, (w, h), interpolation=cv2.INTER_LINEAR), None,
                                           cv2.CV_16SC2)  # fixed-point maps remap faster
        warped_out = stylized.copy()
        cv2.remap(self._prev_out, map_xy, map_frac, cv2.INTER_LINEAR, warped_out, cv2.BORDER_TRANSPARENT)
        out = cv2.addWeighted(warped_out, self.weight, stylized, 1.0 - self.weight, 0.0)
        self._prev_gray, self._prev_out = gray, out
        return out


def stabilized(run: Callable[[np.ndarray], np.ndarray], stabilizer: Stabilizer) -> Callable[[np.ndarray], np.ndarray]:
    """Wrap a per-frame stylize function with a stabilizer."""
    return lambda frame: stabilizer(frame, run(frame))
