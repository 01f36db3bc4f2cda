"""Cutting a trained live net down to a cheaper one: fewer channels and residual blocks, keeping the
ones that carry most. The narrow net starts where the wide one is and is then distilled from it
(:func:`~export.distill.distill` with ``teacher_net``)."""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from .conditional_net import ConditionalFastNet
from .nets import ConvLayer


def least_needed_blocks(net: ConditionalFastNet, photos: torch.Tensor, styles: torch.Tensor, drop: int) -> list[int]:
    """The indices of the residual blocks to keep when ``drop`` of them go: those whose removal, one at
    a time, changes the painting of ``photos`` with ``styles`` least are dropped."""
    blocks = net.body.body
    with torch.no_grad():
        reference = net(photos, styles)
        change = []
        for i in range(len(blocks)):
            kept = blocks[i]
            blocks[i] = nn.Identity()
            try:
                change.append(float(F.l1_loss(net(photos, styles), reference)))
            finally:
                blocks[i] = kept
    dropped = set(sorted(range(len(blocks)), key=change.__getitem__)[:drop])
    return [i for i in range(len(blocks)) if i not in dropped]


def _consumer_norm(*weights: torch.Tensor) -> torch.Tensor:
    """Per input channel, the norm of every conv weight that reads it."""
    return torch.stack([w.detach().pow(2).sum((0, 2, 3)) for w in weights]).sum(0).sqrt()


def _most_important(importance: torch.Tensor, tie_break: torch.Tensor, count: int) -> torch.Tensor:
    """The sorted indices of the ``count`` largest ``importance`` values; ties (channels silent on the
    sample photos) go to the larger ``tie_break``."""
    order = torch.argsort(tie_break, descending=True, stable=True)
    order = order[torch.argsort(importance[order], descending=True, stable=True)]
    return order[:count].sort().values


def _copy_layer(source: ConvLayer, target: ConvLayer, inputs: torch.Tensor, outputs: torch.Tensor) -> None:
    target.conv.weight.copy_(source.conv.weight[outputs][:, inputs])
    target.conv.bias.copy_(source.conv.bias[outputs])
    if source.norm is not None:
        for name in ("to_scale", "to_shift"):
            getattr(target.norm, name).weight.copy_(getattr(source.norm, name).weight[outputs])
            getattr(target.norm, name).bias.copy_(getattr(source.norm, name).bias[outputs])


def narrowed_live_net(wide: ConditionalFastNet, width: float, keep_blocks: list[int], photos: torch.Tensor,
                      styles: torch.Tensor) -> ConditionalFastNet:
    """A live net of ``width`` with the residual blocks ``keep_blocks`` of ``wide``: every layer keeps the
    channels with the largest RMS on ``photos`` painted with ``styles`` times the norm of the weights
    that read them (a channel nothing reads is dropped first)."""
    w = wide.body
    narrow = ConditionalFastNet(width=width, residual_blocks=len(keep_blocks), style_dims=wide.style_dims)
    n = narrow.body
    rms: dict[str, torch.Tensor] = {}

    def record(group: str):
        def hook(module, inputs, output):
            rms[group] = rms.get(group, 0) + output.detach().pow(2).mean((0, 2, 3))
        return hook

    watched = [(w.encoder[0], "e0"), (w.encoder[1], "e1"), (w.encoder[2], "stream"), (w.decoder[0], "d0"),
               (w.decoder[1], "d1")]
    watched += [(block, "stream") for block in w.body] + [(block.conv1, f"b{i}") for i, block in enumerate(w.body)]
    handles = [module.register_forward_hook(record(group)) for module, group in watched]
    try:
        with torch.no_grad():
            wide(photos, styles)
    finally:
        for handle in handles:
            handle.remove()
    readers = {"e0": _consumer_norm(w.encoder[1].conv.weight), "e1": _consumer_norm(w.encoder[2].conv.weight),
               "stream": _consumer_norm(w.decoder[0].conv.conv.weight, *(b.conv1.conv.weight for b in w.body)),
               "d0": _consumer_norm(w.decoder[1].conv.conv.weight), "d1": _consumer_norm(w.decoder[2].conv.weight)}
    readers.update({f"b{i}": _consumer_norm(b.conv2.conv.weight) for i, b in enumerate(w.body)})
    sizes = {"e0": n.encoder[0].conv.out_channels, "e1": n.encoder[1].conv.out_channels,
             "stream": n.encoder[2].conv.out_channels, "d0": n.decoder[0].conv.conv.out_channels,
             "d1": n.decoder[1].conv.conv.out_channels}
    sizes.update({f"b{i}": sizes["stream"] for i in range(len(w.body))})
    kept = {group: _most_important(rms[group].sqrt() * readers[group], readers[group], sizes[group])
            for group in readers}
    rgb, subpixels = torch.arange(3), torch.arange(w.decoder[2].conv.out_channels)
    with torch.no_grad():
        _copy_layer(w.encoder[0], n.encoder[0], rgb, kept["e0"])
        _copy_layer(w.encoder[1], n.encoder[1], kept["e0"], kept["e1"])
        _copy_layer(w.encoder[2], n.encoder[2], kept["e1"], kept["stream"])
        for target, index in zip(n.body, keep_blocks):
            _copy_layer(w.body[index].conv1, target.conv1, kept["stream"], kept[f"b{index}"])
            _copy_layer(w.body[index].conv2, target.conv2, kept[f"b{index}"], kept["stream"])
        _copy_layer(w.decoder[0].conv, n.decoder[0].conv, kept["stream"], kept["d0"])
        _copy_layer(w.decoder[1].conv, n.decoder[1].conv, kept["d0"], kept["d1"])
        _copy_layer(w.decoder[2], n.decoder[2], kept["d1"], subpixels)
    return narrow.eval()
