"""The Gatys, Ecker & Bethge (2015) optimizer: stylize one photo by optimizing its pixels.

Losses as in the paper, with F the C x (H*W) feature map of a layer (N = C filters of M = H*W):
- content: 1/2 * sum((F - P)^2) at the content layers;
- style: per layer E_l = 1/(4 N^2 M^2) * sum((G - A)^2) with G = F F^T, weighted by the per-layer
  style weights; J = alpha * J_content + beta * J_style (+ total variation).
Extra normalisation (on by default, ``normalize=True``): each style layer's E_l is divided by its
value at the initial image, and the content loss by 1/2 * sum(P^2), so alpha and beta are
comparable across backbones, layers and image sizes (the raw paper values span many orders of
magnitude between layers).
"""
from __future__ import annotations

import json
from collections.abc import Callable
import logging
import time
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .data import bgr_to_tensor, resize_longer_side, tensor_to_bgr
from .loop import Loop, LoopState
from .losses import LossNetwork, build_loss_network, total_variation
from .losses import resolve_backbone
from .settings import GatysSettings
from ..realtime.core.errors import UserError
from ..realtime.core.images import IMAGE_SUFFIXES, max_pixels, read_image, write_image
from ..realtime.core.outputs import check_outputs, prepare_output_file

log = logging.getLogger(__name__)

MIN_SIZE = 32  # the deepest taps sit at 1/16 resolution
LBFGS_MAX_EVALUATIONS = 20  # per iteration, for the strong-Wolfe line search
# Gatys et al.'s layers (after the ReLU, as in jcjohnson/neural-style); VGG16 has the same names
GATYS_TAPS = (("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"), ("relu4_2",))


MIN_STYLE_SIDE = 16  # VGG's filters and poolings need this much on every side


def gram(features: torch.Tensor) -> torch.Tensor:
    """The paper's Gram matrix G = F F^T (no normalisation) of a 1 x C x H x W feature map."""
    flat = features.reshape(features.shape[1], -1)
    return flat @ flat.t()


def style_layer_loss(features: torch.Tensor, target_gram: torch.Tensor) -> torch.Tensor:
    """E_l = 1/(4 N^2 M^2) * sum((G - A)^2)."""
    n, m = features.shape[1], features.shape[2] * features.shape[3]
    return ((gram(features) - target_gram) ** 2).sum() / (4.0 * n * n * m * m)


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1/2 * sum((F - P)^2)."""
    return 0.5 * ((features - target) ** 2).sum()


def luminance(bgr: np.ndarray) -> np.ndarray:
    """The Y channel of an image as a 3-channel gray BGR image."""
    y = cv2.cvtColor(bgr, cv2.COLOR_BGR2YCrCb)[..., 0]
    return cv2.cvtColor(y, cv2.COLOR_GRAY2BGR)


def with_chroma_of(result: np.ndarray, content: np.ndarray) -> np.ndarray:
    """``result``'s luminance with ``content``'s chroma (YCrCb), at ``result``'s size."""
    ycc = cv2.cvtColor(result, cv2.COLOR_BGR2YCrCb)
    chroma = cv2.cvtColor(cv2.resize(content, (result.shape[1], result.shape[0]), interpolation=cv2.INTER_AREA),
                          cv2.COLOR_BGR2YCrCb)
    ycc[..., 1:] = chroma[..., 1:]
    return cv2.cvtColor(ycc, cv2.COLOR_YCrCb2BGR)


