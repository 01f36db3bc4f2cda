"""Reading and writing images as 8-bit BGR frames, the layout of the model contract."""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from realtime.errors import UserError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


def to_bgr(image: np.ndarray) -> np.ndarray:
    """Convert a grayscale, BGRA or 16-bit image to 8-bit 3-channel BGR (alpha is dropped)."""
    if image.dtype == np.uint16:
        image = (image / 257).round().astype(np.uint8)
    elif image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as uint8 BGR HxWx3, with a clear error for a missing or corrupt file."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such image file")
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise UserError(f"{path}: not a readable image (corrupt or unsupported format)")
    return to_bgr(image)


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
