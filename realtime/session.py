"""The one onnxruntime wrapper: provider choice and fallback detection, contract checks, metadata."""
from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort

from stylize.realtime import contract
from stylize.realtime.errors import UserError

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


@dataclass
class ModelInfo:
    """What a contract model says about itself."""

    path: Path
    style: str
    architecture: str
    backbone: str
    io_layout: str
    settings: dict
    metadata: dict[str, str] = field(default_factory=dict)
    has_strength: bool = True

    @property
    def name(self) -> str:
        return self.path.stem


def cpu_threads(cpu_count: int | None = None) -> int:
    """Inference threads: all cores on small machines, one fewer from four cores up (room for
    capture and encode, which run in their own threads)."""
    cpus = cpu_count or os.cpu_count() or 1
    return cpus - 1 if cpus >= 4 else cpus


def provider_plan(device: str, available: list[str]) -> list:
    """The providers to ask onnxruntime for, best first, for a ``--device`` choice."""
    if device not in DEVICES:
        raise UserError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    if device == "cpu":
        return [CPU]
    if device == "tensorrt":
        return [(TENSORRT, TENSORRT_OPTIONS), (CUDA, CUDA_OPTIONS), CPU]
    if device == "cuda" or CUDA in available:
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


def validate_contract(inputs: list, outputs: list, metadata: dict[str, str], path: Path) -> tuple[str, bool]:
    """Check a model's I/O and metadata against the contract; returns (io_layout, has_strength).

    Raises a :class:`UserError` listing every problem found.
    """
    problems = []
    by_name = {i.name: i for i in inputs}
    layout = metadata.get(contract.META_IO, contract.IO_UINT8_BGR)
    if layout not in contract.IO_LAYOUTS:
        problems.append(f"metadata {contract.META_IO}={layout!r} is not one of {', '.join(contract.IO_LAYOUTS)}")
        layout = contract.IO_UINT8_BGR
    elem, channel_axis = ("tensor(uint8)", 3) if layout == contract.IO_UINT8_BGR else ("tensor(float)", 1)
    frame = by_name.get(contract.INPUT_FRAME)
    if frame is None:
        problems.append(f"no input named {contract.INPUT_FRAME!r} (inputs: {', '.join(by_name) or 'none'})")
    else:
        if frame.type != elem:
            problems.append(f"input {contract.INPUT_FRAME!r} is {frame.type}, the contract wants {elem}")
        if len(frame.shape) != 4 or frame.shape[channel_axis] != 3:
            problems.append(f"input {contract.INPUT_FRAME!r} has shape {frame.shape}, the contract wants "
                            + ("[N, H, W, 3]" if channel_axis == 3 else "[N, 3, H, W]"))
    strength = by_name.get(contract.INPUT_STRENGTH)
    if strength is not None and (strength.type != "tensor(float)" or len(strength.shape) != 0):
        problems.append(f"input {contract.INPUT_STRENGTH!r} must be a float32 scalar, is {strength.type} {strength.shape}")
    extra = set(by_name) - {contract.INPUT_FRAME, contract.INPUT_STRENGTH}
    if extra:
        problems.append(f"unexpected inputs: {', '.join(sorted(extra))}")
    out = {o.name: o for o in outputs}.get(contract.OUTPUT)
    if out is None:
        problems.append(f"no output named {contract.OUTPUT!r} (outputs: {', '.join(o.name for o in outputs)})")
    elif out.type != elem:
        problems.append(f"output {contract.OUTPUT!r} is {out.type}, the contract wants {elem}")
    missing = [k for k in contract.REQUIRED_METADATA if k not in metadata]
    if missing:
        problems.append(f"metadata lacks {', '.join(missing)}")
    if problems:
        raise UserError(f"{path} does not follow the model contract:\n  - " + "\n  - ".join(problems))
    return layout, strength is not None


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


