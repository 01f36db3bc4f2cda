"""int8 models for the CPU: onnxruntime's static quantization of the convolutions (per channel,
calibrated on real frames), verified against the fp32 model before it is kept. Needs no torch.

Before quantizing, every convolution that feeds an instance norm has its output channels brought to
one range (:func:`equalize_before_norms`): the norm makes that free in fp32, and the one uint8 scale
of the conv's output then serves every channel alike instead of crushing the narrow ones."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from ..core import contract
from ..core.errors import UserError
from ..core.outputs import atomic_output, prepare_output_file
from ..core.session import StyleSession, check_model_runs
from ..core.text import metadata_text

INT8_MIN_PSNR = 35.0  # dB against the fp32 model on the verification photos; below it the int8 model is refused
# a copy this close is kept as soon as one is found; a copy between the two floors only when no layout reaches
# this one (each dB less is visibly more frame-to-frame flicker: live model 40.7 dB 0.96, 35.5 dB 1.44; the
# retrained mosaic's first layout, 38.5 dB on photos, fell to 22 dB on a saturated pattern, the next 43.8 and 27)
INT8_GOOD_PSNR = 40.0
# convolutions kept in float (first ones, last ones), tried in turn until the copy reaches INT8_GOOD_PSNR:
# the picture's own values flow through the outer layers, which cost least in int8 terms
KEPT_IN_FLOAT = ((1, 1), (2, 3))
MAX_CHANNEL_GAIN = 100.0  # a channel's range is widened at most this much
EPSILON_SHARE = 1000.0  # ... and only when its variance is over this many times the norm's epsilon on every frame


CALIBRATION_PHOTOS = 16
CALIBRATION_SIZE = (320, 240)
SYNTHETIC_FRAMES = 4


def calibration_frames(photos: str | Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(photos, frames): the first CALIBRATION_PHOTOS photos of a folder at CALIBRATION_SIZE, and the
    same plus a few saturated synthetic frames, so that bright, colourful scenes stay in range."""
    import cv2

    from ..core.frames import synthetic_frames
    from ..core.images import list_images, read_image

    shots = [cv2.resize(read_image(p), CALIBRATION_SIZE, interpolation=cv2.INTER_AREA)
             for p in list_images(Path(photos))[:CALIBRATION_PHOTOS]]
    return shots, shots + synthetic_frames(CALIBRATION_SIZE, SYNTHETIC_FRAMES)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def _convs_before_norms(graph) -> list[tuple[object, int, float]]:
    """(Conv node, sub-pixels per norm channel, the norm's epsilon) for each conv whose only consumer is
    an instance norm, directly (1) or through a DepthToSpace of block b in CRD order (b*b); weight and
    bias must be constants."""
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    constants = {i.name for i in graph.initializer}
    found = []
    for node in graph.node:
        if node.op_type != "Conv" or len(node.input) < 3 or not {node.input[1], node.input[2]} <= constants:
            continue
        after = consumers.get(node.output[0], [])
        groups = 1
        if len(after) == 1 and after[0].op_type == "DepthToSpace":
            attrs = {a.name: a for a in after[0].attribute}
            if attrs.get("mode") is None or attrs["mode"].s != b"CRD":
                continue
            groups = attrs["blocksize"].i ** 2
            after = consumers.get(after[0].output[0], [])
        if len(after) == 1 and after[0].op_type == "InstanceNormalization":
            epsilon = next((a.f for a in after[0].attribute if a.name == "epsilon"), 1e-5)
            found.append((node, groups, epsilon))
    return found


