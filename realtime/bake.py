"""`stylize bake`: a painting (or a blend of several) baked into a self-contained contract-v1 model, in
seconds and without torch: the live model with its style input replaced by the painting's vector."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .core import contract
from .core.errors import UserError
from .core.outputs import atomic_output, prepare_output_file
from .core.session import StyleSession, check_model_runs
from .core.text import metadata_text
from .painting_style import StyleEncoder, describe_mix, mix_weights, mixed_vector, resolve_style
from .. import models

CHECK_SIZE = (97, 131)  # an odd frame size the baked model is compared with the live model on


def bake(styles: list[str], output: str | Path, mix: list[float] | None = None, live_model: str | Path | None = None,
         name: str | None = None, overwrite: bool = False) -> Path:
    """Write ``output``: the live model painting the blend of ``styles`` (painting files or shipped
    style names, weighted by ``mix``) as a fixed style. The file is checked (it loads, runs at an odd
    size and paints as the live model does with that vector) before it replaces anything."""
    import onnx

    live_path = Path(live_model or models.LIVE_MODEL)
    inputs = [live_path] + [Path(s) for s in styles if Path(s).is_file()]
    target = prepare_output_file(output, inputs, overwrite, suffixes=(".onnx",))
    live = StyleSession(live_path, "cpu")
    if not live.info.style_dims:
        raise UserError(f"{live_path} has no style input: bake needs the live any-painting model")
    chosen = [resolve_style(spec, StyleEncoder()) for spec in styles]
    vector = live.style_feed(mixed_vector(chosen, mix))

    model = onnx.load(str(live_path))
    style_default(model, live_path).CopyFrom(onnx.numpy_helper.from_array(vector, contract.INPUT_STYLE))
    kept = [i for i in model.graph.input if i.name != contract.INPUT_STYLE]
    del model.graph.input[:]
    model.graph.input.extend(kept)  # a constant now: onnxruntime folds the style into the norms
    weights = mix_weights(mix, len(chosen))
    meta = {p.key: p.value for p in model.metadata_props}
    meta.update({
        contract.META_STYLE: name or "+".join(s.name for s in chosen),
        contract.META_SOURCE: f"stylize bake ({describe_mix(chosen, mix)}) from {live_path.name}",
        contract.META_PAINTINGS: json.dumps([{"name": s.name, "weight": round(float(w), 4), **s.source}
                                             for s, w in zip(chosen, weights)]),
    })
    del model.metadata_props[:]
    for key, value in meta.items():
        model.metadata_props.add(key=key, value=metadata_text(value))
    onnx.checker.check_model(model)

    with atomic_output(target, overwrite) as tmp:
        onnx.save(model, str(tmp))
        baked = check_model_runs(tmp, [CHECK_SIZE])
        frame = check_frame(*CHECK_SIZE)
        difference = np.abs(baked.run(frame).astype(int) - live.run(frame, 1.0, vector).astype(int)).max()
        if difference > 1:
            raise UserError(f"the baked model paints differently from the live model (by {difference} levels)")
    return target


def check_frame(h: int, w: int) -> np.ndarray:
    """A smooth, coloured test frame."""
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([128 + 100 * np.sin(xx / (5.0 + c) + c) * np.cos(yy / 7.0) for c in range(3)], -1).astype(np.uint8)


def with_required_style_input(live_path: str | Path, target: str | Path) -> np.ndarray:
    """Write a copy of a live model whose ``style`` input has no default (onnxruntime-web feeds only
    inputs without one) to ``target``; returns the default vector it had."""
    import onnx

    model = onnx.load(str(live_path))
    default = style_default(model, live_path)
    vector = onnx.numpy_helper.to_array(default).astype(np.float32)
    model.graph.initializer.remove(default)
    onnx.save(model, str(target))
    return vector


def set_default_style(live_path: str | Path, vector: np.ndarray) -> None:
    """Make ``vector`` what the live model at ``live_path`` paints when no style is fed. The file is
    replaced only once the new one runs and paints as the old one does when fed ``vector``."""
    import onnx

    live_path = Path(live_path)
    before = StyleSession(live_path, "cpu", threads=1)
    feed = before.style_feed(np.asarray(vector, np.float32))
    model = onnx.load(str(live_path))
    style_default(model, live_path).CopyFrom(onnx.numpy_helper.from_array(feed, contract.INPUT_STYLE))
    frame = check_frame(*CHECK_SIZE)
    expected = before.run(frame, 1.0, feed)
    with atomic_output(live_path) as tmp:
        onnx.save(model, str(tmp))
        difference = np.abs(check_model_runs(tmp, [CHECK_SIZE]).run(frame).astype(int) - expected.astype(int)).max()
        if difference > 0:
            raise UserError(f"{live_path}: with the new default style it paints differently (by {difference} levels)")


def style_default(model, path: str | Path):
    """The initializer that holds the live model's default style vector (an ``onnx.TensorProto``)."""
    defaults = [t for t in model.graph.initializer if t.name == contract.INPUT_STYLE]
    if len(defaults) != 1:
        raise UserError(f"{path}: its style input has no default value")
    return defaults[0]
