"""Refine the live model's shipped styles against their own nets and make the default style's refined
vector the live model's default (stylize.export.style_refine):

    python scripts/refine_live_styles.py --photos ../shared/data/train

Rewrites models/live/styles.json (each style's "vector" refined, "encoded" the style-prediction net's
vector it starts from, "refined" how) and the default style inside models/live/any_painting.onnx and
models/int8/any_painting.onnx. The live net is the shipped one (models/live/any_painting.npz) and is not
changed. Needs the training extra and VGG16 (`stylize weights install vgg16`); a few minutes a style on
this 2-core CPU. scripts/build_live_model.py runs the same refinement for a model it builds.
"""
from __future__ import annotations

import argparse
import sys

from stylize import models
from stylize.export.live_start import load_shipped_live_net
from stylize.export.style_refine import RefineSettings, refine_shipped_styles
from stylize.realtime.bake import set_default_style
from stylize.realtime.errors import UserError
from stylize.realtime.painting_style import save_shipped_styles, shipped_style_vectors


def main(argv: list[str] | None = None) -> int:
    defaults = RefineSettings()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", required=True, help="folder of photos whose crops the styles are refined on")
    parser.add_argument("--steps", type=int, default=defaults.steps, help=f"steps per style (default {defaults.steps})")
    parser.add_argument("--noise-weight", type=float, default=defaults.noise_weight,
                        help="weight of holding the painting steady under camera noise "
                        f"(default {defaults.noise_weight}: the own nets' texture alone)")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.noise_weight < 0:
        raise UserError("--steps must be at least 1 and --noise-weight not negative")
    styles = shipped_style_vectors()
    if not styles:
        raise UserError(f"{models.LIVE_STYLES}: no shipped styles to refine")
    net, _ = load_shipped_live_net()
    refined = refine_shipped_styles(net, styles, args.photos, RefineSettings(steps=args.steps,
                                                                             noise_weight=args.noise_weight))
    save_shipped_styles(refined)
    for path in (models.LIVE_MODEL, models.LIVE_MODEL_INT8):
        set_default_style(path, refined[models.DEFAULT_STYLE]["vector"])
    for name, entry in refined.items():
        print(f"{name}: Gram error against its own net {entry['refined']['gram_error_before']:.4f} -> "
              f"{entry['refined']['gram_error_after']:.4f}")
    print(f"wrote {models.LIVE_STYLES}; {models.DEFAULT_STYLE}'s refined vector is the live models' default")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UserError as exc:
        sys.exit(f"refine_live_styles: {exc}")
