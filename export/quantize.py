"""int8 models for the CPU: onnxruntime's static quantization of the convolutions (per channel,
calibrated on real frames), verified against the fp32 model before it is kept. Needs no torch."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from ..realtime import contract
from ..realtime.errors import UserError
from ..realtime.outputs import atomic_output, prepare_output_file
from ..realtime.session import StyleSession, check_model_runs

INT8_MIN_PSNR = 35.0  # dB against the fp32 model on the verification photos; below it the int8 model is refused
# convolutions kept in float (first ones, last ones), tried in turn until the copy meets the floor: the
# picture's own values flow through the outer layers, which cost least in int8 terms
KEPT_IN_FLOAT = ((1, 1), (2, 3))


CALIBRATION_PHOTOS = 16
CALIBRATION_SIZE = (320, 240)
SYNTHETIC_FRAMES = 4


def calibration_frames(photos: str | Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(photos, frames): the first CALIBRATION_PHOTOS photos of a folder at CALIBRATION_SIZE, and the
    same plus a few saturated synthetic frames, so that bright, colourful scenes stay in range."""
    import cv2

    from ..realtime.bench import synthetic_frames
    from ..realtime.images import list_images, read_image

    shots = [cv2.resize(read_image(p), CALIBRATION_SIZE, interpolation=cv2.INTER_AREA)
             for p in list_images(Path(photos))[:CALIBRATION_PHOTOS]]
    return shots, shots + synthetic_frames(CALIBRATION_SIZE, SYNTHETIC_FRAMES)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def quantize_model(source: str | Path, target: str | Path, calibration: list[dict[str, np.ndarray]],
                   verification: list[dict[str, np.ndarray]] | None = None, min_psnr: float = INT8_MIN_PSNR,
                   overwrite: bool = False) -> float:
    """Write an int8 copy of the contract model ``source`` to ``target``: convolutions quantized
    (int8 weights per channel, uint8 activations, QOperator form) but the outermost ones (as few as
    the floor allows, see KEPT_IN_FLOAT), calibrated on ``calibration``
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
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        convs = [n.name for n in onnx.load(str(prepared)).graph.node if n.op_type == "Conv"]
        fp32 = StyleSession(source, "cpu")
        scores: list[float] = []
        for first, last in KEPT_IN_FLOAT:
            quantized = Path(tmp) / f"int8_{first}_{last}.onnx"
            quantize_static(str(prepared), str(quantized), Frames(), quant_format=QuantFormat.QOperator,
                            op_types_to_quantize=["Conv"], per_channel=True, activation_type=QuantType.QUInt8,
                            weight_type=QuantType.QInt8, nodes_to_exclude=convs[:first] + convs[len(convs) - last:])
            int8 = StyleSession(quantized, "cpu")
            scores = [psnr(int8.run(f[contract.INPUT_FRAME], 1.0, f.get(contract.INPUT_STYLE)),
                           fp32.run(f[contract.INPUT_FRAME], 1.0, f.get(contract.INPUT_STYLE)))
                      for f in verification or calibration]
            if min(scores) >= min_psnr:
                break
        else:
            raise UserError(f"the int8 model is too far from fp32 ({min(scores):.1f} dB PSNR, the floor is "
                            f"{min_psnr} dB): not written")
        model = onnx.load(str(quantized))
        meta = {p.key: p.value for p in onnx.load(str(source), load_external_data=False).metadata_props}
        meta[contract.META_PRECISION] = "int8"
        del model.metadata_props[:]
        for key, value in meta.items():
            model.metadata_props.add(key=key, value=value)
        with atomic_output(target) as written:
            onnx.save(model, str(written))
            check_model_runs(written, [(37, 53)])
    return min(scores)
