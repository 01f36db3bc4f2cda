"""Bring existing style models in: checkpoints of the PyTorch fast-neural-style example, and plain
float ONNX style models (wrapped into the contract by graph editing)."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from .nets import PyTorchExampleNet
from .onnx_export import build_metadata, export_net
from .safe_load import load_tensors
from ..realtime import contract
from ..realtime.errors import UserError
from ..realtime.outputs import atomic_output, prepare_output_file
from ..realtime.session import check_model_runs

# old checkpoints (PyTorch < 0.4) carry instance-norm running statistics that the net does not use
STALE_KEY = re.compile(r"\.running_(mean|var)$|\.num_batches_tracked$")


def load_example_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A TransformerNet state dict from the PyTorch example, without stale instance-norm keys."""
    state = load_tensors(path, "PyTorch state dict")
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict) or "conv1.conv2d.weight" not in state:
        raise UserError(f"{path}: not a fast-neural-style TransformerNet state dict (no conv1.conv2d.weight)")
    return {k: v for k, v in state.items() if not STALE_KEY.search(k)}


def import_pytorch_example(path: str | Path, output: str | Path, style_name: str | None = None,
                           io_layout: str = contract.IO_UINT8_BGR, overwrite: bool = False) -> dict[str, float]:
    """Convert a PyTorch fast-neural-style checkpoint into a verified contract model."""
    net = PyTorchExampleNet()
    try:
        net.load_state_dict(load_example_state_dict(path))
    except RuntimeError as exc:
        raise UserError(f"{path}: weights do not fit the example's TransformerNet: {str(exc).splitlines()[0]}") from exc
    style = style_name or Path(path).stem
    meta = build_metadata({"imported_from": str(path)}, style, "pytorch-example", "vgg16 (external)", io_layout,
                          source=f"pytorch/examples fast_neural_style checkpoint {Path(path).name}")
    return export_net(net, output, meta, io_layout, overwrite=overwrite, inputs=(path,))


