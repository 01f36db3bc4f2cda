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


def interleaved(measures: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Call every measure once per round, in turn, for ``rounds`` rounds: a busy moment of the
    machine then slows one round of each rather than all of one, and per-round ratios compare like
    with like. Returns each measure's figures, one per round."""
    figures: dict[str, list[float]] = {name: [] for name in measures}
    for _ in range(rounds):
        for name, measure in measures.items():
            figures[name].append(measure())
    return figures


def ratio_line(slower: list[float], faster: list[float]) -> str:
    """Median and range of the per-round ratios slower / faster, e.g. '2.31x (2.05-2.60x over 5 rounds)'."""
    ratios = sorted(s / f for s, f in zip(slower, faster))
    return f"{float(np.median(ratios)):.2f}x ({ratios[0]:.2f}-{ratios[-1]:.2f}x over {len(ratios)} rounds)"
