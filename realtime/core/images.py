"""Reading and writing images as 8-bit BGR frames, the layout of the model contract."""
from __future__ import annotations

import os
import struct
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
from PIL import Image, TiffImagePlugin

from .errors import UserError, not_a_file
from .outputs import publish, reserve_temporary
from .text import is_utf8

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
ALPHA_SUFFIXES = (".png", ".webp", ".tif", ".tiff")  # outputs that keep an alpha channel
# Largest image decoded, in pixels, unless :func:`pixel_limit` says otherwise (``stylize --max-pixels``):
# a small file can claim a huge size, and decoding it, then stylizing it, would take gigabytes of memory.
MAX_PIXELS = 16_000_000
_limit = MAX_PIXELS
TAIL_BYTES = 1 << 16  # where a JPEG's or PNG's end marker is looked for (trailing data may follow it)


def max_pixels() -> int:
    """The largest image or frame accepted now, in pixels."""
    return _limit


@contextmanager
def pixel_limit(pixels: int) -> Iterator[None]:
    """Accept images and frames of up to ``pixels`` pixels inside the ``with`` block (process-wide,
    so the decoding threads of a video see it too); the previous limit comes back after it."""
    global _limit
    previous, _limit = _limit, int(pixels)
    try:
        yield
    finally:
        _limit = previous


def image_dimensions(path: str | Path) -> tuple[int, int]:
    """(width, height) read from the file's header by Pillow's format parsers, without decoding the
    pixels (and without Pillow's own size limit: the limit here is ours, checked by the caller)."""
    Image.init()
    try:
        with open(path, "rb") as f:
            prefix = f.read(16)
            for name in Image.ID:
                factory, accept = Image.OPEN[name]
                if accept is not None and not accept(prefix):
                    continue
                f.seek(0)
                try:
                    return factory(f, str(path)).size
                except (SyntaxError, IndexError, TypeError, ValueError, OSError, struct.error):
                    if prefix[:4] in (b"II*\x00", b"MM\x00*"):  # a TIFF whose pixel format Pillow lacks
                        return _tiff_dimensions(f)
    except (OSError, ValueError, SyntaxError, struct.error) as exc:
        raise UserError(f"{path}: not a readable image (its size cannot be read from its header)") from exc
    raise UserError(f"{path}: not a readable image (its size cannot be read from its header)")


def _tiff_dimensions(f) -> tuple[int, int]:
    """Width and length from a TIFF's first image directory (Pillow's tag reader)."""
    f.seek(0)
    tags = TiffImagePlugin.ImageFileDirectory_v2(f.read(8))
    f.seek(tags.next)
    tags.load(f)
    return int(tags[256]), int(tags[257])


def check_readable_image(path: str | Path, max_pixels: int | None = None) -> tuple[int, int]:
    """The (width, height) of an image file that may be decoded: it exists, its header gives its size,
    and that size is within ``max_pixels`` (default: the current :func:`pixel_limit`). Any other file
    is refused before a byte of pixels is decoded."""
    path = Path(path)
    if not path.is_file():
        raise not_a_file(path, "image")
    limit = _limit if max_pixels is None else max_pixels
    width, height = image_dimensions(path)
    if width * height > limit:
        raise UserError(over_the_limit(path, width, height, limit))
    return width, height


def over_the_limit(what: object, width: int, height: int, limit: int | None = None) -> str:
    """The one message for a picture or frame size over the pixel limit, in units that show the numbers."""
    limit = max_pixels() if limit is None else limit

    def amount(pixels: int) -> str:
        tenths = (pixels + 50_000) // 100_000  # whole-number arithmetic: any size prints
        return f"{tenths // 10}.{tenths % 10} megapixels" if pixels >= 100_000 else f"{pixels} pixels"

    return f"{what}: {width}x{height} is {amount(width * height)}, over the limit of {amount(limit)} " \
           "(stylize --max-pixels N raises it)"


def to_uint8(image: np.ndarray) -> np.ndarray:
    """8-bit values from 16-bit, float (0..1 when its values say so, else 0..255) or other depths."""
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return (image / 257).round().astype(np.uint8)
    if np.issubdtype(image.dtype, np.floating):
        values = np.nan_to_num(image.astype(np.float64))
        scale = 255.0 if values.size and values.max() <= 1.0 else 1.0  # float images are usually 0..1
        return np.clip(values * scale, 0, 255).round().astype(np.uint8)
    return np.clip(image, 0, 255).astype(np.uint8)


