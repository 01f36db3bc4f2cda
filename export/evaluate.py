"""`stylize eval`: judge a fast ONNX model against Gatys references for the same style.

For each content photo: the model's output and a Gatys optimisation, both scored by the same loss
network. Losses are normalised so they read the same way for every backbone and photo: content
loss relative to 1/2*sum(P^2) (0 = the photo's features), style loss relative to the unstylized
photo's style loss (1 = no more like the painting than the photo itself).
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import torch

from .data import bgr_to_tensor, resize_longer_side
from .gatys import GatysObjective, GatysSettings, gatys_network, stylize
from .losses import LossNetwork, build_loss_network, gram_matrix
from .losses import resolve_backbone
from ..realtime.core.errors import UserError
from ..realtime.core.frames import draw_text_lines
from ..realtime.core.images import list_images, read_image, write_image
from ..realtime.core.outputs import check_outputs, ensure_writable_folder
from ..realtime.core.session import StyleSession


def content_files(inputs: list[str]) -> list[Path]:
    """Image files from a mix of files and folders."""
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        files += list_images(path) if path.is_dir() else [path]  # a bad file is reported when read
    if not files:
        raise UserError("no content images found")
    return files


DISTANCE_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")  # Johnson et al.'s style layers of VGG16
CONTENT_DISTANCE_LAYER = "relu3_3"


def painting_distance(network: LossNetwork, output_bgr: np.ndarray, photo_bgr: np.ndarray,
                      painting_bgr: np.ndarray) -> dict[str, float]:
    """How close a stylization is to its painting and to its photo, under a VGG16 loss network.

    style: mean over relu1_2/2_2/3_3/4_3 of ||G(output) - G(painting)|| / ||G(photo) - G(painting)||
    (Frobenius norms of normalised Gram matrices): 1 = as far from the painting as the photo itself,
    0 = the painting's statistics. content: ||F(output) - F(photo)|| / ||F(photo)|| at relu3_3
    (0 = the photo's features). structure: :func:`structure_kept`. ``output_bgr`` and ``photo_bgr`` must have
    the same size.
    """
    with torch.no_grad():
        feats = {"output": network(bgr_to_tensor([output_bgr])), "photo": _reference_features(network, photo_bgr),
                 "painting": _reference_features(network, painting_bgr)}
        grams = {k: {n: gram_matrix(f[n]) for n in DISTANCE_LAYERS} for k, f in feats.items()}
        ratios = [float((grams["output"][n] - grams["painting"][n]).norm()
                        / (grams["photo"][n] - grams["painting"][n]).norm().clamp_min(1e-12)) for n in DISTANCE_LAYERS]
        c = CONTENT_DISTANCE_LAYER
        content = float((feats["output"][c] - feats["photo"][c]).norm() / feats["photo"][c].norm().clamp_min(1e-12))
    return {"style": float(np.mean(ratios)), "content": content, "structure": structure_kept(output_bgr, photo_bgr)}


STRUCTURE_SIZE = 256  # px, longer side: the photo's shapes, not the brush strokes


def structure_kept(output_bgr: np.ndarray, photo_bgr: np.ndarray) -> float:
    """How much of the photo's structure a stylization keeps: the local correlation of their grey levels
    (SSIM's structure term, Gaussian windows of sigma 1.5), averaged with each window weighted by how much
    both vary there, with both scaled to ``STRUCTURE_SIZE`` px. 1 = light and dark wherever the photo has
    them (whatever the colours), 0 = no relation, -1 = inverted; brush texture alone lowers it little."""
    def grey(bgr: np.ndarray) -> np.ndarray:
        scale = STRUCTURE_SIZE / max(bgr.shape[:2])
        small = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else bgr
        return cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float64)

    a, b = grey(output_bgr), grey(photo_bgr)
    blur = lambda x: cv2.GaussianBlur(x, (11, 11), 1.5)  # noqa: E731
    mean_a, mean_b = blur(a), blur(b)
    spread = np.sqrt(np.maximum(blur(a * a) - mean_a ** 2, 0) * np.maximum(blur(b * b) - mean_b ** 2, 0))
    return float(np.sum(blur(a * b) - mean_a * mean_b) / max(float(np.sum(spread)), 1e-9))


_REFERENCES: dict[tuple, dict[str, torch.Tensor]] = {}
_REFERENCES_KEPT = 16


def _reference_features(network: LossNetwork, image_bgr: np.ndarray) -> dict[str, torch.Tensor]:
    """The network's features of a photo or painting, remembered for the next few calls (a report scores many
    outputs against the same photos and paintings)."""
    key = (id(network), image_bgr.shape, hashlib.blake2b(np.ascontiguousarray(image_bgr).data, digest_size=16).digest())
    if key not in _REFERENCES:
        if len(_REFERENCES) >= _REFERENCES_KEPT:
            del _REFERENCES[next(iter(_REFERENCES))]
        _REFERENCES[key] = network(bgr_to_tensor([image_bgr]))
    return _REFERENCES[key]


def colourfulness(bgr: np.ndarray) -> float:
    """Hasler and Suesstrunk's colourfulness of a uint8 BGR picture (0: grey; about 100: extremely colourful)."""
    b, g, r = (bgr[..., i].astype(np.float64) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def rms_contrast(bgr: np.ndarray) -> float:
    """The standard deviation of a uint8 BGR picture's grey levels (0-255)."""
    return float(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.float64).std())


def distance_network(backbone_weights: str | None = None) -> LossNetwork:
    """The VGG16 that :func:`painting_distance` measures with (ImageNet weights required)."""
    try:
        return build_loss_network("vgg16", backbone_weights, taps=(DISTANCE_LAYERS, (CONTENT_DISTANCE_LAYER,)))
    except Exception as exc:
        raise UserError(f"the painting distance needs VGG16: {exc}") from exc


def score(objective: GatysObjective, bgr: np.ndarray) -> dict[str, float]:
    with torch.no_grad():
        terms = objective(bgr_to_tensor([bgr]))
    return {"content": float(terms["content"]), "style": float(terms["style"])}


def evaluate(model: str, style: str | None, contents: list[str], output_dir: str, gatys: GatysSettings,
             backbone_weights: str | None = None, overwrite: bool = False) -> dict:
    """Write REPORT_DIR/summary.json and one side-by-side PNG per photo; returns the summary."""
    out = Path(output_dir)
    if (out / "summary.json").exists() and not overwrite:
        raise UserError(f"{out} already holds a report: pass --overwrite to replace it")
    session = StyleSession(model, "cpu")
    style_path = style or session.info.settings.get("style")
    if not style_path or not Path(style_path).is_file():
        raise UserError(f"the style image {style_path!r} of this model is not here: pass --style")
    style_bgr = read_image(style_path)
    files = content_files(contents)
    photos = [resize_longer_side(read_image(p), gatys.size) for p in files]
    gatys.backbone = resolve_backbone(gatys.backbone, backbone_weights)
    network = gatys_network(gatys, backbone_weights)
    check_outputs([*files, Path(style_path), Path(model)],
                  [out / f"{p.stem}_{kind}.png" for p in files for kind in ("gatys", "compare")], overwrite=True)
    ensure_writable_folder(out)
    scoring = GatysSettings(**{**asdict(gatys), "content_weight": 1.0, "style_weight": 1.0, "tv_weight": 0.0})
    rows = []
    for path, photo in zip(files, photos):
        content = bgr_to_tensor([photo])
        style_t = bgr_to_tensor([resize_longer_side(style_bgr, max(32, round(gatys.size * gatys.style_scale)))])
        objective = GatysObjective(network, content, [style_t], [1.0], scoring)
        objective.calibrate(content)  # style 1.0 = as far from the painting as the photo itself

        t = time.perf_counter()
        fast = session.run(photo)
        fast_s = time.perf_counter() - t
        ref_path = out / f"{path.stem}_gatys.png"
        t = time.perf_counter()
        stylize(str(path), [style_path], str(ref_path), gatys, overwrite=True, progress=False, network=network)
        gatys_s = time.perf_counter() - t
        reference = read_image(ref_path)
        fast_scores, ref_scores = score(objective, fast), score(objective, reference)
        rows.append({
            "photo": str(path), "fast": {**fast_scores, "seconds": fast_s}, "gatys": {**ref_scores, "seconds": gatys_s},
            "style_ratio": fast_scores["style"] / max(ref_scores["style"], 1e-12),
            "content_ratio": fast_scores["content"] / max(ref_scores["content"], 1e-12),
        })
        panel = np.hstack([photo, reference, fast])
        draw_text_lines(panel, [f"content | Gatys ({gatys.iterations} it, {gatys_s:.0f} s) | "
                                f"{session.info.name} ({1000 * fast_s:.0f} ms)"])
        write_image(out / f"{path.stem}_compare.png", panel)
    summary = {
        "model": str(model), "style": style_path, "architecture": session.info.architecture,
        "backbone": gatys.backbone, "gatys_settings": asdict(gatys), "photos": rows,
        "mean_style_ratio": float(np.mean([r["style_ratio"] for r in rows])),
        "mean_content_ratio": float(np.mean([r["content_ratio"] for r in rows])),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def painting_closeness(model: str | Path, settings, size: int = 384,
                       backbone_weights: str | None = None) -> dict[str, float] | None:
    """How close a trained style's model comes to its painting (the painting distance, mean over the run's
    held-out photos at ``size`` px), next to the live model given the same painting; None without VGG16 or
    held-out photos."""
    from .data import PhotoFolder
    from ..realtime.model_lookup import open_stylizer

    photos = [resize_longer_side(p, size) for p in PhotoFolder(settings.data, settings.held_out).held_out_images(size)]
    try:
        network = distance_network(backbone_weights)
    except UserError:
        return None
    if not photos:
        return None
    painting = resize_longer_side(read_image(settings.style), size)
    scores = {name: mean_distance(stylizer, photos, painting, network)["style"]
              for name, stylizer in (("model", open_stylizer(str(model), device="cpu")),
                                     ("live", open_stylizer(None, [str(settings.style)], device="cpu")))}
    return {**scores, "photos": len(photos)}


def mean_distance(stylizer, photos: list[np.ndarray], painting: np.ndarray, network: LossNetwork) -> dict[str, float]:
    """:func:`painting_distance`'s figures of ``stylizer`` (BGR in, BGR out), mean over ``photos``."""
    scores = [painting_distance(network, stylizer(photo), photo, painting) for photo in photos]
    return {k: float(np.mean([s[k] for s in scores])) for k in scores[0]}

