"""Timing shared by the benchmarks that run a peer's code beside ours."""
from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def ms_per_frame(run: Callable[[np.ndarray], object], frames: list[np.ndarray], warmup: int = 3) -> float:
    """Milliseconds per frame of ``run`` over ``frames``, after ``warmup`` untimed frames."""
    for frame in frames[:warmup]:
        run(frame)
    started = time.perf_counter()
    for frame in frames:
        run(frame)
    return 1000 * (time.perf_counter() - started) / len(frames)
