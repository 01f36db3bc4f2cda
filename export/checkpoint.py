"""Training checkpoints: written atomically, read as data only, and turned back into their nets
(what export, gatys, eval and the benchmarks need from a run)."""
from __future__ import annotations

import os
from pathlib import Path

import torch

from .nets import build_net, residual_blocks_in
from .safe_load import load_tensors
from .settings import TrainSettings
from ..realtime.errors import UserError

CHECKPOINT_NAME = "checkpoint.pt"
# 2: "fast" is the zero-padded net; a format-1 "fast" checkpoint holds a fast-v2 or fast-v1 net
CHECKPOINT_FORMAT = 2


def save_checkpoint(path: Path, state: dict) -> None:
    """Write a checkpoint atomically, so a kill during the write never loses the previous one; a
    failed write (full disk) leaves the previous checkpoint and no partial file."""
    tmp = path.with_name(path.name + ".partial")
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    except (OSError, RuntimeError) as exc:  # torch reports a full disk as RuntimeError
        tmp.unlink(missing_ok=True)
        raise UserError(f"cannot write the checkpoint {path} ({exc}); the previous checkpoint is kept") from exc


def load_checkpoint(path: str | Path) -> dict:
    """Load a training checkpoint, with a clear error for a missing or foreign file."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise UserError(f"{path}: no such checkpoint")
    state = load_tensors(path, "training checkpoint")
    if not isinstance(state, dict) or "settings" not in state or "net" not in state:
        raise UserError(f"{path}: not a checkpoint of this tool (no settings and net weights)")
    if not isinstance(state["settings"], dict) or not isinstance(state["net"], dict) \
            or not all(isinstance(v, torch.Tensor) for v in state["net"].values()):
        raise UserError(f"{path}: a damaged checkpoint (its settings or net weights are not what training writes)")
    if isinstance(state.get("step"), bool) or not isinstance(state.get("step"), int) or state["step"] < 0:
        raise UserError(f"{path}: a damaged checkpoint (step {state.get('step')!r})")
    try:  # arch and width are checked before a net is built from them
        TrainSettings.from_dict(state["settings"]).validate()
    except (TypeError, ValueError) as exc:
        raise UserError(f"{path}: a checkpoint with impossible settings ({exc})") from exc
    return state


def net_from_checkpoint(state: dict) -> tuple[torch.nn.Module, TrainSettings]:
    """Rebuild the trained net of a checkpoint; a mismatch with its architecture is a clear error."""
    settings = TrainSettings.from_dict(state["settings"])
    if settings.arch == "fast" and state.get("format", 1) < CHECKPOINT_FORMAT:  # made before today's fast net
        settings.arch = "fast-v1" if "colour.weight" in state["net"] else "fast-v2"
    if not settings.residual_blocks:  # made before the setting existed: as many as the weights hold
        settings.residual_blocks = residual_blocks_in(state["net"]) or 1
    net = build_net(settings.arch, settings.width, settings.residual_blocks)
    try:
        net.load_state_dict(state["net"])
    except RuntimeError as exc:
        raise UserError(
            f"checkpoint weights do not fit architecture {settings.arch!r} at width {settings.width} with "
            f"{settings.residual_blocks} residual blocks: "
            f"{str(exc).splitlines()[0]}"
        ) from exc
    return net.eval(), settings


def same_layout(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    """Whether two nets have the same parameter names and shapes (one's weights load into the other)."""
    shapes = lambda net: {k: tuple(v.shape) for k, v in net.state_dict().items()}  # noqa: E731
    return shapes(a) == shapes(b)
