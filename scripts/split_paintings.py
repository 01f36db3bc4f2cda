"""Write the live model's painting split (train / validation / test, by painting) to models/live/split.json:

    python scripts/split_paintings.py --root ../shared/data

Test paintings come only from the --fresh folders (never trained or measured on before), one in --every of
each sub-folder; the old held-out paintings chose earlier models and go to validation. The reserved
evaluation paintings are refused before anything is written. Run it once; a changed split makes earlier
test figures incomparable.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stylize import models
from stylize.export.painting_split import SPLITS, check_not_reserved, make_split
from stylize.export.settings import HELD_OUT_PAINTINGS
from stylize.realtime.core.errors import UserError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", required=True, help="the pool's root folder (../shared/data)")
    parser.add_argument("--fresh", nargs="+", default=["paintings_more"], help="folders new to the project")
    parser.add_argument("--known", nargs="+", default=["styles", "paintings"], help="folders used before")
    parser.add_argument("--every", type=int, default=12, help="one test and one validation painting in EVERY")
    parser.add_argument("-o", "--output", default=str(models.LIVE_DIR / "split.json"))
    parser.add_argument("--overwrite", action="store_true", help="replace an existing split")
    args = parser.parse_args(argv)
    output = Path(args.output)
    if output.exists() and not args.overwrite:
        raise UserError(f"{output} exists: a new split makes the test figures incomparable (--overwrite to do it)")
    root = Path(args.root)
    folders = [root / f for f in args.fresh + args.known]
    missing = [str(f) for f in folders if not f.is_dir()]
    if missing:
        raise UserError(f"no such folder: {', '.join(missing)}")
    check_not_reserved(folders)
    split = make_split(root, args.fresh, args.known, HELD_OUT_PAINTINGS, args.every)
    split.save(output)
    print(f"wrote {output}: " + ", ".join(f"{len(getattr(split, s))} {s}" for s in SPLITS))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UserError as exc:
        sys.exit(f"split_paintings: {exc}")
