"""Seconds per training step of one process against torchrun data-parallel processes, side by side
in one run, on the same global batch (one process with batch B against N processes with B/N each).

    python benchmarks/ddp_steps.py --style ../shared/data/styles/candy.jpg --data ../shared/data/train \\
        [--processes 2] [--batch 4] [--image-size 256] [--steps 12] [--backbone vgg16]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def seconds_per_step(command: list[str], run: Path, steps: int, threads: int) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    history = json.loads((run / "summary.json").read_text())
    return history["seconds"] / steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--batch", type=int, default=4, help="global batch (per step, all processes together)")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--backbone", default="vgg16")
    args = parser.parse_args(argv)
    if args.batch % args.processes:
        parser.error("--batch must divide among the processes")
    cores = os.cpu_count() or 1
    common = ["--style", args.style, "--data", args.data, "--backbone", args.backbone, "--device", "cpu",
              "--image-size", str(args.image_size), "--steps", str(args.steps), "--checkpoint-every", "1000000",
              "--preview-every", "1000000"]
    with tempfile.TemporaryDirectory(prefix="stylize-ddp-") as tmp:
        one = Path(tmp) / "one"
        single = seconds_per_step([sys.executable, "-m", "stylize", "train", "-o", str(one), "--batch-size",
                                   str(args.batch), *common], one, args.steps, cores)
        many = Path(tmp) / "many"
        parallel = seconds_per_step(
            [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(args.processes),
             "-m", "stylize", "train", "-o", str(many), "--batch-size", str(args.batch // args.processes), *common],
            many, args.steps, max(1, cores // args.processes))
    print(f"{args.backbone}, batch {args.batch} at {args.image_size} px, {cores} cores, {args.steps} steps "
          f"(including start-up of the step loop)")
    print(f"  1 process ({cores} threads):              {single:6.2f} s/step")
    print(f"  {args.processes} processes x {args.batch // args.processes} (torchrun, gloo, "
          f"{max(1, cores // args.processes)} threads each): {parallel:6.2f} s/step  ({single / parallel:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
