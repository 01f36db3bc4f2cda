"""The trained net inside an exported contract model, read back into torch: a warm start for
`stylize train --init-from` where the run that made the model is not at hand (the shipped styles)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from .checkpoint import load_checkpoint, net_from_checkpoint
from .nets import UpsampleConv, build_net, residual_blocks_in
from .onnx_export import FLOAT_TOLERANCE, UINT8_TOLERANCE, ContractWrapper, example_frame
from .settings import TrainSettings
from .subpixel import upsample_conv_params
from .. import models
from ..realtime.core import contract
from ..realtime.core.errors import UserError

MAX_MODEL_BYTES = 256 * 2**20  # the shipped nets are 1-7 MB; the Johnson net about 7
NET_PREFIX = "net."  # export names the wrapped net's parameters so


def warm_start_net(source: str | Path) -> tuple[torch.nn.Module, TrainSettings]:
    """``--init-from``'s net and settings: a run folder or checkpoint, a model file `stylize export`
    wrote, or a shipped style's name."""
    path = Path(source)
    shipped = None if path.exists() else models.locate(str(source))
    if path.suffix.lower() == ".onnx" or shipped is not None:
        return net_from_model(shipped or path)
    return net_from_checkpoint(load_checkpoint(path))


def net_from_model(path: str | Path) -> tuple[torch.nn.Module, TrainSettings]:
    """The fixed-style net of a model that `stylize export` wrote (fp32), with the settings in its
    metadata; its outputs are checked against onnxruntime's before it is returned."""
    import onnx
    from onnx import numpy_helper

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such model file")
    if path.stat().st_size > MAX_MODEL_BYTES:
        raise UserError(f"{path}: {path.stat().st_size / 2**20:.0f} MB, larger than any style net "
                        f"({MAX_MODEL_BYTES / 2**20:.0f} MB at most)")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises protobuf's DecodeError and others for a foreign file
        raise UserError(f"{path}: not an ONNX model ({exc.__class__.__name__})") from exc
    meta = {p.key: p.value for p in model.metadata_props}
    if meta.get(contract.META_ARCH, "").endswith("-conditional"):
        raise UserError(f"{path}: the live any-painting model, where training starts by default (leave --init-from out)")
    if contract.META_SETTINGS not in meta or contract.META_ARCH not in meta:
        raise UserError(f"{path}: not a model exported by stylize train (no training settings in its metadata)")
    if meta.get(contract.META_PRECISION, "fp32") != "fp32":
        raise UserError(f"{path}: an {meta[contract.META_PRECISION]} copy; start from the fp32 model instead")
    arrays = {t.name[len(NET_PREFIX):]: torch.from_numpy(np.array(numpy_helper.to_array(t), np.float32))
              for t in model.graph.initializer if t.name.startswith(NET_PREFIX)}
    try:
        settings = TrainSettings.from_dict(json.loads(meta[contract.META_SETTINGS]))
        settings.arch = meta[contract.META_ARCH]
        if not settings.residual_blocks:  # exported before the setting existed: as many as the weights hold
            settings.residual_blocks = residual_blocks_in(arrays) or 1
        settings.validate()
        net = build_net(settings.arch, settings.width, settings.residual_blocks)
    except (TypeError, ValueError, KeyError) as exc:
        raise UserError(f"{path}: its metadata does not describe a net training can start from ({exc})") from exc
    for owner, layer in net.named_modules():  # the export's sub-pixel form of each 3x3 UpsampleConv, turned back
        if isinstance(layer, UpsampleConv) and f"{owner}.conv.weight" in arrays:
            subpixel = {name[len(owner) + 1:]: value for name, value in arrays.items() if name.startswith(f"{owner}.")}
            arrays.update({f"{owner}.{name}": value for name, value in upsample_conv_params(subpixel, layer.mode).items()})
    state = {}
    for name, param in net.state_dict().items():
        if name not in arrays:
            raise UserError(f"{path}: no weights for {name} (not a model this version of stylize exported?)")
        if arrays[name].shape != param.shape:
            raise UserError(f"{path}: {name} has shape {tuple(arrays[name].shape)}, the net needs {tuple(param.shape)}")
        state[name] = arrays[name]
    net.load_state_dict(state)
    _check_against_onnxruntime(net.eval(), path, meta.get(contract.META_IO, contract.IO_UINT8_BGR))
    return net, settings


def _check_against_onnxruntime(net: torch.nn.Module, path: Path, io_layout: str) -> None:
    import onnxruntime as ort

    frame = example_frame(40, 56, io_layout)
    options = ort.SessionOptions()
    options.log_severity_level = 3  # the overridable 'strength' initializer is intended (as export_net says)
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    expected = session.run([contract.OUTPUT], {contract.INPUT_FRAME: frame,
                                               contract.INPUT_STRENGTH: np.array(1.0, np.float32)})[0]
    with torch.no_grad():
        got = ContractWrapper(net, io_layout)(torch.from_numpy(frame), torch.tensor(1.0)).numpy()
    worst = float(np.abs(got.astype(np.float32) - expected.astype(np.float32)).max())
    if worst > (UINT8_TOLERANCE if io_layout == contract.IO_UINT8_BGR else FLOAT_TOLERANCE):
        raise UserError(f"{path}: the net read back from it paints differently (max difference {worst})")
