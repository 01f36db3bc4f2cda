"""The Python API: ``from stylize import Stylizer``. The ``stylize`` command is a layer over the
same functions; nothing here needs torch."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .core.errors import UserError
from .core.frames import PaintSize, as_size, parse_paint_size
from .core.images import ALPHA_SUFFIXES, IMAGE_SUFFIXES, read_image_with_alpha, to_bgr, write_image
from .core.outputs import prepare_output_file
from .core.providers import checked_threads
from .core.session import ModelInfo
from .model_lookup import open_stylizer
from .stabilize import Stabilizer
from .video_conversion import convert_videos
from .. import models


def as_paint_size(paint_size: tuple[int, int] | str | None) -> PaintSize | None:
    """A :class:`PaintSize` from (width, height), a ``--paint-size`` text ('640x480+', 'full') or None,
    or a clear error."""
    if paint_size is None:
        return None
    if isinstance(paint_size, str):
        return parse_paint_size(paint_size)
    try:
        width, height = (int(v) for v in paint_size)
    except (TypeError, ValueError):
        raise UserError(f"paint_size {paint_size!r}: expected (width, height), 'WxH', 'WxH+', 'full' or None") from None
    return parse_paint_size(f"{width}x{height}")


class Stylizer:
    """One style model, ready to stylize frames, images and videos.

    >>> from stylize import Stylizer
    >>> candy = Stylizer("candy")                      # a shipped style, or a path to a .onnx model
    >>> painted = candy.frame(bgr_frame)               # uint8 BGR HxWx3 in, the same out
    >>> candy.strength = 0.5                           # half photo, half painting
    >>> candy.image("photo.jpg", "photo_candy.png")    # returns the stylized array too
    >>> candy.video("clip.mp4", "clip_candy.mp4")      # keeps frame rate and audio
    >>> mine = Stylizer(style="my_painting.jpg")       # any painting, through the live model
    >>> blend = Stylizer(style=["candy", "my_painting.jpg"], mix=[0.7, 0.3])
    >>> live = Stylizer("candy", paint_size=(640, 480))  # every frame painted at 640x480's pixel count

    ``device`` is ``auto`` (CUDA when it works, else the CPU), ``cpu`` or ``cuda``; where ``auto``
    fell back to the CPU, :attr:`notice` says why. ``paint_size`` (width, height): frames are painted at
    that many pixels (same aspect) and resized back, as the webcam does, so HD frames cost what 640x480
    does and strokes keep their size relative to any frame; 'WxH+' enlarges only smaller frames, as
    ``stylize image`` does (default None: every frame at its own size). ``stabilize`` keeps frames of
    a stream steady (for :meth:`frame` calls on consecutive video frames; :meth:`video` restarts it per file). Bad
    input raises :class:`~stylize.realtime.core.errors.UserError` with a message meant for people.
    """

    def __init__(self, model: str | Path | None = None, device: str = "auto", threads: int | None = None,
                 strength: float = 1.0, original_colors: bool = False, stabilize: bool = False,
                 style: str | Path | list[str | Path] | None = None, mix: list[float] | None = None,
                 precision: str = "fp32", paint_size: tuple[int, int] | str | None = None):
        threads = checked_threads(threads)  # the checks the CLI's options get
        styles = None if style is None else [str(s) for s in (style if isinstance(style, (list, tuple)) else [style])]
        self._frames = open_stylizer(model if model is not None or styles else models.DEFAULT_STYLE, styles, mix,
                                     device, threads, precision, original_colors=original_colors,
                                     stabilizer=Stabilizer() if stabilize else None,
                                     paint_size=as_paint_size(paint_size))
        self.session = self._frames.session
        self.strength = strength

    @property
    def info(self) -> ModelInfo:
        """What the model says about itself: style, architecture, loss network, training settings."""
        return self.session.info

    @property
    def metadata(self) -> dict[str, str]:
        """The model file's metadata, as stored."""
        return dict(self.session.info.metadata)

    @property
    def provider(self) -> str:
        """The onnxruntime execution provider in use (e.g. ``CPUExecutionProvider``)."""
        return self.session.provider

    @property
    def notice(self) -> str | None:
        """Why ``device="auto"`` runs on the CPU, when it fell back; else None."""
        return self.session.notice

    @property
    def strength(self) -> float:
        """How much of the painting: 0 gives the photo back, 1 (the default) the full style."""
        return self._frames.strength

    @strength.setter
    def strength(self, value: float) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise UserError(f"strength {value!r}: must be a number between 0 and 1")
        if not 0.0 <= float(value) <= 1.0:  # NaN fails here too
            raise UserError(f"strength {value}: must be between 0 and 1")
        self._frames.strength = float(value)

    def frame(self, bgr: np.ndarray) -> np.ndarray:
        """Stylize one uint8 BGR frame (HxWx3, as OpenCV reads it); returns a new frame of that size."""
        if not isinstance(bgr, np.ndarray) or bgr.dtype != np.uint8 or bgr.ndim != 3 or bgr.shape[2] != 3 \
                or bgr.size == 0:
            got = f"{bgr.dtype} array of shape {bgr.shape}" if isinstance(bgr, np.ndarray) else type(bgr).__name__
            raise UserError(f"frame: expected a uint8 BGR array of shape HxWx3 (not empty), got a {got}")
        return self._frames(bgr)

    def image(self, source: str | Path | np.ndarray, output: str | Path | None = None,
              overwrite: bool = False) -> np.ndarray:
        """Stylize an image file or array (grey, BGR or BGRA; 8-bit, 16-bit or float) and return it
        as uint8 BGR, with a file's alpha channel kept (BGRA). With ``output`` (an image file name)
        it is also written there: never over the input, over an existing file only with
        ``overwrite``, alpha kept where the format has it."""
        if not isinstance(source, (str, Path, np.ndarray)):
            raise UserError(f"image: expected a file name or an image array, got {type(source).__name__}")
        if isinstance(source, np.ndarray):
            if source.ndim not in (2, 3) or (source.ndim == 3 and source.shape[2] not in (1, 3, 4)) or source.size == 0:
                raise UserError(f"image: expected an HxW, HxWx3 or HxWx4 array, got shape {source.shape}")
            single_channel = source.ndim == 3 and source.shape[2] == 1
            image, alpha, inputs = to_bgr(source[:, :, 0] if single_channel else source), None, []
        else:
            (image, alpha), inputs = read_image_with_alpha(source), [source]
        target = prepare_output_file(output, inputs, overwrite, IMAGE_SUFFIXES) if output is not None else None
        styled = self._frames(image)
        if target is not None:
            write_image(target, np.dstack([styled, alpha]) if alpha is not None and
                        target.suffix.lower() in ALPHA_SUFFIXES else styled, overwrite)
        return np.dstack([styled, alpha]) if alpha is not None else styled

    def video(self, source: str | Path, target: str | Path, size: tuple[int, int] | None = None,
              overwrite: bool = False, progress: bool = False) -> Path:
        """Stylize a video file into ``target`` (a file, or a folder for ``<stem>_<model>.mp4``) at
        its frame rate, with its audio; ``size`` (width, height) resizes the frames. Returns the
        written path; nothing appears there unless the whole video was converted."""
        return convert_videos([str(source)], str(target), self._frames, as_size(size), overwrite, progress)[0]
