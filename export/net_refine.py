"""The live net itself refined for one shipped style (the default, candy): the vector alone leaves that
style grainier than its own fixed-style net, so the net and the vector learn the own net's texture (VGG16
Gram matrices) and its paintings pixel by pixel, and to hold still under camera noise, while every other
style vector the model knows (the other shipped styles, the training paintings) is held to what the net
painted before. The shared pieces (teacher targets, the texture loss) are :mod:`.style_refine`'s."""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .conditional_net import STYLE_DIMS, ConditionalFastNet
from .loop import Loop
from .losses import LossNetwork
from .. import models
from ..realtime.core.errors import UserError
from ..realtime.core.session import StyleSession
from .style_refine import (RefinedStyle, TeacherTargets, frozen, mean_gram_error, refinement_inputs, reporter,
                           rounded, teacher_targets, texture_loss)
from .teacher_pairs import random_photo_crop, to_tensor


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


def mean_teacher_difference(paint: Callable[[torch.Tensor], torch.Tensor], targets: TeacherTargets,
                            batch_size: int) -> float:
    """The mean absolute difference (0-1 scale) of ``paint``'s paintings of the targets' crops from the
    teacher's."""
    with torch.no_grad():
        return float(np.mean([float((paint(targets.crops[i:i + batch_size])
                                     - targets.paintings[i:i + batch_size]).abs().mean())
                              for i in range(0, len(targets.crops), batch_size)]))


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
        def terms(step: int) -> dict[str, torch.Tensor]:
            texture = texture_loss(network, paint, targets, settings.batch_size, settings.noise_weight, rng,
                                   settings.pixel_weight)
            others = to_tensor(np.stack([random_photo_crop(photos, rng, settings.image_size)
                                         for _ in range(settings.batch_size)]))
            chosen = held_styles[torch.from_numpy(rng.choice(len(held_styles), settings.batch_size))]
            with torch.no_grad():
                target = before_net(others, chosen)
            return {"texture": texture, "hold": settings.hold_weight * (net(others, chosen) - target).abs().mean()}

        net.train()
        try:
            Loop(optimizer, settings.steps, "refining the live net", show_progress=False,
                 watched=[style, *net.parameters()], after_step=reporter(progress)).run(terms)
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

    if name not in styles:
        raise UserError(f"{name} is not one of the shipped styles ({', '.join(styles)})")
    images, network = refinement_inputs(photos, "the live net")
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
