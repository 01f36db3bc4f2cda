"""Export of the live any-painting model: a contract-v1 model with an optional ``style`` input."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .checkpoint import KIND_LIVE, load_checkpoint
from .conditional_net import ConditionalFastNet, shrink_styles
from .onnx_export import export_net
from .settings import DistillSettings
from .. import models
from ..realtime.core import contract
from ..realtime.core.contract import build_metadata
from ..realtime.core.errors import UserError
from ..realtime.painting_style import StyleEncoder, file_digest, read_painting

LIVE_STYLE_NAME = "any painting"


def live_architecture(settings: DistillSettings) -> str:
    """The live model's architecture label: the fixed-style net of the same layout + "-conditional"."""
    return ("fast-smooth" if settings.smooth_body else "fast-aa" if settings.antialias else "fast") + "-conditional"


def load_live_net(checkpoint: str | Path) -> tuple[ConditionalFastNet, DistillSettings, dict]:
    """The trained live net of a run folder or checkpoint file, its settings and the checkpoint."""
    state = load_checkpoint(checkpoint, KIND_LIVE)
    settings = DistillSettings.from_dict(state["settings"])
    net = ConditionalFastNet(width=settings.width, residual_blocks=settings.residual_blocks,
                             antialias=settings.antialias, smooth_body=settings.smooth_body)
    try:
        net.load_state_dict(state["net"])
    except RuntimeError as exc:
        raise UserError(f"{checkpoint}: the weights do not fit the live net ({str(exc).splitlines()[0]})") from exc
    return net.eval(), settings, state


@dataclass(frozen=True)
class StyleShrink:
    """Every style vector moved towards ``centre`` by ``factor`` (:func:`~export.conditional_net.shrink_styles`),
    folded into the live model's weights at export: ``centre`` is the mean vector of its training paintings."""

    factor: float
    centre: np.ndarray

    def apply(self, net: ConditionalFastNet) -> None:
        shrink_styles(net, torch.from_numpy(np.asarray(self.centre, np.float32)), self.factor)

    def to_dict(self) -> dict:
        return {"factor": self.factor, "centre": [round(float(v), 6) for v in self.centre]}


def export_live_model(checkpoint: str | Path, path: str | Path, default_style: np.ndarray,
                      paintings: list[dict] | None = None, overwrite: bool = False,
                      shrink: StyleShrink | None = None) -> dict[str, float]:
    """Export and verify the live model; ``default_style`` is what it paints without a style input,
    ``paintings`` (file names and SHA-256) are recorded as its training paintings, ``shrink`` is folded
    into its weights and recorded."""
    net, settings, state = load_live_net(checkpoint)
    if shrink is not None:
        shrink.apply(net)
    made = {"trained_steps": state["step"], "training_seconds": round(state.get("seconds", 0.0)),
            "held_out_paintings": list(settings.held_out)}
    meta = build_metadata({**settings.to_dict(), **made}, LIVE_STYLE_NAME,
                          live_architecture(settings),
                          "vgg16" if settings.style_weight > 0 else "distilled", contract.IO_UINT8_BGR,
                          source=f"stylize live-model training ({Path(checkpoint).name})")
    if paintings is not None:
        meta[contract.META_PAINTINGS] = json.dumps(paintings)
    if shrink is not None:
        meta[contract.META_STYLE_SHRINK] = json.dumps(shrink.to_dict())
    with torch.no_grad():
        return export_net(net, path, meta, overwrite=overwrite, style=np.asarray(default_style, np.float32),
                          inputs=(Path(checkpoint),))


def export_refined_live_model(net: ConditionalFastNet, default_style: np.ndarray, refinement: dict,
                              path: str | Path = models.LIVE_MODEL) -> dict[str, float]:
    """Write the live model at ``path`` again with ``net``, its weights refined after training
    (:func:`~export.net_refine.refine_live_net`): its metadata kept, ``refinement`` recorded under
    ``stylize.net_refined``, verified as every export is (the old file stays if verification fails)."""
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    meta.pop(contract.META_PRECISION, None)  # export_net writes it
    meta[contract.META_NET_REFINED] = json.dumps(refinement)
    with torch.no_grad():
        return export_net(net, path, meta, overwrite=True, style=np.asarray(default_style, np.float32))


def training_painting_vectors(paintings: list[dict], folders: list[str | Path], encoder: StyleEncoder) -> np.ndarray:
    """The style vectors [K, 100] of a live model's training paintings (file names and SHA-256, as in
    its ``stylize.paintings`` metadata), each found by name anywhere under ``folders`` and checked against its
    SHA-256."""
    from ..realtime.core.images import list_images

    by_name: dict[str, list[Path]] = {}
    for folder in folders:
        for path in list_images(folder):
            by_name.setdefault(path.name, []).append(path)
    vectors = []
    for entry in paintings:
        found = [p for p in by_name.get(entry["file"], []) if file_digest(p) == entry["sha256"]]
        if not found:
            raise UserError(f"training painting {entry['file']} (SHA-256 {entry['sha256'][:12]}...) is not in "
                            f"{', '.join(map(str, folders))}")
        vectors.append(encoder.encode_image(read_painting(found[0])))
    return np.stack(vectors).astype(np.float32)
