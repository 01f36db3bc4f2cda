"""A faster graph for onnxruntime's CPU provider, with the same outputs: applied in memory when a
session is opened on the CPU, never written into a model file (other runtimes get the file as it is).

onnxruntime runs a pixel shuffle (``DepthToSpace``) on the CPU as a strided copy, and the
convolutions around it must leave their blocked memory layout for it and return. The same values
move in a grouped ``ConvTranspose`` whose 2x2 (block x block) kernels hold a single 1 each: every
output is one input times 1 plus zeros, so the result is bit-identical. `benchmarks/cpu_graph_speed.py`
measures the gain.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def _static_shapes(model) -> dict[str, tuple[int, list[int | None]]]:
    """Element type and dimensions (None where dynamic) of every value shape inference can tell."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    values = list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)
    return {v.name: (v.type.tensor_type.elem_type,
                     [d.dim_value if d.HasField("dim_value") else None for d in v.type.tensor_type.shape.dim])
            for v in values}


def _attribute(node, name: str, default):
    from onnx import helper

    return next((helper.get_attribute_value(a) for a in node.attribute if a.name == name), default)


def shuffle_weights(channels: int, block: int) -> np.ndarray:
    """ConvTranspose weights [channels * block^2, 1, block, block] (group = channels) that do what
    DepthToSpace in CRD mode does: input channel c*block^2 + dy*block + dx lands at (dy, dx) of
    output channel c's block."""
    weights = np.zeros((channels, block, block, 1, block, block), np.float32)
    for dy in range(block):
        for dx in range(block):
            weights[:, dy, dx, 0, dy, dx] = 1.0
    return weights.reshape(channels * block * block, 1, block, block)


def shuffles_as_transposed_convs(model) -> int:
    """Replace, in place, every float CRD-mode ``DepthToSpace`` whose channel count is known by the
    equivalent grouped ``ConvTranspose``; returns how many were replaced."""
    import onnx
    from onnx import helper, numpy_helper

    candidates = [n for n in model.graph.node
                  if n.op_type == "DepthToSpace" and _attribute(n, "mode", b"DCR") == b"CRD"]
    if not candidates:
        return 0
    shapes = _static_shapes(model)
    replaced = 0
    for node in candidates:
        elem_type, dims = shapes.get(node.input[0], (None, []))
        block = _attribute(node, "blocksize", 0)
        cells = block * block
        if elem_type != onnx.TensorProto.FLOAT or len(dims) != 4 or not dims[1] or not block or dims[1] % cells:
            continue
        weight_name = f"{node.name or node.output[0]}/shuffle_weights"
        model.graph.initializer.append(numpy_helper.from_array(shuffle_weights(dims[1] // cells, block), weight_name))
        conv = helper.make_node("ConvTranspose", [node.input[0], weight_name], list(node.output), name=node.name,
                                group=dims[1] // cells, kernel_shape=[block, block], strides=[block, block])
        node.CopyFrom(conv)
        replaced += 1
    return replaced


def cpu_model(path: str | Path) -> tuple[bytes | None, int]:
    """The model at ``path`` rewritten for the CPU provider, serialized, and the number of rewrites;
    (None, 0) when there is nothing to rewrite or the file cannot be read as ONNX here (onnxruntime
    then loads the file itself and reports any real problem)."""
    import onnx

    try:
        model = onnx.load(str(path))
        replaced = shuffles_as_transposed_convs(model)
    except Exception as exc:  # a speed-up only: the file is then loaded as it is
        log.debug("%s: not rewritten for the CPU (%s)", path, exc)
        return None, 0
    return (model.SerializeToString(), replaced) if replaced else (None, 0)
