"""The live model's shipped styles refined against their own nets: a shipped style's vector (the
style-prediction net's vector of its painting) is tuned, with the live net fixed, so that the live net
paints photo crops with the texture that style's own fixed-style net paints them with (the VGG16 Gram
matrices of that net's painting of the same crop), optionally held steady under camera noise. The
fixed-style nets are steadier and closer to their paintings than the live model with the predicted
vector; paintings given as files keep the predicted vector.

The default style's vector alone leaves it grainier than its own net; :mod:`.net_refine` then tunes the
live net too, for that style, with the pieces defined here."""
from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from .conditional_net import ConditionalFastNet
from .loop import Loop
from .losses import LossNetwork, MissingWeightsError, build_loss_network, gram_matrix, relative_mse
from .perceptual import camera_noise, noise_loss
from .teacher_pairs import random_photo_crop, to_tensor
from .. import models
from ..realtime.core.errors import UserError
from ..realtime.core.session import StyleSession

logger = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class TeacherTargets:
    """Photo crops (RGB NCHW in [0, 1]), a style's own net's paintings of them, and those paintings'
    Gram matrices per style layer."""

    crops: torch.Tensor
    paintings: torch.Tensor
    grams: dict[str, torch.Tensor]


def teacher_targets(network: LossNetwork, teacher: StyleSession, photos: list[Path], count: int, size: int,
                    rng: np.random.Generator) -> TeacherTargets:
    """``count`` photo crops of ``size`` px and ``teacher``'s paintings of them, with their Gram matrices."""
    crops = np.stack([random_photo_crop(photos, rng, size) for _ in range(count)])
    paintings = to_tensor(np.concatenate([teacher.run(crop[None]) for crop in crops]))
    grams: dict[str, list[torch.Tensor]] = {name: [] for name in network.style_layers}
    with torch.no_grad():
        for painting in paintings:
            features = network(painting[None])
            for name in network.style_layers:
                grams[name].append(gram_matrix(features[name])[0])
    return TeacherTargets(to_tensor(crops), paintings, {name: torch.stack(g) for name, g in grams.items()})


def gram_error(network: LossNetwork, painted: torch.Tensor, grams: dict[str, torch.Tensor]) -> torch.Tensor:
    """The mean over style layers of the relative Gram error of ``painted`` against ``grams``."""
    features = network(painted)
    return sum(relative_mse(gram_matrix(features[n]), grams[n]) for n in network.style_layers) / len(grams)


def mean_gram_error(network: LossNetwork, paint: Callable[[torch.Tensor], torch.Tensor], targets: TeacherTargets,
                    batch_size: int) -> float:
    """:func:`gram_error` of ``paint`` over all the targets' crops (in batches) against their Gram matrices."""
    crops, grams = targets.crops, targets.grams
    with torch.no_grad():
        return float(np.mean([float(gram_error(network, paint(crops[i:i + batch_size]),
                                               {n: g[i:i + batch_size] for n, g in grams.items()}))
                              for i in range(0, len(crops), batch_size)]))


def reporter(progress: Callable[[int, float], None] | None) -> Callable[[int, dict[str, float]], None] | None:
    """A loop's ``after_step`` that calls ``progress(step, loss)``."""
    return None if progress is None else lambda done, record: progress(done, record["total"])


@contextmanager
def frozen(*modules: torch.nn.Module) -> Iterator[None]:
    """The trainable parameters of ``modules`` held fixed inside the block, trainable again after it."""
    held = [p for module in modules for p in module.parameters() if p.requires_grad]
    for p in held:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in held:
            p.requires_grad_(True)


def texture_loss(network: LossNetwork, paint: Callable[[torch.Tensor], torch.Tensor], targets: TeacherTargets,
                 batch_size: int, noise_weight: float, rng: np.random.Generator,
                 pixel_weight: float = 0.0) -> torch.Tensor:
    """One step's loss for a style: :func:`gram_error` of ``paint`` on ``batch_size`` random crops of
    ``targets`` against the teacher's, plus ``noise_weight`` times its change under camera noise, plus
    ``pixel_weight`` times its mean absolute difference from the teacher's paintings."""
    idx = torch.from_numpy(rng.choice(len(targets.crops), batch_size, replace=False))
    batch = targets.crops[idx]
    painted = paint(batch)
    loss = gram_error(network, painted, {n: g[idx] for n, g in targets.grams.items()})
    if noise_weight > 0:
        loss = loss + noise_weight * noise_loss(paint, batch, painted, camera_noise(rng, tuple(batch.shape)))
    if pixel_weight > 0:
        loss = loss + pixel_weight * (painted - targets.paintings[idx]).abs().mean()
    return loss


