import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def empty_torch_cache(tmp_path_factory, monkeypatch):
    """Tests see no installed VGG weights unless they install some: the machine's cache stays out."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch_home")))


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


class Payload:
    """Creates a file when unpickled: what a malicious checkpoint would do (e.g. run a shell)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.fixture
def payload(tmp_path: Path) -> tuple[Path, Path]:
    """A checkpoint-shaped file whose unpickling runs code, and the file that code creates."""
    import torch

    marker = tmp_path / "payload_ran"
    path = tmp_path / "evil.pt"
    pickle.loads(pickle.dumps(Payload(marker)))  # the payload is live: a plain unpickle runs it
    assert marker.exists()
    marker.unlink()
    torch.save({"settings": {"arch": "fast"}, "net": {}, "exploit": Payload(marker), "step": 1}, path)
    return path, marker
