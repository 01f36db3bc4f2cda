"""ONNX export with the model contract's pre/post-processing, verified against PyTorch.

Pipeline: eval -> reference outputs -> export -> onnx.checker -> compare with onnxruntime.
"""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from realtime import contract
from realtime.errors import UserError

# Frame sizes (H, W) the export is verified on: tiny, odd and ordinary ones.
VERIFY_SIZES = ((3, 5), (37, 53), (96, 128), (241, 321))
# uint8 outputs may differ by one level where PyTorch and onnxruntime round a .5 differently.
UINT8_TOLERANCE = 1
FLOAT_TOLERANCE = 1e-3


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

    def forward(self, frame: torch.Tensor, strength: torch.Tensor) -> torch.Tensor:
        if self.io_layout == contract.IO_UINT8_BGR:
            rgb = frame.permute(0, 3, 1, 2)[:, [2, 1, 0]].float() / 255.0
        else:
            rgb = frame
        h, w = rgb.shape[2], rgb.shape[3]
        h_t = torch.as_tensor(h)
        w_t = torch.as_tensor(w)
        pad_h, pad_w = self.padded(h_t), self.padded(w_t)
        x = F.pad(rgb, [0, pad_w, 0, pad_h], mode="replicate")
        styled = self.net(x)[:, :, :h, :w]
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


def build_metadata(settings: dict, style: str, arch: str, backbone: str, io_layout: str,
                   source: str | None = None) -> dict[str, str]:
    meta = {
        contract.META_CONTRACT: contract.CONTRACT_VERSION,
        contract.META_STYLE: style,
        contract.META_ARCH: arch,
        contract.META_BACKBONE: backbone,
        contract.META_SETTINGS: json.dumps(settings, sort_keys=True),
        contract.META_IO: io_layout,
    }
    if source:
        meta[contract.META_SOURCE] = source
    return meta


def export_net(net: nn.Module, path: str | Path, metadata: dict[str, str], io_layout: str = contract.IO_UINT8_BGR,
               opset: int = 17, overwrite: bool = False) -> dict[str, float]:
    """Export ``net`` wrapped in the contract to ``path`` and verify it; returns the max errors per size.

    The file is written beside the target and renamed only after verification passes, so a failed
    export never leaves a model behind or replaces an existing one.
    """
    import onnx
    import onnxruntime as ort

    path = Path(path)
    if path.exists() and not overwrite:
        raise UserError(f"{path} already exists: pass --overwrite to replace it")
    if not path.parent.is_dir():
        raise UserError(f"{path.parent}: no such folder for the output")
    wrapper = ContractWrapper(net.eval(), io_layout).eval()
    one = torch.tensor(1.0)
    frames = [example_frame(h, w, io_layout, seed=i) for i, (h, w) in enumerate(VERIFY_SIZES)]
    with torch.no_grad():
        references = [wrapper(torch.from_numpy(f), one).numpy() for f in frames]
        half_ref = wrapper(torch.from_numpy(frames[2]), torch.tensor(0.5)).numpy()

    tmp = path.with_name(f".{path.name}.partial")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about shape arithmetic are expected here
            torch.onnx.export(
                wrapper, (torch.from_numpy(frames[2]), one), str(tmp), opset_version=opset, dynamo=False,
                input_names=[contract.INPUT_FRAME, contract.INPUT_STRENGTH], output_names=[contract.OUTPUT],
                dynamic_axes={contract.INPUT_FRAME: {0: "N", 1 if io_layout == contract.IO_UINT8_BGR else 2: "H",
                                                     2 if io_layout == contract.IO_UINT8_BGR else 3: "W"},
                              contract.OUTPUT: {0: "N", 1 if io_layout == contract.IO_UINT8_BGR else 2: "H",
                                                2 if io_layout == contract.IO_UINT8_BGR else 3: "W"}},
            )
        model = onnx.load(str(tmp))
        # strength becomes optional: an initializer with the same name gives its default of 1.0
        model.graph.initializer.append(onnx.numpy_helper.from_array(np.array(1.0, np.float32), contract.INPUT_STRENGTH))
        for key, value in metadata.items():
            model.metadata_props.add(key=key, value=value)
        onnx.checker.check_model(model, full_check=True)
        onnx.save(model, str(tmp))

        options = ort.SessionOptions()
        options.log_severity_level = 3  # the overridable 'strength' initializer is intended
        session = ort.InferenceSession(str(tmp), options, providers=["CPUExecutionProvider"])
        errors = {}
        tol = UINT8_TOLERANCE if io_layout == contract.IO_UINT8_BGR else FLOAT_TOLERANCE
        for frame, ref in zip(frames, references):
            got = session.run([contract.OUTPUT], {contract.INPUT_FRAME: frame})[0]
            label = f"{frame.shape[1]}x{frame.shape[2]}" if io_layout == contract.IO_UINT8_BGR else \
                f"{frame.shape[2]}x{frame.shape[3]}"
            if got.shape != ref.shape:
                raise UserError(f"export check failed at {label}: onnxruntime gave shape {got.shape}, "
                                f"PyTorch {ref.shape}")
            errors[label] = float(np.abs(got.astype(np.float64) - ref.astype(np.float64)).max())
            if errors[label] > tol:
                raise UserError(f"export check failed at {label}: onnxruntime differs from PyTorch by "
                                f"{errors[label]:.4g} (tolerance {tol})")
        got_half = session.run([contract.OUTPUT], {contract.INPUT_FRAME: frames[2],
                                                   contract.INPUT_STRENGTH: np.array(0.5, np.float32)})[0]
        errors["strength 0.5"] = float(np.abs(got_half.astype(np.float64) - half_ref.astype(np.float64)).max())
        if errors["strength 0.5"] > tol:
            raise UserError(f"export check failed with strength 0.5: error {errors['strength 0.5']:.4g}")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return errors


def export_checkpoint(checkpoint: str | Path, path: str | Path, io_layout: str = contract.IO_UINT8_BGR,
                      opset: int = 17, style_name: str | None = None, overwrite: bool = False) -> dict[str, float]:
    """Export a training checkpoint (file or run folder) as a verified contract model."""
    from export.train import load_checkpoint, net_from_checkpoint

    state = load_checkpoint(checkpoint)
    net, settings = net_from_checkpoint(state)
    meta = build_metadata({**settings.to_dict(), "trained_steps": state["step"]}, style_name or settings.style_name,
                          settings.arch, settings.backbone, io_layout, source=f"stylize train ({Path(checkpoint).name})")
    return export_net(net, path, meta, io_layout, opset, overwrite)