def equalize_before_norms(model, calibration: list[dict[str, np.ndarray]]):
    """Rescale and recentre the output channels of every conv that feeds an instance norm so that all
    of a conv's channels span the same range on ``calibration`` (an in-place edit of the onnx
    ``model``, which it returns). The norm removes each channel's scale and offset, so the fp32 model
    computes the same; its int8 copy gets a finer step for the narrow channels, hence less error and
    less frame-to-frame flicker (measured on candy: 39.0 -> 42.3 dB, noise flicker 1.07 -> 0.82)."""
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    targets = _convs_before_norms(model.graph)
    if not targets:
        return model
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    names = [node.output[0] for node, _, _ in targets]
    probe.graph.output.extend(onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None) for n in names)
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    low, high, total, count, quietest = {}, {}, {}, {}, {}
    for feeds in calibration:
        for (node, groups, _), out in zip(targets, session.run(names, feeds)):
            name = node.output[0]  # channels of one norm channel (its sub-pixels) counted together
            per_image = out.reshape(out.shape[0], out.shape[1] // groups, -1)
            quietest[name] = np.minimum(quietest.get(name, np.inf), per_image.var(2).min(0))
            per_channel = per_image.transpose(1, 0, 2).reshape(per_image.shape[1], -1)
            low[name] = np.minimum(low.get(name, np.inf), per_channel.min(1))
            high[name] = np.maximum(high.get(name, -np.inf), per_channel.max(1))
            total[name] = total.get(name, 0.0) + per_channel.sum(1, dtype=np.float64)
            count[name] = count.get(name, 0) + per_channel.shape[1]
    constants = {i.name: i for i in model.graph.initializer}
    for node, groups, epsilon in targets:
        name = node.output[0]
        centre = (total[name] / count[name]).astype(np.float32)
        spread = np.maximum(high[name] - centre, centre - low[name])
        gain = np.clip(spread.max() / np.maximum(spread, 1e-12), 1.0, MAX_CHANNEL_GAIN).astype(np.float32)
        # where the norm's epsilon is not negligible against a channel's variance, its scale shows: kept
        gain[quietest[name] < EPSILON_SHARE * epsilon] = 1.0
        gain, centre = np.repeat(gain, groups), np.repeat(centre, groups)
        weight, bias = (numpy_helper.to_array(constants[n]) for n in node.input[1:3])
        constants[node.input[1]].CopyFrom(numpy_helper.from_array(weight * gain[:, None, None, None], node.input[1]))
        constants[node.input[2]].CopyFrom(numpy_helper.from_array((bias - centre) * gain, node.input[2]))
    return model


def fixed_blurs(graph) -> list[str]:
    """Names of the Conv nodes that are fixed binomial blurs (fast-aa's BinomialBlur: one 3x3
    [1, 2, 1] x [1, 2, 1] / 16 filter per channel)."""
    from onnx import numpy_helper

    weights = {init.name: init for init in graph.initializer}
    weights.update({node.output[0]: attr.t for node in graph.node if node.op_type == "Constant"
                    for attr in node.attribute if attr.name == "value"})
    binomial = np.outer([1.0, 2.0, 1.0], [1.0, 2.0, 1.0]) / 16
    found = []
    for node in graph.node:
        if node.op_type != "Conv" or len(node.input) < 2 or node.input[1] not in weights:
            continue
        kernel = numpy_helper.to_array(weights[node.input[1]])
        if kernel.ndim == 4 and kernel.shape[1:] == (1, 3, 3) and np.allclose(kernel, binomial):
            found.append(node.name)
    return found


def quantize_live_model(source: str | Path, target: str | Path, photos: str | Path, styles: list[np.ndarray]) -> float:
    """The live model's int8 copy (:func:`quantize_model`), calibrated on every one of ``styles`` over the
    photos of ``photos`` and the saturated synthetic frames, verified on the photos; its lowest PSNR."""
    shots, frames = calibration_frames(photos)
    calibration = [{"frame": frame[None], "style": style} for frame in frames for style in styles]
    verification = [{"frame": shot[None], "style": style} for shot in shots for style in styles]
    return quantize_model(source, target, calibration, verification, overwrite=True)


def quantize_model(source: str | Path, target: str | Path, calibration: list[dict[str, np.ndarray]],
                   verification: list[dict[str, np.ndarray]] | None = None, min_psnr: float = INT8_MIN_PSNR,
                   overwrite: bool = False) -> float:
    """Write an int8 copy of the contract model ``source`` to ``target``: convolutions quantized
    (int8 weights per channel, uint8 activations, QOperator form) but the outermost ones (as few as
    the floor allows, see KEPT_IN_FLOAT), equalized first (:func:`equalize_before_norms`), calibrated on ``calibration``
    (feeds: ``frame`` and, for the live model, ``style``). Returns its lowest PSNR against the fp32
    model on ``verification`` (real photos; default: the calibration feeds); a copy under
    ``min_psnr`` dB is refused and nothing is written."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    target = prepare_output_file(target, [source], overwrite, suffixes=(".onnx",))

    class Frames(CalibrationDataReader):
        def __init__(self):
            self.feeds = iter(calibration)

        def get_next(self):
            return next(self.feeds, None)

    with tempfile.TemporaryDirectory(prefix="stylize-int8-") as tmp:
        equalized, prepared = Path(tmp) / "equalized.onnx", Path(tmp) / "prepared.onnx"
        onnx.save(equalize_before_norms(onnx.load(str(source)), calibration), str(equalized))
        quant_pre_process(str(equalized), str(prepared), skip_symbolic_shape=True)
        graph = onnx.load(str(prepared)).graph
        blurs = fixed_blurs(graph)  # fast-aa's filters stay in float and do not count as the outer convs
        convs = [n.name for n in graph.node if n.op_type == "Conv" and n.name not in blurs]
        fp32 = StyleSession(source, "cpu")
        good = max(min_psnr, INT8_GOOD_PSNR)
        tried: list[tuple[float, Path]] = []
        for first, last in KEPT_IN_FLOAT:
            quantized = Path(tmp) / f"int8_{first}_{last}.onnx"
            quantize_static(str(prepared), str(quantized), Frames(), quant_format=QuantFormat.QOperator,
                            op_types_to_quantize=["Conv"], per_channel=True, activation_type=QuantType.QUInt8,
                            weight_type=QuantType.QInt8,
                            nodes_to_exclude=blurs + convs[:first] + convs[len(convs) - last:])
            int8 = StyleSession(quantized, "cpu")
            scores = [psnr(int8.run(f[contract.INPUT_FRAME], 1.0, f.get(contract.INPUT_STYLE)),
                           fp32.run(f[contract.INPUT_FRAME], 1.0, f.get(contract.INPUT_STYLE)))
                      for f in verification or calibration]
            tried.append((min(scores), quantized))
            if min(scores) >= good:
                break
        score, quantized = tried[-1] if tried[-1][0] >= good else max(tried)
        if score < min_psnr:
            raise UserError(f"the int8 model is too far from fp32 ({score:.1f} dB PSNR, the floor is "
                            f"{min_psnr} dB): not written")
        model = onnx.load(str(quantized))
        meta = {p.key: p.value for p in onnx.load(str(source), load_external_data=False).metadata_props}
        meta[contract.META_PRECISION] = "int8"
        del model.metadata_props[:]
        for key, value in meta.items():
            model.metadata_props.add(key=key, value=metadata_text(value))
        with atomic_output(target, overwrite) as written:
            onnx.save(model, str(written))
            check_model_runs(written, [(37, 53)])
    return score
