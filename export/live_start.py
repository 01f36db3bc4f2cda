"""Where training a new style starts: the live any-painting net, fixed to that painting's style."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from .conditional_net import ConditionalFastNet, fixed_style_net
from .nets import FastNet, residual_blocks_in
from .. import models
from ..realtime.painting_style import StyleEncoder

log = logging.getLogger(__name__)

WIDTH_KEY = "__width__"
ANTIALIAS_KEY = "__antialias__"  # absent in weights saved before the anti-aliased net: not anti-aliased
SMOOTH_BODY_KEY = "__smooth_body__"  # absent in weights saved before it: no low-pass after the body


def save_live_weights(net: ConditionalFastNet, width: float, path: str | Path) -> None:
    """The live net's weights as plain arrays (``.npz``: data only, nothing to unpickle)."""
    arrays = {k: v.detach().cpu().numpy() for k, v in net.state_dict().items()}
    np.savez(path, **arrays, **{WIDTH_KEY: np.array(width, np.float32), ANTIALIAS_KEY: np.array(net.antialias),
                                SMOOTH_BODY_KEY: np.array(net.smooth_body)})


def load_shipped_live_net(path: str | Path = models.LIVE_WEIGHTS) -> tuple[ConditionalFastNet, float]:
    """The live net saved by :func:`save_live_weights` (the shipped one by default) and its width."""
    with np.load(path, allow_pickle=False) as data:
        width = float(data[WIDTH_KEY])
        layout = {key: bool(data[key]) if key in data.files else False for key in (ANTIALIAS_KEY, SMOOTH_BODY_KEY)}
        state = {k: torch.from_numpy(data[k]) for k in data.files if k not in (WIDTH_KEY, *layout)}
    net = ConditionalFastNet(width=width, residual_blocks=residual_blocks_in(state, "body.body."),
                             antialias=layout[ANTIALIAS_KEY], smooth_body=layout[SMOOTH_BODY_KEY])
    net.load_state_dict(state)
    return net.eval(), width


def _conv_shapes(net: torch.nn.Module) -> dict[str, torch.Size]:
    return {k: v.shape for k, v in net.state_dict().items() if k.endswith("conv.weight")}


def live_start(style_image: str | Path, net: FastNet) -> FastNet | None:
    """A fast net shaped as ``net`` that paints ``style_image`` as the live model does, or None where it
    cannot help (no live weights shipped, or another width or block count)."""
    if not models.LIVE_WEIGHTS.is_file():
        return None
    live, live_width = load_shipped_live_net()
    if _conv_shapes(live.body) != _conv_shapes(net):
        log.info(f"note: starting from random weights (the live model's net has width {live_width} and "
                 f"{len(live.body.body)} residual blocks; this run's net has another shape)")
        return None
    vector = torch.from_numpy(StyleEncoder().encode(style_image))
    log.info("starting from the live any-painting model painting this style")
    return fixed_style_net(live, vector)
