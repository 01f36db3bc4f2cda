"""Training data: photos from a folder (random crops, held-out previews) and image <-> tensor conversion."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from ..realtime.core.errors import UserError
from ..realtime.core.images import list_images, read_image


def bgr_to_tensor(images: list[np.ndarray]) -> torch.Tensor:
    """Stack uint8 BGR HxWx3 images into a float RGB NCHW tensor in [0, 1]."""
    batch = np.stack([img[:, :, ::-1] for img in images]).astype(np.float32) / 255.0
    return torch.from_numpy(batch).permute(0, 3, 1, 2).contiguous()


def tensor_to_bgr(batch: torch.Tensor) -> list[np.ndarray]:
    """Inverse of :func:`bgr_to_tensor`, rounding to uint8."""
    arr = (batch.detach().clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
    return [np.ascontiguousarray(a[:, :, ::-1]) for a in arr]


def resize_longer_side(image: np.ndarray, size: int) -> np.ndarray:
    h, w = image.shape[:2]
    scale = size / max(h, w)
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def read_photo(path: Path) -> np.ndarray | None:
    """A training photo as BGR, or None when it cannot be read or is over the pixel limit (skipped)."""
    try:
        return read_image(path)
    except UserError:
        return None


class PhotoFolder:
    """Photos under a folder (recursive), read on demand; unreadable files are skipped and counted."""

    def __init__(self, folder: str | Path, held_out: int):
        folder = Path(folder)
        if not folder.is_dir():
            raise UserError(f"--data {folder}: no such folder")
        paths = list_images(folder)
        if len(paths) <= held_out:
            raise UserError(f"--data {folder}: found {len(paths)} image files, need more than {held_out}")
        self.held_out_paths = paths[:held_out]
        self.paths = paths[held_out:]
        self.unreadable: set[Path] = set()

    def random_crops(self, rng: np.random.Generator, count: int, size: int, zoom: float = 1.5) -> list[np.ndarray]:
        """``count`` random square crops of ``size`` px, each from a photo scaled so that its short side
        is ``size`` times a random factor from 1 to ``zoom``."""
        crops = []
        while len(crops) < count:
            if len(self.unreadable) == len(self.paths):
                raise UserError("none of the training images could be read")
            path = self.paths[rng.integers(len(self.paths))]
            if path in self.unreadable:
                continue
            image = read_photo(path)
            if image is None:
                self.unreadable.add(path)
                continue
            h, w = image.shape[:2]
            scale = size * rng.uniform(1.0, zoom) / min(h, w)
            image = cv2.resize(image, (max(size, round(w * scale)), max(size, round(h * scale))),
                               interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
            y = rng.integers(image.shape[0] - size + 1)
            x = rng.integers(image.shape[1] - size + 1)
            crop = image[y:y + size, x:x + size]
            crops.append(crop[:, ::-1] if rng.random() < 0.5 else crop)
        return crops

    def held_out_images(self, size: int) -> list[np.ndarray]:
        """The held-out photos, centre-cropped to squares of ``size`` px (for previews and losses)."""
        out = []
        for path in self.held_out_paths:
            image = read_photo(path)
            if image is None:
                continue
            h, w = image.shape[:2]
            s = min(h, w)
            image = image[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
            out.append(cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA))
        return out
