"""Batch video conversion on Ray: ``stylize video IN... -o DIR --ray ADDRESS|local``.

Videos longer than two chunks are cut at keyframes into chunks of about ``chunk_seconds`` by
ffmpeg's stream copy (every frame lands in exactly one chunk, nothing is re-encoded), so one long
video spreads over the whole cluster. Each Ray worker is an actor that holds one model session
(on a GPU where the cluster has them); chunks travel as bytes through Ray's object store, so
workers need no shared file system. The driver joins a video's stylized chunks with ffmpeg's
concat demuxer (stream copy: lossless) and the original audio, and writes each output
atomically, as ``stylize video`` does. A failed item is retried once, then reported.
"""
from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .core.errors import UserError
from .core.frames import PaintSize
from .core.outputs import reserve_temporary
from .video_io import ffmpeg_exe, has_audio, open_video_file

log = logging.getLogger(__name__)

CHUNK_SECONDS = 10.0
RETRIES = 1


@dataclass
class StyleJob:
    """What every worker needs to stylize: the model file's bytes and the per-frame options."""

    model_name: str
    model_bytes: bytes
    strength: float = 1.0
    original_colors: bool = False
    stabilize: bool = False
    size: tuple[int, int] | None = None
    threads: int | None = None
    style: tuple[float, ...] | None = None  # the style vector, for the live any-painting model
    paint_size: PaintSize | None = None  # the pixels frames are painted at (None: each at its own size)


@dataclass
class Item:
    """One unit of work: a whole video or one chunk of one, read when it is sent to a worker; the
    stylized result is written to ``result`` (on the driver's disk, not held in memory)."""

    video: int
    index: int
    source: Path
    result: Path
    frames: int
    attempts: int = 0


@dataclass
class Plan:
    source: Path
    target: Path
    chunks: list[Item] = field(default_factory=list)


def ray_module():
    try:
        import ray
    except ImportError as exc:
        raise UserError("--ray needs Ray: pip install 'stylize[cluster]' (or pip install ray)") from exc
    return ray


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """A HOST:PORT (or ray://HOST:PORT) that refuses connections is reported at once, rather than
    after Ray's minutes of retrying. Other forms (``auto``) are left to Ray."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise UserError(f"--ray {address}: cannot join that Ray cluster: nothing answers there "
                        f"({exc.strerror or exc})") from exc


def split_at_keyframes(source: Path, folder: Path, chunk_seconds: float) -> list[Path]:
    """Cut the video stream into chunks of about ``chunk_seconds`` at keyframes (stream copy)."""
    pattern = folder / "chunk_%05d.mp4"
    done = subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(source),
                           "-map", "0:v:0", "-c", "copy", "-f", "segment", "-segment_time", str(chunk_seconds),
                           "-reset_timestamps", "1", str(pattern)], capture_output=True, text=True)
    if done.returncode != 0:
        raise UserError(f"{source}: cannot cut into chunks: {done.stderr.strip()[-300:]}")
    return sorted(folder.glob("chunk_*.mp4"))


def join_chunks(chunks: list[Path], audio_from: Path | None, target: Path) -> None:
    """Concatenate stylized chunks without re-encoding, add the original audio, write atomically."""
    listing = chunks[0].parent / "chunks.txt"
    listing.write_text("".join(f"file '{c.name}'\n" for c in chunks))
    tmp = reserve_temporary(target)
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing)]
    if audio_from is not None:
        cmd += ["-i", str(audio_from), "-map", "0:v:0", "-map", "1:a:0?", "-c:a", "aac", "-b:a", "192k"]
    cmd += ["-c:v", "copy", "-movflags", "+faststart", str(tmp)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise UserError(f"{target}: joining the stylized chunks failed: {done.stderr.strip()[-300:]}")
    os.replace(tmp, target)


class Worker:
    """A Ray actor's state: one model session, reused for every item it gets."""

    def __init__(self, job: StyleJob, device: str):
        from .frame_stylizer import FrameStylizer
        from .core.session import StyleSession
        from .stabilize import Stabilizer

        self.folder = Path(tempfile.mkdtemp(prefix="stylize-worker-"))
        model = self.folder / f"{job.model_name}.onnx"
        model.write_bytes(job.model_bytes)
        self.stylize = FrameStylizer(StyleSession(model, device, job.threads), job.strength, job.original_colors,
                                     Stabilizer() if job.stabilize else None,
                                     None if job.style is None else np.asarray(job.style, np.float32),
                                     paint_size=job.paint_size)
        self.size = job.size

    def convert(self, name: str, data: bytes) -> bytes:
        """Stylize one video or chunk given as bytes; returns the stylized file's bytes."""
        from .video_conversion import convert_video

        source, target = self.folder / f"in_{name}", self.folder / f"out_{name}"
        source.write_bytes(data)
        try:
            convert_video(source, target, self.stylize, self.size, progress=False)
            return target.read_bytes()
        finally:
            source.unlink(missing_ok=True)
            target.unlink(missing_ok=True)

    def provider(self) -> str:
        return self.stylize.session.provider

    def close(self) -> None:
        """Remove this worker's folder (the model's copy); called before the cluster lets it go."""
        shutil.rmtree(self.folder, ignore_errors=True)