def to_bgr(image: np.ndarray) -> np.ndarray:
    """Convert a grayscale, BGRA, 16-bit or float image to 8-bit 3-channel BGR (alpha is dropped)."""
    image = to_uint8(image)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


def read_image(path: str | Path, allow_truncated: bool = False) -> np.ndarray:
    """Read an image file as uint8 BGR HxWx3, with a clear error for a missing, corrupt or (unless
    ``allow_truncated``) cut-off file."""
    return to_bgr(_decode(path, allow_truncated))


def read_image_with_alpha(path: str | Path, allow_truncated: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """Read an image as uint8 BGR plus its alpha channel (uint8 HxW), or None when it has none."""
    image = _decode(path, allow_truncated)
    alpha = to_uint8(image[:, :, 3]) if image.ndim == 3 and image.shape[2] == 4 else None
    return to_bgr(image), alpha


def is_truncated(path: str | Path) -> bool:
    """Whether a JPEG or PNG file lacks its end marker (a cut-off download or copy): decoders fill the
    missing part with grey and say nothing."""
    with open(path, "rb") as f:
        head = f.read(8)
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - TAIL_BYTES))
        tail = f.read()
    if head[:2] == b"\xff\xd8":
        return b"\xff\xd9" not in tail
    if head == b"\x89PNG\r\n\x1a\n":
        return b"IEND" not in tail
    return False


def check_whole_image(path: str | Path, allow_truncated: bool = False) -> tuple[int, int]:
    """:func:`check_readable_image`, and (unless ``allow_truncated``) refuse a cut-off file."""
    size = check_readable_image(path)
    if not allow_truncated and is_truncated(path):
        raise UserError(f"{path}: the file is cut off (no end marker: an unfinished download or copy?); "
                        "--allow-truncated converts what can be read")
    return size


EXIF_ORIENTATION_TAG = 0x0112
# how to turn the stored pixels upright for each EXIF orientation (Pillow's ImageOps.exif_transpose)
ORIENTATIONS = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
                5: lambda a: a.swapaxes(0, 1), 6: lambda a: np.rot90(a, -1),
                7: lambda a: np.rot90(a.swapaxes(0, 1), 2), 8: lambda a: np.rot90(a, 1)}


def exif_orientation(path: str | Path) -> int:
    """The EXIF orientation tag of an image file (1, upright, when there is none or it cannot be read)."""
    try:
        with Image.open(path) as image:
            value = image.getexif().get(EXIF_ORIENTATION_TAG, 1)
        return value if value in ORIENTATIONS else 1
    except Exception:  # noqa: BLE001 - a broken EXIF block must not stop a readable picture
        return 1


def upright(image: np.ndarray, orientation: int) -> np.ndarray:
    """The pixels as a photo viewer shows them, given the file's EXIF orientation."""
    return np.ascontiguousarray(ORIENTATIONS[orientation](image)) if orientation in ORIENTATIONS else image


def _decode(path: str | Path, allow_truncated: bool = False) -> np.ndarray:
    width, height = check_whole_image(path, allow_truncated)
    try:
        if is_utf8(path):
            image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        else:  # OpenCV crashes on names that are not valid UTF-8: decoded from the bytes instead
            image = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
    except (cv2.error, OSError):  # OpenCV refuses sizes past its own limit with an exception
        image = None
    if image is None or image.size == 0:
        raise UserError(f"{path}: not a readable image (corrupt or unsupported format)")
    if image.shape[:2] != (height, width):  # the decoder must agree with the header the limit was checked on
        raise UserError(f"{path}: decoded as {image.shape[1]}x{image.shape[0]}, but its header says {width}x{height}")
    return upright(image, exif_orientation(path))  # phone photos store pixels sideways and say so in EXIF


def write_image(path: str | Path, image: np.ndarray, overwrite: bool = True) -> None:
    """Write an image atomically: encode to a temporary file beside the target, then move it into place
    (over an existing file only with ``overwrite``)."""
    path = Path(path)
    ok, encoded = cv2.imencode(path.suffix or ".png", image)
    if not ok:
        raise UserError(f"{path}: cannot encode an image with suffix {path.suffix!r}")
    try:
        tmp = reserve_temporary(path)
    except OSError as exc:
        raise UserError(f"{path}: cannot write ({exc.strerror})") from exc
    try:
        tmp.write_bytes(encoded.tobytes())
        publish(tmp, path, overwrite)
    except OSError as exc:
        raise UserError(f"{path}: cannot write ({exc.strerror})") from exc
    finally:
        tmp.unlink(missing_ok=True)


def list_images(folder: str | Path) -> list[Path]:
    """All image files under a folder, recursively, sorted."""
    return sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
