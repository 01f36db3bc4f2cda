"""Which model a ``--model`` value means: a shipped style name or a path to a contract .onnx file."""
from __future__ import annotations

import logging
from pathlib import Path

from .core.errors import UserError
from .core.providers import int8_pays, runs_on_cpu
from .core.session import NO_GPU, StyleSession
from .frame_stylizer import FrameStylizer
from .painting_style import StyleEncoder, cache_root, describe_mix, mixed_vector, resolve_style
from .. import models

log = logging.getLogger(__name__)
NO_GPU_MARK = "no-gpu-note-shown"


def resolve_model(name: str | Path) -> Path:
    """The model file for a shipped style name or a path to a .onnx file (the one resolver of both)."""
    path = Path(name)
    if path.suffix == ".onnx" or path.exists():
        return path
    shipped = models.locate(str(name))
    if shipped is None:
        available = ", ".join(models.shipped_models()) or "none shipped yet"
        raise UserError(f"model {str(name)!r}: no such file and no shipped model of that name (shipped: {available})")
    return shipped


PRECISIONS = ("auto", "fp32", "int8")


def with_precision(path: Path, device: str, precision: str = "fp32") -> Path:
    """The file to run for a model: its shipped int8 copy with ``int8``, or with ``auto`` on a CPU where
    int8 pays (VNNI); else (``fp32``, the default: int8 flickers more on video) the model itself."""
    if precision not in PRECISIONS:
        raise UserError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    copy = models.int8_copy(path) if precision != "fp32" else None
    if precision == "int8" and copy is None:
        raise UserError(f"{path.name}: no int8 copy ships for this model; use --precision fp32 or auto")
    if copy is not None and (precision == "int8" or (runs_on_cpu(device) and int8_pays())):
        return copy
    return path


def open_session(name: str | Path, device: str = "auto", threads: int | None = None,
                 precision: str = "fp32") -> StyleSession:
    """A session for a shipped model name or a .onnx path (see :func:`with_precision` for int8). A
    shipped style name picks the Johnson net when CUDA is in use and the style ships in it."""
    path = with_precision(resolve_model(name), device, precision)
    session = StyleSession(path, device, threads)
    quality = models.locate(str(name), prefer_quality=True)
    if session.device == "cuda" and quality is not None and quality != path:
        session = StyleSession(quality, device, threads)
    return session


def open_sessions(names: list[str] | None, device: str, threads: int | None,
                  precision: str = "fp32") -> list[StyleSession]:
    """Sessions for ``--model`` values (see :func:`open_session`); the default style when none given.
    A CPU fallback is logged once."""
    sessions = [open_session(name, device, threads, precision) for name in names or [models.DEFAULT_STYLE]]
    for notice in {s.notice for s in sessions if s.notice}:
        log.log(logging.INFO if notice != NO_GPU or first_time(NO_GPU_MARK) else logging.DEBUG, f"note: {notice}")
    return sessions


def first_time(mark: str) -> bool:
    """True the first time on this machine (per cache folder) that ``mark`` is asked for: a note that is news
    once (no GPU here) and noise on every later command."""
    path = cache_root() / mark
    if path.exists():
        return False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    except OSError:
        pass  # a cache that cannot be written: the note is shown every time, as before
    return True


def open_live_session(model: str | Path | None, device: str, threads: int | None,
                      precision: str = "fp32") -> StyleSession:
    """A session of a model that takes a style vector: ``model``, or the shipped live model."""
    session = open_sessions([str(model or models.LIVE_MODEL)], device, threads, precision)[0]
    if not session.info.style_dims:
        raise UserError(f"--model {model} paints one fixed style; --style needs a model with a style input "
                        f"(the live model, {models.LIVE_MODEL.stem}, is used when --model is left out)")
    return session


def open_stylizer(model: str | Path | None = None, styles: list[str] | None = None, mix: list[float] | None = None,
                  device: str = "auto", threads: int | None = None, precision: str = "fp32",
                  **options) -> FrameStylizer:
    """A :class:`FrameStylizer` for ``--model`` and ``--style`` values: with ``styles`` (painting files
    or shipped style names, blended by ``mix``), the live any-painting model (or ``model``, when it
    takes a style vector) paints with their blend; else ``model`` (default: the default style).
    ``options`` go to the FrameStylizer (strength, original_colors, stabilizer, paint_size)."""
    if not styles:
        if mix:
            raise UserError("--mix blends --style paintings: give two or more --style")
        return FrameStylizer(open_sessions([str(model)] if model else None, device, threads, precision)[0],
                             **options)
    session = open_live_session(model, device, threads, precision)
    encoder = StyleEncoder(threads=threads)
    chosen = [resolve_style(spec, encoder) for spec in styles]
    log.info(f"style: {describe_mix(chosen, mix)}")
    return FrameStylizer(session, style=mixed_vector(chosen, mix), label="+".join(s.name for s in chosen), **options)


def open_looks(names: list[str] | None, styles: list[str] | None, device: str, threads: int | None,
               precision: str = "fp32", **options) -> list[FrameStylizer]:
    """What the webcam switches between: one per ``--model``, or with ``styles`` one per painting,
    all on one session of the live model (so they also blend live). ``options`` go to each
    FrameStylizer (paint_size)."""
    if not styles:
        return [FrameStylizer(session, **options) for session in open_sessions(names, device, threads, precision)]
    session = open_live_session(names[0] if names else None, device, threads, precision)
    encoder = StyleEncoder(threads=threads)
    return [FrameStylizer(session, style=style.vector, label=style.name, **options)
            for style in (resolve_style(spec, encoder) for spec in styles)]
