"""Refine the live model's shipped styles against their own nets (stylize.export.style_refine and
net_refine):

    python scripts/refine_live_styles.py --photos ../shared/data/train \
        [--net-steps 700 --paintings ../shared/data/styles ../shared/data/paintings]

First every shipped style's vector is refined with the live net fixed (--steps a style; 0 keeps the
vectors of models/live/styles.json as they are). Then, with --net-steps, the live net itself is refined
for the default style (candy): it learns to paint that style with the texture of candy's own net, near
that net's paintings pixel by pixel, and to hold it still under camera noise, while every other style
vector it knows (the other shipped styles and its training paintings, found in --paintings and checked
against the SHA-256 in the model) is held to what it painted before; a refinement of a refined net
continues from it, and the record keeps the earlier runs'. A style the net was refined for keeps its
vector when --steps refines the others. That rewrites models/live/any_painting.onnx (verified, its metadata kept, the
refinement recorded as stylize.net_refined), any_painting.npz and the int8 copy (calibrated on --photos).
Without --net-steps the default style's vector is only set inside both live models. Needs the training
extra and VGG16 (`stylize weights install vgg16`); docs/any_painting.md has the times. The shipped model:
--net-steps 700 with no pixel term, then --net-steps 600 with the default pixel weight.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from stylize import models
from stylize.export.live_export import export_refined_live_model, training_painting_vectors
from stylize.export.live_start import load_shipped_live_net, save_live_weights
from stylize.export.net_refine import NetRefineSettings, refine_default_style_net
from stylize.realtime.graph.quantize import quantize_live_model
from stylize.export.style_refine import RefineSettings, refine_shipped_styles
from stylize.realtime.core import contract
from stylize.realtime.bake import set_default_style
from stylize.realtime.core.errors import UserError
from stylize.realtime.painting_style import StyleEncoder, save_shipped_styles, shipped_style_vectors
from stylize.realtime.core.session import StyleSession


def main(argv: list[str] | None = None) -> int:
    defaults, net_defaults = RefineSettings(), NetRefineSettings()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", required=True, help="folder of photos whose crops the styles are refined on")
    parser.add_argument("--steps", type=int, default=defaults.steps,
                        help=f"vector steps per style (default {defaults.steps}; 0: keep the vectors as they are)")
    parser.add_argument("--noise-weight", type=float, default=defaults.noise_weight,
                        help="weight of holding the painting steady under camera noise while the vectors are refined "
                        f"(default {defaults.noise_weight}: the own nets' texture alone)")
    parser.add_argument("--net-steps", type=int, default=0,
                        help=f"then refine the live net for {models.DEFAULT_STYLE} for this many steps (default 0: "
                        "the net is left alone; the shipped model: 700 without the pixel term, then 600 more)")
    parser.add_argument("--net-noise-weight", type=float, default=net_defaults.noise_weight,
                        help=f"weight of holding {models.DEFAULT_STYLE} still under camera noise while the net is "
                        f"refined (default {net_defaults.noise_weight})")
    parser.add_argument("--net-pixel-weight", type=float, default=net_defaults.pixel_weight,
                        help=f"weight of painting {models.DEFAULT_STYLE} near its own net's paintings pixel by pixel "
                        f"(L1, 0-1 scale) while the net is refined (default {net_defaults.pixel_weight})")
    parser.add_argument("--paintings", nargs="+", default=[],
                        help="folders holding the live model's training paintings (needed with --net-steps)")
    args = parser.parse_args(argv)
    if min(args.steps, args.net_steps) < 0 or min(args.noise_weight, args.net_noise_weight, args.net_pixel_weight) < 0:
        raise UserError("steps and weights must not be negative")
    if args.net_steps and not args.paintings:
        raise UserError("--net-steps needs --paintings: the folders of the live model's training paintings")
    styles = shipped_style_vectors()
    if not styles:
        raise UserError(f"{models.LIVE_STYLES}: no shipped styles to refine")
    net, width = load_shipped_live_net()
    if args.steps:
        styles = refine_shipped_styles(net, styles, args.photos, RefineSettings(steps=args.steps,
                                                                                noise_weight=args.noise_weight))
        for name, entry in styles.items():
            if "net_refined" in entry:
                print(f"{name}: kept (the live net was refined for it)")
                continue
            print(f"{name}: Gram error against its own net {entry['refined']['gram_error_before']:.4f} -> "
                  f"{entry['refined']['gram_error_after']:.4f}")
    default = models.DEFAULT_STYLE
    if args.net_steps:
        paintings = json.loads(StyleSession(models.LIVE_MODEL, "cpu").info.metadata[contract.META_PAINTINGS])
        held = training_painting_vectors(paintings, args.paintings, StyleEncoder())
        settings = NetRefineSettings(steps=args.net_steps, noise_weight=args.net_noise_weight,
                                     pixel_weight=args.net_pixel_weight)
        styles = refine_default_style_net(net, styles, default, args.photos, held, settings)
        record = styles[default]["net_refined"]
        errors = export_refined_live_model(net, styles[default]["vector"], {"style": default, **record})
        psnr = quantize_live_model(models.LIVE_MODEL, models.LIVE_MODEL_INT8, args.photos,
                                   [np.asarray(entry["vector"], np.float32) for entry in styles.values()])
        save_live_weights(net, width, models.LIVE_WEIGHTS)
        print(f"live net refined for {default}: Gram error against its own net {record['gram_error_before']:.4f} -> "
              f"{record['gram_error_after']:.4f}, its paintings' difference from that net's "
              f"{record['teacher_difference_before']:.4f} -> {record['teacher_difference_after']:.4f}, "
              f"the {record['held_styles']} held styles changed by "
              f"{record['held_change']:.4f} on average; exported and verified ({errors}), int8 copy {psnr:.1f} dB")
    else:
        for path in (models.LIVE_MODEL, models.LIVE_MODEL_INT8):
            set_default_style(path, styles[default]["vector"])
    save_shipped_styles(styles)
    print(f"wrote {models.LIVE_STYLES}; {default}'s refined vector is the live models' default")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UserError as exc:
        sys.exit(f"refine_live_styles: {exc}")
