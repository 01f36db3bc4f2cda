"""What a training run shows while it runs: preview grids of held-out photos and the loss curve."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from .data import tensor_to_bgr
from ..realtime.core.images import write_image


def draw_loss_curve(history: list[dict], path: Path) -> None:
    """A PNG line plot of the loss terms against the step (OpenCV only, no plotting library)."""
    w, h, margin = 800, 400, 40
    canvas = np.full((h, w, 3), 255, np.uint8)
    colors = {"total": (0, 0, 0), "content": (200, 80, 0), "style": (0, 0, 200), "tv": (0, 150, 0),
              "temporal": (160, 0, 160)}
    keys = [k for k in colors if any(r.get(k, 0) > 0 for r in history)]
    top = max(r[k] for r in history for k in keys)
    last = max(r["step"] for r in history)
    cv2.rectangle(canvas, (margin, margin), (w - margin, h - margin), (180, 180, 180))
    for i, key in enumerate(keys):
        pts = np.array([[margin + (w - 2 * margin) * r["step"] / last,
                         h - margin - (h - 2 * margin) * r.get(key, 0) / top] for r in history], np.int32)
        cv2.polylines(canvas, [pts], False, colors[key], 1, cv2.LINE_AA)
        cv2.putText(canvas, key, (w - margin - 90, margin + 18 * (i + 1)), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    colors[key], 1, cv2.LINE_AA)
    cv2.putText(canvas, f"step 0..{last}, loss 0..{top:.3g}", (margin, margin - 12), cv2.FONT_HERSHEY_SIMPLEX,
                0.5, (0, 0, 0), 1, cv2.LINE_AA)
    write_image(path, canvas)


def write_preview(net: torch.nn.Module, held_out: torch.Tensor, path: Path) -> None:
    """A grid: held-out photos on the top row, their stylisations below."""
    if len(held_out) == 0:
        return
    net.eval()
    with torch.no_grad():
        out = net(held_out)
    net.train()
    grid = np.vstack([np.hstack(tensor_to_bgr(held_out)), np.hstack(tensor_to_bgr(out))])
    path.parent.mkdir(parents=True, exist_ok=True)
    write_image(path, grid)
