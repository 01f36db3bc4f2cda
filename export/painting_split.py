"""Paintings split three ways for the live any-painting model: train, validation (choose runs, weights and
settings on it) and test (looked at only to report a model about to ship).

The split is by painting, kept as a JSON file of file paths and SHA-256 digests (``models/live/split.json``),
so a copy of a validation or test painting under another name is still kept out of training. Test paintings
come only from folders the project had never trained or measured on (``fresh`` folders), spread over each
of their sub-folders (sources, movements) by the order of their digests; paintings that already chose
something (the old held-out ones) go to validation.

Before any training run the reserved evaluation paintings are refused (:func:`check_not_reserved`).
"""
from __future__ import annotations

import json
import logging
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..realtime.core.errors import UserError
from ..realtime.painting_style import file_digest

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
# ../shared/tools/reserved_paintings.py beside a checkout: refuses reserved evaluation paintings and their copies
RESERVED_TOOL = Path(__file__).resolve().parent.parent.parent / "shared" / "tools" / "reserved_paintings.py"


@dataclass
class PaintingSplit:
    """Paintings by split: each entry ``{"file": path relative to the pool root, "sha256": digest}``."""

    train: list[dict] = field(default_factory=list)
    validation: list[dict] = field(default_factory=list)
    test: list[dict] = field(default_factory=list)

    def digests(self, *names: str) -> set[str]:
        return {entry["sha256"] for name in names for entry in getattr(self, name)}

    def paths(self, name: str, root: str | Path) -> list[Path]:
        """The files of split ``name`` under the pool root ``root``."""
        return [Path(root) / entry["file"] for entry in getattr(self, name)]

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({name: getattr(self, name) for name in SPLITS}, indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "PaintingSplit":
        try:
            data = json.loads(Path(path).read_text())
            return cls(**{name: [{"file": str(e["file"]), "sha256": str(e["sha256"])} for e in data[name]]
                          for name in SPLITS})
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UserError(f"{path}: not a painting split ({exc})") from exc


def _entries(files: list[Path], root: Path) -> list[dict]:
    return [{"file": p.relative_to(root).as_posix(), "sha256": file_digest(p)} for p in files]


def make_split(root: str | Path, fresh: list[str], known: list[str], validation_names: tuple[str, ...],
               every: int = 12) -> PaintingSplit:
    """Split the paintings under ``root``: of every ``fresh`` folder's sub-folders, one painting in ``every``
    (by digest order) goes to test and one to validation; ``known`` folders go to train except
    ``validation_names``, which chose earlier models and so can only validate."""
    from ..realtime.core.images import list_images

    root = Path(root)
    split = PaintingSplit()
    for folder in known:
        for path in list_images(root / folder):
            entry = _entries([path], root)[0]
            (split.validation if path.name in validation_names else split.train).append(entry)
    for folder in fresh:
        groups: dict[Path, list[Path]] = {}
        for path in list_images(root / folder):
            groups.setdefault(path.parent, []).append(path)
        for files in groups.values():
            entries = sorted(_entries(files, root), key=lambda e: e["sha256"])
            for index, entry in enumerate(entries):
                slot = index % every
                (split.test if slot == 0 else split.validation if slot == every // 2 else split.train).append(entry)
    for name in SPLITS:
        getattr(split, name).sort(key=lambda e: e["file"])
    return split


def check_not_reserved(folders: list[str | Path], tool: Path = RESERVED_TOOL) -> bool:
    """Run the reserved-paintings check over ``folders``; raises UserError naming the reserved files found.
    Returns False (and logs it) when the check is not beside this checkout, True when it passed."""
    if not tool.is_file():
        log.warning("no reserved-paintings check at %s: training paintings not checked", tool)
        return False
    done = subprocess.run([sys.executable, str(tool), *map(str, folders)], capture_output=True, text=True)
    if done.returncode == 1:
        raise UserError("reserved evaluation paintings in the training folders, refused:\n" + done.stdout.strip())
    if done.returncode != 0:
        raise UserError(f"the reserved-paintings check failed: {(done.stderr or done.stdout).strip()[-400:]}")
    return True
