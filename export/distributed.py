"""Data-parallel training under torchrun: one process per CPU socket or GPU, joined through
torch.distributed (gloo on the CPU, NCCL on CUDA).

Each step's batch is drawn as one global batch of ``batch_size x world size`` crops (the same
crops a single process with that batch would draw) and every rank trains on its own share; the
gradients are averaged with one all-reduce per step, as DistributedDataParallel does, and the
batch-wide means the losses are normalised by are taken over the whole step: the weights follow a
single process with the whole batch, up to rounding. (DDP's reducer itself cannot be used: the
temporal term runs the net twice before each backward.)
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from ..realtime.core.errors import UserError

# how long a rank waits for the others at start-up and in each all-reduce
PEER_TIMEOUT = timedelta(minutes=5)


@dataclass(frozen=True)
class World:
    """Where this process stands in the run: its rank among ``size`` processes."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0 writes the checkpoints, previews and loss curve."""
        return self.rank == 0

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        """The mean over all ranks of a per-rank mean (no gradient flows through it): with equal
        shares, the whole step's mean, so a loss normalised by it matches one process's."""
        total = value.detach().clone()
        dist.all_reduce(total)
        return total / self.size

    def share(self, items: Sequence) -> Sequence:
        """This rank's share of a global batch (equal shares, in rank order)."""
        per_rank = len(items) // self.size
        return items[self.rank * per_rank:(self.rank + 1) * per_rank]


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def is_main_process() -> bool:
    """Rank 0 of a torchrun launch, or a process started on its own."""
    return int(os.environ.get("RANK", "0")) == 0


def training_device(device: str, local_rank: int = 0) -> torch.device:
    """``auto``: CUDA when torch sees a GPU, else the CPU; under torchrun each process on a node
    takes the GPU of its local rank."""
    if device not in ("auto", "cpu", "cuda"):
        raise UserError(f"--device {device}: choose auto, cpu or cuda")
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: torch sees no CUDA GPU here (a CPU-only torch build, or no driver); "
                        "use --device cpu")
    if device == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", local_rank % torch.cuda.device_count())


def join(device: str) -> tuple[World, torch.device]:
    """Join torchrun's process group when launched by torchrun (else a world of one), and pick
    this process's device."""
    if not launched_by_torchrun():
        return World(), training_device(device)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    place = training_device(device, local_rank)
    if not dist.is_initialized():
        if place.type == "cuda":
            torch.cuda.set_device(place)
        dist.init_process_group("nccl" if place.type == "cuda" else "gloo", timeout=PEER_TIMEOUT)
    return World(dist.get_rank(), dist.get_world_size(), local_rank), place


def leave(world: World) -> None:
    if world.size > 1 and dist.is_initialized():
        dist.destroy_process_group()


def average_gradients(parameters: list[torch.nn.Parameter], world: World) -> None:
    """Average the gradients over all ranks in place (one all-reduce of all of them)."""
    if world.size == 1:
        return
    grads = [p.grad for p in parameters if p.grad is not None]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world.size
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def average_values(values: dict[str, float], world: World, device: torch.device) -> dict[str, float]:
    """The mean of each logged loss term over all ranks (what the whole batch scored)."""
    if world.size == 1:
        return values
    stacked = torch.tensor(list(values.values()), dtype=torch.float64, device=device)
    dist.all_reduce(stacked)
    return dict(zip(values, (stacked / world.size).tolist()))


def dist_backend() -> str:
    """The process group's backend (gloo, nccl), for messages."""
    return dist.get_backend() if dist.is_initialized() else "one process"
