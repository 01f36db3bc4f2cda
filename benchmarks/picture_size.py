"""How the picture-size rule changes each shipped style on still pictures: the painting distance and the
content change of `stylize image` with `--paint-size 640x480+` (small pictures enlarged to 640x480's pixels
before painting) and `--paint-size full` (every picture painted as it is), at three picture sizes.

    python benchmarks/picture_size.py --content ../shared/data/content --styles ../shared/data/styles \\
        [--sizes 256 512 1024] [--rules 640x480+ full]

Prints one table (style x size x rule: style distance / content change, lower style = closer to the
painting, 1 = as far as the photo) with the date. Needs VGG16.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from stylize import models
from stylize.export.data import resize_longer_side
from stylize.export.evaluate import content_files, distance_network, painting_distance
from stylize.realtime.core.frames import parse_paint_size
from stylize.realtime.core.images import read_image
from stylize.realtime.model_lookup import open_stylizer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--content", nargs="+", required=True, help="photos or folders")
    parser.add_argument("--styles", required=True, help="folder of the shipped styles' paintings")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024], help="longer sides of the pictures")
    parser.add_argument("--rules", nargs="+", default=["640x480+", "full"], help="--paint-size values to compare")
    args = parser.parse_args(argv)
    network = distance_network()
    photos = [read_image(p) for p in content_files(args.content)]
    rows = []
    for name in models.style_names():
        settings = json.loads(open_stylizer(name, None, device="cpu").session.info.metadata["stylize.training_settings"])
        painting = read_image(Path(args.styles) / Path(settings["style"]).name)
        for size in args.sizes:
            cells = []
            for rule in args.rules:
                stylizer = open_stylizer(name, None, device="cpu", paint_size=parse_paint_size(rule))
                scores = [painting_distance(network, stylizer(p), p, resize_longer_side(painting, size))
                          for p in (resize_longer_side(photo, size) for photo in photos)]
                style, content = (np.mean([s[k] for s in scores]) for k in ("style", "content"))
                cells.append(f"{style:.3f} / {content:.2f}")
            rows.append(f"| {name} | {size} | " + " | ".join(cells) + " |")
            print(rows[-1], file=sys.stderr)
    print(f"Picture size, {time.strftime('%Y-%m-%d')}, {len(photos)} photos, style distance / content change:\n")
    print("| style | longer side | " + " | ".join(args.rules) + " |")
    print("|---|---|" + "---|" * len(args.rules))
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
