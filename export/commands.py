"""The torch verbs of the `stylize` command, called by realtime/cli.py once arguments are parsed.

Importing this module imports torch: the runtime reaches it only for these verbs.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch  # noqa: F401  (fails early, with the install hint, where the train extra is missing)

from stylize.export.distributed import is_main_process
from stylize.export.onnx_export import export_checkpoint
from stylize.export.settings import TrainSettings, option_fields
from stylize.export.train import train
from stylize.realtime import contract
from stylize.realtime.errors import UserError
from stylize.realtime.outputs import prepare_output_file


def run_training_verb(args: argparse.Namespace) -> int:
    """Run a torch verb (train, gatys, eval, export, import) from parsed `stylize` arguments."""
    if args.verb == "import":
        from stylize.export.interop import import_pytorch_example, wrap_float_model

        if Path(args.checkpoint).suffix.lower() == ".onnx":
            if not Path(args.checkpoint).is_file():
                raise UserError(f"{args.checkpoint}: no such model file")
            wrap_float_model(args.checkpoint, args.output, args.range, args.style_name, args.overwrite)
            print(f"wrapped {args.checkpoint} -> {args.output}", file=sys.stderr)
            return 0
        results = import_pytorch_example(args.checkpoint, args.output, args.style_name, overwrite=args.overwrite)
        print(f"imported {args.checkpoint} -> {args.output}; verified, max |onnxruntime - PyTorch| "
              f"{max(results.values()):.3g}", file=sys.stderr)
        return 0
    if args.verb == "weights":
        from stylize.export import weights

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
        path, checks = weights.install(args.network, args.source, log=lambda m: print(m, file=sys.stderr))
        print(f"installed {args.network} ImageNet weights at {path}; checks: "
              + ", ".join(f"{k} {v}" for k, v in checks.items()), file=sys.stderr)
        return 0
    if args.verb == "gatys":
        from stylize.export.gatys import GatysSettings, stylize

        if args.iterations < 1 or args.levels < 1:
            raise UserError("--iterations and --levels must be at least 1")
        settings = GatysSettings(
            backbone=args.backbone, content_weight=args.content_weight, style_weight=args.style_weight,
            tv_weight=args.tv_weight, style_layer_weights=args.style_layer_weights, style_blend=args.style_blend,
            init=args.init, optimizer=args.optimizer, lr=args.lr, iterations=args.iterations, size=args.size,
            style_scale=args.style_scale, original_colors=args.original_colors, levels=args.levels,
            average_pooling=args.average_pooling, normalize=not args.no_normalize, seed=args.seed,
            save_every=args.save_every)
        summary = stylize(args.content, args.style, args.output, settings, args.backbone_weights, args.overwrite)
        last = summary["history"][-1]
        print(f"wrote {args.output} and {args.output}.json (final content {last['content']:.4g}, "
              f"style {last['style']:.4g})", file=sys.stderr)
        return 0
    if args.verb == "eval":
        from stylize.export.evaluate import evaluate
        from stylize.export.gatys import GatysSettings

        model = args.model
        if not Path(model).exists():
            from stylize import models
            located = models.locate(model)
            if located is None:
                raise UserError(f"--model {model}: no such file and no shipped model of that name")
            model = str(located)
        summary = evaluate(model, args.style, args.content, args.output,
                           GatysSettings(backbone=args.backbone, size=args.size, iterations=args.iterations,
                                         style_weight=args.style_weight),
                           args.backbone_weights, args.overwrite)
        for row in summary["photos"]:
            print(f"{Path(row['photo']).name:<24} style x{row['style_ratio']:.2f} content x{row['content_ratio']:.2f} "
                  f"of Gatys; {1000 * row['fast']['seconds']:.0f} ms vs {row['gatys']['seconds']:.0f} s")
        print(f"mean: style x{summary['mean_style_ratio']:.2f}, content x{summary['mean_content_ratio']:.2f} "
              f"of the Gatys reference; report in {args.output}")
        return 0
    if args.verb == "train":
        settings = TrainSettings(style=args.style, data=args.data,
                                 **{f.name: getattr(args, f.name) for f in option_fields()})
        if args.export:
            prepare_output_file(args.export, [args.style, Path(args.output) / "checkpoint.pt"], overwrite=False,
                                suffixes=(".onnx",))
        checkpoint = train(settings, args.output, resume=args.resume, backbone_weights=args.backbone_weights,
                           device=args.device)
        if not is_main_process():  # under torchrun, rank 0 reports and exports
            return 0
        print(f"checkpoint: {checkpoint}", file=sys.stderr)
        if args.export:
            errors = export_checkpoint(checkpoint, args.export)
            print(f"exported {args.export} (max |onnxruntime - torch| per size: {errors})", file=sys.stderr)
        return 0
    io_layout = contract.IO_UINT8_BGR if args.io == "uint8-bgr" else contract.IO_FLOAT_RGB
    results = export_checkpoint(args.checkpoint, args.output, io_layout, args.opset, args.style_name, args.overwrite,
                                args.fp16)
    measure = "PSNR in dB against fp32" if args.fp16 else "max |onnxruntime - PyTorch|"
    checks = ", ".join(f"{k}: {v:.3g}" for k, v in results.items())
    print(f"exported {args.output}; verified ({measure}) {checks}", file=sys.stderr)
    return 0
