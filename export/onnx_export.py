"""ONNX export with the model contract's pre/post-processing, verified against PyTorch.

Pipeline: eval -> reference outputs -> export -> onnx.checker -> compare with onnxruntime.
"""
from __future__ import annotations

import copy
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from .subpixel import inference_form
from ..realtime.core import contract
from ..realtime.core.contract import build_metadata
from ..realtime.core.errors import UserError
from ..realtime.core.outputs import atomic_output, prepare_output_file
from ..realtime.core.text import metadata_text, onnxruntime_source

# Frame sizes (H, W) the export is verified on: tiny, odd and ordinary ones.
VERIFY_SIZES = ((3, 5), (37, 53), (96, 128), (241, 321))
# uint8 outputs may differ by one level where PyTorch and onnxruntime round a .5 differently.
UINT8_TOLERANCE = 1
FLOAT_TOLERANCE = 1e-3
# an fp16 model must stay this close to the fp32 net (PSNR in dB)
FP16_MIN_PSNR = 35.0


class ContractWrapper(nn.Module):
    """Wraps a transform net with the contract's I/O: layout and colour conversion, padding to the
    net's size multiple (edge-replicated, at least ``min_size``) and cropping back, the strength
    blend, clipping and rounding."""

    def __init__(self, net: nn.Module, io_layout: str = contract.IO_UINT8_BGR):
        super().__init__()
        if io_layout not in contract.IO_LAYOUTS:
            raise UserError(f"unknown I/O layout {io_layout!r}; choose one of {', '.join(contract.IO_LAYOUTS)}")
        self.net = net
        self.io_layout = io_layout
        self.multiple = net.size_multiple
        self.min_size = net.min_size

    def padded(self, size: torch.Tensor) -> torch.Tensor:
        target = torch.div(size + (self.multiple - 1), self.multiple, rounding_mode="floor") * self.multiple
        return torch.clamp(target, min=self.min_size) - size

    def forward(self, frame: torch.Tensor, strength: torch.Tensor, *style: torch.Tensor) -> torch.Tensor:
        if self.io_layout == contract.IO_UINT8_BGR:
            rgb = frame.permute(0, 3, 1, 2)[:, [2, 1, 0]].float() / 255.0
        else:
            rgb = frame
        h, w = rgb.shape[2], rgb.shape[3]
        h_t = torch.as_tensor(h)
        w_t = torch.as_tensor(w)
        pad_h, pad_w = self.padded(h_t), self.padded(w_t)
        x = F.pad(rgb, [0, pad_w, 0, pad_h], mode="replicate")
        styled = self.net(x, *style)[:, :, :h, :w]
        blended = (rgb + strength * (styled - rgb)).clamp(0.0, 1.0)
        if self.io_layout == contract.IO_FLOAT_RGB:
            return blended
        return torch.round(blended * 255.0)[:, [2, 1, 0]].permute(0, 2, 3, 1).to(torch.uint8)


def example_frame(h: int, w: int, io_layout: str, seed: int = 0) -> np.ndarray:
    """A smooth-plus-noise test frame in the given I/O layout."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([128 + 100 * np.sin(xx / 7.0 + c) * np.cos(yy / 5.0 - c) for c in range(3)], -1)
    img = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)[None]
    if io_layout == contract.IO_UINT8_BGR:
        return img
    return (img[..., ::-1].transpose(0, 3, 1, 2) / 255.0).astype(np.float32)


def psnr(a: np.ndarray, b: np.ndarray, peak: float) -> float:
    """Peak signal-to-noise ratio in dB (inf for identical arrays)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(peak**2 / mse))


class Float32InstanceNorm(nn.Module):
    """Runs an instance norm in float32 inside a float16 net (its statistics overflow in fp16)."""

    def __init__(self, norm: nn.InstanceNorm2d):
        super().__init__()
        self.norm = norm.float()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.float()).to(x.dtype)


