"""The one onnxruntime wrapper: provider choice and fallback detection, contract checks, metadata."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort

from . import contract
from .cpu_graph import cpu_model
from .errors import UserError
from .model_guard import check_bounded
from .text import onnxruntime_source, settings_json

NO_GPU = "no NVIDIA GPU here: running on the CPU"  # the GPU build of onnxruntime on a machine without one
from .providers import CPU, CUDA, TENSORRT, check_providers, cpu_threads, nvidia_gpu_present, provider_plan, \
    stdout_to_stderr

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
    style_dims: int = 0  # length of the optional style-vector input (0: the style is fixed)

    @property
    def name(self) -> str:
        return self.path.stem


def validate_contract(inputs: list, outputs: list, metadata: dict[str, str], path: Path) -> tuple[str, bool, int]:
    """Check a model's I/O and metadata against the contract; returns (io_layout, has_strength,
    style_dims), style_dims being 0 for a model without a style-vector input.

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
        elif any(isinstance(frame.shape[axis], int) for axis in ((1, 2) if channel_axis == 3 else (2, 3))):
            problems.append(f"input {contract.INPUT_FRAME!r} has a fixed frame size {frame.shape}; the contract wants "
                            "any H and W (stylize import wraps fixed-size models)")
    strength = by_name.get(contract.INPUT_STRENGTH)
    if strength is not None and (strength.type != "tensor(float)" or len(strength.shape) != 0):
        problems.append(f"input {contract.INPUT_STRENGTH!r} must be a float32 scalar, is {strength.type} {strength.shape}")
    style = by_name.get(contract.INPUT_STYLE)
    style_dims = 0
    if style is not None:
        if style.type != "tensor(float)" or len(style.shape) != 1 or not isinstance(style.shape[0], int):
            problems.append(f"input {contract.INPUT_STYLE!r} must be float32 [D], is {style.type} {style.shape}")
        else:
            style_dims = style.shape[0]
    extra = set(by_name) - {contract.INPUT_FRAME, contract.INPUT_STRENGTH, contract.INPUT_STYLE}
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
    return layout, strength is not None, style_dims


