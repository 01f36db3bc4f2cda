"""Regenerate models/README.md: every shipped model's training settings and time (from its
metadata), its quality against Gatys references (`stylize eval`), and each architecture's speed
(`stylize bench`), all measured in this one run.

    python benchmarks/models_report.py --content ../shared/data/content -o models/README.md

Takes about a minute per model on a 2-core CPU (the Gatys references dominate).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import models
from export.evaluate import evaluate
from export.gatys import GatysSettings
from realtime.bench import bench
from realtime.cli import describe_models
from realtime.session import StyleSession

INTRO = """# Shipped styles

`stylize models` lists them; `--model NAME` picks one (`{default}` is the default). `<style>.onnx` is
the CPU real-time `fast` net; `<style>.johnson.onnx`, where present, is the full Johnson et al. net,
picked automatically on CUDA (`--model <style>.johnson` asks for it anywhere). Every file carries its
training settings and time in its metadata. This page is written by
`{command}`.

All were trained on the 280 photos of `../shared/data/train` with the `effnet-lite0` loss network
(the one with offline ImageNet weights) by `scripts/train_shipped.sh`, on the project's 2-core CPU.
"""

QUALITY_NOTE = """Quality (`stylize eval`): each model's output and a Gatys et al. optimisation of the same
photo (L-BFGS, {iterations} iterations at {size} px, style weight 5), both scored by the loss network the
model was trained with, averaged over {photos} content photos. Style loss is relative to the
unstylized photo's (1 = no closer to the painting than the photo, 0 = the painting's statistics);
content loss is relative to the photo's features (0 = the photo itself). The factor is the model's
style loss over the Gatys result's: how much farther from the painting one feed-forward pass stays
than the optimisation.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--content", nargs="+", required=True, help="content photos or folders for the quality table")
    parser.add_argument("-o", "--output", required=True, help="Markdown file to write")
    parser.add_argument("--size", type=int, default=256, help="photo size for the quality table (default 256)")
    parser.add_argument("--iterations", type=int, default=100, help="Gatys iterations (default 100)")
    parser.add_argument("--frames", type=int, default=60, help="frames per speed measurement (default 60)")
    args = parser.parse_args(argv)

    rows = describe_models(None)
    gatys = GatysSettings(size=args.size, iterations=args.iterations, style_weight=5.0)
    quality = {}
    with tempfile.TemporaryDirectory(prefix="models-report-") as tmp:
        for row in rows:
            print(f"eval {row['name']} ...", file=sys.stderr)
            summary = evaluate(row["path"], None, args.content, str(Path(tmp) / row["name"]), gatys)
            per_photo = summary["photos"]
            quality[row["name"]] = {f"{who}_{term}": sum(r[who][term] for r in per_photo) / len(per_photo)
                                    for who in ("fast", "gatys") for term in ("style", "content")}
            quality[row["name"]].update(style_ratio=summary["mean_style_ratio"], photos=len(per_photo))
    speed = {}
    for row in rows:  # one model per architecture: the speed depends on the architecture only
        if row["architecture"] not in speed:
            print(f"bench {row['architecture']} ...", file=sys.stderr)
            speed[row["architecture"]] = bench(StyleSession(row["path"], "cpu"), (640, 480), args.frames)

    command = " ".join(["python benchmarks/models_report.py"] + (sys.argv[1:] if argv is None else argv))
    lines = [INTRO.format(default=models.DEFAULT_STYLE, command=command), "## Models", "",
             "| model | style | architecture | steps | lr | style weight | style size | temporal weight | "
             "training time | style loss: model / Gatys | content loss: model / Gatys | MB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        s = json.loads(row["metadata"].get("stylize.training_settings", "{}"))
        seconds = s.get("training_seconds")
        q = quality[row["name"]]
        lines.append(f"| `{row['name']}` | {row['style']} | {row['architecture']} | {row['trained_steps']} "
                     f"(batch {s.get('batch_size')}) | {s.get('lr')} | {s.get('style_weight')} | {s.get('style_size')} | "
                     f"{s.get('temporal_weight', 0)} | {f'{seconds / 60:.0f} min' if seconds else '-'} | "
                     f"{q['fast_style']:.2f} / {q['gatys_style']:.2f} ({q['style_ratio']:.1f}x) | "
                     f"{q['fast_content']:.2f} / {q['gatys_content']:.2f} | {row['size_mb']} |")
    photos = next(iter(quality.values()))["photos"]
    lines += ["", QUALITY_NOTE.format(iterations=args.iterations, size=args.size, photos=photos),
              "## Speed at 640x480 (`stylize bench`, this run, CPU)", "",
              "| architecture | inference ms/frame | inference fps | pipelined video fps |", "|---|---|---|---|"]
    for arch, result in speed.items():
        lines.append(f"| {arch} | {result['stage_ms']['inference']:.1f} | {result['inference_fps']} | "
                     f"{result['pipelined_fps']} |")
    lines.append("")
    Path(args.output).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