def plan_items(sources: list[Path], targets: list[Path], folder: Path, chunk_seconds: float) -> list[Plan]:
    """Each video as one item, or (when longer than two chunks) cut into chunk items in ``folder``."""
    plans = []
    for number, (source, target) in enumerate(zip(sources, targets)):
        cap, info = open_video_file(source)
        cap.release()
        plan = Plan(source, target)
        parts = folder / f"video_{number}"
        (parts / "stylized").mkdir(parents=True)
        if info.fps > 0 and info.frames > 2 * chunk_seconds * info.fps:
            for index, chunk in enumerate(split_at_keyframes(source, parts, chunk_seconds)):
                cap, chunk_info = open_video_file(chunk)
                cap.release()
                plan.chunks.append(Item(number, index, chunk, parts / "stylized" / chunk.name, chunk_info.frames))
        else:
            plan.chunks.append(Item(number, 0, source, parts / "stylized" / "whole.mp4", info.frames))
        plans.append(plan)
    return plans


def convert_on_ray(sources: list[Path], targets: list[Path], job: StyleJob, address: str, device: str = "auto",
                   chunk_seconds: float = CHUNK_SECONDS, progress: bool = True) -> list[Path]:
    """Stylize ``sources`` into ``targets`` (already checked, see ``plan_video_outputs``) on the Ray
    cluster at ``address``, or on a local Ray with this machine's cores for ``local``."""
    ray = ray_module()
    started = time.perf_counter()
    if address == "local":
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    else:
        check_reachable(address)
        try:
            ray.init(address=address, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise UserError(f"--ray {address}: cannot join that Ray cluster: {str(exc).splitlines()[0][:200]}") from exc
    try:
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0)) if device != "cpu" else 0
        if gpus:
            workers, options, worker_device = gpus, {"num_gpus": 1, "num_cpus": 1}, "cuda"
        else:
            # two threads a worker: onnxruntime's own parallelism, and room for decode and encode
            workers = max(1, int(resources.get("CPU", 1)) // 2)
            options, worker_device = {"num_cpus": 2}, "cpu"
            job.threads = job.threads or 2
        job_ref = ray.put(job)
        actor = ray.remote(**options)(Worker)

        started_workers: list = []  # every worker started, replacements too: each removes its folder at the end

        def start_worker():
            started_workers.append(actor.remote(job_ref, worker_device))
            return started_workers[-1]

        pool = [start_worker() for _ in range(workers)]
        with tempfile.TemporaryDirectory(prefix="stylize-ray-") as tmp:
            plans = plan_items(sources, targets, Path(tmp), chunk_seconds)
            provider = ray.get(pool[0].provider.remote())
            log.info(f"ray: {workers} workers ({provider}), {len(sources)} videos in "
                     f"{sum(len(p.chunks) for p in plans)} items")
            try:
                failed = run_items(ray, pool, start_worker, plans, progress)
            finally:
                close_workers(ray, started_workers)
            written = []
            for number, plan in enumerate(plans):
                if number in failed:
                    continue
                if len(plan.chunks) == 1:  # stylized whole, audio included: copied into place
                    tmp_target = reserve_temporary(plan.target)
                    shutil.copyfile(plan.chunks[0].result, tmp_target)
                    os.replace(tmp_target, plan.target)
                else:
                    join_chunks([item.result for item in plan.chunks],
                                plan.source if has_audio(plan.source) else None, plan.target)
                written.append(plan.target)
                log.info(f"{plan.source} -> {plan.target}")
    finally:
        ray.shutdown()
    frames = sum(i.frames for number, p in enumerate(plans) if number not in failed for i in p.chunks)
    log.info(f"ray: {len(written)} of {len(sources)} videos, {frames} frames in {time.perf_counter() - started:.1f} s")
    if failed:
        raise UserError("these videos failed twice and were not written: "
                        + "; ".join(f"{plans[n].source} ({reason})" for n, reason in failed.items()))
    return written


def close_workers(ray, workers: list) -> None:
    """Let every worker still alive remove its folder (one that died cannot: its folder stays)."""
    for done in [worker.close.remote() for worker in workers]:
        try:
            ray.get(done, timeout=30)
        except Exception as exc:  # a lost worker: nothing more to do for it
            log.debug(f"ray: a worker could not clean up: {exc}")


def run_items(ray, pool: list, start_worker: Callable[[], object], plans: list[Plan],
              progress: bool) -> dict[int, str]:
    """Keep every worker busy until all items are done; an item that fails is retried once on the
    next free worker (a worker that died is replaced). Returns the videos with an item that failed
    twice, and why."""
    queue = [item for plan in plans for item in plan.chunks]
    total = sum(item.frames for item in queue)
    bar = tqdm(total=total or None, unit="frame", desc="ray", disable=not progress, file=sys.stderr, dynamic_ncols=True)
    running: dict = {}
    idle = list(pool)
    failed: dict[int, str] = {}
    while queue or running:
        while queue and idle:
            item = queue.pop(0)
            if item.video in failed:
                continue
            worker = idle.pop()
            running[worker.convert.remote(f"{item.video}_{item.index}.mp4", item.source.read_bytes())] = (item, worker)
        if not running:
            break
        [ready], _ = ray.wait(list(running), num_returns=1)
        item, worker = running.pop(ready)
        try:
            item.result.write_bytes(ray.get(ready))
            bar.update(item.frames)
            idle.append(worker)
        except Exception as exc:  # a worker error or a lost worker: retried once, then reported
            item.attempts += 1
            reason = str(exc).strip().splitlines()[-1][:200] if str(exc).strip() else type(exc).__name__
            if item.attempts > RETRIES:
                failed[item.video] = reason
            else:
                queue.append(item)
            idle.append(start_worker() if isinstance(exc, ray.exceptions.RayActorError) else worker)
    bar.close()
    return failed