class StyleSession:
    """An onnxruntime session for one contract model on the chosen device.

    ``notice`` holds a one-line message when ``auto`` fell back from CUDA to the CPU. IO binding
    is on by default on CUDA (``io_binding`` overrides that, e.g. to exercise it on the CPU). On the
    CPU the graph runs with :mod:`.cpu_graph`'s rewrites (same outputs, faster; ``cpu_rewrites=False``
    runs the file as it is); ``cpu_rewrites`` then holds how many were made.
    """

    def __init__(self, path: str | Path, device: str = "auto", threads: int | None = None,
                 io_binding: bool | None = None, cpu_rewrites: bool = True):
        path = Path(path)
        if not path.is_file():
            raise UserError(f"{path}: no such model file")
        check_bounded(path)  # a model from outside runs once in a bounded child process first
        available = ort.get_available_providers()
        requested = provider_plan(device, available, nvidia_gpu_present())
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
        # no spin-waiting threads: decoding and the video encoder share the cores (spinning slowed
        # `stylize video` down; docs/video.md)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 4  # its failures come back as exceptions, reported in a sentence
        self.threads, self._rewrite = options.intra_op_num_threads, cpu_rewrites
        self._single_threaded: StyleSession | None = None  # frame_parallel's copy, opened once
        rewritten, self.cpu_rewrites = cpu_model(path) if cpu_rewrites and not wants_gpu else (None, 0)
        try:
            with stdout_to_stderr():  # native CUDA loaders print there too; stdout stays the command's output
                self.session = ort.InferenceSession(rewritten or onnxruntime_source(path), options, providers=requested)
        except Exception as exc:
            raise UserError(f"{path}: onnxruntime cannot load this model: {str(exc).splitlines()[0][:300]}") from exc
        self.providers = self.session.get_providers()
        self.notice = check_providers(device, requested, self.providers)
        if device == "auto" and CUDA in available and requested[0] == CPU:
            self.notice = NO_GPU
        self.device = "cuda" if self.providers[0] in (CUDA, TENSORRT) else "cpu"
        try:
            meta = self.session.get_modelmeta().custom_metadata_map
        except UnicodeDecodeError:
            raise UserError(f"{path}: the model's metadata is not valid UTF-8 text") from None
        # an input with a default value (like 'strength') is listed as an overridable initializer
        inputs = self.session.get_inputs() + self.session.get_overridable_initializers()
        layout, has_strength, style_dims = validate_contract(inputs, self.session.get_outputs(), meta, path)
        settings = settings_json(meta.get(contract.META_SETTINGS, "{}"))
        self.info = ModelInfo(path, meta[contract.META_STYLE], meta[contract.META_ARCH], meta[contract.META_BACKBONE],
                              layout, settings, dict(meta), has_strength, style_dims)
        self.io_binding = self.device == "cuda" if io_binding is None else io_binding
        self._bound_shape: tuple | None = None

    @property
    def provider(self) -> str:
        return self.providers[0]

    def frame_parallel(self) -> tuple["StyleSession", int]:
        """For throughput (video files), where a frame may wait for the one before it: on the CPU, a
        single-threaded session of the same model and how many frames to run on it at once (this
        session's thread count); else (CUDA, IO binding, one thread already) this session and 1.
        A fast net's layers are too small to keep two threads busy: they wait for each other at every
        layer and for the video encoder, so two frames side by side paint faster. The copy is opened once and
        kept: every file of a batch,
        every chunk a Ray worker converts share it."""
        if self.device != "cpu" or self.io_binding or self.threads <= 1:
            return self, 1
        if self._single_threaded is None:
            self._single_threaded = StyleSession(self.info.path, "cpu", threads=1, cpu_rewrites=self._rewrite)
        return self._single_threaded, self.threads

    def _feed(self, frames: np.ndarray) -> np.ndarray:
        if self.info.io_layout == contract.IO_UINT8_BGR:
            return frames
        return np.ascontiguousarray(frames[..., ::-1].transpose(0, 3, 1, 2), dtype=np.float32) / np.float32(255)

    def _fetch(self, out: np.ndarray) -> np.ndarray:
        if self.info.io_layout == contract.IO_UINT8_BGR:
            return out
        return np.ascontiguousarray((np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8).transpose(0, 2, 3, 1)[..., ::-1])

    def run(self, frame: np.ndarray, strength: float = 1.0, style: np.ndarray | None = None) -> np.ndarray:
        """Stylize one uint8 BGR HxWx3 frame (or a batch NxHxWx3); returns the same layout. ``style``:
        a style vector for a model with a style input (None: the model's own default style)."""
        batch = frame[None] if frame.ndim == 3 else frame
        feeds = {contract.INPUT_FRAME: self._feed(np.ascontiguousarray(batch))}
        if self.info.has_strength:
            feeds[contract.INPUT_STRENGTH] = np.array(strength, np.float32)
        if style is not None:
            feeds[contract.INPUT_STYLE] = self.style_feed(style)
        try:
            out = self._run_bound(feeds) if self.io_binding else self.session.run([contract.OUTPUT], feeds)[0]
        except UserError:
            raise
        except Exception as exc:  # onnxruntime's own failures (a size the graph cannot take, a broken node)
            message = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
            raise UserError(f"{self.info.path.name} failed to paint a {batch.shape[2]}x{batch.shape[1]} frame: "
                            f"{message}") from None
        self.check_output(out, feeds[contract.INPUT_FRAME])
        out = self._fetch(out)
        return out[0] if frame.ndim == 3 else out

    def style_feed(self, style: np.ndarray) -> np.ndarray:
        """A style vector as this model's style input takes it, or a clear error."""
        vector = np.asarray(style, np.float32).reshape(-1)
        if not self.info.style_dims:
            raise UserError(f"{self.info.path.name} paints one fixed style; a painting's style needs the live "
                            "model (--style PAINTING picks it)")
        if vector.size != self.info.style_dims or not np.isfinite(vector).all():
            got = f"{vector.size} numbers" if vector.size != self.info.style_dims else "values that are not finite"
            raise UserError(f"{self.info.path.name} takes a style vector of {self.info.style_dims} finite numbers, "
                            f"got {got}")
        return vector

    def check_output(self, out: np.ndarray, fed: np.ndarray) -> None:
        """Refuse an output that breaks the contract (another size or type than the frame, or float
        values that are not finite): a broken model must not write a wrong file."""
        uint8 = self.info.io_layout == contract.IO_UINT8_BGR
        if out.shape != fed.shape or out.dtype != (np.uint8 if uint8 else np.float32):
            raise UserError(f"{self.info.path.name} broke the model contract: for a frame of shape {fed.shape} it "
                            f"returned {out.dtype} {out.shape} (the contract: same shape, "
                            f"{'uint8' if uint8 else 'float32'})")
        if not uint8 and not np.isfinite(out).all():  # would become a black picture, silently
            raise UserError(f"{self.info.path.name} returned not-a-number or infinite values: the model is broken "
                            "(weights that overflowed in training?); nothing was written")

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
        for name in (contract.INPUT_STRENGTH, contract.INPUT_STYLE):
            if name in feeds:  # bind_cpu_input cannot find an overridable initializer; an OrtValue binding can
                self._binding.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy(feeds[name]))
        self.session.run_with_iobinding(self._binding)
        return self._out.numpy()


def check_model_runs(path: str | Path, sizes: list[tuple[int, int]]) -> StyleSession:
    """Load a freshly written contract model on the CPU and run it once at each (H, W): a model that
    cannot load, fails to run or breaks the contract is refused (UserError) before it is kept."""
    session = StyleSession(path, "cpu", threads=1)
    for h, w in sizes:
        frame = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
        try:
            session.run(frame)
        except UserError:
            raise
        except Exception as exc:
            raise UserError(f"the model written fails to run at {w}x{h}: {str(exc).splitlines()[0][:300]}") from exc
    return session