class StyleSession:
    """An onnxruntime session for one contract model on the chosen device.

    ``notice`` holds a one-line message when ``auto`` fell back from CUDA to the CPU. IO binding
    is on by default on CUDA (``io_binding`` overrides that, e.g. to exercise it on the CPU).
    """

    def __init__(self, path: str | Path, device: str = "auto", threads: int | None = None,
                 io_binding: bool | None = None):
        path = Path(path)
        if not path.is_file():
            raise UserError(f"{path}: no such model file")
        requested = provider_plan(device, ort.get_available_providers())
        wants_gpu = requested[0] != CPU
        if device == "auto":
            ort.set_default_logger_severity(4)  # a failed CUDA start is reported by check_providers
        if wants_gpu and hasattr(ort, "preload_dlls"):
            try:
                with stdout_to_stderr():  # it reports missing CUDA libraries on stdout
                    ort.preload_dlls()
            except Exception:  # missing CUDA libraries show up as a fallback below
                pass
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or cpu_threads()
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "1")
        options.add_session_config_entry("session.force_spinning_stop", "1")  # leave idle cores to I/O
        options.log_severity_level = 3
        try:
            with stdout_to_stderr():  # native CUDA loaders print there too; stdout stays the command's output
                self.session = ort.InferenceSession(str(path), options, providers=requested)
        except Exception as exc:
            raise UserError(f"{path}: onnxruntime cannot load this model: {str(exc).splitlines()[0][:300]}") from exc
        self.providers = self.session.get_providers()
        self.notice = check_providers(device, requested, self.providers)
        self.device = "cuda" if self.providers[0] in (CUDA, TENSORRT) else "cpu"
        meta = self.session.get_modelmeta().custom_metadata_map
        # an input with a default value (like 'strength') is listed as an overridable initializer
        inputs = self.session.get_inputs() + self.session.get_overridable_initializers()
        layout, has_strength = validate_contract(inputs, self.session.get_outputs(), meta, path)
        try:
            settings = json.loads(meta.get(contract.META_SETTINGS, "{}"))
        except json.JSONDecodeError:
            settings = {}
        self.info = ModelInfo(path, meta[contract.META_STYLE], meta[contract.META_ARCH], meta[contract.META_BACKBONE],
                              layout, settings, dict(meta), has_strength)
        self.io_binding = self.device == "cuda" if io_binding is None else io_binding
        self._bound_shape: tuple | None = None

    @property
    def provider(self) -> str:
        return self.providers[0]

    def _feed(self, frames: np.ndarray) -> np.ndarray:
        if self.info.io_layout == contract.IO_UINT8_BGR:
            return frames
        return np.ascontiguousarray(frames[..., ::-1].transpose(0, 3, 1, 2), dtype=np.float32) / np.float32(255)

    def _fetch(self, out: np.ndarray) -> np.ndarray:
        if self.info.io_layout == contract.IO_UINT8_BGR:
            return out
        return np.ascontiguousarray((np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8).transpose(0, 2, 3, 1)[..., ::-1])

    def run(self, frame: np.ndarray, strength: float = 1.0) -> np.ndarray:
        """Stylize one uint8 BGR HxWx3 frame (or a batch NxHxWx3); returns the same layout."""
        batch = frame[None] if frame.ndim == 3 else frame
        feeds = {contract.INPUT_FRAME: self._feed(np.ascontiguousarray(batch))}
        if self.info.has_strength:
            feeds[contract.INPUT_STRENGTH] = np.array(strength, np.float32)
        if self.io_binding:
            out = self._run_bound(feeds)
        else:
            out = self.session.run([contract.OUTPUT], feeds)[0]
        out = self._fetch(out)
        return out[0] if frame.ndim == 3 else out

    def _run_bound(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """Run with IO binding: input and output buffers live on the device and are reused while the
        frame size stays the same, so each frame costs one upload and one download."""
        device = self.device
        frame = feeds[contract.INPUT_FRAME]
        if self._bound_shape != frame.shape:
            self._in = ort.OrtValue.ortvalue_from_numpy(frame, device, 0)
            self._out = ort.OrtValue.ortvalue_from_shape_and_type(frame.shape, frame.dtype, device, 0)
            self._binding = self.session.io_binding()
            self._binding.bind_ortvalue_input(contract.INPUT_FRAME, self._in)
            self._binding.bind_ortvalue_output(contract.OUTPUT, self._out)
            self._bound_shape = frame.shape
        else:
            self._in.update_inplace(frame)
        if contract.INPUT_STRENGTH in feeds:
            # bind_cpu_input cannot find an overridable initializer; an OrtValue binding can
            self._binding.bind_ortvalue_input(contract.INPUT_STRENGTH,
                                              ort.OrtValue.ortvalue_from_numpy(feeds[contract.INPUT_STRENGTH]))
        self.session.run_with_iobinding(self._binding)
        return self._out.numpy()
