"""Bring existing style models in: checkpoints of the PyTorch fast-neural-style example (plain float
ONNX style models: ``float_wrap.py``)."""
from __future__ import annotations

import re
from pathlib import Path

import torch

from .nets import PyTorchExampleNet
from .onnx_export import export_net
from .safe_load import load_tensors
from ..realtime.core import contract
from ..realtime.core.contract import build_metadata
from ..realtime.core.errors import UserError

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
