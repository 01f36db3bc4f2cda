"""Time Gatys iterations per loss network, size and optimizer, and extrapolate to a full run.

VGG timings use random weights (the speed does not depend on the weights), tapped at the layers
`stylize gatys` uses.

    python benchmarks/gatys_timing.py --content ../shared/data/content/tubingen.jpg \
        --style ../shared/data/styles/starry_night.jpg --sizes 256 512 --optimizers lbfgs adam \
        --iterations 5 --extrapolate 300
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from stylize.export.gatys import GATYS_TAPS, GatysSettings, stylize
from stylize.export.losses import BACKBONES, build_loss_network


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--content", required=True)
    parser.add_argument("--style", required=True)
    parser.add_argument("--sizes", type=int, nargs="+", default=[512])
    parser.add_argument("--optimizers", nargs="+", default=["lbfgs"], choices=("lbfgs", "adam"))
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--extrapolate", type=int, default=500)
    parser.add_argument("--backbones", nargs="+", default=list(BACKBONES))
    args = parser.parse_args(argv)
    print(f"{'backbone':<14} {'size':>5} {'optimizer':>9} {'s/iteration':>12} {'evals/it':>9} "
          f"{f'{args.extrapolate} iterations':>16}")
    for backbone in args.backbones:
        network = build_loss_network(backbone, pretrained=backbone == "effnet-lite0",
                                     taps=None if backbone == "effnet-lite0" else GATYS_TAPS)
        calls = [0]
        forward = network.forward

        def counted(x, _forward=forward):
            calls[0] += 1
            return _forward(x)

        network.forward = counted
        for size in args.sizes:
            for optimizer in args.optimizers:
                calls[0] = 0
                with tempfile.TemporaryDirectory() as tmp:
                    summary = stylize(args.content, [args.style], str(Path(tmp) / "out.png"),
                                      GatysSettings(backbone=backbone, size=size, iterations=args.iterations,
                                                    optimizer=optimizer),
                                      progress=False, network=network)
                per_it = summary["seconds"] / args.iterations
                evals = (calls[0] - 3) / args.iterations  # minus the content, style and calibration passes
                print(f"{backbone:<14} {size:>5} {optimizer:>9} {per_it:>12.2f} {evals:>9.1f} "
                      f"{per_it * args.extrapolate / 60:>13.1f} min", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
