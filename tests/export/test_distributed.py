"""Data-parallel training under torchrun: two CPU processes joined with gloo."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from stylize.export.nets import ConvLayer, build_net
from stylize.export.checkpoint import load_checkpoint
from stylize.export.train import train
from tests.export.test_train_export import tiny_settings

pytestmark = pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                                reason="torch without gloo")

# Two processes train with a batch of 1 each; one process with a batch of 2 sees the same crops and
# the same loss. Their weights agree to this (relative to how far training moved them), except the
# biases of convs followed by instance norm: the norm cancels them, their gradients are rounding
# noise, and Adam scales noise up to full-size steps (they do not change any output).
WEIGHT_TOLERANCE = 1e-3  # measured: 5e-6 after 3 steps, 1.3e-4 after 5


def torchrun(args: list[str], cwd: Path, **popen) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               "-m", "stylize", "train", *args]
    return subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **popen)


def cli_args(settings, run: Path, *extra: str) -> list[str]:
    return ["--style", settings.style, "--data", settings.data, "-o", str(run), "--backbone", "effnet-lite0",
            "--width", str(settings.width), "--batch-size", "1", "--image-size", str(settings.image_size),
            "--style-size", str(settings.style_size), "--style-weight", str(settings.style_weight),
            "--lr", str(settings.lr), "--held-out", str(settings.held_out),
            "--border-weight", str(settings.border_weight), "--residual-blocks", str(settings.residual_blocks),
            "--device", "cpu", *extra]


def effective_weights(state: dict, settings) -> torch.Tensor:
    """The weights that change the net's output, as one vector."""
    net = build_net("fast", settings.width, settings.residual_blocks)
    cancelled = {f"{name}.conv.bias" for name, m in net.named_modules() if isinstance(m, ConvLayer) and m.norm}
    return torch.cat([v.reshape(-1) for k, v in state.items() if k not in cancelled])


def relative_distance(a: dict, b: dict, start: dict, settings) -> float:
    """|a - b| / |b - start| over the weights that matter."""
    a, b, start = (effective_weights(s, settings) for s in (a, b, start))
    return float((a - b).norm() / (b - start).norm())


def test_two_processes_train_like_one_with_the_doubled_batch_and_resume(tmp_path, photo_folder, style_image):
    settings = tiny_settings(style_image, photo_folder, steps=3)
    proc = torchrun(cli_args(settings, tmp_path / "ddp", "--steps", "3", "--checkpoint-every", "1",
                             "--preview-every", "3"), tmp_path)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    assert err.count("world size 2, batch 1 per rank (2 a step), gloo on cpu") == 1
    assert err.count("checkpoint: ") == 1  # rank 0 reports, rank 1 only trains
    assert sorted(p.name for p in (tmp_path / "ddp").iterdir()) == [
        "checkpoint.pt", "loss_curve.png", "previews", "settings.json", "summary.json"]
    ddp = load_checkpoint(tmp_path / "ddp")
    assert (ddp["step"], ddp["world_size"]) == (3, 2)

    doubled = load_checkpoint(train(tiny_settings(style_image, photo_folder, steps=3, batch_size=2),
                                    tmp_path / "one", progress=False, device="cpu"))
    other_data = load_checkpoint(train(tiny_settings(style_image, photo_folder, steps=3, batch_size=1),
                                       tmp_path / "half", progress=False, device="cpu"))
    torch.manual_seed(settings.seed)  # the initial net, as train() builds it
    start = build_net("fast", settings.width, settings.residual_blocks).state_dict()
    close = relative_distance(ddp["net"], doubled["net"], start, settings)
    different_data = relative_distance(ddp["net"], other_data["net"], start, settings)
    assert close < WEIGHT_TOLERANCE and different_data > 0.1, (close, different_data)

    proc = torchrun(cli_args(settings, tmp_path / "ddp", "--steps", "5", "--resume"), tmp_path)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    resumed = load_checkpoint(tmp_path / "ddp")
    doubled = load_checkpoint(train(tiny_settings(style_image, photo_folder, steps=5, batch_size=2),
                                    tmp_path / "one", resume=True, progress=False, device="cpu"))
    assert resumed["step"] == 5
    assert relative_distance(resumed["net"], doubled["net"], start, settings) < WEIGHT_TOLERANCE


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the worker processes through /proc")
def test_a_killed_rank_ends_the_run_with_a_message_and_the_checkpoint_intact(tmp_path, photo_folder, style_image):
    settings = tiny_settings(style_image, photo_folder)
    run = tmp_path / "ddp"
    proc = torchrun(cli_args(settings, run, "--steps", "100000", "--checkpoint-every", "1"), tmp_path)
    deadline = time.monotonic() + 300
    while not (run / "checkpoint.pt").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1][-3000:]
        time.sleep(0.2)
    workers = [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
    rank_one = [p for p in workers if b"RANK=1\0" in Path(f"/proc/{p}/environ").read_bytes().replace(b"LOCAL_", b"")]
    assert rank_one, workers
    os.kill(rank_one[0], signal.SIGKILL)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode != 0
    assert "the last checkpoint (" in err and "--resume continues" in err, err[-3000:]
    state = load_checkpoint(run)
    assert state["step"] >= 1 and state["world_size"] == 2
    assert not list(run.glob("*.partial"))
