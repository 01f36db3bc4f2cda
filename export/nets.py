"""Feed-forward transform nets. Every net maps float RGB NCHW in [0, 1] to float RGB NCHW in [0, 1].

Each architecture declares ``size_multiple`` and ``min_size``: H and W of the input must be
divisible by the first and at least the second (the ONNX wrapper pads to them and crops back).
"""
from __future__ import annotations

from functools import partial
from typing import Callable

import torch
from torch import nn
import torch.nn.functional as F


def scaled(channels: int, width: float) -> int:
    """Channel count scaled by a width multiplier, at least 4."""
    return max(4, int(round(channels * width)))


PADDINGS = ("reflect", "zeros")
UPSAMPLING = ("nearest", "bilinear")


class BinomialBlur(nn.Module):
    """Each channel low-passed by the fixed 3x3 binomial filter ([1, 2, 1] / 4 both ways; edges
    reflected): zero response at the Nyquist frequency, so a stride-2 layer after it cannot alias
    the finest detail into a pattern locked to the pixel grid (Zhang 2019). Reflected, not replicated,
    edges keep that zero in the first and last row and column too: with replicated ones a pattern
    alternating across rows passed there at half strength, and fast-smooth trained so streaked the
    top rows more. No parameters."""

    def __init__(self, channels: int):
        super().__init__()
        taps = torch.tensor([1.0, 2.0, 1.0]) / 4
        self.register_buffer("kernel", (taps[:, None] * taps[None, :]).expand(channels, 1, 3, 3).clone(),
                             persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), self.kernel, groups=self.kernel.shape[0])


class ConvLayer(nn.Module):
    """Padded convolution (reflection, or zeros inside the conv), optionally followed by instance
    norm and ReLU; with ``antialias`` a strided one low-passes its input first (:class:`BinomialBlur`)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, norm: bool = True, relu: bool = True,
                 padding: str = "reflect", antialias: bool = False):
        super().__init__()
        if padding not in PADDINGS:
            raise ValueError(f"unknown padding {padding!r}; choose one of {', '.join(PADDINGS)}")
        self.blur = BinomialBlur(cin) if antialias and stride > 1 else nn.Identity()
        zeros = padding == "zeros"
        self.pad = nn.Identity() if zeros else nn.ReflectionPad2d(kernel // 2)
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2 if zeros else 0)
        self.norm = nn.InstanceNorm2d(cout, affine=True) if norm else None
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(self.pad(self.blur(x)))
        if self.norm is not None:
            x = self.norm(x)
        return F.relu(x) if self.relu else x


class ResidualBlock(nn.Module):
    """Two 3x3 conv layers with instance norm and an identity shortcut (Johnson et al. 2016)."""

    def __init__(self, channels: int, padding: str = "reflect"):
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, 3, padding=padding)
        self.conv2 = ConvLayer(channels, channels, 3, relu=False, padding=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.conv1(x))


class UpsampleConv(nn.Module):
    """x2 upsampling followed by a conv layer (no checkerboard artefacts): nearest-neighbour, or
    bilinear, whose output has no 2x2 blocks for a later layer to turn into a pattern locked to the
    pixel grid. Bilinear upsamples the edge-replicated input and crops one ring beyond the frame,
    which the (unpadded) conv reads as its padding, so that the export's sub-pixel form is exact."""

    def __init__(self, cin: int, cout: int, kernel: int, padding: str = "reflect", mode: str = "nearest"):
        super().__init__()
        if mode not in UPSAMPLING:
            raise ValueError(f"unknown upsampling {mode!r}; choose one of {', '.join(UPSAMPLING)}")
        self.mode = mode
        self.conv = ConvLayer(cin, cout, kernel, padding=padding)
        if mode == "bilinear":
            if kernel != 3:
                raise ValueError("bilinear upsampling is built for a 3x3 conv")
            self.conv.pad, self.conv.conv.padding = nn.Identity(), (0, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "nearest":
            return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        up = F.interpolate(F.pad(x, (1, 1, 1, 1), mode="replicate"), scale_factor=2.0, mode="bilinear",
                           align_corners=False)
        return self.conv(up[:, :, 1:-1, 1:-1])


class JohnsonNet(nn.Module):
    """The transform net of Johnson et al. 2016: 9x9/32, 3x3 s2 64, 3x3 s2 128, five residual
    blocks, two upsample+conv stages and a final 9x9 conv to RGB."""

    size_multiple = 4
    min_size = 8

    def __init__(self, width: float = 1.0, residual_blocks: int = 5):
        super().__init__()
        c1, c2, c3 = scaled(32, width), scaled(64, width), scaled(128, width)
        self.encoder = nn.Sequential(ConvLayer(3, c1, 9), ConvLayer(c1, c2, 3, 2), ConvLayer(c2, c3, 3, 2))
        self.body = nn.Sequential(*[ResidualBlock(c3) for _ in range(residual_blocks)])
        self.decoder = nn.Sequential(
            UpsampleConv(c3, c2, 3), UpsampleConv(c2, c1, 3), ConvLayer(c1, 3, 9, norm=False, relu=False)
        )

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(self.body(self.encoder(rgb))))


