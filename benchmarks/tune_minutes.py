"""How close a painting the live model never saw gets after a few minutes of `stylize train` (which
starts from the live model painting it), as the README tells a user to run it.

    python benchmarks/tune_minutes.py --painting ../shared/data/paintings/la_muse.jpg \\
        --data ../shared/data/train --content ../shared/data/content [-o runs/tune] \\
        [-- --steps 150 --style-weight 4 ...]   # anything after -- goes to `stylize train` as it is

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
from stylize.export.evaluate import content_files, distance_network, mean_distance
from stylize.realtime.core.images import read_image
from stylize.realtime.model_lookup import open_stylizer


def measure_tune(painting: str, data: str, photos: list[np.ndarray], network, size: int = 512,
                 train_args: tuple[str, ...] = (), run: str | None = None) -> dict:
    """Run `stylize train --style PAINTING --data DATA` (plus ``train_args``) and export, timed; score the
    live model and the tuned model on ``photos`` (BGR, already at ``size``). Raises on a failed run."""
    with tempfile.TemporaryDirectory(prefix="stylize-tune-") as tmp:
        run_dir = Path(run or Path(tmp) / "run")
        model = run_dir.parent / f"{run_dir.name}.onnx"
        started = time.perf_counter()
        code = stylize(["train", "--style", painting, "--data", data, "-o", str(run_dir), "--export", str(model),
                        *train_args])
        minutes = (time.perf_counter() - started) / 60
        if code != 0:
            raise RuntimeError(f"stylize train exited with {code}")
        target = resize_longer_side(read_image(painting), size)
        live = mean_distance(open_stylizer(None, [painting], device="cpu", precision="fp32"), photos, target, network)
        tuned = mean_distance(open_stylizer(str(model), device="cpu", precision="fp32"), photos, target, network)
    return {"painting": Path(painting).name, "train_args": list(train_args), "minutes": minutes, "live": live,
            "tuned": tuned, "date": time.strftime("%Y-%m-%d")}


def tune_line(result: dict) -> str:
    """One sentence for a report."""
    args = " ".join(result["train_args"]) or "the defaults"
    return (f"Tune, {result['date']}: `stylize train --style {result['painting']} --data PHOTOS` ({args}) took "
            f"{result['minutes']:.1f} min here, training and export; painting distance {result['live']['style']:.3f} "
            f"(live model) -> {result['tuned']['style']:.3f} (tuned), content {result['live']['content']:.3f} -> "
            f"{result['tuned']['content']:.3f}.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--painting", required=True)
    parser.add_argument("--data", required=True, help="training photos")
    parser.add_argument("--content", nargs="+", required=True, help="content photos or folders to score on")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("-o", "--output", help="run folder (default: a temporary one)")
    argv = sys.argv[1:] if argv is None else argv
    extra = tuple(argv[argv.index("--") + 1:]) if "--" in argv else ()
    args = parser.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    photos = [resize_longer_side(read_image(p), args.size) for p in content_files(args.content)]
    print(tune_line(measure_tune(args.painting, args.data, photos, distance_network(), args.size, extra, args.output)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