class HalfNet(nn.Module):
    """A float16 copy of a net that takes and returns float32, with instance norm kept in float32."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = copy.deepcopy(net).half()
        for module in list(self.net.modules()):
            for name, child in module.named_children():
                if isinstance(child, nn.InstanceNorm2d):
                    setattr(module, name, Float32InstanceNorm(child))
        self.size_multiple, self.min_size = net.size_multiple, net.min_size

    def forward(self, rgb: torch.Tensor, *style: torch.Tensor) -> torch.Tensor:
        return self.net(rgb.half(), *style).float()


def check_live_output(net: nn.Module, style: tuple[torch.Tensor, ...]) -> None:
    """Refuse a net whose output on a test frame is not finite or does not vary (NaN or dead weights
    would export a model that turns every frame black)."""
    rgb = torch.from_numpy(example_frame(64, 64, contract.IO_FLOAT_RGB))
    with torch.no_grad():
        out = net(rgb, *style)
    if not torch.isfinite(out).all() or float(out.std()) < 1e-4:
        raise UserError("the net's output is not finite or does not change with the picture (weights with NaN "
                        "or infinity, or a dead net): nothing exported")


def export_net(net: nn.Module, path: str | Path, metadata: dict[str, str], io_layout: str = contract.IO_UINT8_BGR,
               opset: int = 17, overwrite: bool = False, fp16: bool = False,
               inputs: tuple[str | Path, ...] = (), style: np.ndarray | None = None) -> dict[str, float]:
    """Export ``net`` wrapped in the contract to ``path`` and verify it against PyTorch.

    ``style``: for a net that takes a style vector (``net(rgb, style)``), the default of the model's
    optional ``style`` input; the verification then also runs another style.

    The graph holds the net's :func:`~export.subpixel.inference_form`; the verification compares it
    with ``net`` itself.

    Returns, per verification frame size, the max |onnxruntime - PyTorch| (fp32), or the PSNR in dB
    of the fp16 model against the fp32 PyTorch net (``fp16``). The file is written beside the
    target and renamed only after verification passes, so a failed export never leaves a model
    behind or replaces an existing one; ``inputs`` (the files it came from) are never written over.
    """
    import onnx
    import onnxruntime as ort

    path = prepare_output_file(path, list(inputs), overwrite, suffixes=(".onnx",))
    net.eval()
    default_style = () if style is None else (torch.from_numpy(np.asarray(style, np.float32).reshape(-1)),)
    check_live_output(net, default_style)
    reference_model = ContractWrapper(net, io_layout).eval()
    fast_net = inference_form(net).eval()  # checked against the trained net's own outputs below
    wrapper = ContractWrapper(HalfNet(fast_net) if fp16 else fast_net, io_layout).eval()
    frames = [example_frame(h, w, io_layout, seed=i) for i, (h, w) in enumerate(VERIFY_SIZES)]
    cases = [(f"{h}x{w}", frame, 1.0, default_style) for (h, w), frame in zip(VERIFY_SIZES, frames)]
    cases.append(("strength 0.5", frames[2], 0.5, default_style))
    if default_style:
        cases.append(("another style", frames[3], 1.0, (default_style[0].flip(0),)))
    with torch.no_grad():
        references = [reference_model(torch.from_numpy(f), torch.tensor(s), *v).numpy() for _, f, s, v in cases]

    uint8_io = io_layout == contract.IO_UINT8_BGR
    spatial = {0: "N", 1: "H", 2: "W"} if uint8_io else {0: "N", 2: "H", 3: "W"}
    with atomic_output(path, overwrite) as tmp:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about shape arithmetic are expected here
            torch.onnx.export(
                wrapper, (torch.from_numpy(frames[2]), torch.tensor(1.0), *default_style), str(tmp), opset_version=opset,
                dynamo=False, input_names=[contract.INPUT_FRAME, contract.INPUT_STRENGTH]
                + ([contract.INPUT_STYLE] if default_style else []), output_names=[contract.OUTPUT],
                dynamic_axes={contract.INPUT_FRAME: spatial, contract.OUTPUT: spatial},
            )
        model = onnx.load(str(tmp))
        # strength becomes optional: an initializer with the same name gives its default of 1.0
        model.graph.initializer.append(onnx.numpy_helper.from_array(np.array(1.0, np.float32), contract.INPUT_STRENGTH))
        if default_style:  # so is the style vector: the model paints its default style without one
            model.graph.initializer.append(onnx.numpy_helper.from_array(default_style[0].numpy(), contract.INPUT_STYLE))
        for key, value in {**metadata, contract.META_PRECISION: "fp16" if fp16 else "fp32"}.items():
            model.metadata_props.add(key=key, value=metadata_text(value))
        onnx.checker.check_model(model, full_check=True)
        onnx.save(model, str(tmp))

        options = ort.SessionOptions()
        options.log_severity_level = 3  # the overridable 'strength' initializer is intended
        session = ort.InferenceSession(onnxruntime_source(tmp), options, providers=["CPUExecutionProvider"])
        results = {}
        for (label, frame, strength, vector), ref in zip(cases, references):
            feeds = {contract.INPUT_FRAME: frame, contract.INPUT_STRENGTH: np.array(strength, np.float32)}
            if label == "another style":
                feeds[contract.INPUT_STYLE] = vector[0].numpy()
            got = session.run([contract.OUTPUT], feeds)[0]
            if got.shape != ref.shape:
                raise UserError(f"export check failed at {label}: onnxruntime gave shape {got.shape}, "
                                f"PyTorch {ref.shape}")
            if fp16:
                results[label] = psnr(got, ref, 255.0 if uint8_io else 1.0)
                if results[label] < FP16_MIN_PSNR:
                    raise UserError(f"fp16 export check failed at {label}: PSNR {results[label]:.1f} dB against "
                                    f"fp32 (minimum {FP16_MIN_PSNR} dB)")
            else:
                tol = UINT8_TOLERANCE if uint8_io else FLOAT_TOLERANCE
                results[label] = float(np.abs(got.astype(np.float64) - ref.astype(np.float64)).max())
                if results[label] > tol:
                    raise UserError(f"export check failed at {label}: onnxruntime differs from PyTorch by "
                                    f"{results[label]:.4g} (tolerance {tol})")
    return results


def export_checkpoint(checkpoint: str | Path, path: str | Path, io_layout: str = contract.IO_UINT8_BGR,
                      opset: int = 17, style_name: str | None = None, overwrite: bool = False,
                      fp16: bool = False, int8: bool = False,
                      calibration: str | Path | None = None) -> dict[str, float]:
    """Export a training checkpoint (file or run folder) as a verified contract model.

    ``int8``: the file is the int8 copy (:func:`export.quantize.quantize_model`) of the verified fp32
    export, calibrated on the photos in ``calibration`` (default: the run's training photos); the
    result then also holds ``int8_psnr``, its lowest PSNR in dB against fp32 on those photos."""
    import tempfile

    from .checkpoint import CHECKPOINT_NAME, load_checkpoint, net_from_checkpoint
    from ..realtime.graph.quantize import calibration_frames, quantize_model

    if int8 and (fp16 or io_layout != contract.IO_UINT8_BGR):
        raise UserError("--int8 exports the contract's uint8 BGR model in int8: not with --fp16 or --io float-rgb")
    source = Path(checkpoint) / CHECKPOINT_NAME if Path(checkpoint).is_dir() else Path(checkpoint)
    state = load_checkpoint(source)
    net, settings = net_from_checkpoint(state)
    made = {"trained_steps": state["step"], "training_seconds": round(state.get("seconds", 0.0))}
    meta = build_metadata({**settings.to_dict(), **made}, style_name or settings.style_name,
                          settings.arch, settings.backbone, io_layout, source=f"stylize train ({Path(checkpoint).name})")
    if not int8:
        return export_net(net, path, meta, io_layout, opset, overwrite, fp16, inputs=(source,))
    photos = Path(calibration or settings.data)
    if not photos.is_dir():
        raise UserError(f"{photos}: no such folder of calibration photos for --int8 (give one with --calibration)")
    prepare_output_file(path, [source, photos], overwrite, suffixes=(".onnx",))
    shots, frames = calibration_frames(photos)
    if not shots:
        raise UserError(f"{photos}: no readable photos to calibrate the int8 model on")
    with tempfile.TemporaryDirectory(prefix="stylize-export-") as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        checks = export_net(net, fp32, meta, io_layout, opset, inputs=(source,))
        checks["int8_psnr"] = quantize_model(fp32, path, [{contract.INPUT_FRAME: f[None]} for f in frames],
                                             [{contract.INPUT_FRAME: f[None]} for f in shots], overwrite=overwrite)
    return checks
