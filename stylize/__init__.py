"""Real-time neural style transfer with self-contained ONNX models.

``from stylize import Stylizer`` is the Python API (:class:`stylize.realtime.api.Stylizer`; bad input raises
``stylize.UserError``); the runtime lives in :mod:`stylize.realtime` (onnxruntime and OpenCV, no torch),
training and export in :mod:`stylize.export` (torch), the shipped styles in :mod:`stylize.models`.
"""
from __future__ import annotations

__all__ = ["Stylizer", "UserError"]


def __getattr__(name: str):
    # imported on first use, so `import stylize` and `python -m stylize --help` stay quick
    if name == "Stylizer":
        from .realtime.api import Stylizer

        return Stylizer
    if name == "UserError":
        from .realtime.core.errors import UserError

        return UserError
    raise AttributeError(f"module 'stylize' has no attribute {name!r}")
