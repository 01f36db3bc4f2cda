"""The live model's shipped styles refined against their own nets: a shipped style's vector (the
style-prediction net's vector of its painting) is tuned, with the live net fixed, so that the live net
paints photo crops with the texture that style's own fixed-style net paints them with (the VGG16 Gram
matrices of that net's painting of the same crop), optionally held steady under camera noise. The
fixed-style nets are steadier and closer to their paintings than the live model with the predicted
vector; paintings given as files keep the predicted vector."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .. import models
from ..realtime.errors import UserError
from ..realtime.session import StyleSession
from .conditional_net import ConditionalFastNet
from .losses import LossNetwork, MissingWeightsError, build_loss_network, gram_matrix, relative_mse
from .perceptual import camera_noise, noise_loss
from .teacher_pairs import random_photo_crop, to_tensor

@dataclass(frozen=True)
class RefineSettings:
    """How a shipped style's vector is refined (saved beside every refined vector)."""

    steps: int = 60
    lr: float = 0.03  # Adam on the vector (whose entries are about 1 in size)
    crops: int = 80  # photo crops painted by the style's own net: the Gram targets
    image_size: int = 256
    batch_size: int = 4
    noise_weight: float = 0.0  # weight of the change under camera noise (0: the Gram targets alone)
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class RefinedStyle:
    vector: np.ndarray
    gram_loss_before: float  # mean relative Gram error against the style's own net, over all crops
    gram_loss_after: float


def teacher_grams(network: LossNetwork, teacher: StyleSession, photos: list[Path], settings: RefineSettings,
                  rng: np.random.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``settings.crops`` photo crops (RGB NCHW in [0, 1]) and the Gram matrices, per style layer, of
    ``teacher``'s paintings of them."""
    crops = np.stack([random_photo_crop(photos, rng, settings.image_size) for _ in range(settings.crops)])
    grams: dict[str, list[torch.Tensor]] = {name: [] for name in network.style_layers}
    with torch.no_grad():
        for crop in crops:
            features = network(to_tensor(teacher.run(crop[None])))
            for name in network.style_layers:
                grams[name].append(gram_matrix(features[name])[0])
    return to_tensor(crops), {name: torch.stack(g) for name, g in grams.items()}


def gram_error(network: LossNetwork, painted: torch.Tensor, grams: dict[str, torch.Tensor]) -> torch.Tensor:
    """The mean over style layers of the relative Gram error of ``painted`` against ``grams``."""
    features = network(painted)
    return sum(relative_mse(gram_matrix(features[n]), grams[n]) for n in network.style_layers) / len(grams)


def refine_style_vector(net: ConditionalFastNet, vector: np.ndarray, teacher: StyleSession, photos: list[Path],
                        network: LossNetwork, settings: RefineSettings = RefineSettings(),
                        progress: Callable[[int, float], None] | None = None) -> RefinedStyle:
    """``vector`` tuned so that ``net`` paints like ``teacher`` (the style's own fixed-style net) by
    texture; ``net`` and ``network`` are left unchanged. ``progress(step, loss)`` is called every step."""
    rng = np.random.default_rng(settings.seed)
    torch.manual_seed(settings.seed)
    crops, grams = teacher_grams(network, teacher, photos, settings, rng)
    frozen = [p for p in net.parameters() if p.requires_grad] + [p for p in network.parameters() if p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    style = torch.tensor(np.asarray(vector, np.float32)).requires_grad_()

    def paint(batch: torch.Tensor) -> torch.Tensor:
        return net(batch, style)

    def mean_error() -> float:
        with torch.no_grad():
            return float(np.mean([float(gram_error(network, paint(crops[i:i + settings.batch_size]),
                                                   {n: g[i:i + settings.batch_size] for n, g in grams.items()}))
                                  for i in range(0, len(crops), settings.batch_size)]))

    try:
        before = mean_error()
        optimizer = torch.optim.Adam([style], lr=settings.lr)
        for step in range(1, settings.steps + 1):
            idx = torch.from_numpy(rng.choice(len(crops), settings.batch_size, replace=False))
            batch = crops[idx]
            painted = paint(batch)
            loss = gram_error(network, painted, {n: g[idx] for n, g in grams.items()})
            if settings.noise_weight > 0:
                loss = loss + settings.noise_weight * noise_loss(paint, batch, painted,
                                                                 camera_noise(rng, tuple(batch.shape)))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if progress is not None:
                progress(step, float(loss.detach()))
        after = mean_error()
    finally:
        for p in frozen:
            p.requires_grad_(True)
    return RefinedStyle(style.detach().numpy().astype(np.float32), before, after)


def refine_shipped_styles(net: ConditionalFastNet, styles: dict[str, dict], photos: str | Path,
                          settings: RefineSettings = RefineSettings(), progress: bool = True) -> dict[str, dict]:
    """``styles`` (``models/live/styles.json``: name -> vector and source) with every vector refined
    against the shipped net of that name on crops of the photos in the folder ``photos``. Each entry
    keeps the style-prediction net's vector as ``encoded``, which a refinement always starts from (so
    refining again does not compound), and records how it was refined and the Gram error before and after."""
    from tqdm import tqdm
    from ..realtime.images import list_images

    images = list_images(Path(photos))
    if not images:
        raise UserError(f"{photos}: no photos there to refine the styles on")
    try:
        network = build_loss_network("vgg16")
    except MissingWeightsError as exc:
        raise UserError(str(exc)) from exc
    refined = {}
    with tqdm(total=settings.steps * len(styles), desc="refining shipped styles", disable=not progress) as bar:
        for name, entry in styles.items():
            encoded = np.asarray(entry.get("encoded", entry["vector"]), np.float32)
            teacher = StyleSession(models.MODELS_DIR / f"{name}.onnx", "cpu", threads=1)
            bar.set_postfix_str(name)
            result = refine_style_vector(net, encoded, teacher, images, network, settings,
                                         lambda step, loss: bar.update())
            refined[name] = {**entry, "vector": rounded(result.vector), "encoded": rounded(encoded),
                             "refined": {"settings": settings.to_dict(),
                                         "gram_error_before": round(result.gram_loss_before, 5),
                                         "gram_error_after": round(result.gram_loss_after, 5)}}
    return refined


def rounded(vector: np.ndarray) -> list[float]:
    """A style vector as styles.json stores it."""
    return [round(float(v), 6) for v in vector]
