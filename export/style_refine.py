"""The live model's shipped styles refined against their own nets: a shipped style's vector (the
style-prediction net's vector of its painting) is tuned, with the live net fixed, so that the live net
paints photo crops with the texture that style's own fixed-style net paints them with (the VGG16 Gram
matrices of that net's painting of the same crop), optionally held steady under camera noise. The
fixed-style nets are steadier and closer to their paintings than the live model with the predicted
vector; paintings given as files keep the predicted vector.

The default style's vector alone leaves it grainier than its own net; :func:`refine_live_net` then tunes
the live net too, for that style (its own net's texture, and its paintings pixel by pixel), while every
other style vector (the other shipped styles, the training paintings) is held to what the net painted
before."""
from __future__ import annotations

import copy
import logging
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from .. import models
from ..realtime.errors import UserError
from ..realtime.session import StyleSession
from .conditional_net import STYLE_DIMS, ConditionalFastNet
from .losses import LossNetwork, MissingWeightsError, build_loss_network, gram_matrix, relative_mse
from .perceptual import camera_noise, noise_loss
from .teacher_pairs import random_photo_crop, to_tensor

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


def mean_teacher_difference(paint: Callable[[torch.Tensor], torch.Tensor], targets: TeacherTargets,
                            batch_size: int) -> float:
    """The mean absolute difference (0-1 scale) of ``paint``'s paintings of the targets' crops from the
    teacher's."""
    with torch.no_grad():
        return float(np.mean([float((paint(targets.crops[i:i + batch_size])
                                     - targets.paintings[i:i + batch_size]).abs().mean())
                              for i in range(0, len(targets.crops), batch_size)]))


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
        for step in range(1, settings.steps + 1):
            loss = texture_loss(network, paint, targets, settings.batch_size, settings.noise_weight, rng)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if progress is not None:
                progress(step, float(loss.detach()))
        after = mean_gram_error(network, paint, targets, settings.batch_size)
    return RefinedStyle(style.detach().numpy().astype(np.float32), before, after)


def refine_shipped_styles(net: ConditionalFastNet, styles: dict[str, dict], photos: str | Path,
                          settings: RefineSettings = RefineSettings(), progress: bool = True) -> dict[str, dict]:
    """``styles`` (``models/live/styles.json``: name -> vector and source) with every vector refined
    against the shipped net of that name on crops of the photos in the folder ``photos``. Each entry
    keeps the style-prediction net's vector as ``encoded``, which a refinement always starts from (so
    refining again does not compound), and records how it was refined and the Gram error before and after.
    A style the live net itself was refined for (``net_refined``) keeps its vector: it was trained with the
    net, and the record describes that vector."""
    from tqdm import tqdm
    from ..realtime.images import list_images

    images = list_images(Path(photos))
    if not images:
        raise UserError(f"{photos}: no photos there to refine the styles on")
    try:
        network = build_loss_network("vgg16")
    except MissingWeightsError as exc:
        raise UserError(str(exc)) from exc
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


@dataclass(frozen=True)
class NetRefineSettings:
    """How the live net itself is refined for one style (saved in the live model's metadata)."""

    steps: int = 700
    lr: float = 1e-3  # Adam on the net
    vector_lr: float = 0.01  # Adam on the style's vector
    crops: int = 40  # photo crops painted by the style's own net: the Gram targets
    image_size: int = 256
    batch_size: int = 2  # crops of the style, and as many of held styles, per step
    noise_weight: float = 0.3  # weight of the style's change under camera noise
    pixel_weight: float = 3.0  # weight of the L1 difference (0-1 scale) from the style's own net's paintings
    hold_weight: float = 30.0  # weight of the held styles' change (L1, against the net before)
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class RefinedNet(RefinedStyle):
    held_change: float  # mean |after - before| (0-1 scale) of the held styles' paintings of photo crops
    teacher_difference_before: float  # mean |painting - own net's painting| (0-1 scale) over all crops
    teacher_difference_after: float


