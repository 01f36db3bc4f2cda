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
from pathlib import Path

import cv2

from stylize import models
from stylize.export.quantize import quantize_model
from stylize.realtime.bench import synthetic_frames
from stylize.realtime.images import list_images, read_image

CALIBRATION_PHOTOS = 16
CALIBRATION_SIZE = (320, 240)
SYNTHETIC_FRAMES = 4


def photo_frames(photos: Path) -> list:
    return [cv2.resize(read_image(p), CALIBRATION_SIZE, interpolation=cv2.INTER_AREA)
            for p in list_images(photos)[:CALIBRATION_PHOTOS]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", required=True, help="folder of photos to calibrate on")
    parser.add_argument("styles", nargs="*", help="only these shipped styles (default: all)")
    args = parser.parse_args(argv)
    photos = [{"frame": frame[None]} for frame in photo_frames(Path(args.photos))]
    # a few saturated synthetic frames too, so that bright, colourful scenes stay in range
    frames = photos + [{"frame": frame[None]} for frame in synthetic_frames(CALIBRATION_SIZE, SYNTHETIC_FRAMES)]
    models.INT8_DIR.mkdir(exist_ok=True)
    for name, path in models.shipped_models().items():
        if path == models.LIVE_MODEL or (args.styles and name not in args.styles):
            continue
        score = quantize_model(path, models.INT8_DIR / path.name, frames, photos, overwrite=True)
        print(f"{name}: int8 copy, at least {score:.1f} dB PSNR against fp32 on the photos")
    return 0


if __name__ == "__main__":
    sys.exit(main())
