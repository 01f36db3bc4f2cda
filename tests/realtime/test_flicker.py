import json

import numpy as np
import pytest

from stylize.cli import main
from stylize.realtime.flicker import motion_consistency, noise_flicker, pan_frames, warping_error
from stylize.realtime.stabilize import Stabilizer, stabilized


def scene(h=90, w=160):
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([127 + 90 * np.sin(xx / 7.0), 127 + 90 * np.cos(yy / 5.0), (3 * xx + 2 * yy) % 256], -1)
    return img.astype(np.uint8)


def identity(frame):
    return frame


def constant(frame):
    return np.full_like(frame, 90)


def grainy(frame):
    """A stand-in 'style' that flickers: output noise much larger than the input noise."""
    return np.clip(frame.astype(int) + np.random.default_rng().integers(-30, 31, frame.shape), 0, 255).astype(np.uint8)


def test_metrics_have_known_answers():
    photo = scene()
    assert noise_flicker(identity, photo) == pytest.approx(1.0)
    assert noise_flicker(constant, photo) == 0.0
    assert motion_consistency(identity, photo) == pytest.approx(1.0, rel=0.05)
    assert motion_consistency(constant, photo) == 0.0
    assert noise_flicker(grainy, photo) > 5


def test_pan_frames_move_by_the_shift():
    photo = scene()
    a, b = pan_frames(photo, 2, 3, 100)
    assert np.array_equal(b[:, :-3], a[:, 3:])


def test_warping_error_on_a_pan():
    photo = scene(120, 240)
    frames = pan_frames(photo, 6, 2, 200)
    assert warping_error(constant, frames)["absolute"] == 0.0
    identity_error = warping_error(identity, frames)
    assert identity_error["relative"] == pytest.approx(1.0)
    assert identity_error["unoccluded_fraction"] > 0.5
    assert warping_error(grainy, frames)["relative"] > 3


def test_stabilizer_leaves_a_still_clean_sequence_unchanged():
    frame = scene()
    out = grainy(frame)
    stabilizer = Stabilizer()
    for _ in range(4):
        assert np.array_equal(stabilizer(frame, out), out)


def test_stabilizer_halves_noise_flicker_and_pan_error():
    photo = scene(120, 240)
    assert noise_flicker(stabilized(grainy, Stabilizer()), photo) < 0.5 * noise_flicker(grainy, photo)
    assert motion_consistency(stabilized(grainy, Stabilizer()), photo) < 0.6 * motion_consistency(grainy, photo)


def test_stabilizer_does_not_ghost_a_scene_cut():
    stabilizer = Stabilizer()
    first, second = scene(), 255 - scene()
    stabilizer(first, first)
    leak = np.abs(stabilizer(second, second).astype(int) - second).mean()
    assert leak < 0.05 * np.abs(first.astype(int) - second).mean()


def test_flicker_command(negative_model, tmp_path, capsys):
    from tests.conftest import make_clip

    clip = make_clip(tmp_path / "c.mp4", size=(160, 120), frames=6, audio=False)
    assert main(["flicker", "-m", str(negative_model), "--video", str(clip), "--frames", "6", "--size", "160x120",
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    # the negative 'style' is as steady as its input
    assert result["plain"]["noise_flicker"] == pytest.approx(1.0, rel=0.05)
    assert {"noise_flicker", "motion_consistency", "warping_error", "fps"} <= set(result["stabilized"])


@pytest.mark.parametrize("size", ["2x2", "31x200"])
def test_flicker_at_a_size_too_small_to_measure_is_a_message(negative_model, size, capsys):
    assert main(["flicker", "-m", str(negative_model), "--size", size, "--frames", "3"]) == 2
    assert "at least 32x32 pixels" in capsys.readouterr().err


def test_video_with_stabilizer(tmp_path, clip, negative_model):
    from tests.conftest import probe

    out = tmp_path / "s.mp4"
    assert main(["video", str(clip), "-o", str(out), "-m", str(negative_model), "--stabilize", "--no-progress"]) == 0
    assert probe(out)["frames"] == 12
