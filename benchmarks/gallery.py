"""Draw models/gallery.png: one row per shipped model — the painting, then the model on a few photos.

    python benchmarks/gallery.py --styles ../shared/data/styles \
        --photos ../shared/data/content/tubingen.jpg ../shared/data/content/golden_gate.jpg -o models/gallery.png
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

import models
from realtime.frames import draw_text_lines
from realtime.images import read_image, write_image
from realtime.session import StyleSession


def tile(image: np.ndarray, height: int) -> np.ndarray:
    h, w = image.shape[:2]
    return cv2.resize(image, (round(w * height / h), height), interpolation=cv2.INTER_AREA)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--styles", required=True, help="folder with the style paintings (<style>.jpg)")
    parser.add_argument("--photos", required=True, nargs="+", help="content photos")
    parser.add_argument("--height", type=int, default=200, help="tile height in pixels (default 200)")
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args(argv)

    photos = [tile(read_image(p), args.height * 2) for p in args.photos]  # stylize at 2x, then shrink
    rows = []
    for name, path in models.shipped_models().items():
        session = StyleSession(path, "cpu")
        painting = Path(args.styles) / Path(session.info.settings.get("style", f"{session.info.style}.jpg")).name
        cells = [draw_text_lines(tile(read_image(painting), args.height), [name])]
        cells += [tile(session.run(photo), args.height) for photo in photos]
        rows.append(np.hstack(cells))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    write_image(args.output, np.vstack(rows))
    print(f"wrote {args.output} ({len(rows)} styles)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