def refine_style_vector(net: ConditionalFastNet, vector: np.ndarray, teacher: StyleSession, photos: list[Path],
                        network: LossNetwork, settings: RefineSettings = RefineSettings(),
                        progress: Callable[[int, float], None] | None = None) -> RefinedStyle:
    """``vector`` tuned so that ``net`` paints like ``teacher`` (the style's own fixed-style net) by
    texture; ``net`` and ``network`` are left unchanged. ``progress(step, loss)`` is called every step."""
    rng = np.random.default_rng(settings.seed)
    torch.manual_seed(settings.seed)
    targets = teacher_targets(network, teacher, photos, settings.crops, settings.image_size, rng)
    style = torch.tensor(np.asarray(vector, np.float32)).requires_grad_()

    def paint(batch: torch.Tensor) -> torch.Tensor:
        return net(batch, style)

    with frozen(net, network):
        before = mean_gram_error(network, paint, targets, settings.batch_size)
        optimizer = torch.optim.Adam([style], lr=settings.lr)
        Loop(optimizer, settings.steps, "refining a style vector", show_progress=False, watched=[style],
             after_step=reporter(progress)).run(
            lambda step: {"texture": texture_loss(network, paint, targets, settings.batch_size, settings.noise_weight,
                                                  rng)})
        after = mean_gram_error(network, paint, targets, settings.batch_size)
    return RefinedStyle(style.detach().numpy().astype(np.float32), before, after)


def refinement_inputs(photos: str | Path, what: str) -> tuple[list[Path], LossNetwork]:
    """The photos in the folder ``photos`` and VGG16, or a :class:`UserError` saying which is missing
    (``what``: what would have been refined on them)."""
    from ..realtime.core.images import list_images

    images = list_images(Path(photos))
    if not images:
        raise UserError(f"{photos}: no photos there to refine {what} on")
    try:
        return images, build_loss_network("vgg16")
    except MissingWeightsError as exc:
        raise UserError(str(exc)) from exc


def refine_shipped_styles(net: ConditionalFastNet, styles: dict[str, dict], photos: str | Path,
                          settings: RefineSettings = RefineSettings(), progress: bool = True) -> dict[str, dict]:
    """``styles`` (``models/live/styles.json``: name -> vector and source) with every vector refined
    against the shipped net of that name on crops of the photos in the folder ``photos``. Each entry
    keeps the style-prediction net's vector as ``encoded``, which a refinement always starts from (so
    refining again does not compound), and records how it was refined and the Gram error before and after.
    A style the live net itself was refined for (``net_refined``) keeps its vector: it was trained with the
    net, and the record describes that vector."""
    from tqdm import tqdm

    images, network = refinement_inputs(photos, "the styles")
    refined = {name: entry for name, entry in styles.items() if "net_refined" in entry}
    for name in refined:
        logger.info("%s keeps its vector: the live net was refined for it", name)
    todo = {name: entry for name, entry in styles.items() if name not in refined}
    with tqdm(total=settings.steps * len(todo), desc="refining shipped styles", disable=not progress) as bar:
        for name, entry in todo.items():
            encoded = np.asarray(entry.get("encoded", entry["vector"]), np.float32)
            teacher = StyleSession(models.MODELS_DIR / f"{name}.onnx", "cpu", threads=1)
            bar.set_postfix_str(name)
            result = refine_style_vector(net, encoded, teacher, images, network, settings,
                                         lambda step, loss: bar.update())
            refined[name] = {**entry, "vector": rounded(result.vector), "encoded": rounded(encoded),
                             "refined": {"settings": settings.to_dict(),
                                         "gram_error_before": round(result.gram_loss_before, 5),
                                         "gram_error_after": round(result.gram_loss_after, 5)}}
    return {name: refined[name] for name in styles}


def rounded(vector: np.ndarray) -> list[float]:
    """A style vector as styles.json stores it."""
    return [round(float(v), 6) for v in vector]
