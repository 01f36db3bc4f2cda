"""Reading and writing images as 8-bit BGR frames, the layout of the model contract."""
from __future__ import annotations

import os
import struct
from pathlib import Path

import cv2
import numpy as np

from stylize.realtime.errors import UserError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
ALPHA_SUFFIXES = (".png", ".webp", ".tif", ".tiff")  # outputs that keep an alpha channel
# Largest image decoded, in pixels (``stylize --max-pixels`` changes it): a small file can claim a huge
# size, and decoding it, then stylizing it, would take gigabytes of memory.
MAX_PIXELS = 16_000_000


def _jpeg_size(f) -> tuple[int, int] | None:
    f.seek(2)
    while True:
        marker = f.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            return None
        if marker[1] in (0xD8, 0x01) or 0xD0 <= marker[1] <= 0xD7:
            continue
        length = struct.unpack(">H", f.read(2))[0]
        if marker[1] in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            h, w = struct.unpack(">xHH", f.read(5))
            return w, h
        f.seek(length - 2, 1)


def _tiff_size(f, order: str) -> tuple[int, int] | None:
    f.seek(4)
    f.seek(struct.unpack(order + "I", f.read(4))[0])
    found = {}
    for _ in range(struct.unpack(order + "H", f.read(2))[0]):
        tag, kind, _count, value = struct.unpack(order + "HHI4s", f.read(12))
        if tag in (256, 257):
            found[tag] = struct.unpack(order + ("H" if kind == 3 else "I"), value[:2 if kind == 3 else 4])[0]
    return (found[256], found[257]) if len(found) == 2 else None


def image_dimensions(path: str | Path) -> tuple[int, int] | None:
    """(width, height) from the file's header, without decoding it; None for an unknown format."""
    try:
        with open(path, "rb") as f:
            head = f.read(32)
            if head[:8] == b"\x89PNG\r\n\x1a\n":
                return struct.unpack(">II", head[16:24])
            if head[:2] == b"\xff\xd8":
                return _jpeg_size(f)
            if head[:2] == b"BM":
                w, h = struct.unpack("<ii", head[18:26])
                return abs(w), abs(h)
            if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
                if head[12:16] == b"VP8X":
                    return 1 + int.from_bytes(head[24:27], "little"), 1 + int.from_bytes(head[27:30], "little")
                if head[12:16] == b"VP8 ":
                    w, h = struct.unpack("<HH", head[26:30])
                    return w & 0x3FFF, h & 0x3FFF
                if head[12:16] == b"VP8L":
                    bits = int.from_bytes(head[21:25], "little")
                    return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
            if head[:4] in (b"II*\x00", b"MM\x00*"):
                return _tiff_size(f, "<" if head[:2] == b"II" else ">")
    except (OSError, struct.error):
        return None
    return None


def check_image_size(path: str | Path, max_pixels: int | None = None) -> None:
    """Refuse, before decoding, an image whose header claims more than ``max_pixels`` pixels."""
    limit = MAX_PIXELS if max_pixels is None else max_pixels
    size = image_dimensions(path)
    if size is not None and size[0] * size[1] > limit:
        raise UserError(f"{path}: {size[0]}x{size[1]} is {size[0] * size[1] / 1e6:.0f} megapixels, over the limit of "
                        f"{limit / 1e6:.0f} (stylize --max-pixels N raises it)")


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


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as uint8 BGR HxWx3, with a clear error for a missing or corrupt file."""
    return to_bgr(_decode(path))


def read_image_with_alpha(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Read an image as uint8 BGR plus its alpha channel (uint8 HxW), or None when it has none."""
    image = _decode(path)
    alpha = to_uint8(image[:, :, 3]) if image.ndim == 3 and image.shape[2] == 4 else None
    return to_bgr(image), alpha


def _decode(path: str | Path) -> np.ndarray:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such image file")
    check_image_size(path)
    try:
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    except cv2.error:  # OpenCV refuses sizes past its own limit with an exception
        image = None
    if image is None or image.size == 0:
        raise UserError(f"{path}: not a readable image (corrupt or unsupported format)")
    return image


def write_image(path: str | Path, image: np.ndarray) -> None:
    """Write an image atomically: encode to a temporary file beside the target, then rename."""
    path = Path(path)
    ok, encoded = cv2.imencode(path.suffix or ".png", image)
    if not ok:
        raise UserError(f"{path}: cannot encode an image with suffix {path.suffix!r}")
    tmp = path.with_name(f".{path.name}.partial")
    try:
        tmp.write_bytes(encoded.tobytes())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UserError(f"{path}: cannot write ({exc.strerror})") from exc


def list_images(folder: str | Path) -> list[Path]:
    """All image files under a folder, recursively, sorted."""
    return sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
