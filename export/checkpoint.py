"""Training checkpoints, one layout for every kind of run: written atomically, read as data only by one
loader, and turned back into their nets (what export, gatys, eval and the benchmarks need from a run)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from .loop import LoopState
from .nets import build_net, residual_blocks_in
from .safe_load import load_tensors
from .settings import DistillSettings, TrainSettings
from ..realtime.core.errors import UserError

CHECKPOINT_NAME = "checkpoint.pt"
# 2: "fast" is the zero-padded net; a format-1 "fast" checkpoint holds a fast-v2 or fast-v1 net.
# 3: one layout for every kind of run, named by "kind" (format 1-2 style runs and the live model's
#    earlier layout are read as format 3)
CHECKPOINT_FORMAT = 3
ZERO_PADDED_FAST_FORMAT = 2
KIND_STYLE = "style"  # a fixed-style net (`stylize train`): TrainSettings
KIND_LIVE = "live"  # the live any-painting net (distill): DistillSettings
KINDS = {KIND_STYLE: "a style net's (stylize train)", KIND_LIVE: "the live any-painting model's"}


def checkpoint_state(kind: str, settings: dict, net: torch.nn.Module, optimizer: torch.optim.Optimizer,
                     state: LoopState, **extra) -> dict:
    """What a checkpoint holds, the same for every kind of run: the settings, the net's weights, the
    optimiser's state and where the loop stands (plus ``extra``, e.g. the number of processes)."""
    return {"format": CHECKPOINT_FORMAT, "kind": kind, "settings": settings,
            "net": {k: v.detach().cpu() for k, v in net.state_dict().items()}, "optimizer": optimizer.state_dict(),
            "step": state.step, "seconds": state.seconds, "history": state.history, **extra}


def loop_state(checkpoint: dict | None) -> LoopState:
    """Where the run of a loaded checkpoint stands (a new run: None)."""
    if checkpoint is None:
        return LoopState()
    return LoopState(checkpoint["step"], float(checkpoint.get("seconds", 0.0)), list(checkpoint.get("history", [])))


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


def in_current_layout(state: dict) -> dict:
    """An earlier layout read as today's: format 1-2 style runs get their kind; the live model's first
    layout ("model", settings and history as JSON text) becomes the common one."""
    if "kind" in state:
        return state
    if "model" in state and isinstance(state.get("settings"), str):
        try:
            settings, history = json.loads(state["settings"]), json.loads(state.get("history", "[]"))
        except ValueError:
            return state
        return {**state, "format": CHECKPOINT_FORMAT, "kind": KIND_LIVE, "net": state["model"], "settings": settings,
                "history": history}
    return {**state, "kind": KIND_STYLE}


def load_checkpoint(path: str | Path, kind: str = KIND_STYLE) -> dict:
    """Load a training checkpoint of ``kind`` (a run folder or the file), checked as data: a missing,
    foreign, damaged or other kind's file is a clear error."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise UserError(f"{path}: no such checkpoint")
    state = load_tensors(path, "training checkpoint")
    if not isinstance(state, dict) or "settings" not in state or not ("net" in state or "model" in state):
        raise UserError(f"{path}: not a checkpoint of this tool (no settings and net weights)")
    state = in_current_layout(state)
    if state["kind"] != kind:
        raise UserError(f"{path}: {KINDS.get(state['kind'], 'an unknown')} checkpoint, where {KINDS[kind]} "
                        "was expected")
    if not isinstance(state["settings"], dict) or not isinstance(state.get("net"), dict) \
            or not all(isinstance(v, torch.Tensor) for v in state["net"].values()):
        raise UserError(f"{path}: a damaged checkpoint (its settings or net weights are not what training writes)")
    if isinstance(state.get("step"), bool) or not isinstance(state.get("step"), int) or state["step"] < 0:
        raise UserError(f"{path}: a damaged checkpoint (step {state.get('step')!r})")
    try:  # arch and width are checked before a net is built from them
        if kind == KIND_STYLE:
            TrainSettings.from_dict(state["settings"]).validate()
        else:
            DistillSettings.from_dict(state["settings"])
    except (TypeError, ValueError) as exc:
        raise UserError(f"{path}: a checkpoint with impossible settings ({exc})") from exc
    return state


def net_from_checkpoint(state: dict) -> tuple[torch.nn.Module, TrainSettings]:
    """Rebuild the trained net of a checkpoint; a mismatch with its architecture is a clear error."""
    settings = TrainSettings.from_dict(state["settings"])
    if settings.arch == "fast" and state.get("format", 1) < ZERO_PADDED_FAST_FORMAT:  # made before today's fast net
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
