"""Plain float ONNX style models wrapped into the contract by graph editing (no torch): uint8 BGR in
and out, any frame size, a ``strength`` input. Extra inputs (style weights, a style vector) are fixed
as constants; nets that need sizes in multiples of their stride are padded in-graph and cropped back."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ..core import contract
from ..core.contract import build_metadata
from ..core.errors import UserError
from ..core.model_guard import check_bounded
from ..core.outputs import atomic_output, prepare_output_file
from ..core.session import check_model_runs
from ..core.text import metadata_text, printable

MAX_INPUT_FILE_BYTES = 64 << 20  # an --input @file: style vectors and weights are small
MULTIPLES = (1, 2, 4, 8, 16, 32)  # the strides probed for a dynamic-size model
CHECK_SIZES = [(37, 53), (3, 5), (270, 480), (481, 641)]  # odd and small sizes every wrapped model must run at


def parse_fixed_input(text: str) -> tuple[str, np.ndarray]:
    """``NAME=v1,v2,...`` or ``NAME=@values.npy`` -> (name, values)."""
    name, sep, values = text.partition("=")
    if not sep or not name or not values:
        raise UserError(f"--input {text}: expected NAME=v1,v2,... or NAME=@values.npy")
    if values.startswith("@"):
        array = read_npy(Path(values[1:]), name)
    else:
        try:
            array = np.array([float(v) for v in values.split(",")])
        except ValueError:
            raise UserError(f"--input {text}: the values must be numbers separated by commas") from None
    if not np.isfinite(array).all():
        raise UserError(f"--input {name}: the values must be finite")
    return name, array


def read_npy(path: Path, name: str) -> np.ndarray:
    """A non-empty array of real numbers from a regular .npy file of sane size (never a pipe, a device or pickles)."""
    if not path.is_file():
        raise UserError(f"--input {name}: {printable(path)} is not a regular file")
    if path.stat().st_size > MAX_INPUT_FILE_BYTES:
        raise UserError(f"--input {name}: {printable(path)} is over {MAX_INPUT_FILE_BYTES >> 20} MB")
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise UserError(f"--input {name}: {printable(path)} is not a .npy file of numbers "
                        f"({printable(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)})") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "biuf" or array.size == 0:
        kind = "an .npz archive" if not isinstance(array, np.ndarray) else f"{array.size} values of {array.dtype}"
        raise UserError(f"--input {name}: {printable(path)} holds {kind}; give a non-empty array of real numbers")
    return array.astype(np.float64)


def fix_inputs(model, fixed: dict[str, np.ndarray], source: Path) -> None:
    """Replace the named graph inputs of ``model`` by constants of their declared type and shape."""
    from onnx import helper, numpy_helper

    declared = {i.name: i for i in model.graph.input}
    for name, values in fixed.items():
        if name not in declared:
            raise UserError(f"{source}: no input named {name!r} (inputs: {', '.join(declared)})")
        tensor_type = declared[name].type.tensor_type
        dims = [d.dim_value if d.dim_value > 0 else None for d in tensor_type.shape.dim]
        shape = dims if None not in dims else [values.size]
        if int(np.prod(shape)) != values.size:
            raise UserError(f"--input {name}: {values.size} values given, the input takes {int(np.prod(shape))} "
                            f"(shape {dims})")
        dtype = helper.tensor_dtype_to_np_dtype(tensor_type.elem_type)
        limits = np.finfo(dtype) if np.issubdtype(dtype, np.floating) else np.iinfo(dtype) \
            if np.issubdtype(dtype, np.integer) else None
        if limits is not None and not (limits.min <= values.min() and values.max() <= limits.max):
            raise UserError(f"--input {name}: values from {values.min():g} to {values.max():g} do not fit the "
                            f"input's type {np.dtype(dtype).name}")
        model.graph.initializer.append(numpy_helper.from_array(values.reshape(shape).astype(dtype), name))
    kept = [i for i in model.graph.input if i.name not in fixed]
    del model.graph.input[:]
    model.graph.input.extend(kept)


def size_needs(model, value_range: float, source: Path) -> tuple[int, int]:
    """(multiple, minimum) a dynamic-size model's frames must have: the first of MULTIPLES at which it
    runs on two odd multiples and returns the size it was given, and the smallest multiple of it that
    it takes (inner reflection padding, say, needs some pixels)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4
    try:
        session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise UserError(f"{source}: onnxruntime cannot load the model: {str(exc).splitlines()[0][:200]}") from exc
    name = session.get_inputs()[0].name

    def runs(h: int, w: int) -> bool:
        try:
            return session.run(None, {name: np.full((1, 3, h, w), 0.5 * value_range, np.float32)})[0].shape[2:] == (h, w)
        except Exception:  # the sizes this net cannot take fail inside onnxruntime
            return False

    for multiple in MULTIPLES:
        if runs(9 * multiple, 13 * multiple) and runs(11 * multiple, 7 * multiple):
            minimum = next(k * multiple for k in range(1, 10) if runs(k * multiple, k * multiple))
            return multiple, minimum
    raise UserError(f"{source}: the model returns another size than it is given at every stride tried "
                    f"({', '.join(map(str, MULTIPLES))}); it cannot be wrapped")


