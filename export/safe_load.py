"""Loading torch files from untrusted sources as data only: tensors and plain values, never code."""
from __future__ import annotations

import pickle
from pathlib import Path

import torch

from ..realtime.core.errors import UserError


def load_tensors(path: str | Path, what: str) -> object:
    """``torch.load`` with ``weights_only=True`` and clear errors.

    A file whose pickle would build anything but tensors and plain containers (the way a malicious
    checkpoint runs code) is refused before anything in it runs; ``what`` names the expected content
    in the messages.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file ({what} expected)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "global" not in str(exc).lower():  # not a payload, just not a torch file
            raise UserError(f"{path}: not a readable {what} (not a torch file)") from exc
        raise UserError(f"{path}: refused: the file holds more than tensors and plain values (possibly code), "
                        f"so it is not a safe {what}; nothing in it was run") from exc
    except Exception as exc:
        raise UserError(f"{path}: not a readable {what} ({exc.__class__.__name__})") from exc
