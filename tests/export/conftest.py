from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("torch")


@pytest.fixture
def photo_folder(tmp_path: Path) -> Path:
    """A few generated 'photos' in nested folders, plus a non-image file."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for i in range(8):
        yy, xx = np.mgrid[0:48, 0:64]
        img = np.stack([(xx * (i + 1)) % 256, (yy * 5 + i * 30) % 256, ((xx + yy) * 3) % 256], -1)
        img = np.clip(img + rng.normal(0, 10, img.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(folder / ("sub" if i % 2 else ".") / f"p{i}.png"), img)
    (folder / "notes.txt").write_text("not an image")
    return folder


@pytest.fixture
def style_image(tmp_path: Path) -> Path:
    yy, xx = np.mgrid[0:64, 0:64]
    stripes = np.stack([(np.sin(xx / 2.0) > 0) * 255, (np.cos(yy / 3.0) > 0) * 200, np.full_like(xx, 40)], -1)
    path = tmp_path / "stripes.png"
    cv2.imwrite(str(path), stripes.astype(np.uint8))
    return path