def refine_live_net(net: ConditionalFastNet, vector: np.ndarray, teacher: StyleSession, photos: list[Path],
                    held: np.ndarray, network: LossNetwork, settings: NetRefineSettings = NetRefineSettings(),
                    progress: Callable[[int, float], None] | None = None) -> RefinedNet:
    """Train ``net`` in place, and ``vector`` with it, so that ``net`` paints that style with the texture
    of ``teacher`` (the style's own net), near the teacher's paintings pixel by pixel (``pixel_weight``:
    the own net is steadier on video) and still under camera noise, while it paints every style vector in
    ``held`` [K, 100] as it did before (an L1 term against a frozen copy). ``network`` is left unchanged.
    ``progress(step, loss)`` is called every step."""
    rng = np.random.default_rng(settings.seed)
    torch.manual_seed(settings.seed)
    targets = teacher_targets(network, teacher, photos, settings.crops, settings.image_size, rng)
    before_net = copy.deepcopy(net).eval().requires_grad_(False)
    held_styles = torch.from_numpy(np.asarray(held, np.float32))
    checks = to_tensor(np.stack([random_photo_crop(photos, rng, settings.image_size) for _ in range(4)]))
    check_styles = held_styles[torch.from_numpy(rng.choice(len(held_styles), len(checks)))]
    style = torch.tensor(np.asarray(vector, np.float32)).requires_grad_()

    def paint(batch: torch.Tensor) -> torch.Tensor:
        return net(batch, style)

    with frozen(network):
        before = mean_gram_error(network, paint, targets, settings.batch_size)
        difference_before = mean_teacher_difference(paint, targets, settings.batch_size)
        optimizer = torch.optim.Adam([{"params": net.parameters(), "lr": settings.lr},
                                      {"params": [style], "lr": settings.vector_lr}])
        net.train()
        try:
            for step in range(1, settings.steps + 1):
                loss = texture_loss(network, paint, targets, settings.batch_size, settings.noise_weight, rng,
                                    settings.pixel_weight)
                others = to_tensor(np.stack([random_photo_crop(photos, rng, settings.image_size)
                                             for _ in range(settings.batch_size)]))
                chosen = held_styles[torch.from_numpy(rng.choice(len(held_styles), settings.batch_size))]
                with torch.no_grad():
                    target = before_net(others, chosen)
                loss = loss + settings.hold_weight * (net(others, chosen) - target).abs().mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                if progress is not None:
                    progress(step, float(loss.detach()))
        finally:
            net.eval()
        after = mean_gram_error(network, paint, targets, settings.batch_size)
        difference_after = mean_teacher_difference(paint, targets, settings.batch_size)
        with torch.no_grad():
            held_change = float((net(checks, check_styles) - before_net(checks, check_styles)).abs().mean())
    return RefinedNet(style.detach().numpy().astype(np.float32), before, after, held_change, difference_before,
                      difference_after)


def refine_default_style_net(net: ConditionalFastNet, styles: dict[str, dict], name: str, photos: str | Path,
                             held: np.ndarray, settings: NetRefineSettings = NetRefineSettings(),
                             progress: bool = True) -> dict[str, dict]:
    """Refine ``net`` in place for the shipped style ``name`` (:func:`refine_live_net`) against the
    shipped net of that name on crops of the photos in ``photos``, holding the other styles of
    ``styles`` (``models/live/styles.json``) and the vectors ``held`` (the training paintings'). Returns
    ``styles`` with that style's vector replaced and the refinement recorded in its entry (``net_refined``;
    a net refined before keeps the earlier refinements' records in order under ``earlier``)."""
    from tqdm import tqdm
    from ..realtime.images import list_images

    images = list_images(Path(photos))
    if not images:
        raise UserError(f"{photos}: no photos there to refine the live net on")
    if name not in styles:
        raise UserError(f"{name} is not one of the shipped styles ({', '.join(styles)})")
    try:
        network = build_loss_network("vgg16")
    except MissingWeightsError as exc:
        raise UserError(str(exc)) from exc
    others = [entry["vector"] for other, entry in styles.items() if other != name]
    held_all = np.concatenate([np.reshape(np.asarray(others, np.float32), (-1, STYLE_DIMS)),
                               np.reshape(np.asarray(held, np.float32), (-1, STYLE_DIMS))])
    teacher = StyleSession(models.MODELS_DIR / f"{name}.onnx", "cpu", threads=1)
    with tqdm(total=settings.steps, desc=f"refining the live net for {name}", disable=not progress) as bar:
        def advance(step: int, loss: float) -> None:
            bar.update()
            bar.set_postfix(loss=f"{loss:.3f}")

        result = refine_live_net(net, np.asarray(styles[name]["vector"], np.float32), teacher, images, held_all,
                                 network, settings, advance)
    record = {"settings": settings.to_dict(), "gram_error_before": round(result.gram_loss_before, 5),
              "gram_error_after": round(result.gram_loss_after, 5),
              "teacher_difference_before": round(result.teacher_difference_before, 5),
              "teacher_difference_after": round(result.teacher_difference_after, 5),
              "held_styles": len(held_all), "held_change": round(result.held_change, 5)}
    if "net_refined" in styles[name]:
        previous = dict(styles[name]["net_refined"])
        record["earlier"] = previous.pop("earlier", []) + [previous]
    return {**styles, name: {**styles[name], "vector": rounded(result.vector), "net_refined": record}}


def rounded(vector: np.ndarray) -> list[float]:
    """A style vector as styles.json stores it."""
    return [round(float(v), 6) for v in vector]
