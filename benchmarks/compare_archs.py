"""Compare trained style nets (e.g. `fast` vs `johnson` at equal training minutes) as users get them.

Each checkpoint is exported to ONNX (verified, as `stylize export` does) and run through
onnxruntime on the held-out photos; printed per net as a Markdown table: steps, seconds per training
step measured in this run (a few steps of `stylize train` with the run's own settings, so the nets
are timed side by side on the same machine state), the training minutes those steps take at that
rate, the painting and content distances of the models report (VGG16,
`stylize.export.evaluate.painting_distance`) and inference ms per 640x480 frame. The picture shows
painting | photo | net A | net B | ... with one row per photo.

    python benchmarks/compare_archs.py runs/base_candy runs/compare_johnson \
        --photos ../shared/data/content -o docs/arch_compare.jpg
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from stylize.export.evaluate import content_files, distance_network, painting_distance
from stylize.export.onnx_export import export_checkpoint
from stylize.export.settings import TrainSettings
from stylize.export.checkpoint import CHECKPOINT_NAME, load_checkpoint, net_from_checkpoint
from stylize.export.data import resize_longer_side
from stylize.export.train import train
from stylize.realtime.bench import bench
from stylize.realtime.core.frames import draw_text_lines
from stylize.realtime.core.images import read_image, write_image
from stylize.realtime.core.session import StyleSession


def step_seconds(settings: TrainSettings, steps: int) -> float:
    """Seconds per training step with ``settings`` (arch, batch, crop, loss terms), over ``steps`` steps
    after one warm-up step."""
    with tempfile.TemporaryDirectory(prefix="stylize-steps-") as tmp:
        timing = replace(settings, steps=steps + 1, init_from="", checkpoint_every=10**6, preview_every=10**6)
        warm_up = replace(timing, steps=1)
        train(warm_up, Path(tmp) / "warm", progress=False, device="cpu")
        train(timing, Path(tmp) / "timed", progress=False, device="cpu")
        total = json.loads((Path(tmp) / "timed" / "summary.json").read_text())["seconds"]
        one = json.loads((Path(tmp) / "warm" / "summary.json").read_text())["seconds"]
    return (total - one) / steps


def fit(image: np.ndarray, height: int, label: str) -> np.ndarray:
    """``image`` scaled to ``height`` rows with ``label`` written on it."""
    scaled = resize_longer_side(image, round(height * max(image.shape[:2]) / image.shape[0]))
    return draw_text_lines(np.ascontiguousarray(scaled), [label])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="checkpoint files or run folders")
    parser.add_argument("--photos", nargs="+", required=True, help="held-out photos or folders")
    parser.add_argument("--painting", help="the style image (default: the one in the first run's settings)")
    parser.add_argument("--size", type=int, default=512, help="longer side of photo and painting (default 512)")
    parser.add_argument("--tile", type=int, default=256, help="row height of the picture (default 256)")
    parser.add_argument("--timed-steps", type=int, default=3, help="training steps timed per net (default 3)")
    parser.add_argument("-o", "--output", required=True, help="side-by-side picture (PNG or JPEG)")
    args = parser.parse_args(argv)
    if args.timed_steps < 1:
        parser.error("--timed-steps must be at least 1")

    files = content_files(args.photos)
    photos = [resize_longer_side(read_image(p), args.size) for p in files]
    network = distance_network()
    painting_path, painting, columns = args.painting, None, []
    print("| net | steps | s/step (timed here) | training minutes at that rate | to the painting | content change "
          "| ms/frame 640x480 |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="stylize-compare-") as tmp:
        for i, run in enumerate(args.runs):
            source = Path(run) / CHECKPOINT_NAME if Path(run).is_dir() else Path(run)
            state = load_checkpoint(source)
            _, settings = net_from_checkpoint(state)
            if painting is None:
                painting_path = painting_path or settings.style
                painting = resize_longer_side(read_image(painting_path), args.size)
            elif not args.painting and Path(settings.style).name != Path(painting_path).name:
                parser.error(f"{run} was trained on {settings.style}, not {painting_path}: compare nets of one "
                             "painting, or pass --painting")
            model = Path(tmp) / f"net{i}.onnx"
            export_checkpoint(source, model)
            session = StyleSession(model, "cpu")
            outputs = [session.run(photo) for photo in photos]
            scores = [painting_distance(network, out, photo, painting) for out, photo in zip(outputs, photos)]
            per_step = step_seconds(settings, args.timed_steps)
            minutes = state["step"] * per_step / 60
            name = f"{settings.arch} ({Path(run).name})"
            print(f"| {name} | {state['step']} | {per_step:.2f} | {minutes:.0f} | "
                  f"{np.mean([s['style'] for s in scores]):.2f} | {np.mean([s['content'] for s in scores]):.2f} | "
                  f"{bench(session, (640, 480), 30)['stage_ms']['inference']:.0f} |", flush=True)
            columns.append((f"{settings.arch}, {minutes:.0f} min", outputs))

    rows = [np.hstack([fit(painting, args.tile, "painting"), fit(photo, args.tile, "photo")]
                      + [fit(outputs[k], args.tile, label) for label, outputs in columns])
            for k, photo in enumerate(photos)]
    width = max(r.shape[1] for r in rows)
    write_image(args.output, np.vstack([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255)
                                        for r in rows]))
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