class FastNet(nn.Module):
    """CPU real-time net: the Johnson layout at half the width, moved down one octave.

    A 5x5 stride-2 stem and two stride-2 convs take the frame to 1/8 size (16/32/64 channels at
    width 1), residual blocks run there, and two upsample+conv stages bring it back to 1/2 size,
    where a conv to 12 channels and a pixel shuffle give the full-resolution RGB output. It repaints
    the whole frame, as the Johnson net does, at 2.5 GMAC per 640x480 frame with five blocks at
    width 1 (Johnson's is 47); the shipped shape is width 0.75 with four blocks (1.1 GMAC). The shuffle conv starts with equal sub-pixel weights (ICNR) and a fixed 2x2 box filter
    follows the shuffle, so no checkerboard can form (an early run without it grew a 2-pixel grid).
    Convolutions pad with zeros inside the conv: onnxruntime then runs no separate Pad and fewer
    layout reorders, 5 ms of the 35 a 640x480 frame took with reflection padding on two cores
    (``padding="reflect"`` builds that earlier variant, "fast-v2").

    ``antialias`` ("fast-aa") low-passes the input of every stride-2 conv (:class:`BinomialBlur`) and
    upsamples bilinearly: the same parameters, at about the same cost (the bilinear upsampling folds
    into the export's sub-pixel convs as nearest does), and a texture less locked to the pixel grid:
    trained so, starry_night's fine diagonal hatching became brush strokes. ``smooth_body``
    ("fast-smooth", with ``antialias``) low-passes the body's output as well: on flat areas (an HD sky)
    the body otherwise settles into its own finest pattern, a checkerboard at 1/8 size that the
    decoder paints as a lattice of dots about 11 px apart along the diagonals.
    """

    size_multiple = 8
    min_size = 16

    def __init__(self, width: float = 1.0, residual_blocks: int = 5, padding: str = "zeros", antialias: bool = False,
                 smooth_body: bool = False):
        super().__init__()
        c1, c2, c3 = scaled(16, width), scaled(32, width), scaled(64, width)
        down = partial(ConvLayer, stride=2, padding=padding, antialias=antialias)
        self.encoder = nn.Sequential(down(3, c1, 5), down(c1, c2, 3), down(c2, c3, 3))
        self.body = nn.Sequential(*[ResidualBlock(c3, padding) for _ in range(residual_blocks)])
        self.body_blur = BinomialBlur(c3) if smooth_body else nn.Identity()
        if smooth_body:  # a body of 2x2 cells comes out of its (reflected) low-pass flat: 4x4 at least
            self.min_size = 4 * self.size_multiple
        to_subpixels = ConvLayer(c1, 3 * 4, 3, norm=False, relu=False, padding=padding)
        with torch.no_grad():  # ICNR: the four sub-pixels of each colour start identical
            weight = to_subpixels.conv.weight
            weight.copy_(weight[::4].repeat_interleave(4, dim=0))
            to_subpixels.conv.bias.copy_(to_subpixels.conv.bias[::4].repeat_interleave(4))
        up = partial(UpsampleConv, kernel=3, padding=padding, mode="bilinear" if antialias else "nearest")
        self.decoder = nn.Sequential(up(c3, c2), up(c2, c1), to_subpixels, nn.PixelShuffle(2))

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        logits = self.decoder(self.body_blur(self.body(self.encoder(rgb))))
        # a fixed 2x2 box filter: zero response at the Nyquist frequency, so no sub-pixel grid survives
        logits = F.avg_pool2d(F.pad(logits, (0, 1, 0, 1), mode="replicate"), 2, stride=1)
        return torch.sigmoid(logits)


