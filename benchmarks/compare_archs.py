"""Compare trained style nets (e.g. `fast` vs `johnson`) on held-out photos.

Prints each checkpoint's content and style loss (unweighted, as in training) under its own
training loss network, averaged over the photos, and writes a side-by-side image:
photo | net A | net B | ...

    python benchmarks/compare_archs.py runs/candy runs/candy_johnson \
        --photos ../shared/data/content --size 384 -o compare.png
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from stylize.export.losses import build_loss_network
from stylize.export.onnx_export import ContractWrapper
from stylize.export.train import (PerceptualLoss, bgr_to_tensor, load_checkpoint, net_from_checkpoint, resize_longer_side,
                          tensor_to_bgr)
from stylize.realtime import contract
from stylize.realtime.images import list_images, read_image, write_image


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="+", help="checkpoint files or run folders")
    parser.add_argument("--photos", required=True, help="folder of held-out photos")
    parser.add_argument("--size", type=int, default=384, help="longer side of each photo (default 384)")
    parser.add_argument("-o", "--output", required=True, help="side-by-side PNG")
    args = parser.parse_args(argv)

    photos = [resize_longer_side(read_image(p), args.size) for p in list_images(args.photos)]
    columns = [photos]
    print(f"{'checkpoint':<40} {'arch':<8} {'steps':>5} {'content':>8} {'style':>8} {'ms/photo':>9}")
    for path in args.checkpoints:
        state = load_checkpoint(path)
        net, settings = net_from_checkpoint(state)
        padded_net = ContractWrapper(net, contract.IO_FLOAT_RGB).eval()
        network = build_loss_network(settings.backbone)
        style = bgr_to_tensor([resize_longer_side(read_image(settings.style), settings.style_size)])
        loss = PerceptualLoss.for_style(network, style, settings)
        loss.content_weight = loss.style_weight = 1.0
        outputs, content, style_total, seconds = [], 0.0, 0.0, 0.0
        with torch.no_grad():
            for photo in photos:
                x = bgr_to_tensor([photo])
                t = time.perf_counter()
                y = padded_net(x, torch.tensor(1.0))  # pads to what the net needs and crops back
                seconds += time.perf_counter() - t
                terms = loss.terms(y, x)
                content += float(terms["content"]) / len(photos)
                style_total += float(terms["style"]) / len(photos)
                outputs.append(tensor_to_bgr(y)[0])
        columns.append(outputs)
        print(f"{str(path):<40} {settings.arch:<8} {state['step']:>5} {content:>8.3f} {style_total:>8.3f} "
              f"{1000 * seconds / len(photos):>9.0f}")

    rows = [np.hstack([col[i] for col in columns]) for i in range(len(photos))]
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
    write_image(args.output, np.vstack(rows))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