class GatysObjective:
    """J for one content image and a blend of styles at one resolution."""

    def __init__(self, network: LossNetwork, content: torch.Tensor, styles: list[torch.Tensor], blend: list[float],
                 settings: GatysSettings):
        self.network, self.settings = network, settings
        layers = network.style_layers
        weights = settings.style_layer_weights or [1.0 / len(layers)] * len(layers)
        self.layer_weights = dict(zip(layers, weights))
        with torch.no_grad():
            feats = network(content)
            self.content_targets = {n: feats[n] for n in network.content_layers}
            self.style_grams = {n: torch.zeros(()) for n in layers}
            for style, w in zip(styles, blend):
                sf = network(style)
                # Grams of different image sizes are made comparable per position (divide by M)
                for n in layers:
                    m = sf[n].shape[2] * sf[n].shape[3]
                    self.style_grams[n] = self.style_grams[n] + w * gram(sf[n]) / m
        self.content_scale = {n: 1.0 for n in network.content_layers}
        self.style_scale = {n: 1.0 for n in layers}
        if settings.normalize:
            self.content_scale = {n: float(0.5 * (t ** 2).sum()) + 1e-12 for n, t in self.content_targets.items()}

    def calibrate(self, image: torch.Tensor) -> None:
        """Normalise each style layer by its loss at ``image`` (the start of the optimisation), but by no
        less than a thousandth of the style's own energy (its loss at zero features): a start that
        already matches a layer (content and style the same picture) must not turn rounding noise into
        a loss of 1, whose huge gradients drove the pixels to NaN."""
        if not self.settings.normalize:
            return
        with torch.no_grad():
            feats = self.network(image)
            raw = self.style_terms(feats)
            energy = self.style_terms({n: torch.zeros_like(f) for n, f in feats.items()})
        self.style_scale = {n: max(float(v), 1e-3 * float(energy[n]), 1e-12) for n, v in raw.items()}

    def style_terms(self, feats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out = {}
        for n in self.network.style_layers:
            m = feats[n].shape[2] * feats[n].shape[3]
            out[n] = style_layer_loss(feats[n], self.style_grams[n] * m)
        return out

    def __call__(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = self.network(image)
        content = sum(content_loss(feats[n], t) / self.content_scale[n] for n, t in self.content_targets.items())
        style = sum(self.layer_weights[n] * v / self.style_scale[n] for n, v in self.style_terms(feats).items())
        tv = total_variation(image)
        terms = {"content": self.settings.content_weight * content, "style": self.settings.style_weight * style,
                 "tv": self.settings.tv_weight * tv}
        terms["total"] = terms["content"] + terms["style"] + terms["tv"]
        return terms


def gatys_network(settings: GatysSettings, backbone_weights: str | None = None) -> LossNetwork:
    """The loss network of a Gatys run: a VGG tapped at the paper's layers, else effnet-lite0."""
    taps = GATYS_TAPS if settings.backbone in ("vgg16", "vgg19") else None
    try:
        return build_loss_network(settings.backbone, backbone_weights, average_pooling=settings.average_pooling,
                                  taps=taps)
    except Exception as exc:
        raise UserError(str(exc)) from exc


def level_sizes(size: int, levels: int) -> list[int]:
    return [max(MIN_SIZE, size // 2 ** (levels - 1 - i)) for i in range(levels)]


def stylize(content_path: str, style_paths: list[str], output: str, settings: GatysSettings,
            backbone_weights: str | None = None, overwrite: bool = False, progress: bool = True,
            network: LossNetwork | None = None) -> dict:
    """Optimize an image that has the content of one photo and the style of one or more paintings.

    Writes ``output`` (PNG/JPEG), ``<output>.json`` with the settings and loss history, and, with
    ``save_every``, intermediate images ``<stem>_iterNNNN<suffix>``. Returns the summary dict.
    ``network`` reuses an already built loss network (it must match ``settings.backbone``).
    """
    inputs = [Path(content_path), *map(Path, style_paths)]
    if settings.init not in ("content", "noise"):
        inputs.append(Path(settings.init))
    out = prepare_output_file(output, inputs, overwrite, suffixes=IMAGE_SUFFIXES)
    check_outputs(inputs, [out.with_name(out.name + ".json")], overwrite=True)
    blend = checked_blend(settings, len(style_paths))
    content_bgr = read_image(content_path)
    styles_bgr = [read_image(p) for p in style_paths]
    init_bgr = None if settings.init in ("content", "noise") else read_image(settings.init)
    if network is None:
        settings.backbone = resolve_backbone(settings.backbone, backbone_weights)
        network = gatys_network(settings, backbone_weights)
    layers = network.style_layers
    if settings.style_layer_weights is not None and len(settings.style_layer_weights) != len(layers):
        raise UserError(f"{settings.backbone} has {len(layers)} style layers ({', '.join(layers)}); "
                        f"got {len(settings.style_layer_weights)} --style-layer-weights")
    if settings.original_colors:
        content_in, styles_in = luminance(content_bgr), [luminance(s) for s in styles_bgr]
    else:
        content_in, styles_in = content_bgr, styles_bgr

    torch.manual_seed(settings.seed)
    started = time.perf_counter()
    state, history, image = LoopState(), [], None
    sizes = level_sizes(settings.size, settings.levels)
    per_level = [settings.iterations // len(sizes)] * len(sizes)
    per_level[-1] += settings.iterations - sum(per_level)
    for size, iterations in zip(sizes, per_level):
        objective, image = level_start(network, content_in, styles_in, blend, settings, size, image, init_bgr)

        def save(done: int, picture: torch.Tensor = image) -> None:
            write_image(out.with_name(f"{out.stem}_iter{done:04d}{out.suffix}"), finish(picture, content_bgr, settings))

        optimise_level(objective, image, settings, state, state.step + iterations, progress, save)
        history += [{"iteration": h["step"], "size": size, **{k: v for k, v in h.items() if k != "step"}}
                    for h in state.history[len(history):]]
    result = finish(image, content_bgr, settings)
    write_image(out, result)
    summary = {"output": str(out), "content": str(content_path), "styles": [str(p) for p in style_paths],
               "settings": asdict(settings), "history": history, "seconds": time.perf_counter() - started}
    out.with_name(out.name + ".json").write_text(json.dumps(summary, indent=1))
    return summary


def checked_blend(settings: GatysSettings, styles: int) -> list[float]:
    """The style blend weights, summing to 1, once the settings are known to be usable (else a UserError)."""
    if not styles:
        raise UserError("give at least one --style image")
    blend = settings.style_blend or [1.0] * styles
    if len(blend) != styles:
        raise UserError(f"{styles} style images but {len(blend)} --style-blend weights: give one per style")
    if any(w < 0 for w in blend) or sum(blend) <= 0:
        raise UserError("--style-blend weights must be non-negative and not all zero")
    if settings.size < MIN_SIZE or settings.size / 2 ** (settings.levels - 1) < MIN_SIZE / 2:
        raise UserError(f"--size {settings.size} is too small for the network (at least {MIN_SIZE} px per level)")
    if settings.size * settings.size > max_pixels():  # the longer side squared bounds the image's pixels
        raise UserError(f"--size {settings.size}: up to {settings.size * settings.size / 1e6:.0f} megapixels, over the "
                        f"limit of {max_pixels() / 1e6:.0f} (stylize --max-pixels N raises it)")
    if settings.optimizer not in ("lbfgs", "adam"):
        raise UserError(f"--optimizer {settings.optimizer}: choose lbfgs or adam")
    return [w / sum(blend) for w in blend]


def level_start(network: LossNetwork, content_in: np.ndarray, styles_in: list[np.ndarray], blend: list[float],
                settings: GatysSettings, size: int, image: torch.Tensor | None,
                init_bgr: np.ndarray | None) -> tuple[GatysObjective, torch.Tensor]:
    """One level's objective, and the picture it starts from: the previous level's enlarged, or the start."""
    content = bgr_to_tensor([resize_longer_side(content_in, size)])
    style_size = max(MIN_SIZE, round(size * settings.style_scale))
    styles = [bgr_to_tensor([resize_longer_side(s, style_size)]) for s in styles_in]
    if min(min(t.shape[2:]) for t in styles) < MIN_STYLE_SIDE:
        raise UserError(f"a style image is too narrow at this size (under {MIN_STYLE_SIDE} px on its short side, "
                        "smaller than the loss network's filters need): use a larger image or --style-scale")
    objective = GatysObjective(network, content, styles, blend, settings)
    if image is not None:
        image = F.interpolate(image, size=content.shape[2:], mode="bilinear", align_corners=False)
    elif settings.init == "content":
        image = content.clone()
    elif settings.init == "noise":
        image = torch.rand_like(content)
    else:
        image = bgr_to_tensor([cv2.resize(init_bgr, (content.shape[3], content.shape[2]))])
    image = image.detach().clamp(0, 1).requires_grad_(True)
    objective.calibrate(image)
    return objective, image


def optimise_level(objective: GatysObjective, image: torch.Tensor, settings: GatysSettings, state: LoopState,
                   until: int, progress: bool, save: Callable[[int], None]) -> None:
    """Optimise the picture on the loop from ``state.step`` to ``until``; a picture with nothing left to
    optimise (the photo is already the painting) is left as it is."""
    start = objective(image)["total"]
    start.backward()
    if not (torch.isfinite(start) and torch.isfinite(image.grad).all()):
        raise diverged(f"the loss became {float(start.detach())}", state.step + 1)
    if not (start > 0 and image.grad.abs().max() > 0):  # e.g. content and style the same picture
        log.info(f"nothing left to optimise at {image.shape[3]} px (loss {float(start.detach()):.3g}, no gradient)")
        state.step = until
        return
    image.grad = None
    if settings.optimizer == "lbfgs":
        # one iteration per step, with room for a real line search (the default allows one evaluation,
        # which accepts whatever it finds, and the loss can jump up and stay there)
        optimizer = torch.optim.LBFGS([image], lr=1.0, max_iter=1, max_eval=LBFGS_MAX_EVALUATIONS,
                                      history_size=50, line_search_fn="strong_wolfe")
    else:
        optimizer = torch.optim.Adam([image], lr=settings.lr)

    def after_step(done: int, record: dict[str, float]) -> None:
        if settings.optimizer == "adam":  # clamping between L-BFGS steps would break its curvature history
            with torch.no_grad():
                image.clamp_(0, 1)
        if settings.save_every and done % settings.save_every == 0:
            save(done)

    def message(step: int, total: float) -> str:
        return str(diverged(f"the loss became {total}" if not np.isfinite(total) else "not-a-number pixels", step))

    loop = Loop(optimizer, until, "gatys", progress, after_step=after_step, watched=[image], message=message,
                shown=lambda r: {k: f"{r[k]:.3g}" for k in ("content", "style", "tv")},
                progress_total=settings.iterations, reuse_evaluations=settings.optimizer == "lbfgs")
    loop.run(lambda step: objective(image), state)


def diverged(what: str, iteration: int) -> UserError:
    """The message for an optimisation that left the finite numbers (nothing is written)."""
    return UserError(f"the optimisation diverged ({what}) at iteration {iteration}; nothing was written: "
                     "try --optimizer adam, a smaller --lr or other loss weights")


def finish(image: torch.Tensor, content_bgr: np.ndarray, settings: GatysSettings) -> np.ndarray:
    result = tensor_to_bgr(image)[0]
    return with_chroma_of(result, content_bgr) if settings.original_colors else result