class FastNetV1(nn.Module):
    """The first CPU real-time net (kept to export checkpoints made with it): the Johnson layout with
    a thin body at 1/8 resolution.

    Three stride-2 convs take the frame to 1/8 size, where three residual blocks run; two
    upsample+conv stages bring it to 1/2 size, and a conv to 12 channels with a pixel shuffle
    produces the full-resolution RGB output. No layer runs at full resolution, so the cost per
    640x480 frame stays under 1 GMAC. The decoder predicts a change to the input's logits, so the
    net starts near the identity and the photo's fine detail survives the low-resolution body; a
    learned colour matrix on that skip (1x1 conv, starting as the identity) lets it move the
    whole photo towards the painting's palette.
    """

    size_multiple = 8
    min_size = 16

    def __init__(self, width: float = 1.0, residual_blocks: int = 3):
        super().__init__()
        c1, c2, c3 = scaled(8, width), scaled(16, width), scaled(32, width)
        self.encoder = nn.Sequential(ConvLayer(3, c1, 3, 2), ConvLayer(c1, c2, 3, 2), ConvLayer(c2, c3, 3, 2))
        self.body = nn.Sequential(*[ResidualBlock(c3) for _ in range(residual_blocks)])
        self.decoder = nn.Sequential(
            UpsampleConv(c3, c2, 3), UpsampleConv(c2, c1, 3),
            ConvLayer(c1, 3 * 4, 3, norm=False, relu=False), nn.PixelShuffle(2),
        )
        self.colour = nn.Conv2d(3, 3, 1)
        with torch.no_grad():
            self.colour.weight.copy_(torch.eye(3).view(3, 3, 1, 1))
            self.colour.bias.zero_()

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        clamped = rgb.clamp(0.02, 0.98)  # logit(rgb, eps=0.02), written so it exports to Clip, not Where
        logits = self.colour(torch.log(clamped / (1 - clamped)))
        return torch.sigmoid(logits + self.decoder(self.body(self.encoder(rgb))))


ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {
    "johnson": JohnsonNet, "fast": FastNet, "fast-aa": partial(FastNet, antialias=True),
    "fast-smooth": partial(FastNet, antialias=True, smooth_body=True),
    "fast-v2": partial(FastNet, padding="reflect"), "fast-v1": FastNetV1,
}
# each architecture's width and residual blocks when a run leaves them at 0: the fast net's are the live
# model's shape (12/24/48 channels, 4 blocks; docs/training.md has the timings behind it)
DEFAULT_SHAPES: dict[str, tuple[float, int]] = {
    "johnson": (1.0, 5), "fast": (0.75, 4), "fast-aa": (0.75, 4), "fast-smooth": (0.75, 4), "fast-v2": (1.0, 5),
    "fast-v1": (1.0, 3),
}


def resolved_shape(arch: str, width: float = 0.0, residual_blocks: int = 0) -> tuple[float, int]:
    """Width and residual blocks of an architecture, 0 standing for its default."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")
    default_width, default_blocks = DEFAULT_SHAPES[arch]
    return width or default_width, residual_blocks or default_blocks


def residual_blocks_in(state: dict, prefix: str = "body.") -> int:
    """How many residual blocks a state dict holds under ``prefix`` (its keys ``<prefix><i>.``)."""
    return len({k[len(prefix):].split(".")[0] for k in state if k.startswith(prefix)})


def build_net(arch: str, width: float = 0.0, residual_blocks: int = 0) -> nn.Module:
    """Create a transform net by architecture name, width multiplier and residual blocks (0: the
    architecture's default, :data:`DEFAULT_SHAPES`)."""
    width, residual_blocks = resolved_shape(arch, width, residual_blocks)
    return ARCHITECTURES[arch](width=width, residual_blocks=residual_blocks)


class _ExampleConv(nn.Module):
    """pytorch/examples' ConvLayer (key names ``conv2d.*``), with optional nearest upsampling first."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, upsample: int | None = None):
        super().__init__()
        self.upsample = upsample
        self.reflection_pad = nn.ReflectionPad2d(kernel // 2)
        self.conv2d = nn.Conv2d(cin, cout, kernel, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=float(self.upsample), mode="nearest")
        return self.conv2d(self.reflection_pad(x))


class _ExampleResidual(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = _ExampleConv(channels, channels, 3)
        self.in1 = nn.InstanceNorm2d(channels, affine=True)
        self.conv2 = _ExampleConv(channels, channels, 3)
        self.in2 = nn.InstanceNorm2d(channels, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.in2(self.conv2(F.relu(self.in1(self.conv1(x)))))


class PyTorchExampleNet(nn.Module):
    """The TransformerNet of the PyTorch fast-neural-style example, with its state-dict key names,
    adapted to this project's convention (RGB in [0, 1] in and out; the original works in 0-255)."""

    size_multiple = 4
    min_size = 8

    def __init__(self):
        super().__init__()
        self.conv1, self.in1 = _ExampleConv(3, 32, 9), nn.InstanceNorm2d(32, affine=True)
        self.conv2, self.in2 = _ExampleConv(32, 64, 3, 2), nn.InstanceNorm2d(64, affine=True)
        self.conv3, self.in3 = _ExampleConv(64, 128, 3, 2), nn.InstanceNorm2d(128, affine=True)
        self.res1, self.res2, self.res3, self.res4, self.res5 = (_ExampleResidual(128) for _ in range(5))
        self.deconv1, self.in4 = _ExampleConv(128, 64, 3, upsample=2), nn.InstanceNorm2d(64, affine=True)
        self.deconv2, self.in5 = _ExampleConv(64, 32, 3, upsample=2), nn.InstanceNorm2d(32, affine=True)
        self.deconv3 = _ExampleConv(32, 3, 9)

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.in1(self.conv1(rgb * 255.0)))
        y = F.relu(self.in2(self.conv2(y)))
        y = F.relu(self.in3(self.conv3(y)))
        y = self.res5(self.res4(self.res3(self.res2(self.res1(y)))))
        y = F.relu(self.in4(self.deconv1(y)))
        y = F.relu(self.in5(self.deconv2(y)))
        return (self.deconv3(y) / 255.0).clamp(0.0, 1.0)
