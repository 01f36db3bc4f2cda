"""How close a painting the live model never saw gets after a few minutes of `stylize train` (which
starts from the live model painting it), as the README tells a user to run it.

    python benchmarks/tune_minutes.py --painting ../shared/data/paintings/la_muse.jpg \\
        --data ../shared/data/train --content ../shared/data/content --steps 150 [-o runs/tune]

Prints the training minutes, and the VGG16 painting distance of the models report (5 content photos at
512 px) for the live model with that painting and for the tuned model, with the date. Needs VGG16.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from stylize.cli import main as stylize
from stylize.export.data import resize_longer_side
from stylize.export.evaluate import content_files, distance_network, painting_distance
from stylize.realtime.images import read_image
from stylize.realtime.model_lookup import open_stylizer


def mean_distance(stylizer, photos: list[np.ndarray], painting: np.ndarray, network) -> dict[str, float]:
    scores = [painting_distance(network, stylizer(photo), photo, painting) for photo in photos]
    return {k: float(np.mean([s[k] for s in scores])) for k in ("style", "content")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--painting", required=True)
    parser.add_argument("--data", required=True, help="training photos")
    parser.add_argument("--content", nargs="+", required=True, help="content photos or folders to score on")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("-o", "--output", help="run folder (default: a temporary one)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="stylize-tune-") as tmp:
        run = Path(args.output or Path(tmp) / "run")
        model = run.parent / f"{run.name}.onnx"
        started = time.perf_counter()
        code = stylize(["train", "--style", args.painting, "--data", args.data, "-o", str(run), "--steps",
                        str(args.steps), "--export", str(model)])
        minutes = (time.perf_counter() - started) / 60
        if code != 0:
            return code
        photos = [resize_longer_side(read_image(p), args.size) for p in content_files(args.content)]
        painting = resize_longer_side(read_image(args.painting), args.size)
        network = distance_network()
        live = mean_distance(open_stylizer(None, [args.painting], device="cpu", precision="fp32"), photos, painting,
                             network)
        tuned = mean_distance(open_stylizer(str(model), device="cpu", precision="fp32"), photos, painting, network)
    print(f"{time.strftime('%Y-%m-%d')}, {Path(args.painting).name}, {args.steps} steps in {minutes:.1f} min "
          f"(training and export, this machine)")
    print(f"  live model: style {live['style']:.3f}, content {live['content']:.3f}")
    print(f"  tuned:      style {tuned['style']:.3f}, content {tuned['content']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
