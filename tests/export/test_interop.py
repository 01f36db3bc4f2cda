import numpy as np
import pytest
import torch

from stylize.export.nets import PyTorchExampleNet
from stylize.cli import main
from stylize.realtime.session import StyleSession


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
