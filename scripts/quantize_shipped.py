"""Write the int8 copies of the shipped styles (models/int8/<style>.onnx), calibrated on photos:

    python scripts/quantize_shipped.py --photos ../shared/data/train [STYLE ...]

Each copy's convolutions but the first and last are quantized (int8 weights per channel, uint8
activations) and it is kept only when it stays within the PSNR floor (35 dB) of its fp32 model on the
calibration photos. The live model's copy
is written by scripts/build_live_model.py.
"""
from __future__ import annotations

import argparse
import sys

from stylize import models
from stylize.realtime.graph.quantize import calibration_frames, quantize_model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", required=True, help="folder of photos to calibrate on")
    parser.add_argument("styles", nargs="*", help="only these shipped styles (default: all)")
    args = parser.parse_args(argv)
    shots, frames = calibration_frames(args.photos)
    photos = [{"frame": frame[None]} for frame in shots]
    frames = [{"frame": frame[None]} for frame in frames]
    models.INT8_DIR.mkdir(exist_ok=True)
    for name, path in models.shipped_models().items():
        if path == models.LIVE_MODEL or (args.styles and name not in args.styles):
            continue
        score = quantize_model(path, models.INT8_DIR / path.name, frames, photos, overwrite=True)
        print(f"{name}: int8 copy, at least {score:.1f} dB PSNR against fp32 on the photos")
    return 0


if __name__ == "__main__":
    sys.exit(main())
