"""Where inference runs: onnxruntime execution providers for a ``--device`` choice, the fallback
check, CPU threads and whether int8 pays on this CPU."""
from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnxruntime as ort

from .errors import UserError

DEVICES = ("auto", "cpu", "cuda", "tensorrt")
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"
CPU = "CPUExecutionProvider"

# Settings that suit video: frame sizes rarely change, so a cheap heuristic beats an exhaustive
# cuDNN search on every new shape; copies in the default stream avoid cross-stream syncs.
CUDA_OPTIONS = {
    "cudnn_conv_algo_search": "HEURISTIC",
    "do_copy_in_default_stream": True,
    "arena_extend_strategy": "kSameAsRequested",
}
TENSORRT_OPTIONS = {"trt_fp16_enable": True, "trt_engine_cache_enable": True}


MAX_THREADS = 256  # inference threads one session may ask for (the CLI's --threads and the API alike)


def checked_threads(threads: object) -> int | None:
    """A thread count from the CLI or the API: None (picked for the machine) or an int from 1 to MAX_THREADS."""
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or not 1 <= threads <= MAX_THREADS:
        raise UserError(f"threads {threads!r}: must be a whole number from 1 to {MAX_THREADS}, or None")
    return int(threads)


def cpu_threads(cpu_count: int | None = None) -> int:
    """Inference threads: all cores on small machines, one fewer from four cores up (room for
    capture and encode, which run in their own threads)."""
    cpus = cpu_count or os.cpu_count() or 1
    return cpus - 1 if cpus >= 4 else cpus


def int8_pays(cpuinfo: str | None = None) -> bool:
    """Whether int8 convolutions beat fp32 on this CPU: with VNNI (AVX512-VNNI or AVX-VNNI) they run
    faster; without it they are reported slower, so elsewhere fp32 is kept."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:  # not Linux: no way to tell cheaply, fp32 is the safe choice
            return False
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), [])
    return "avx512_vnni" in flags or "avx_vnni" in flags


def runs_on_cpu(device: str) -> bool:
    """Whether a session for ``device`` will run on the CPU."""
    return device == "cpu" or (device == "auto" and not (CUDA in ort.get_available_providers() and nvidia_gpu_present()))


def nvidia_gpu_present() -> bool:
    """Whether an NVIDIA driver is loaded (Linux: ``/proc/driver/nvidia``); elsewhere assumed, and the
    fallback check after the session starts tells the truth."""
    if not sys.platform.startswith("linux"):
        return True
    return Path("/proc/driver/nvidia/version").exists()


def provider_plan(device: str, available: list[str], gpu_present: bool = True) -> list:
    """The providers to ask onnxruntime for, best first, for a ``--device`` choice. Under ``auto``,
    CUDA is tried only where onnxruntime has it and an NVIDIA GPU is present (so a CPU-only machine
    never sees the CUDA loader's complaints)."""
    if device not in DEVICES:
        raise UserError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    if device == "cpu":
        return [CPU]
    if device == "tensorrt":
        return [(TENSORRT, TENSORRT_OPTIONS), (CUDA, CUDA_OPTIONS), CPU]
    if device == "cuda" or (CUDA in available and gpu_present):
        return [(CUDA, CUDA_OPTIONS), CPU]
    return [CPU]


def check_providers(device: str, requested: list, active: list[str]) -> str | None:
    """Compare what was asked for with what the session really uses.

    Returns a one-line notice for a silent fallback under ``auto``; raises for ``cuda``/``tensorrt``.
    """
    wanted = requested[0][0] if isinstance(requested[0], tuple) else requested[0]
    if wanted in active and active[0] == wanted:
        return None
    if device in ("cuda", "tensorrt"):
        raise UserError(
            f"--device {device}: onnxruntime could not start {wanted} (it runs on {', '.join(active)}). "
            "Check the NVIDIA driver, CUDA and cuDNN libraries, and that onnxruntime-gpu (not onnxruntime) "
            "is installed; or use --device cpu."
        )
    return f"CUDA is not usable here, running on the CPU ({', '.join(active)})"


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send everything written to stdout, by Python or by native libraries (file descriptor 1), to
    stderr while the block runs, so machine-readable output (``--json``) stays clean."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no file descriptor 1 (embedded interpreters): Python-level redirection only
        with contextlib.redirect_stdout(sys.stderr):
            yield
        return
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