def wrap_float_model(source: str | Path, output: str | Path, value_range: float = 255.0, style_name: str | None = None,
                     overwrite: bool = False, fixed: dict[str, np.ndarray] | None = None) -> Path:
    """Wrap a plain float style model (RGB NCHW in and out, values in [0, ``value_range``], fixed or
    dynamic size) into the contract: uint8 BGR NHWC in and out, any frame size (resized to and from a
    fixed input size, or padded to the net's stride and cropped back), a ``strength`` input, clipping
    and rounding, contract metadata. ``fixed`` gives values for extra inputs (baked as constants).
    The result must run at odd and small sizes and match the original model before it is kept; the
    source file is not modified."""
    import onnx
    from onnx import TensorProto, compose, helper

    source = Path(source)
    output = prepare_output_file(output, [source], overwrite, suffixes=(".onnx",))
    try:
        inner = onnx.load(str(source))
    except Exception as exc:
        raise UserError(f"{source}: not a readable ONNX model ({exc.__class__.__name__})") from exc
    check_bounded(source)  # before any of its runs here: memory and time within bounds
    fix_inputs(inner, fixed or {}, source)
    graph_inputs = [i for i in inner.graph.input if i.name not in {t.name for t in inner.graph.initializer}]
    if len(graph_inputs) != 1 or len(inner.graph.output) != 1:
        extra = ", ".join(i.name for i in graph_inputs[1:])
        raise UserError(f"{source}: expected one image input and one output, found {len(graph_inputs)} and "
                        f"{len(inner.graph.output)}" + (f"; fix the others with --input NAME=... ({extra})"
                                                        if len(graph_inputs) > 1 else ""))
    dims = graph_inputs[0].type.tensor_type.shape.dim
    if graph_inputs[0].type.tensor_type.elem_type != TensorProto.FLOAT or len(dims) != 4 or dims[1].dim_value != 3:
        raise UserError(f"{source}: the input is not float32 [N, 3, H, W]")
    opset = max((o.version for o in inner.opset_import if o.domain in ("", "ai.onnx")), default=0)
    if opset < 11:
        raise UserError(f"{source}: opset {opset} is too old to wrap (needs 11 or newer)")
    fixed_hw = (dims[2].dim_value, dims[3].dim_value) if dims[2].dim_value and dims[3].dim_value else None
    multiple, minimum = (1, 1) if fixed_hw else size_needs(inner, value_range, source)
    original = inner.SerializeToString()
    inner = compose.add_prefix(inner, "inner_")
    nodes, inits = wrapper_graph(inner, value_range, fixed_hw, multiple, minimum)
    nhwc = ["N", "H", "W", 3]
    graph = helper.make_graph(
        nodes, "contract_wrapper",
        [helper.make_tensor_value_info(contract.INPUT_FRAME, TensorProto.UINT8, nhwc),
         helper.make_tensor_value_info(contract.INPUT_STRENGTH, TensorProto.FLOAT, [])],
        [helper.make_tensor_value_info(contract.OUTPUT, TensorProto.UINT8, nhwc)],
        initializer=inits + list(inner.graph.initializer),
    )
    model = helper.make_model(graph, opset_imports=list(inner.opset_import), ir_version=inner.ir_version)
    settings = {"wrapped_from": str(source), "value_range": value_range, "fixed_size": fixed_hw,
                "size_multiple": multiple, "min_size": minimum, "fixed_inputs": {
                    name: values.tolist() if values.size <= 256 else f"sha256 {hashlib.sha256(values).hexdigest()}"
                    for name, values in (fixed or {}).items()}}
    for key, value in build_metadata(settings, style_name or source.stem, "external", "unknown",
                                     contract.IO_UINT8_BGR, source=f"wrapped float ONNX model {source.name}").items():
        model.metadata_props.add(key=key, value=metadata_text(value))
    onnx.checker.check_model(model)
    with atomic_output(output, overwrite) as tmp:
        onnx.save(model, str(tmp))
        wrapped = check_model_runs(tmp, CHECK_SIZES)
        compare_with_original(wrapped, original, value_range, fixed_hw or (12 * multiple, 16 * multiple), source)
    return output


