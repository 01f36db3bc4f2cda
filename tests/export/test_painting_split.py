"""The live model's painting split (train / validation / test by painting), the reserved-paintings check
before training, and the colour term against grey outputs."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from stylize import models
from stylize.export.distill import DistillSettings, distill
from stylize.export.losses import colour_loss, colour_statistics
from stylize.export.painting_split import RESERVED_TOOL, PaintingSplit, check_not_reserved, make_split
from stylize.export.teacher_pairs import training_paintings
from stylize.realtime.core.errors import UserError


def painting(path: Path, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.random.default_rng(seed).integers(0, 256, (40, 48, 3), dtype=np.uint8))
    return path


@pytest.fixture
def pool(tmp_path: Path) -> Path:
    """A pool like ../shared/data: known folders (styles, paintings with an old held-out painting) and a fresh
    one with two sources."""
    root = tmp_path / "pool"
    for i in range(3):
        painting(root / "styles" / f"s{i}.png", i)
    painting(root / "paintings" / "p0.png", 10)
    painting(root / "paintings" / "la_muse.jpg", 11)
    for i in range(24):
        painting(root / "more" / ("a" if i % 2 else "b") / f"m{i}.png", 100 + i)
    return root


def test_the_split_is_by_painting_with_test_only_from_fresh_folders(pool, tmp_path):
    split = make_split(pool, ["more"], ["styles", "paintings"], ("la_muse.jpg",), every=4)
    files = {name: [e["file"] for e in getattr(split, name)] for name in ("train", "validation", "test")}
    assert sum(map(len, files.values())) == 29 and len(set(sum(files.values(), []))) == 29  # each painting once
    assert all(f.startswith("more/") for f in files["test"])
    assert {f.split("/")[1] for f in files["test"]} == {"a", "b"}  # every source has test paintings
    assert len(files["test"]) == 6 and len(files["validation"]) == 6 + 1  # and the old held-out la_muse
    assert "paintings/la_muse.jpg" in files["validation"] and "styles/s0.png" in files["train"]
    split.save(tmp_path / "split.json")
    assert PaintingSplit.load(tmp_path / "split.json") == split
    assert make_split(pool, ["more"], ["styles", "paintings"], ("la_muse.jpg",), every=4) == split  # reproducible


def test_training_never_reads_a_validation_or_test_painting_even_renamed(pool, tmp_path):
    split = make_split(pool, ["more"], ["styles", "paintings"], ("la_muse.jpg",), every=4)
    split.save(tmp_path / "split.json")
    test_painting = split.paths("test", pool)[0]
    (pool / "styles" / "renamed.png").write_bytes(test_painting.read_bytes())  # a copy under another name
    folders = [str(pool / f) for f in ("styles", "paintings", "more")]
    used = training_paintings(DistillSettings(paintings=folders, split=str(tmp_path / "split.json")))
    assert len(used) == len(split.train) and "renamed.png" not in {p.name for p in used}
    assert len(training_paintings(DistillSettings(paintings=folders))) == 29  # without the split: all 30 but la_muse


def test_a_damaged_split_file_is_refused_with_a_message(tmp_path):
    (tmp_path / "split.json").write_text(json.dumps({"train": [{"file": "x"}]}))
    with pytest.raises(UserError, match="not a painting split"):
        PaintingSplit.load(tmp_path / "split.json")


def test_the_shipped_split_keeps_test_paintings_out_of_the_live_models_training():
    split = PaintingSplit.load(models.LIVE_DIR / "split.json")
    assert len(split.test) >= 40 and len({e["file"].split("/")[1] for e in split.test}) >= 5  # varied sources
    assert not split.digests("train") & split.digests("validation", "test")
    assert not split.digests("validation") & split.digests("test")


def image_with_dhash(bits: int) -> np.ndarray:
    """A grey picture whose 64-bit dHash (9x8 thumbnail, left pixel brighter than right = 1) is ``bits``."""
    thumb = np.zeros((8, 9), np.float32)
    for row in range(8):
        level = 128.0
        thumb[row, 0] = level
        for col in range(8):
            level += -12.0 if bits >> (63 - (row * 8 + col)) & 1 else 12.0
            thumb[row, col + 1] = level
    return cv2.resize(thumb, (9 * 24, 8 * 24), interpolation=cv2.INTER_NEAREST).astype(np.uint8)


@pytest.mark.skipif(not RESERVED_TOOL.is_file(), reason="no ../shared/tools/reserved_paintings.py beside the checkout")
def test_training_refuses_a_reserved_painting(tmp_path, photo_folder):
    listed = (RESERVED_TOOL.parent.parent / "data" / "reserved_paintings.txt").read_text().splitlines()
    reserved = int(next(line.split()[0] for line in listed if line.strip() and not line.startswith("#")), 16)
    paintings = tmp_path / "paintings"
    paintings.mkdir()
    cv2.imwrite(str(paintings / "innocent_name.jpg"), cv2.cvtColor(image_with_dhash(reserved), cv2.COLOR_GRAY2BGR))
    painting(paintings / "fine.png", 1)
    with pytest.raises(UserError, match="innocent_name.jpg"):
        check_not_reserved([paintings])
    settings = DistillSettings(teacher_dir=str(tmp_path / "no_teacher"), paintings=[str(paintings)],
                               photos=str(photo_folder), width=0.25, pairs=2, steps=1, batch_size=1, image_size=64)
    with pytest.raises(UserError, match="reserved"):
        distill(settings, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()  # refused before anything is made
    (paintings / "innocent_name.jpg").unlink()
    assert check_not_reserved([paintings])


def test_the_colour_term_takes_one_painting_per_output():
    grey, colourful = torch.full((1, 3, 16, 16), 0.5), torch.rand(1, 3, 16, 16)
    colourful[:, 0] *= 0.2
    targets = colour_statistics(torch.cat([grey, colourful]))
    outputs = torch.cat([grey, colourful])
    assert float(colour_loss(outputs, targets)) < 1e-6
    assert float(colour_loss(outputs.flip(0), targets)) > 0.5
    assert torch.isclose(colour_loss(colourful, targets[1]), colour_loss(colourful, targets[1:]))  # one [6] as before
