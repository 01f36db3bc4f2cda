"""int8 models for the CPU: onnxruntime's static quantization of the convolutions (per channel,
calibrated on real frames), verified against the fp32 model before it is kept. Needs no torch."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from ..realtime import contract
from ..realtime.errors import UserError
from ..realtime.outputs import atomic_output, prepare_output_file
from ..realtime.session import StyleSession

INT8_MIN_PSNR = 30.0  # dB against the fp32 model on the calibration frames; below it the int8 model is refused


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def quantize_model(source: str | Path, target: str | Path, calibration: list[dict[str, np.ndarray]],
                   min_psnr: float = INT8_MIN_PSNR, overwrite: bool = False) -> float:
    """Write an int8 copy of the contract model ``source`` to ``target``: convolutions quantized
    (int8 weights per channel, uint8 activations, QOperator form), calibrated on ``calibration``
    (feeds: ``frame`` and, for the live model, ``style``). Returns its PSNR against the fp32 model
    on those feeds; a copy under ``min_psnr`` dB is refused and nothing is written."""
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
        prepared, quantized = Path(tmp) / "prepared.onnx", Path(tmp) / "int8.onnx"
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        quantize_static(str(prepared), str(quantized), Frames(), quant_format=QuantFormat.QOperator,
                        op_types_to_quantize=["Conv"], per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8)
        model = onnx.load(str(quantized))
        meta = {p.key: p.value for p in onnx.load(str(source), load_external_data=False).metadata_props}
        meta[contract.META_PRECISION] = "int8"
        del model.metadata_props[:]
        for key, value in meta.items():
            model.metadata_props.add(key=key, value=value)
        with atomic_output(target) as written:
            onnx.save(model, str(written))
            fp32, int8 = StyleSession(source, "cpu"), StyleSession(written, "cpu")
            scores = [psnr(int8.run(f[contract.INPUT_FRAME], 1.0, f.get(contract.INPUT_STYLE)),
                           fp32.run(f[contract.INPUT_FRAME], 1.0, f.get(contract.INPUT_STYLE))) for f in calibration]
            if min(scores) < min_psnr:
                raise UserError(f"the int8 model is too far from fp32 ({min(scores):.1f} dB PSNR, the floor is "
                                f"{min_psnr} dB): not written")
    return min(scores)
