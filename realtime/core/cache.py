"""The project's cache folder (encoded paintings, models that passed their bounds, one-time notes), and the
file digest its entries are named by."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path


def cache_root() -> Path:
    """The project's cache folder: ``$STYLIZE_CACHE``, else ``$XDG_CACHE_HOME/stylize``, else ``~/.cache/stylize``."""
    return Path(os.environ.get("STYLIZE_CACHE")
                or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "stylize")


def file_digest(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
