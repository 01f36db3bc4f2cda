"""Gatys reference stylizations with `stylize gatys`'s defaults, and a picture grid of them.

Writes OUT_DIR/<photo>__<style>.png for every photo and painting (the files scripts/models_report.py reads
with --gatys) and, with --grid, one image: a row per photo, a column per painting.

    python benchmarks/gatys_references.py --content ../shared/data/content/tubingen.jpg ... \\
        --styles ../shared/data/styles/starry_night.jpg ... -o refs/ --grid docs/gatys_grid.jpg
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from stylize.export.gatys import GatysSettings, gatys_network, stylize
from stylize.export.data import resize_longer_side
from stylize.export.losses import resolve_backbone
from stylize.realtime.core.frames import draw_text_lines
from stylize.realtime.core.images import read_image, write_image


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--content", nargs="+", required=True, help="content photos")
    parser.add_argument("--styles", nargs="+", required=True, help="paintings")
    parser.add_argument("-o", "--output", required=True, help="folder for the references")
    parser.add_argument("--size", type=int, default=512, help="longer side in pixels (default 512, as stylize gatys)")
    parser.add_argument("--iterations", type=int, default=300, help="L-BFGS iterations (default 300, as stylize gatys)")
    parser.add_argument("--grid", help="also draw the references into this image")
    parser.add_argument("--tile", type=int, default=256, help="grid tile size (default 256)")
    args = parser.parse_args(argv)

    settings = GatysSettings(size=args.size, iterations=args.iterations)
    settings.backbone = resolve_backbone(settings.backbone)
    network = gatys_network(settings)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for photo in map(Path, args.content):
        cells = [draw_text_lines(resize_longer_side(read_image(photo), args.tile), [photo.stem])]
        for painting in map(Path, args.styles):
            target = out / f"{photo.stem}__{painting.stem}.png"
            if not target.exists():
                started = time.perf_counter()
                stylize(str(photo), [str(painting)], str(target), settings, progress=False, network=network)
                print(f"{target.name}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
            cells.append(draw_text_lines(resize_longer_side(read_image(target), args.tile), [painting.stem]))
        height = max(c.shape[0] for c in cells)
        rows.append(np.hstack([np.pad(c, ((0, height - c.shape[0]), (0, 0), (0, 0)), constant_values=255)
                               for c in cells]))
    if args.grid:
        width = max(r.shape[1] for r in rows)
        write_image(args.grid, np.vstack([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255)
                                          for r in rows]))
    print(f"{settings.backbone}, {args.iterations} iterations at {args.size} px: references in {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
