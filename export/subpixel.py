"""The form of a transform net that the export writes: the same outputs, faster on onnxruntime. Each
3x3 upsample+conv stage becomes a conv at its input's resolution followed by a pixel shuffle."""
from __future__ import annotations

import copy

import torch
from torch import nn
import torch.nn.functional as F

from .nets import UpsampleConv


def phase_taps(mode: str) -> torch.Tensor:
    """taps[phase, input offset -1/0/+1, kernel tap]: how much of each input pixel each tap of a 3x3
    kernel reads, for the two output phases of a x2 upsampling (``mode`` nearest or bilinear)."""
    taps = torch.zeros(2, 3, 3)
    if mode == "nearest":
        taps[0, 0, 0] = taps[0, 1, 1] = taps[0, 1, 2] = 1.0
        taps[1, 1, 0] = taps[1, 1, 1] = taps[1, 2, 2] = 1.0
    else:  # bilinear x2: each upsampled pixel is 3/4 of its nearest input pixel and 1/4 of the next one
        taps[0, 0, 0] = taps[0, 1, 1] = taps[0, 1, 2] = taps[1, 1, 0] = taps[1, 1, 1] = taps[1, 2, 2] = 0.75
        taps[0, 1, 0] = taps[0, 0, 1] = taps[0, 2, 2] = taps[1, 0, 0] = taps[1, 2, 1] = taps[1, 1, 2] = 0.25
    return taps


def subpixel_weight(weight: torch.Tensor, mode: str) -> torch.Tensor:
    """The sub-pixel conv's weight [4 * out, in, 3, 3] (phases in pixel-shuffle order) for the 3x3
    kernel ``weight`` [out, in, 3, 3] of "x2 upsampling (``mode``), then conv"."""
    taps = phase_taps(mode)
    cout, cin = weight.shape[:2]
    return torch.einsum("ayk,bxl,oikl->oabiyx", taps, taps, weight).reshape(4 * cout, cin, 3, 3)


def upsample_conv_weight(weight: torch.Tensor, mode: str) -> torch.Tensor:
    """The inverse of :func:`subpixel_weight`: the 3x3 kernel [out, in, 3, 3] whose sub-pixel form is
    ``weight`` [4 * out, in, 3, 3], solved by least squares (exact for a weight that export wrote)."""
    taps = phase_taps(mode).double()
    fold = torch.einsum("ayk,bxl->abyxkl", taps, taps).reshape(36, 9)  # (phase a, phase b, y, x) x (k, l)
    cout, cin = weight.shape[0] // 4, weight.shape[1]
    phases = weight.double().reshape(cout, 2, 2, cin, 3, 3).permute(0, 3, 1, 2, 4, 5).reshape(-1, 36)
    solved = torch.linalg.lstsq(fold, phases.T).solution.T
    return solved.reshape(cout, cin, 3, 3).to(weight.dtype)


def upsample_conv_params(subpixel: dict[str, torch.Tensor], mode: str) -> dict[str, torch.Tensor]:
    """The parameters of an :class:`UpsampleConv` (``conv.conv.*``, ``conv.norm.*``) from those of its
    :class:`SubpixelUpsampleConv` (``conv.*``, ``norm.*``): the inverse of that conversion."""
    params = {"conv.conv.weight": upsample_conv_weight(subpixel["conv.weight"], mode),
              "conv.conv.bias": subpixel["conv.bias"][::4]}
    params.update({f"conv.{name}": value for name, value in subpixel.items() if name.startswith("norm.")})
    return params


class SubpixelUpsampleConv(nn.Module):
    """An :class:`UpsampleConv` with a 3x3 kernel computed at its input's resolution, with the same
    result: each of the four output phases of "nearest x2, then 3x3 conv" is a 3x3 conv of the
    input (taps that land on the same input pixel summed), so one conv to 4x the channels and a
    pixel shuffle replace the upsampling and a conv at 4x the pixels. Reflection padding of the
    upsampled map equals edge padding of the input; zeros stay zeros. For inference (export)."""

    def __init__(self, layer: UpsampleConv):
        super().__init__()
        conv, self.norm, self.relu = layer.conv.conv, layer.conv.norm, layer.conv.relu
        self.edge_pad = isinstance(layer.conv.pad, nn.ReflectionPad2d) or layer.mode == "bilinear"
        if conv.kernel_size != (3, 3) or conv.stride != (1, 1):
            raise ValueError("only a 3x3 stride-1 UpsampleConv has a sub-pixel form here")
        weight = subpixel_weight(conv.weight.detach(), layer.mode)
        cout, cin = conv.weight.shape[:2]
        self.conv = nn.Conv2d(cin, 4 * cout, 3, padding=0 if self.edge_pad else 1)
        with torch.no_grad():
            self.conv.weight.copy_(weight)
            self.conv.bias.copy_(conv.bias.detach().repeat_interleave(4))
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.edge_pad:
            x = F.pad(x, (1, 1, 1, 1), mode="replicate")
        x = self.shuffle(self.conv(x))
        if self.norm is not None:
            x = self.norm(x)
        return F.relu(x) if self.relu else x


def inference_form(net: nn.Module) -> nn.Module:
    """A copy of ``net`` with the same outputs that runs faster: every 3x3 :class:`UpsampleConv`
    becomes a :class:`SubpixelUpsampleConv` (on two CPU cores, 1.5 ms of a fast net's 30 per
    640x480 frame)."""
    net = copy.deepcopy(net)
    for module in list(net.modules()):
        for name, child in module.named_children():
            if isinstance(child, UpsampleConv) and child.conv.conv.kernel_size == (3, 3):
                setattr(module, name, SubpixelUpsampleConv(child))
    return net
