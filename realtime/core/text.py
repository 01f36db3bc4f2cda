"""Text from outside (file names, model metadata) made safe to print, to store and to hand to OpenCV.

A file name that is not valid UTF-8 reaches Python as a string with lone surrogates (PEP 383); printed
as it is it raises, stored into ONNX metadata it raises, and handed to OpenCV it crashes the process.
Control characters in a model's metadata would drive the terminal (clear the screen, forge rows).
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

from .errors import UserError

# C0 and C1 control characters except newline and tab (messages keep their lines), DEL, and lone surrogates
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_UNPRINTABLE_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # a byte of a non-UTF-8 file name (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: object, one_line: bool = False) -> str:
    """``text`` with control characters and undecodable bytes shown as escapes (``\\x1b``, ``\\xff``);
    ``one_line`` escapes newlines and tabs too (a table cell, a name)."""
    return (_UNPRINTABLE_ONE_LINE if one_line else _UNPRINTABLE).sub(_escape, str(text))


MAX_SETTINGS_CHARS = 1 << 20


def settings_json(text: str) -> dict:
    """A model's settings (its metadata's JSON) as a dict, or {} where they are not a JSON object of plain
    values: deeply nested, over a megabyte, numbers of thousands of digits, NaN or Infinity (which JSON does
    not have) say nothing trustworthy about how the model was made."""
    if not isinstance(text, str) or len(text) > MAX_SETTINGS_CHARS:
        return {}
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError):  # JSONDecodeError is a ValueError; so are huge integers
        return {}
    return value if isinstance(value, dict) else {}


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def metadata_text(text: str) -> str:
    """``text`` as valid UTF-8 for a model's metadata: undecodable bytes of a file name become escapes."""
    return re.sub("[\ud800-\udfff]", _escape, text)


def is_utf8(path: str | Path) -> bool:
    """Whether a path's name is valid UTF-8 (OpenCV crashes on one that is not)."""
    try:
        os.fspath(path).encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def onnxruntime_source(path: str | Path) -> str | bytes:
    """What to hand onnxruntime for a model file: its path, or its bytes where the name is not valid UTF-8
    (onnxruntime takes only names it can encode)."""
    return os.fspath(path) if is_utf8(path) else Path(path).read_bytes()


def opencv_path(path: str | Path, what: str = "file") -> str:
    """``path`` as OpenCV may take it; a name that is not valid UTF-8 (which crashes OpenCV) is refused."""
    text = os.fspath(path)
    if not is_utf8(text):
        raise UserError(f"{printable(text)}: this {what}'s name is not valid UTF-8, which OpenCV cannot open; "
                        "rename it")
    return text
