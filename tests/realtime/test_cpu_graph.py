"""The CPU graph rewrites: the same pixels as the model file, for every shipped model."""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from stylize import models
from stylize.realtime.core.cpu_graph import cpu_model, shuffles_as_transposed_convs
from stylize.realtime.core.errors import UserError
from stylize.realtime.core.session import StyleSession

SHIPPED = list(models.shipped_models().values())
SHIPPED += [c for c in map(models.int8_copy, SHIPPED) if c is not None]


def shuffle_model(channels: int, block: int, mode: str = "CRD", elem_type: int = TensorProto.FLOAT) -> onnx.ModelProto:
    node = helper.make_node("DepthToSpace", ["x"], ["y"], blocksize=block, mode=mode, name="shuffle")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", elem_type, [1, channels, "H", "W"])],
                              [helper.make_tensor_value_info("y", elem_type, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


@pytest.mark.parametrize("channels,block", [(4, 2), (12, 2), (64, 2), (18, 3)])
def test_transposed_conv_moves_the_same_values_as_the_shuffle(channels, block):
    x = np.random.default_rng(0).normal(size=(1, channels, 7, 5)).astype(np.float32)
    model = shuffle_model(channels, block)
    expected = run(model, x)
    assert shuffles_as_transposed_convs(model) == 1
    assert [n.op_type for n in model.graph.node] == ["ConvTranspose"]
    assert np.array_equal(run(model, x), expected)


@pytest.mark.parametrize("mode,elem_type", [("DCR", TensorProto.FLOAT), ("CRD", TensorProto.UINT8)])
def test_other_shuffles_are_left_alone(mode, elem_type):
    model = shuffle_model(8, 2, mode, elem_type)
    assert shuffles_as_transposed_convs(model) == 0
    assert [n.op_type for n in model.graph.node] == ["DepthToSpace"]


def test_a_file_that_is_not_onnx_is_left_to_onnxruntime(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    assert cpu_model(bad) == (None, 0)
    with pytest.raises(UserError, match="onnxruntime cannot load this model"):
        StyleSession(bad, "cpu")


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_shipped_models_paint_the_same_pixels_rewritten(path):
    rewritten, as_file = StyleSession(path, "cpu"), StyleSession(path, "cpu", cpu_rewrites=False)
    assert rewritten.cpu_rewrites == sum(n.op_type == "DepthToSpace" for n in onnx.load(str(path)).graph.node) > 0
    frame = np.random.default_rng(0).integers(0, 256, (61, 83, 3), dtype=np.uint8)
    assert np.array_equal(rewritten.run(frame), as_file.run(frame))
    assert np.array_equal(rewritten.run(frame, 0.4), as_file.run(frame, 0.4))