def wrap_float_model(source: str | Path, output: str | Path, value_range: float = 255.0, style_name: str | None = None,
                     overwrite: bool = False) -> Path:
    """Wrap a plain float style model (RGB NCHW in and out, values in [0, ``value_range``], fixed or
    dynamic size — e.g. the ONNX model zoo's fast neural style) into the contract by graph editing:
    uint8 BGR NHWC in and out, any frame size (resized to and from a fixed input size), a ``strength``
    input, clipping and rounding, and contract metadata. The source file is not modified."""
    import onnx
    from onnx import TensorProto, compose, helper, numpy_helper

    source = Path(source)
    output = prepare_output_file(output, [source], overwrite, suffixes=(".onnx",))
    try:
        inner = onnx.load(str(source))
    except Exception as exc:
        raise UserError(f"{source}: not a readable ONNX model ({exc.__class__.__name__})") from exc
    graph_inputs = [i for i in inner.graph.input if i.name not in {t.name for t in inner.graph.initializer}]
    if len(graph_inputs) != 1 or len(inner.graph.output) != 1:
        raise UserError(f"{source}: expected one image input and one output, found {len(graph_inputs)} and "
                        f"{len(inner.graph.output)}")
    dims = graph_inputs[0].type.tensor_type.shape.dim
    if graph_inputs[0].type.tensor_type.elem_type != TensorProto.FLOAT or len(dims) != 4 or dims[1].dim_value != 3:
        raise UserError(f"{source}: the input is not float32 [N, 3, H, W]")
    opset = max((o.version for o in inner.opset_import if o.domain in ("", "ai.onnx")), default=0)
    if opset < 11:
        raise UserError(f"{source}: opset {opset} is too old to wrap (needs 11 or newer)")
    fixed = (dims[2].dim_value, dims[3].dim_value) if dims[2].dim_value and dims[3].dim_value else None
    inner = compose.add_prefix(inner, "inner_")
    inner_in, inner_out = inner.graph.input[0].name, inner.graph.output[0].name

    def const(name: str, values, dtype=np.float32) -> onnx.TensorProto:
        return numpy_helper.from_array(np.asarray(values, dtype=dtype), name)

    inits = [const("c_bgr", [2, 1, 0], np.int64), const("c_to_model", value_range / 255.0),
             const("c_from_model", 255.0 / value_range), const("c_0", 0.0), const("c_255", 255.0),
             const(contract.INPUT_STRENGTH, 1.0), const("c_empty", [], np.float32),
             const("c_nc_start", [0], np.int64), const("c_nc_end", [2], np.int64)]
    nodes = [
        helper.make_node("Cast", [contract.INPUT_FRAME], ["w_f"], to=TensorProto.FLOAT),
        helper.make_node("Transpose", ["w_f"], ["w_nchw_bgr"], perm=[0, 3, 1, 2]),
        helper.make_node("Gather", ["w_nchw_bgr", "c_bgr"], ["w_rgb"], axis=1),
        helper.make_node("Mul", ["w_rgb", "c_to_model"], ["w_model_in"]),
    ]
    model_in, model_out = "w_model_in", "w_model_out"
    if fixed:
        inits.append(const("c_fixed_hw", list(fixed), np.int64))
        nodes += [
            helper.make_node("Shape", ["w_rgb"], ["w_shape"]),
            helper.make_node("Slice", ["w_shape", "c_nc_start", "c_nc_end"], ["w_nc"]),
            helper.make_node("Concat", ["w_nc", "c_fixed_hw"], ["w_fixed_shape"], axis=0),
            helper.make_node("Resize", ["w_model_in", "", "", "w_fixed_shape"], ["w_resized"], mode="linear"),
        ]
        model_in = "w_resized"
    nodes.append(helper.make_node("Identity", [model_in], [inner_in]))
    nodes += list(inner.graph.node)
    if fixed:
        nodes.append(helper.make_node("Resize", [inner_out, "", "", "w_shape"], [model_out], mode="linear"))
    else:
        nodes.append(helper.make_node("Identity", [inner_out], [model_out]))
    nodes += [
        helper.make_node("Mul", [model_out, "c_from_model"], ["w_styled"]),
        helper.make_node("Sub", ["w_styled", "w_rgb"], ["w_delta"]),
        helper.make_node("Mul", ["w_delta", contract.INPUT_STRENGTH], ["w_scaled"]),
        helper.make_node("Add", ["w_rgb", "w_scaled"], ["w_blend"]),
        helper.make_node("Clip", ["w_blend", "c_0", "c_255"], ["w_clipped"]),
        helper.make_node("Round", ["w_clipped"], ["w_rounded"]),
        helper.make_node("Gather", ["w_rounded", "c_bgr"], ["w_out_bgr"], axis=1),
        helper.make_node("Transpose", ["w_out_bgr"], ["w_nhwc"], perm=[0, 2, 3, 1]),
        helper.make_node("Cast", ["w_nhwc"], [contract.OUTPUT], to=TensorProto.UINT8),
    ]
    nhwc = ["N", "H", "W", 3]
    graph = helper.make_graph(
        nodes, "contract_wrapper",
        [helper.make_tensor_value_info(contract.INPUT_FRAME, TensorProto.UINT8, nhwc),
         helper.make_tensor_value_info(contract.INPUT_STRENGTH, TensorProto.FLOAT, [])],
        [helper.make_tensor_value_info(contract.OUTPUT, TensorProto.UINT8, nhwc)],
        initializer=inits + list(inner.graph.initializer),
    )
    model = helper.make_model(graph, opset_imports=list(inner.opset_import), ir_version=inner.ir_version)
    settings = {"wrapped_from": str(source), "value_range": value_range, "fixed_size": fixed}
    for key, value in build_metadata(settings, style_name or source.stem, "external", "unknown",
                                     contract.IO_UINT8_BGR, source=f"wrapped float ONNX model {source.name}").items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    with atomic_output(output) as tmp:
        onnx.save(model, str(tmp))
        check_model_runs(tmp, [(37, 53), (96, 128)])
    return output
