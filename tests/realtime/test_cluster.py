"""Batch video conversion on a local Ray (the machine's cores)."""
from __future__ import annotations

import socket
import subprocess
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from stylize.cli import main
from tests.conftest import ffmpeg, make_clip, probe

pytest.importorskip("ray")

BITS = 8  # a frame's index, drawn as black/white stripes that survive H.264 and the negative model


def numbered_clip(path: Path, frames: int, fps: int = 25) -> Path:
    """A clip whose every frame shows its own index (with a tone, keyframe every second)."""
    raw = path.with_suffix(".raw.mp4")
    writer = cv2.VideoWriter(str(raw), cv2.VideoWriter_fourcc(*"mp4v"), fps, (160, 96))
    for index in range(frames):
        frame = np.zeros((96, 160, 3), np.uint8)
        for bit in range(BITS):
            if index >> bit & 1:
                frame[:, bit * 20:(bit + 1) * 20] = 255
        writer.write(frame)
    writer.release()
    subprocess.run([ffmpeg(), "-loglevel", "error", "-y", "-i", str(raw), "-f", "lavfi", "-i", "sine=frequency=440",
                    "-c:v", "libx264", "-g", str(fps), "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path)],
                   check=True)
    raw.unlink()
    return path


def frame_indices(path: Path) -> list[int]:
    """The index each frame of a negative-model output shows."""
    cap, indices = cv2.VideoCapture(str(path)), []
    while True:
        ok, frame = cap.read()
        if not ok:
            return indices
        stripes = [frame[:, bit * 20 + 5:(bit + 1) * 20 - 5].mean() < 128 for bit in range(BITS)]  # inverted
        indices.append(sum(1 << bit for bit, on in enumerate(stripes) if on))


def test_ray_outputs_equal_plain_conversion_and_chunks_keep_every_frame_once(tmp_path, negative_model):
    long_clip = numbered_clip(tmp_path / "long.mp4", frames=180)  # 7.2 s: four chunks of about 2 s
    short_clip = make_clip(tmp_path / "short.mp4", frames=12)
    plain, ray = tmp_path / "plain", tmp_path / "ray"
    inputs = [str(long_clip), str(short_clip)]
    assert main(["video", *inputs, "-o", str(plain), "-m", str(negative_model), "--no-progress"]) == 0
    worker_folders = set(Path(tempfile.gettempdir()).glob("stylize-worker-*"))
    assert main(["video", *inputs, "-o", str(ray), "-m", str(negative_model), "--no-progress", "--ray", "local",
                 "--chunk-seconds", "2"]) == 0
    assert set(Path(tempfile.gettempdir()).glob("stylize-worker-*")) == worker_folders  # the model copies removed
    for name in ("long_negative.mp4", "short_negative.mp4"):
        expected, got = probe(plain / name), probe(ray / name)
        assert got == expected, name
        assert got["audio"]
    assert frame_indices(ray / "long_negative.mp4") == list(range(180))
    assert sorted(p.name for p in ray.iterdir()) == ["long_negative.mp4", "short_negative.mp4"]  # no partial files


def test_a_failing_video_is_retried_then_reported_and_the_others_are_written(tmp_path, negative_model, capsys):
    whole = make_clip(tmp_path / "whole.mp4", frames=60, audio=False)
    front = tmp_path / "front.mp4"  # index at the front, so the cut file still opens (and then fails)
    subprocess.run([ffmpeg(), "-loglevel", "error", "-i", str(whole), "-c", "copy", "-movflags", "+faststart",
                    str(front)], check=True)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(front.read_bytes()[: front.stat().st_size * 6 // 10])
    out = tmp_path / "out"
    assert main(["video", str(cut), str(whole), "-o", str(out), "-m", str(negative_model), "--no-progress",
                 "--ray", "local"]) == 2
    err = capsys.readouterr().err
    assert "failed twice and were not written" in err and "cut.mp4" in err and "truncated" in err
    assert sorted(p.name for p in out.iterdir()) == ["whole_negative.mp4"]
    assert probe(out / "whole_negative.mp4")["frames"] == 60


def test_ray_missing_or_unreachable_is_a_message(tmp_path, negative_model, capsys, monkeypatch):
    clip = make_clip(tmp_path / "clip.mp4")
    with socket.socket() as closed:  # a loopback port that nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    assert main(["video", str(clip), "-o", str(tmp_path / "o.mp4"), "-m", str(negative_model), "--ray",
                 f"127.0.0.1:{port}"]) == 2
    assert "cannot join that Ray cluster: nothing answers there" in capsys.readouterr().err
    assert main(["video", str(clip), "-o", str(tmp_path / "o.mp4"), "-m", str(negative_model), "--ray", "local",
                 "--allow-truncated"]) == 2
    assert "--allow-truncated works without --ray only" in capsys.readouterr().err
    monkeypatch.setitem(__import__("sys").modules, "ray", None)
    assert main(["video", str(clip), "-o", str(tmp_path / "o.mp4"), "-m", str(negative_model), "--ray", "local"]) == 2
    assert "pip install 'stylize[cluster]'" in capsys.readouterr().err
    assert not (tmp_path / "o.mp4").exists()