def compare_with_original(wrapped, original: bytes, value_range: float, size: tuple[int, int], source: Path) -> None:
    """The wrapped model must paint as the original does at a size the original accepts."""
    import onnxruntime as ort

    session = ort.InferenceSession(original, providers=["CPUExecutionProvider"])
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    bgr = np.stack([128 + 100 * np.sin(xx / (4.0 + c)) * np.cos(yy / 6.0) for c in range(3)], -1).astype(np.uint8)
    rgb = bgr[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32) * np.float32(value_range / 255.0)
    out = session.run(None, {session.get_inputs()[0].name: rgb})[0][0]
    if not np.isfinite(out).all():
        raise UserError(f"{source}: the model's output is not finite (NaN or infinity) on an ordinary picture: "
                        "every frame would come out black")
    expected = np.clip(np.round(out * (255.0 / value_range)), 0, 255).transpose(1, 2, 0)[:, :, ::-1]
    difference = np.abs(wrapped.run(bgr).astype(int) - expected).max()
    if difference > 2:
        raise UserError(f"{source}: the wrapped model differs from the original by {difference} levels at {w}x{h}")


def wrapper_graph(inner, value_range: float, fixed_hw: tuple[int, int] | None, multiple: int,
                  minimum: int) -> tuple[list, list]:
    """The nodes and constants around the (prefixed) inner graph: uint8 BGR NHWC -> the model's float
    RGB NCHW (resized to a fixed size, or edge-padded to a multiple of ``multiple``, at least
    ``minimum``) -> back, blended by strength."""
    from onnx import TensorProto, helper, numpy_helper

    inner_in, inner_out = inner.graph.input[0].name, inner.graph.output[0].name

    def const(name: str, values, dtype=np.float32):
        return numpy_helper.from_array(np.asarray(values, dtype=dtype), name)

    inits = [const("c_bgr", [2, 1, 0], np.int64), const("c_to_model", value_range / 255.0),
             const("c_from_model", 255.0 / value_range), const("c_0", 0.0), const("c_255", 255.0),
             const(contract.INPUT_STRENGTH, 1.0), const("c_nc_start", [0], np.int64),
             const("c_nc_end", [2], np.int64), const("c_hw_end", [4], np.int64)]
    nodes = [
        helper.make_node("Cast", [contract.INPUT_FRAME], ["w_f"], to=TensorProto.FLOAT),
        helper.make_node("Transpose", ["w_f"], ["w_nchw_bgr"], perm=[0, 3, 1, 2]),
        helper.make_node("Gather", ["w_nchw_bgr", "c_bgr"], ["w_rgb"], axis=1),
        helper.make_node("Mul", ["w_rgb", "c_to_model"], ["w_model_in"]),
        helper.make_node("Shape", ["w_rgb"], ["w_shape"]),
    ]
    model_in, model_out = "w_model_in", "w_model_out"
    if fixed_hw:
        inits.append(const("c_fixed_hw", list(fixed_hw), np.int64))
        nodes += [
            helper.make_node("Slice", ["w_shape", "c_nc_start", "c_nc_end"], ["w_nc"]),
            helper.make_node("Concat", ["w_nc", "c_fixed_hw"], ["w_fixed_shape"], axis=0),
            helper.make_node("Resize", ["w_model_in", "", "", "w_fixed_shape"], ["w_resized"], mode="linear"),
        ]
        model_in = "w_resized"
    elif multiple > 1 or minimum > 1:  # pad H and W up to the stride multiple (edge values), crop back
        inits += [const("c_multiple", multiple, np.int64), const("c_zeros6", [0] * 6, np.int64),
                  const("c_axes_hw", [2, 3], np.int64), const("c_start_hw", [0, 0], np.int64),
                  const("c_minimum", [minimum, minimum], np.int64)]
        nodes += [
            helper.make_node("Slice", ["w_shape", "c_nc_end", "c_hw_end"], ["w_hw"]),
            helper.make_node("Mod", ["w_hw", "c_multiple"], ["w_rest"]),
            helper.make_node("Sub", ["c_multiple", "w_rest"], ["w_short"]),
            helper.make_node("Mod", ["w_short", "c_multiple"], ["w_to_multiple"]),
            helper.make_node("Add", ["w_hw", "w_to_multiple"], ["w_rounded_hw"]),
            helper.make_node("Max", ["w_rounded_hw", "c_minimum"], ["w_target_hw"]),
            helper.make_node("Sub", ["w_target_hw", "w_hw"], ["w_pad_hw"]),
            helper.make_node("Concat", ["c_zeros6", "w_pad_hw"], ["w_pads"], axis=0),
            helper.make_node("Pad", ["w_model_in", "w_pads"], ["w_padded"], mode="edge"),
        ]
        model_in = "w_padded"
    nodes.append(helper.make_node("Identity", [model_in], [inner_in]))
    nodes += list(inner.graph.node)
    if fixed_hw:
        nodes.append(helper.make_node("Resize", [inner_out, "", "", "w_shape"], [model_out], mode="linear"))
    elif multiple > 1 or minimum > 1:
        nodes.append(helper.make_node("Slice", [inner_out, "c_start_hw", "w_hw", "c_axes_hw"], [model_out]))
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
    return nodes, inits
