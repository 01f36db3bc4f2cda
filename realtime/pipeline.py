"""A threaded decode -> infer -> encode pipeline, so throughput approaches the slowest stage."""
from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

_END = object()


@dataclass
class StageTimes:
    """Seconds spent in each stage, and frames through the pipeline."""

    decode: float = 0.0
    infer: float = 0.0
    encode: float = 0.0
    frames: int = 0
    wall: float = 0.0
    workers: int = 1  # frames painted at once, one thread each
    errors: list[BaseException] = field(default_factory=list)

    def per_frame_ms(self) -> dict[str, float]:
        n = max(1, self.frames)
        return {"decode": 1000 * self.decode / n, "inference": 1000 * self.infer / n,
                "encode": 1000 * self.encode / n}

    @property
    def fps(self) -> float:
        return self.frames / self.wall if self.wall > 0 else 0.0

    def rates(self) -> str:
        """Throughput and each frame's painting time, named so that neither reads as the other (with several
        frames painted at once, a frame takes longer than the interval between frames)."""
        at_once = f" on one thread, {self.workers} frames at a time" if self.workers > 1 else ""
        interval = f" ({1000 / self.fps:.1f} ms a frame)" if self.fps > 0 else ""
        return (f"throughput {self.fps:.1f} frames/s{interval}; painting a frame took "
                f"{self.per_frame_ms()['inference']:.1f} ms{at_once}")


def _put(q: queue.Queue, item, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _get(q: queue.Queue, stop: threading.Event):
    while not stop.is_set():
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            continue
    return _END


def run_pipeline(frames: Iterable[np.ndarray], infer: Callable[[np.ndarray], np.ndarray],
                 write: Callable[[np.ndarray], None], on_frame: Callable[[int], None] | None = None,
                 depth: int = 4, workers: int = 1) -> StageTimes:
    """Decode (iterating ``frames``) and encode (``write``) in their own threads around ``infer``:
    on the calling thread, or with ``workers`` > 1 on that many threads at once, each on its own frame
    (frames are written in their order). Stops early and re-raises if any stage fails or on
    KeyboardInterrupt. ``StageTimes.infer`` sums the workers' seconds: per frame, one worker's time."""
    times = StageTimes(workers=workers)
    stop = threading.Event()
    decoded: queue.Queue = queue.Queue(depth)
    # outputs in frame order, or with workers their futures: room for every worker's frame and as many waiting
    inferred: queue.Queue = queue.Queue(max(depth, 2 * workers))
    pool = ThreadPoolExecutor(workers, thread_name_prefix="infer") if workers > 1 else None
    infer_lock = threading.Lock()

    def timed_infer(frame: np.ndarray) -> np.ndarray:
        t = time.perf_counter()
        out = infer(frame)
        with infer_lock:
            times.infer += time.perf_counter() - t
        return out

    def decode_loop() -> None:
        iterator: Iterator[np.ndarray] = iter(frames)
        try:
            while not stop.is_set():
                t = time.perf_counter()
                frame = next(iterator, None)
                times.decode += time.perf_counter() - t
                if frame is None:
                    break
                if not _put(decoded, frame, stop):
                    return
        except BaseException as exc:  # handed to the main thread
            times.errors.append(exc)
            stop.set()
        _put(decoded, _END, stop)

    def encode_loop() -> None:
        try:
            while True:
                frame = _get(inferred, stop)
                if frame is _END:
                    return
                if isinstance(frame, Future):
                    frame = frame.result()
                t = time.perf_counter()
                write(frame)
                times.encode += time.perf_counter() - t
                times.frames += 1
                if on_frame is not None:
                    on_frame(times.frames)
        except BaseException as exc:
            times.errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=decode_loop, name="decode", daemon=True),
               threading.Thread(target=encode_loop, name="encode", daemon=True)]
    start = time.perf_counter()
    try:
        for th in threads:  # inside the try: an interrupt between two starts still stops and joins the first
            th.start()
        while True:
            frame = _get(decoded, stop)
            if frame is _END:
                break
            out = pool.submit(timed_infer, frame) if pool is not None else timed_infer(frame)
            if not _put(inferred, out, stop):
                break
        _put(inferred, _END, stop)
        threads[1].join()
    except BaseException:
        stop.set()
        raise
    finally:
        stop.set()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        for th in threads:
            if th.ident is not None:  # started
                th.join(timeout=5.0)
    times.wall = time.perf_counter() - start
    if times.errors:
        raise times.errors[0]
    return times
